"""The media library: uploads checked by content, thumbnails, video facts, private files."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Organisation, User
from humas.channels.models import ChannelAccount
from humas.lib.storage import storages_from_env
from humas.publishing import media
from humas.publishing.models import MediaAsset
from humas.publishing.testing import make_post


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # Messages are matched in their English source form, whatever the catalogue says.
    with translation.override("en"):
        yield


@pytest.fixture
def as_user(as_user: Callable[..., Client], settings: Any) -> Callable[..., Client]:
    def _as(user: User) -> Client:
        client = as_user(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return _as


def picture(fmt: str = "PNG", size: tuple[int, int] = (800, 600), colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> Any:
    return SimpleUploadedFile(name, data, content_type=content_type)


def store(org: Organisation, user: User, name: str, data: bytes, **extra: Any) -> MediaAsset:
    return media.store_upload(org, upload(name, data), by=Actor(user=user), **extra)


def thumbnail_size(asset: MediaAsset) -> tuple[int, int]:
    with asset.thumbnail.open("rb") as handle, Image.open(handle) as thumb:
        return thumb.size


def ffmpeg_path() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or shutil.which("ffprobe") is None:
        pytest.fail(
            "ffmpeg/ffprobe are not installed; video uploads need them "
            "(apt-get install ffmpeg — .ci/run installs it in CI)"
        )
    return ffmpeg


@pytest.fixture(scope="module")
def short_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real two-second portrait H.264 video, made by ffmpeg once for the module."""
    ffmpeg = ffmpeg_path()
    out = tmp_path_factory.mktemp("video") / "clip.mp4"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=360x640:rate=10",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


# --- storing uploads ------------------------------------------------------------------------


def test_a_real_png_is_stored_with_its_size_and_a_thumbnail(org: Organisation, editor: User):
    asset = store(org, editor, "poster.png", picture("PNG", (800, 600)), alt_text="Poster")

    assert asset.kind == "image"
    assert asset.mime_type == "image/png"
    assert (asset.width, asset.height) == (800, 600)
    assert asset.original_name == "poster.png"
    assert asset.alt_text == "Poster"
    assert str(asset.file.name).endswith(".png")
    assert thumbnail_size(asset) == (400, 300)
    assert asset.sha256 and len(asset.sha256) == 64
    entry = AuditEntry.objects.get(action="publishing.media.uploaded")
    assert entry.organisation == org
    assert entry.payload["sha256"] == asset.sha256


def test_a_text_file_named_png_is_refused(org: Organisation, editor: User):
    with pytest.raises(ActionError, match="not a file humas can use"):
        store(org, editor, "poster.png", b"just some words, not a picture at all\n" * 4)
    assert not MediaAsset.objects.exists()


def test_a_png_header_on_garbage_is_refused(org: Organisation, editor: User):
    garbage = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20

    with pytest.raises(ActionError, match="cannot be read"):
        store(org, editor, "broken.png", garbage)
    assert not MediaAsset.objects.exists()


