"""The post pages: the list and queue, the composer with its live check, and the post page.

Views fetch every row through :mod:`humas.publishing.access` and change things only through
:mod:`humas.publishing.actions`; an :class:`ActionError` becomes a message or a form error.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from humas.accounts import access as account_access
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Organisation
from humas.channels import access as channel_access
from humas.channels.models import ChannelStatus
from humas.publishing import access, actions
from humas.publishing.compose import Check, Draft, check_all
from humas.publishing.forms import (
    ConfirmArrivedForm,
    DecisionForm,
    PostFilterForm,
    PostForm,
    ScheduleForm,
    VariantForm,
    publishable_channels,
)
from humas.publishing.models import (
    EDITABLE,
    Decision,
    DeliveryStatus,
    MediaAsset,
    Post,
    PostStatus,
)

#: How many posts the list shows per page, and deliveries the queue shows.
PAGE_SIZE = 50
QUEUE_SIZE = 200

#: What an editor can do about a delivery's last error, by its kind.
ERROR_HINTS = {
    "auth": gettext_lazy("The channel must be reconnected by an administrator."),
    "rate_limited": gettext_lazy("humas will retry automatically."),
    "transient": gettext_lazy("humas will retry automatically."),
    "permanent": gettext_lazy("Edit the post and send it again."),
}


def _zone(org: Organisation) -> ZoneInfo:
    return ZoneInfo(org.time_zone)


def _post_url(post: Post) -> HttpResponse:
    return redirect("publishing:post", post_id=post.pk)


# --- the list and the queue ------------------------------------------------------------


@login_required
def post_list(request: HttpRequest) -> HttpResponse:
    org = account_access.organisation_for(request, "content.view")
    form = PostFilterForm(
        request.GET or None,
        pillars=access.pillars_for(request),
        campaigns=access.campaigns_for(request),
        channels=channel_access.channels_for(request),
    )
    posts = form.filter(access.posts_for(request)).prefetch_related("variants__channel")
    page = Paginator(posts.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "publishing/post_list.html",
        {"form": form, "page": page, "query": query.urlencode(), "zone": _zone(org)},
    )


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The next deliveries, soonest first: what goes out, where and when."""
    org = account_access.organisation_for(request, "content.view")
    deliveries = (
        access.deliveries_for(request)
        .filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
        .order_by("due_at", "pk")[:QUEUE_SIZE]
    )
    return render(
        request,
        "publishing/post_queue.html",
        {"deliveries": deliveries, "zone": _zone(org)},
    )


# --- the composer --------------------------------------------------------------------


def _composer(request: HttpRequest, post: Post | None) -> tuple[PostForm, list[VariantForm]]:
    """The post form and one variant form per channel the post may go out on."""
    channels = publishable_channels(channel_access.channels_for(request))
    if post is not None:
        # A channel that needs reconnection keeps its variant (its deliveries wait for it).
        known = {c.pk for c in channels}
        channels += [
            v.channel
            for v in post.variants.select_related("channel")
            if v.channel_id not in known and v.channel.status != ChannelStatus.DISABLED
        ]
    data = request.POST if request.method == "POST" else None
    initial: dict[str, Any] = {}
    variants = {}
    if post is not None:
        variants = {v.channel_id: v for v in post.variants.all()}
        media_ids = [pm.asset_id for pm in post.attachments.all()]
        initial = {
            "title": post.title,
            "text": post.text,
            "link": post.link,
            "pillar": post.pillar_id,
            "campaign": post.campaign_id,
            "channels": list(variants),
            "assets": media_ids,
            "media_order": ",".join(str(i) for i in media_ids),
            "recurrence": post.recurrence,
            "recurrence_until": post.recurrence_until,
        }
    form = PostForm(
        data,
        initial=initial,
        channels=channels,
        pillars=access.pillars_for(request),
        campaigns=access.campaigns_for(request),
        media=access.media_for(request).order_by("-created_at", "-pk"),
    )
    variant_forms = [
        VariantForm(data, channel=c, initial=VariantForm.initial_for(variants.get(c.pk)))
        for c in channels
    ]
    return form, variant_forms


def _drafts(form: PostForm, variant_forms: list[VariantForm]) -> list[Draft]:
    chosen = {c.pk for c in form.chosen_channels()}
    main_text = form.raw("text").strip()
    return [v.draft(main_text) for v in variant_forms if v.channel.pk in chosen]


def _checks(
    form: PostForm, variant_forms: list[VariantForm]
) -> list[tuple[Draft, Check, list[MediaAsset]]]:
    drafts = _drafts(form, variant_forms)
    assets = form.chosen_media()
    link = form.raw("link").strip()
    found = check_all(drafts, assets, link=link)
    return [(d, found[d.channel.pk], assets if d.with_media else []) for d in drafts]


