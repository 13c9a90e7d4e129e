"""The media library: storing uploads checked by their content, editing and removing them.

A file's type is decided by its first bytes, never by its name or the browser's word for
it: a ``.png`` that is really a JPEG is stored as a JPEG, and a text file named ``.png`` is
refused. Images are fully decoded once with Pillow (a PNG header on garbage is refused),
videos are read with ``ffprobe`` and get a preview frame from ``ffmpeg``. Without those two
programs a video is still stored, with its length and size unknown, and the library says so.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import ProtectedError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, record
from humas.accounts.models import Organisation
from humas.publishing.models import MediaAsset, MediaKind, Post

logger = logging.getLogger(__name__)

THUMBNAIL_PX = 400
#: Above this many pixels an "image" is treated as a decompression bomb, not decoded.
MAX_IMAGE_PIXELS = 64_000_000
#: How long ffprobe / ffmpeg may take on one upload before it is given up on.
TOOL_TIMEOUT_SECONDS = 60

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}
#: What Pillow calls each image type, to check that it decodes what the first bytes promised.
PILLOW_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
# ftyp brands that are still images (HEIF, AVIF) or sound only (M4A): refused, not guessed.
_NOT_VIDEO_BRANDS = {
    b"heic",
    b"heix",
    b"heif",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
    b"M4A ",
    b"M4B ",
    b"M4P ",
}


def sniff(head: bytes) -> str | None:
    """The MIME type of a file from its first bytes (at least 64 of them), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _NOT_VIDEO_BRANDS:
            return None
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    # Matroska's EBML header names its document type; only the WebM profile is accepted.
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return "video/webm"
    return None


def ffmpeg_available() -> bool:
    return bool(shutil.which("ffprobe") and shutil.which("ffmpeg"))


@dataclass
class _Facts:
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    codec: str = ""
    thumbnail: bytes = b""


# --- images ---------------------------------------------------------------------------------


def _jpeg_thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    if thumb.mode not in ("RGB", "L"):
        # Transparent areas become white rather than black in a JPEG.
        rgba = thumb.convert("RGBA")
        thumb = Image.new("RGB", rgba.size, (255, 255, 255))
        thumb.paste(rgba, mask=rgba.getchannel("A"))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()


def _image_facts(handle: Any, mime_type: str, name: str) -> _Facts:
    unreadable = ActionError(
        _("“%(name)s” looks like an image but cannot be read; it may be damaged.") % {"name": name}
    )
    try:
        handle.seek(0)
        with Image.open(handle) as probe:
            if probe.format != PILLOW_FORMATS[mime_type]:
                raise unreadable
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                raise ActionError(
                    _("“%(name)s” is too large (%(width)s × %(height)s pixels).")
                    % {"name": name, "width": probe.width, "height": probe.height}
                )
            # verify() checks the structure (chunk checksums); load() below decodes every pixel,
            # which catches a body that is not image data at all.
            probe.verify()
        handle.seek(0)
        with Image.open(handle) as image:
            image.load()
            # Dimensions as people see the picture: a phone photo stored sideways with an EXIF
            # rotation is tall, and the networks' aspect-ratio rules apply to that.
            upright = ImageOps.exif_transpose(image)
            return _Facts(
                width=upright.width,
                height=upright.height,
                thumbnail=_jpeg_thumbnail(upright),
            )
    except ActionError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise unreadable from None


# --- videos ---------------------------------------------------------------------------------


@contextmanager
def _on_disk(uploaded_file: UploadedFile) -> Iterator[str]:
    """A path to the upload's bytes: Django's own temporary file for large uploads, else a
    temporary copy (ffprobe and ffmpeg read files, not Python objects)."""
    path_of = getattr(uploaded_file, "temporary_file_path", None)
    if path_of is not None:
        yield path_of()
        return
    with tempfile.NamedTemporaryFile(prefix="humas-upload-", suffix=".video") as copy:
        uploaded_file.seek(0)
        for chunk in uploaded_file.chunks():
            copy.write(chunk)
        copy.flush()
        yield copy.name


def _run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    # The arguments are a fixed program and a path humas chose; no shell is involved.
    return subprocess.run(  # noqa: S603
        args, capture_output=True, timeout=TOOL_TIMEOUT_SECONDS, check=False
    )


def _rotation(stream: dict[str, Any]) -> int:
    """Degrees a player turns the picture by (phones store portrait video sideways)."""
    for side_data in stream.get("side_data_list") or []:
        if "rotation" in side_data:
            try:
                return int(float(side_data["rotation"]))
            except (TypeError, ValueError):
                return 0
    try:
        return int((stream.get("tags") or {}).get("rotate", 0))
    except (TypeError, ValueError):
        return 0


