"""Pages of the media library: the grid, uploading, one file's details, and the files."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from humas.accounts.access import organisation_for
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.publishing import access, media
from humas.publishing.models import MediaAsset, MediaKind, Post

#: ``kind`` in publishing:media_file: the uploaded file itself, or its preview picture.
FILE_KINDS = ("asli", "thumb")


class MediaForm(forms.Form):
    alt_text = forms.CharField(
        label=gettext_lazy("Alt text"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "What the picture shows, for people who cannot see it. Required before publishing."
        ),
    )
    captions = forms.CharField(
        label=gettext_lazy("Captions (WebVTT or SRT)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("For video: what is said, with times."),
    )


def _post_url(post: Post) -> str:
    return reverse("publishing:post", args=[post.pk])


@login_required
def media_list(request: HttpRequest) -> HttpResponse:
    assets = access.media_for(request).select_related("uploaded_by")
    kind = request.GET.get("kind", "")
    if kind in MediaKind.values:
        assets = assets.filter(kind=kind)
    else:
        kind = ""
    if request.GET.get("alt") == "missing":
        assets = assets.filter(kind=MediaKind.IMAGE, alt_text="")
    page = Paginator(assets, 48).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "publishing/media_list.html",
        {
            "page": page,
            "kind": kind,
            "kinds": MediaKind.choices,
            "missing_alt": request.GET.get("alt") == "missing",
            "query": query.urlencode(),
            "max_image_bytes": media.limit_for(MediaKind.IMAGE),
            "max_video_bytes": media.limit_for(MediaKind.VIDEO),
        },
    )


@login_required
@require_POST
def media_upload(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "content.write")
    files = request.FILES.getlist("files")
    results: list[dict[str, Any]] = []
    if not files:
        results.append({"name": "", "error": _("Choose at least one file to upload.")})
    for uploaded in files:
        try:
            asset = media.store_upload(org, uploaded, by=Actor.from_request(request))
        except ActionError as exc:
            results.append({"name": uploaded.name, "error": str(exc)})
        else:
            results.append({"name": uploaded.name, "asset": asset})
    if request.htmx:  # type: ignore[attr-defined]
        response = render(request, "publishing/media_upload_result.html", {"results": results})
        if any("asset" in result for result in results):
            # The grid listens for this and reloads itself with its current filter.
            response["HX-Trigger"] = "media-uploaded"
        return response
    for result in results:
        if "error" in result:
            messages.error(request, result["error"])
        else:
            messages.success(
                request, _("“%(name)s” is in the library.") % {"name": str(result["asset"])}
            )
    return redirect("publishing:media_list")


def _detail(
    request: HttpRequest, asset: MediaAsset, form: MediaForm, status: int = 200
) -> HttpResponse:
    posts = Post.objects.filter(attachments__asset=asset).distinct().order_by("-created_at")
    return render(
        request,
        "publishing/media_detail.html",
        {
            "asset": asset,
            "form": form,
            "uses": [{"post": post, "url": _post_url(post)} for post in posts],
            "ffmpeg_available": media.ffmpeg_available(),
        },
        status=status,
    )


@login_required
def media_detail(request: HttpRequest, asset_id: int) -> HttpResponse:
    asset = access.get_media_for(request, asset_id)
    form = MediaForm(initial={"alt_text": asset.alt_text, "captions": asset.captions})
    return _detail(request, asset, form)


@login_required
@require_POST
def media_edit(request: HttpRequest, asset_id: int) -> HttpResponse:
    asset = access.get_media_for(request, asset_id, write=True)
    form = MediaForm(request.POST)
    if not form.is_valid():
        return _detail(request, asset, form, status=400)
    media.update_media(
        asset,
        by=Actor.from_request(request),
        alt_text=form.cleaned_data["alt_text"],
        captions=form.cleaned_data["captions"],
    )
    messages.success(request, _("Saved."))
    return redirect("publishing:media_detail", asset_id=asset.pk)


@login_required
@require_POST
def media_delete(request: HttpRequest, asset_id: int) -> HttpResponse:
    asset = access.get_media_for(request, asset_id, write=True)
    name = str(asset)
    try:
        media.delete_media(asset, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect("publishing:media_detail", asset_id=asset_id)
    messages.success(request, _("“%(name)s” was removed from the library.") % {"name": name})
    return redirect("publishing:media_list")


@login_required
def media_file(request: HttpRequest, asset_id: int, kind: str) -> FileResponse:
    """The stored file (``asli``) or its preview (``thumb``), for members of its organisation.

    Files are never given a public address: the storage may be a bucket, and a government
    unit's unpublished pictures must not be reachable by guessing a link.
    """
    if kind not in FILE_KINDS:
        raise Http404(kind)
    asset = access.get_media_for(request, asset_id)
    field = asset.file if kind == "asli" else asset.thumbnail
    if not field:
        raise Http404("no file")
    try:
        handle = field.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("file missing from storage") from None
    response = FileResponse(
        handle,
        content_type=asset.mime_type if kind == "asli" else "image/jpeg",
        filename=media.file_name_for_download(asset, kind),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