def _saved_checks(post: Post) -> list[tuple[Draft, Check, list[MediaAsset]]]:
    """The check of the post as saved, shown when the composer opens."""
    drafts = actions.variant_drafts(post)
    assets = actions.post_assets(post)
    found = check_all(drafts, assets, link=post.link)
    return [(d, found[d.channel.pk], assets if d.with_media else []) for d in drafts]


def _compose(request: HttpRequest, post: Post | None) -> HttpResponse:
    if post is None:
        org = account_access.organisation_for(request, "content.write")
    else:
        org = post.organisation
    form, variant_forms = _composer(request, post)
    if request.method == "POST":
        valid = form.is_valid()
        valid = all([v.is_valid() for v in variant_forms]) and valid
        if valid:
            data = form.cleaned_data
            try:
                saved = actions.save_post(
                    org,
                    by=Actor.from_request(request),
                    post=post,
                    title=data["title"],
                    text=data["text"],
                    link=data["link"],
                    pillar=data["pillar"],
                    campaign=data["campaign"],
                    drafts=_drafts(form, variant_forms),
                    media=form.chosen_media(),
                    recurrence=data["recurrence"],
                    recurrence_until=data["recurrence_until"],
                )
            except ActionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The post was saved."))
                return _post_url(saved)
    if form.is_bound:
        checks = _checks(form, variant_forms)
    else:
        checks = _saved_checks(post) if post is not None else []
    return render(
        request,
        "publishing/post_compose.html",
        {
            "form": form,
            "variant_forms": variant_forms,
            "chosen": {c.pk for c in form.chosen_channels()}
            if form.is_bound
            else set(form.initial.get("channels", [])),
            "checks": checks,
            "post": post,
            "locked": post is not None and post.status not in EDITABLE,
        },
    )


@login_required
def post_new(request: HttpRequest) -> HttpResponse:
    return _compose(request, None)


@login_required
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    return _compose(request, access.get_post_for(request, post_id, write=True))


@login_required
@require_POST
def compose_check(request: HttpRequest) -> HttpResponse:
    """The composer's live check: per channel, the length, problems, warnings and a preview."""
    account_access.require(request, "content.write")
    form, variant_forms = _composer(request, None)
    return render(
        request, "publishing/_compose_check.html", {"checks": _checks(form, variant_forms)}
    )


# --- the post page -------------------------------------------------------------------


def _deliveries(post: Post) -> list[dict[str, Any]]:
    rows = []
    for delivery in post.deliveries.select_related("channel", "channel_post").order_by(
        "channel__network", "channel__handle", "-created_at"
    ):
        rows.append(
            {
                "delivery": delivery,
                "paused": delivery.status == DeliveryStatus.PENDING
                and delivery.channel.status != ChannelStatus.ACTIVE,
                "hint": ERROR_HINTS.get(delivery.last_error_kind, ""),
                "outdated": delivery.post_version != post.version,
            }
        )
    return rows


def _still_moving(post: Post) -> bool:
    return post.deliveries.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    ).exists()


@login_required
def post_detail(request: HttpRequest, post_id: int) -> HttpResponse:
    post = access.get_post_for(request, post_id)
    membership = account_access.require(request)
    org = post.organisation
    zone = _zone(org)
    local = post.scheduled_at.astimezone(zone) if post.scheduled_at else None
    may_decide = (
        membership.has_perm("content.approve")
        and post.status == PostStatus.IN_REVIEW
        and post.author_id != request.user.pk
    )
    return render(
        request,
        "publishing/post_detail.html",
        {
            "post": post,
            "zone": zone,
            "variants": post.variants.select_related("channel"),
            "assets": actions.post_assets(post),
            "approvals": post.approvals.select_related("by").order_by("at", "pk"),
            "step": actions.approval_step(post),
            "problems": {
                channel_id: found
                for channel_id, found in actions.problems_of(post).items()
                if found
            },
            "deliveries": _deliveries(post),
            "polling": _still_moving(post),
            "may_decide": may_decide,
            "decisions": Decision,
            "decision_form": DecisionForm(),
            "schedule_form": ScheduleForm(
                zone=zone, initial={"when": local.replace(tzinfo=None) if local else None}
            ),
            "confirm_form": ConfirmArrivedForm(),
            "editable": post.status in EDITABLE,
            "may_submit": post.status
            in (
                PostStatus.DRAFT,
                PostStatus.CHANGES_REQUESTED,
                PostStatus.REJECTED,
                PostStatus.CANCELLED,
            )
            and org.approval_steps > 0,
            "may_schedule": post.status in (PostStatus.APPROVED, PostStatus.SCHEDULED)
            or (
                not org.approval_steps
                and post.status
                in (
                    PostStatus.DRAFT,
                    PostStatus.CHANGES_REQUESTED,
                    PostStatus.REJECTED,
                    PostStatus.CANCELLED,
                    PostStatus.FAILED,
                )
            ),
            "may_cancel": post.deliveries.filter(status__in=actions.OPEN_DELIVERIES).exists()
            or post.status == PostStatus.SCHEDULED,
            "may_delete_remote": post.deliveries.filter(
                status=DeliveryStatus.PUBLISHED, channel_post__deleted_at__isnull=True
            )
            .exclude(channel_post=None)
            .exists(),
        },
    )