def test_a_truncated_png_is_refused(org: Organisation, editor: User):
    whole = picture("PNG", (300, 300), "red")

    with pytest.raises(ActionError, match="cannot be read"):
        store(org, editor, "half.png", whole[: len(whole) // 2])


def test_a_jpeg_named_png_is_stored_as_a_jpeg(org: Organisation, editor: User):
    asset = store(org, editor, "photo.png", picture("JPEG", (640, 480)))

    assert asset.mime_type == "image/jpeg"
    assert str(asset.file.name).endswith(".jpg")
    assert (asset.width, asset.height) == (640, 480)


def test_gif_and_webp_images_are_accepted(org: Organisation, editor: User):
    gif = store(org, editor, "a.gif", picture("GIF", (50, 40)))
    webp = store(org, editor, "b.webp", picture("WEBP", (60, 30)))

    assert (gif.mime_type, gif.width, gif.height) == ("image/gif", 50, 40)
    assert (webp.mime_type, webp.width, webp.height) == ("image/webp", 60, 30)


def test_the_same_file_twice_returns_the_stored_asset(org: Organisation, editor: User):
    data = picture("PNG", (120, 120))
    first = store(org, editor, "one.png", data)
    second = store(org, editor, "two.png", data)

    assert second.pk == first.pk
    assert MediaAsset.objects.count() == 1
    assert AuditEntry.objects.filter(action="publishing.media.uploaded").count() == 1


def test_the_same_file_in_another_organisation_is_its_own_asset(
    org: Organisation, other_org: Organisation, editor: User, other_admin: User
):
    data = picture("PNG", (120, 120))
    mine = store(org, editor, "one.png", data)
    theirs = store(other_org, other_admin, "one.png", data)

    assert theirs.pk != mine.pk
    assert theirs.organisation == other_org


def test_an_image_over_the_size_limit_is_refused(org: Organisation, editor: User, settings: Any):
    settings.HUMAS_MAX_IMAGE_BYTES = 1000

    with pytest.raises(ActionError, match="largest image allowed"):
        store(org, editor, "big.png", picture("PNG", (400, 400)) + b"\0" * 2000)


def test_a_short_mp4_is_measured_and_gets_a_thumbnail(
    org: Organisation, editor: User, short_mp4: bytes
):
    asset = store(org, editor, "clip.mp4", short_mp4)

    assert asset.kind == "video"
    assert asset.mime_type == "video/mp4"
    assert asset.duration is not None
    assert abs(asset.duration - 2) < 0.3
    assert (asset.width, asset.height) == (360, 640)
    assert asset.codec == "h264"
    assert asset.thumbnail
    width, height = thumbnail_size(asset)
    assert max(width, height) <= 400
    assert height > width


def test_a_video_is_stored_without_details_when_ffmpeg_is_missing(
    org: Organisation, editor: User, short_mp4: bytes, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(media.shutil, "which", lambda name: None)

    asset = store(org, editor, "clip.mp4", short_mp4)

    assert asset.kind == "video"
    assert asset.duration is None
    assert asset.width is None
    assert not asset.thumbnail


def test_an_mp4_header_on_garbage_is_refused(org: Organisation, editor: User, short_mp4: bytes):
    garbage = short_mp4[:32] + b"\0garbage" * 200

    with pytest.raises(ActionError, match=r"cannot be read|no picture"):
        store(org, editor, "bad.mp4", garbage)


def test_a_webm_video_is_accepted(org: Organisation, editor: User, tmp_path: Path):
    out = tmp_path / "clip.webm"
    subprocess.run(
        [
            ffmpeg_path(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x96:rate=5",
            "-t",
            "1",
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            str(out),
        ],
        check=True,
        timeout=60,
    )

    asset = store(org, editor, "clip.webm", out.read_bytes())

    assert (asset.mime_type, asset.codec, asset.width, asset.height) == (
        "video/webm",
        "vp8",
        64,
        96,
    )
    assert asset.duration is not None


def test_a_phone_video_stored_sideways_is_measured_upright(
    org: Organisation, editor: User, tmp_path: Path
):
    ffmpeg = ffmpeg_path()
    sideways = tmp_path / "sideways.mp4"
    subprocess.run(
        [
            *(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=5", "-t", "1"),
            *("-c:v", "libx264", "-pix_fmt", "yuv420p", str(sideways)),
        ],
        check=True,
        timeout=60,
    )
    turned = tmp_path / "turned.mp4"
    # ffmpeg 6 and later write a rotation with -display_rotation; 5.x with the rotate tag.
    newer = [ffmpeg, "-v", "error", "-display_rotation", "90", "-i", str(sideways)]
    older = [ffmpeg, "-v", "error", "-i", str(sideways), "-metadata:s:v:0", "rotate=90"]
    for command in (newer, older):
        done = subprocess.run(
            [*command, "-c", "copy", str(turned)], capture_output=True, timeout=60
        )
        if done.returncode == 0:
            break

    asset = store(org, editor, "portrait.mp4", turned.read_bytes())

    assert (asset.width, asset.height) == (64, 96)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x18ftypqt  ", "video/quicktime"),
        (b"\x00\x00\x00\x18ftypisom", "video/mp4"),
        (b"\x00\x00\x00\x18ftypheic", None),
        (b"\x00\x00\x00\x18ftypM4A ", None),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"%PDF-1.7", None),
    ],
)
def test_the_type_comes_from_the_first_bytes(head: bytes, expected: str | None):
    assert media.sniff(head.ljust(64, b"\0")) == expected


def test_update_media_changes_the_description_and_is_audited(org: Organisation, editor: User):
    asset = store(org, editor, "poster.png", picture())

    media.update_media(asset, by=Actor(user=editor), alt_text=" Balai kota ", captions="")

    asset.refresh_from_db()
    assert asset.alt_text == "Balai kota"
    assert AuditEntry.objects.filter(action="publishing.media.updated").count() == 1


def test_deleting_an_asset_used_by_a_post_is_refused(
    org: Organisation, editor: User, channel: ChannelAccount
):
    asset = store(org, editor, "poster.png", picture(), alt_text="Poster")
    make_post(org, editor, [channel], title="Posyandu", media=[asset])

    with pytest.raises(ActionError, match="Posyandu"):
        media.delete_media(asset, by=Actor(user=editor))
    assert MediaAsset.objects.filter(pk=asset.pk).exists()


def test_deleting_an_unused_asset_removes_it_and_its_files(
    org: Organisation, editor: User, django_capture_on_commit_callbacks: Any
):
    asset = store(org, editor, "poster.png", picture())
    storage = asset.file.storage
    names = (str(asset.file.name), str(asset.thumbnail.name))

    with django_capture_on_commit_callbacks(execute=True):
        media.delete_media(asset, by=Actor(user=editor))

    assert not MediaAsset.objects.exists()
    assert not any(storage.exists(name) for name in names)
    assert AuditEntry.objects.filter(action="publishing.media.deleted").count() == 1


# --- pages and files ------------------------------------------------------------------------


def test_the_file_view_serves_the_file_to_a_member_with_its_stored_type(
    org: Organisation, analyst: User, editor: User, as_user: Callable[..., Client]
):
    data = picture("JPEG", (200, 100))
    asset = store(org, editor, "photo.png", data)

    response = as_user(analyst).get(reverse("publishing:media_file", args=[asset.pk, "asli"]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == data  # type: ignore[attr-defined]


def test_the_file_view_serves_the_thumbnail(
    org: Organisation, editor: User, as_user: Callable[..., Client]
):
    asset = store(org, editor, "poster.png", picture())

    response = as_user(editor).get(reverse("publishing:media_file", args=[asset.pk, "thumb"]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_the_file_view_is_a_404_for_another_organisations_asset(
    org: Organisation,
    editor: User,
    other_org: Organisation,
    other_admin: User,
    as_user: Callable[..., Client],
):
    theirs = store(other_org, other_admin, "theirs.png", picture())

    client = as_user(editor)

    assert client.get(reverse("publishing:media_file", args=[theirs.pk, "asli"])).status_code == 404
    assert (
        client.get(reverse("publishing:media_file", args=[theirs.pk, "thumb"])).status_code == 404
    )
    assert client.get(reverse("publishing:media_detail", args=[theirs.pk])).status_code == 404


def test_the_file_view_sends_a_signed_out_visitor_to_the_login_page(
    org: Organisation, editor: User, client: Client
):
    asset = store(org, editor, "poster.png", picture())

    response = client.get(reverse("publishing:media_file", args=[asset.pk, "asli"]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_the_file_view_is_a_404_for_an_unknown_kind(
    org: Organisation, editor: User, as_user: Callable[..., Client]
):
    asset = store(org, editor, "poster.png", picture())

    response = as_user(editor).get(reverse("publishing:media_file", args=[asset.pk, "raw"]))

    assert response.status_code == 404


def test_the_library_flags_images_without_alt_text(
    org: Organisation, editor: User, as_user: Callable[..., Client]
):
    bare = store(org, editor, "no-alt.png", picture(colour="red"))
    store(org, editor, "with-alt.png", picture(colour="blue"), alt_text="Peta banjir")

    response = as_user(editor).get(reverse("publishing:media_list"))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="alt-missing"') == 1
    # Thumbnails come through the checked view, never from the storage's own address.
    assert reverse("publishing:media_file", args=[bare.pk, "thumb"]) in page


def test_the_library_filters_by_kind(
    org: Organisation, editor: User, as_user: Callable[..., Client], short_mp4: bytes
):
    store(org, editor, "poster.png", picture())
    store(org, editor, "clip.mp4", short_mp4)

    response = as_user(editor).get(reverse("publishing:media_list"), {"kind": "video"})

    assert "clip.mp4" in response.content.decode()
    assert "poster.png" not in response.content.decode()


def test_uploading_several_files_reports_each_one(
    org: Organisation, editor: User, as_user: Callable[..., Client]
):
    good = upload("good.png", picture())
    bad = upload("bad.png", b"not an image, only text" * 5)

    response = as_user(editor).post(
        reverse("publishing:media_upload"), {"files": [good, bad]}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "good.png" in page
    assert "bad.png" in page and "not a file humas can use" in page
    assert response["HX-Trigger"] == "media-uploaded"
    assert response["Content-Language"] == "en"
    assert list(MediaAsset.objects.values_list("original_name", flat=True)) == ["good.png"]


def test_uploading_without_htmx_redirects_back_to_the_library(
    org: Organisation, editor: User, as_user: Callable[..., Client]
):
    response = as_user(editor).post(
        reverse("publishing:media_upload"), {"files": [upload("good.png", picture())]}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("publishing:media_list")
    assert MediaAsset.objects.count() == 1


def test_an_analyst_cannot_upload(org: Organisation, analyst: User, as_user: Callable[..., Client]):
    response = as_user(analyst).post(
        reverse("publishing:media_upload"), {"files": [upload("good.png", picture())]}
    )

    assert response.status_code == 403
    assert not MediaAsset.objects.exists()


def test_the_detail_page_shows_the_facts_and_where_the_file_is_used(
    org: Organisation, editor: User, channel: ChannelAccount, as_user: Callable[..., Client]
):
    asset = store(org, editor, "poster.png", picture(), alt_text="Poster")
    make_post(org, editor, [channel], title="Jadwal posyandu", media=[asset])

    response = as_user(editor).get(reverse("publishing:media_detail", args=[asset.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "800 × 600" in page
    assert "Jadwal posyandu" in page


def test_the_detail_page_says_when_video_details_need_ffmpeg(
    org: Organisation,
    editor: User,
    short_mp4: bytes,
    as_user: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(media.shutil, "which", lambda name: None)
    asset = store(org, editor, "clip.mp4", short_mp4)

    response = as_user(editor).get(reverse("publishing:media_detail", args=[asset.pk]))

    assert 'data-testid="video-details-unavailable"' in response.content.decode()


def test_the_edit_form_saves_alt_text(
    org: Organisation, editor: User, as_user: Callable[..., Client]
):
    asset = store(org, editor, "poster.png", picture())

    response = as_user(editor).post(
        reverse("publishing:media_edit", args=[asset.pk]),
        {"alt_text": "Wali kota meresmikan taman", "captions": ""},
    )

    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.alt_text == "Wali kota meresmikan taman"


def test_deleting_a_used_file_from_the_page_shows_why_it_was_refused(
    org: Organisation, editor: User, channel: ChannelAccount, as_user: Callable[..., Client]
):
    asset = store(org, editor, "poster.png", picture(), alt_text="Poster")
    make_post(org, editor, [channel], title="Posyandu", media=[asset])
    client = as_user(editor)

    response = client.post(reverse("publishing:media_delete", args=[asset.pk]), follow=True)

    assert response.status_code == 200
    assert "remove it from those posts first" in response.content.decode()
    assert MediaAsset.objects.filter(pk=asset.pk).exists()


# --- storage settings -----------------------------------------------------------------------


def test_files_stay_on_disk_without_a_bucket(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("HUMAS_S3_BUCKET", raising=False)

    storages = storages_from_env(debug=False)

    assert storages["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"


def test_a_bucket_setting_switches_uploads_to_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    secret = tmp_path / "s3-secret"
    secret.write_text("rahasia\n", encoding="utf-8")
    monkeypatch.setenv("HUMAS_S3_BUCKET", "humas-media")
    monkeypatch.setenv("HUMAS_S3_ENDPOINT_URL", "https://s3.example.go.id")
    monkeypatch.setenv("HUMAS_S3_ACCESS_KEY_ID", "humas")
    monkeypatch.setenv("HUMAS_S3_SECRET_ACCESS_KEY_FILE", str(secret))
    monkeypatch.setenv("HUMAS_S3_REGION", "ap-southeast-3")

    storages = storages_from_env(debug=False)

    default = storages["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"] == {
        "bucket_name": "humas-media",
        "file_overwrite": False,
        "default_acl": "private",
        "querystring_auth": True,
        "endpoint_url": "https://s3.example.go.id",
        "access_key": "humas",
        "secret_key": "rahasia",
        "region_name": "ap-southeast-3",
    }
    # The options are ones django-storages understands (it refuses unknown ones).
    from storages.backends.s3 import S3Storage

    backend = S3Storage(**default["OPTIONS"])
    assert backend.bucket_name == "humas-media"