def probe_video(path: str, name: str) -> _Facts:
    """Read a video's length, size and codec with ffprobe; refuse what it cannot read."""
    ffprobe = shutil.which("ffprobe") or "ffprobe"
    unreadable = ActionError(
        _("“%(name)s” looks like a video but cannot be read; it may be damaged.") % {"name": name}
    )
    try:
        result = _run(
            [
                ffprobe,
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_streams",
                "-show_format",
                path,
            ]
        )
    except subprocess.TimeoutExpired:
        raise unreadable from None
    if result.returncode != 0:
        logger.info("ffprobe refused %s: %s", name, result.stderr[:500])
        raise unreadable
    try:
        info = json.loads(result.stdout or b"{}")
    except ValueError:
        raise unreadable from None
    video = next(
        (s for s in info.get("streams", []) if s.get("codec_type") == "video"),
        None,
    )
    if video is None:
        raise ActionError(_("“%(name)s” has no picture (no video track).") % {"name": name})
    width, height = video.get("width"), video.get("height")
    if abs(_rotation(video)) % 180 == 90:
        width, height = height, width
    duration: float | None = None
    # The stream's own length first; some containers (WebM) only state the whole file's.
    for raw in (video.get("duration"), (info.get("format") or {}).get("duration")):
        if raw is None:
            continue
        try:
            duration = float(raw)
        except (TypeError, ValueError):
            continue
        break
    return _Facts(
        width=int(width) if width else None,
        height=int(height) if height else None,
        duration=duration,
        codec=str(video.get("codec_name") or "")[:50],
    )


def video_thumbnail(path: str, duration: float | None) -> bytes:
    """One frame (a second in, or the first for shorter clips) as a JPEG, or b"" on failure."""
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    at = "1" if duration is None or duration > 1.5 else "0"
    with tempfile.TemporaryDirectory(prefix="humas-thumb-") as folder:
        out = Path(folder) / "thumb.jpg"
        try:
            result = _run(
                [
                    ffmpeg,
                    "-v",
                    "error",
                    "-ss",
                    at,
                    "-i",
                    path,
                    "-frames:v",
                    "1",
                    "-vf",
                    f"scale={THUMBNAIL_PX}:{THUMBNAIL_PX}:force_original_aspect_ratio=decrease",
                    "-q:v",
                    "4",
                    "-y",
                    str(out),
                ]
            )
        except subprocess.TimeoutExpired:
            logger.warning("ffmpeg took too long to make a thumbnail of %s", path)
            return b""
        if result.returncode != 0 or not out.exists():
            logger.warning("ffmpeg made no thumbnail: %s", result.stderr[:500])
            return b""
        return out.read_bytes()


def _video_facts(uploaded_file: UploadedFile, name: str) -> _Facts:
    if not ffmpeg_available():
        logger.warning(
            "ffprobe/ffmpeg not installed: %s stored without duration, size or preview", name
        )
        return _Facts()
    with _on_disk(uploaded_file) as path:
        facts = probe_video(path, name)
        facts.thumbnail = video_thumbnail(path, facts.duration)
    return facts


# --- actions --------------------------------------------------------------------------------


def _sha256(uploaded_file: UploadedFile) -> str:
    digest = hashlib.sha256()
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def limit_for(kind: str) -> int:
    if kind == MediaKind.IMAGE:
        return int(getattr(settings, "HUMAS_MAX_IMAGE_BYTES", 20 * 1024 * 1024))
    return int(getattr(settings, "HUMAS_MAX_VIDEO_BYTES", 512 * 1024 * 1024))


