"""System checks: misconfiguration is reported by `humas check`, not by a crash later."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register()
def settings_errors(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [
        Error(message, id="humas.E001", hint="Fix the environment variable and restart.")
        for message in getattr(settings, "SETTINGS_ERRORS", [])
    ]


@register()
def fernet_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if not settings.FERNET_KEYS:
        errors.append(Error("HUMAS_FERNET_KEYS holds no key.", id="humas.E002"))
    for index, key in enumerate(settings.FERNET_KEYS, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            errors.append(
                Error(
                    f"Key {index} in HUMAS_FERNET_KEYS is not a valid Fernet key.",
                    hint="Make one with: humas newkey",
                    id="humas.E002",
                )
            )
    return errors


@register()
def email_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.EMAIL_HOST and settings.EMAIL_USE_TLS and settings.EMAIL_USE_SSL:
        return [
            Error(
                "EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on.",
                hint="Port 587 uses TLS (STARTTLS); port 465 uses SSL.",
                id="humas.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def production_secrets(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    warnings = []
    if not settings.SECRET_KEY_FROM_ENV:
        warnings.append(
            Warning(
                "SECRET_KEY is the generated development key from the data directory.",
                hint="Set SECRET_KEY or SECRET_KEY_FILE in production.",
                id="humas.W001",
            )
        )
    if not settings.FERNET_KEYS_FROM_ENV:
        warnings.append(
            Warning(
                "Channel secrets are encrypted with the generated development key.",
                hint="Set HUMAS_FERNET_KEYS (or HUMAS_FERNET_KEYS_FILE); make a key with "
                "`humas newkey`.",
                id="humas.W002",
            )
        )
    if not settings.HTTPS:
        warnings.append(
            Warning(
                "SITE_URL is not an https address, so cookies are not marked Secure.",
                hint="Serve humas over https and set SITE_URL=https://…",
                id="humas.W003",
            )
        )
    return warnings
