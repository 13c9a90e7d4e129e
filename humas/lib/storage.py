"""Where uploaded files live: the local disk by default, an S3-compatible bucket by setting.

Kept out of ``settings.py`` so that the choice can be tested with a made-up environment.
"""

from __future__ import annotations

from typing import Any

from humas.lib.env import env_str


def storages_from_env(*, debug: bool) -> dict[str, dict[str, Any]]:
    """The ``STORAGES`` setting for the current environment.

    With ``HUMAS_S3_BUCKET`` set, uploads go to that bucket through django-storages
    (``HUMAS_S3_ENDPOINT_URL`` for MinIO, Ceph or a cloud other than AWS; the keys may come
    from ``*_FILE`` like every secret, or be left to boto3's own lookup when empty).
    """
    default: dict[str, Any] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    bucket = env_str("HUMAS_S3_BUCKET")
    if bucket:
        options: dict[str, Any] = {
            "bucket_name": bucket,
            # Two uploads with the same name must never replace each other's file.
            "file_overwrite": False,
            # Files are served only through humas (publishing:media_file), which checks who
            # asks; the bucket itself stays private.
            "default_acl": "private",
            "querystring_auth": True,
        }
        for option, variable in (
            ("endpoint_url", "HUMAS_S3_ENDPOINT_URL"),
            ("access_key", "HUMAS_S3_ACCESS_KEY_ID"),
            ("secret_key", "HUMAS_S3_SECRET_ACCESS_KEY"),
            ("region_name", "HUMAS_S3_REGION"),
        ):
            value = env_str(variable)
            if value:
                options[option] = value
        default = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    return {
        "default": default,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            if debug
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        },
    }