def store_upload(
    org: Organisation,
    uploaded_file: UploadedFile,
    *,
    by: Actor,
    alt_text: str = "",
    captions: str = "",
) -> MediaAsset:
    """Check an uploaded file and add it to the organisation's library.

    The same bytes uploaded again return the asset already stored (no second copy, no
    second audit entry). Raises :class:`ActionError` with a message for the uploader when
    the file is of a kind humas does not take, too large, or damaged.
    """
    name = PurePath(uploaded_file.name or "").name[:255] or "upload"
    uploaded_file.seek(0)
    head = uploaded_file.read(64)
    mime_type = sniff(head)
    if mime_type is None:
        raise ActionError(
            _(
                "“%(name)s” is not a file humas can use. Upload a JPEG, PNG, GIF or WebP image "
                "or an MP4, MOV or WebM video."
            )
            % {"name": name}
        )
    kind = MediaKind.IMAGE if mime_type.startswith("image/") else MediaKind.VIDEO
    size = int(uploaded_file.size or 0)
    limit = limit_for(kind)
    if size > limit:
        too_big = (
            _("“%(name)s” is %(size)s; the largest image allowed is %(limit)s.")
            if kind == MediaKind.IMAGE
            else _("“%(name)s” is %(size)s; the largest video allowed is %(limit)s.")
        )
        raise ActionError(
            too_big % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(limit)}
        )
    sha256 = _sha256(uploaded_file)
    existing = MediaAsset.objects.filter(organisation=org, sha256=sha256).first()
    if existing is not None:
        return existing

    if kind == MediaKind.IMAGE:
        facts = _image_facts(uploaded_file, mime_type, name)
    else:
        facts = _video_facts(uploaded_file, name)

    # Stored under a random name with the extension of what the file really is: the uploader's
    # name is kept for display only.
    stem = secrets.token_hex(12)
    asset = MediaAsset(
        organisation=org,
        original_name=name,
        kind=kind,
        mime_type=mime_type,
        size=size,
        sha256=sha256,
        width=facts.width,
        height=facts.height,
        duration=facts.duration,
        codec=facts.codec,
        alt_text=alt_text.strip(),
        captions=captions.strip(),
        uploaded_by=by.user,
    )
    uploaded_file.seek(0)
    asset.file.save(f"{stem}.{EXTENSIONS[mime_type]}", uploaded_file, save=False)
    if facts.thumbnail:
        asset.thumbnail.save(f"{stem}.jpg", ContentFile(facts.thumbnail), save=False)
    try:
        with transaction.atomic():
            asset.save()
            record(
                "publishing.media.uploaded",
                actor=by,
                organisation=org,
                target=asset,
                payload={
                    "name": name,
                    "kind": kind,
                    "mime_type": mime_type,
                    "size": size,
                    "sha256": sha256,
                },
            )
    except Exception:
        # Storage is not transactional: remove the files the failed row would have named.
        _remove_files(asset.file.name, asset.thumbnail.name)
        raise
    return asset


def update_media(asset: MediaAsset, *, by: Actor, alt_text: str, captions: str) -> MediaAsset:
    with transaction.atomic():
        before = {"alt_text": asset.alt_text, "captions": asset.captions}
        asset.alt_text = alt_text.strip()
        asset.captions = captions.strip()
        asset.save(update_fields=["alt_text", "captions"])
        record(
            "publishing.media.updated",
            actor=by,
            organisation=asset.organisation,
            target=asset,
            payload={
                "alt_text": asset.alt_text,
                "captions_changed": before["captions"] != asset.captions,
                "alt_text_before": before["alt_text"],
            },
        )
    return asset


def _remove_files(*names: str | None) -> None:
    from django.core.files.storage import default_storage

    for file_name in names:
        if not file_name:
            continue
        try:
            default_storage.delete(file_name)
        except OSError:
            logger.warning("could not remove %s from storage", file_name, exc_info=True)


def delete_media(asset: MediaAsset, *, by: Actor) -> None:
    """Remove an asset and its files; refused while a post still uses it."""
    in_use = ActionError(
        _("“%(name)s” is used by a post; remove it from the post first.") % {"name": str(asset)}
    )
    with transaction.atomic():
        titles = list(
            Post.objects.filter(attachments__asset=asset)
            .order_by("title")
            .values_list("title", flat=True)
            .distinct()[:5]
        )
        if titles:
            raise ActionError(
                _("“%(name)s” is used by %(posts)s; remove it from those posts first.")
                % {"name": str(asset), "posts": ", ".join(f"“{t}”" for t in titles)}
            )
        names = (asset.file.name, asset.thumbnail.name)
        record(
            "publishing.media.deleted",
            actor=by,
            organisation=asset.organisation,
            target=asset,
            payload={"name": str(asset), "sha256": asset.sha256},
        )
        try:
            asset.delete()
        except ProtectedError:
            # A post took the file between the check above and the delete.
            raise in_use from None
        # Files go only once the row is gone for good: a rolled-back delete keeps them.
        transaction.on_commit(lambda: _remove_files(*names))


def file_name_for_download(asset: MediaAsset, kind: str) -> str:
    """The name offered to a browser that saves the file."""
    if kind == "thumb":
        return f"{os.path.splitext(asset.original_name or 'media')[0]}-thumb.jpg"
    return asset.original_name or PurePath(asset.file.name or "media").name