@login_required
def post_deliveries(request: HttpRequest, post_id: int) -> HttpResponse:
    """The per-channel table alone, polled by the post page while something is on its way."""
    post = access.get_post_for(request, post_id)
    return render(
        request,
        "publishing/post_deliveries.html",
        {
            "post": post,
            "zone": _zone(post.organisation),
            "deliveries": _deliveries(post),
            "polling": _still_moving(post),
            "confirm_form": ConfirmArrivedForm(),
        },
    )


def _run(request: HttpRequest, post: Post, action: Any, success: str, **kwargs: Any) -> None:
    try:
        action(post, by=Actor.from_request(request), **kwargs)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)


@login_required
@require_POST
def post_submit(request: HttpRequest, post_id: int) -> HttpResponse:
    post = access.get_post_for(request, post_id, write=True)
    _run(request, post, actions.submit_for_approval, _("The post was sent for approval."))
    return _post_url(post)


@login_required
@require_POST
def post_decide(request: HttpRequest, post_id: int) -> HttpResponse:
    post = access.get_post_to_approve(request, post_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose approve, request changes or reject."))
        return _post_url(post)
    done = {
        Decision.APPROVED: _("You approved the post."),
        Decision.CHANGES_REQUESTED: _("You asked for changes."),
        Decision.REJECTED: _("You rejected the post."),
    }
    decision = form.cleaned_data["decision"]
    _run(
        request,
        post,
        actions.decide,
        done[Decision(decision)],
        decision=decision,
        comment=form.cleaned_data["comment"],
    )
    return _post_url(post)


@login_required
@require_POST
def post_schedule(request: HttpRequest, post_id: int) -> HttpResponse:
    post = access.get_post_for(request, post_id, write=True)
    zone = _zone(post.organisation)
    form = ScheduleForm(request.POST, zone=zone)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return _post_url(post)
    when = form.cleaned_data["when"]
    _run(
        request,
        post,
        actions.schedule_post,
        _("The post will be published on %(when)s.")
        % {"when": when.astimezone(zone).strftime("%d-%m-%Y %H:%M")},
        when=when,
    )
    return _post_url(post)


@login_required
@require_POST
def post_publish_now(request: HttpRequest, post_id: int) -> HttpResponse:
    post = access.get_post_for(request, post_id, write=True)
    _run(request, post, actions.schedule_post, _("The post is on its way."), when=None)
    return _post_url(post)


@login_required
@require_POST
def post_cancel(request: HttpRequest, post_id: int) -> HttpResponse:
    post = access.get_post_for(request, post_id, write=True)
    _run(request, post, actions.cancel_post, _("What had not gone out yet was cancelled."))
    if request.POST.get("next") == "queue":
        return redirect("publishing:queue")
    return _post_url(post)


@login_required
@require_POST
def delivery_retry(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = access.get_delivery_for(request, delivery_id)
    try:
        actions.retry_delivery(
            delivery,
            by=Actor.from_request(request),
            send_again=bool(request.POST.get("send_again")),
        )
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("%(channel)s will be tried again.") % {"channel": str(delivery.channel)}
        )
    return redirect("publishing:post", post_id=delivery.post_id)


@login_required
@require_POST
def delivery_confirm(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = access.get_delivery_for(request, delivery_id)
    form = ConfirmArrivedForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That is not a web address."))
        return redirect("publishing:post", post_id=delivery.post_id)
    try:
        actions.confirm_delivery_arrived(
            delivery, by=Actor.from_request(request), url=form.cleaned_data["url"]
        )
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Noted: the post is on %(channel)s.") % {"channel": str(delivery.channel)},
        )
    return redirect("publishing:post", post_id=delivery.post_id)


@login_required
def post_delete_remote(request: HttpRequest, post_id: int) -> HttpResponse:
    """Confirm (GET), then delete the published post on every network that allows it (POST)."""
    post = access.get_post_for(request, post_id, write=True)
    if request.method == "POST":
        outcome = actions.delete_from_networks(post, by=Actor.from_request(request))
        if outcome["deleted"]:
            messages.success(
                request,
                _("Deleted on: %(channels)s.") % {"channels": ", ".join(outcome["deleted"])},
            )
        for kept in outcome["kept"]:
            messages.warning(request, kept)
        if not outcome["deleted"] and not outcome["kept"]:
            messages.info(request, _("Nothing published is left to delete."))
        return _post_url(post)
    published = post.deliveries.filter(
        status=DeliveryStatus.PUBLISHED,
        channel_post__isnull=False,
        channel_post__deleted_at__isnull=True,
    ).select_related("channel", "channel_post")
    rows = [
        {"delivery": d, "can_delete": d.channel.provider_class.capabilities.delete}
        for d in published
    ]
    return render(request, "publishing/post_delete_remote.html", {"post": post, "rows": rows})
