"""Planning pages (pillars, campaigns, brand kit), the production board and the calendar."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Model, Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from humas.accounts.access import organisation_for, require
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Organisation
from humas.channels import access as channel_access
from humas.channels.models import ChannelStatus
from humas.publishing import access, actions
from humas.publishing.forms_plan import (
    CalendarForm,
    CalendarMoveForm,
    CampaignForm,
    CardForm,
    CommentForm,
    MoveCardForm,
    PillarForm,
    SnippetForm,
)
from humas.publishing.insights import best_hours
from humas.publishing.mix import pillar_mix, targets_only
from humas.publishing.models import (
    BrandSnippet,
    Campaign,
    Pillar,
    Post,
    PostStatus,
    SnippetKind,
    Stage,
)

MIX_DAYS = 30

M = TypeVar("M", bound=Model)


def _zone(org: Organisation) -> ZoneInfo:
    return ZoneInfo(org.time_zone)


def _today(org: Organisation) -> date:
    return timezone.now().astimezone(_zone(org)).date()


def _fresh(obj: M | None) -> M | None:
    # A ModelForm writes the submitted values onto its instance while validating; the
    # action gets an untouched copy so that what it records as "before" is true.
    return type(obj)._default_manager.get(pk=obj.pk) if obj is not None else None


# --- pillars ------------------------------------------------------------------------------


@login_required
def pillar_list(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "content.view")
    until = _today(org)
    since = until - timedelta(days=MIX_DAYS)
    zone = _zone(org)
    mix = pillar_mix(
        org,
        datetime.combine(since, time.min, tzinfo=zone),
        datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone),
    ) or targets_only(org)
    target_total = sum(row.target for row in mix if row.pillar is not None and row.pillar.is_active)
    return render(
        request,
        "publishing/plan_pillar_list.html",
        {
            "mix": mix,
            "inactive": access.pillars_for(request).filter(is_active=False),
            "target_total": target_total,
            "since": since,
            "until": until,
            "days": MIX_DAYS,
        },
    )


def _pillar_form(request: HttpRequest, pillar: Pillar | None) -> HttpResponse:
    org = organisation_for(request, "content.write")
    form = PillarForm(request.POST or None, instance=pillar, organisation=org)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_pillar(
                org, by=Actor.from_request(request), pillar=_fresh(pillar), **form.cleaned_data
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Pillar saved."))
            return redirect("publishing:pillar_list")
    return render(request, "publishing/plan_pillar_form.html", {"form": form, "pillar": pillar})


@login_required
def pillar_new(request: HttpRequest) -> HttpResponse:
    return _pillar_form(request, None)


@login_required
def pillar_edit(request: HttpRequest, pillar_id: int) -> HttpResponse:
    return _pillar_form(request, access.get_pillar_for(request, pillar_id, write=True))


# --- campaigns ----------------------------------------------------------------------------


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = access.campaigns_for(request).annotate(post_count=Count("post", distinct=True))
    org = organisation_for(request, "content.view")
    return render(
        request,
        "publishing/plan_campaign_list.html",
        {"campaigns": campaigns, "today": _today(org)},
    )


def _campaign_form(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    org = organisation_for(request, "content.write")
    form = CampaignForm(request.POST or None, instance=campaign, organisation=org)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_campaign(
                org,
                by=Actor.from_request(request),
                campaign=_fresh(campaign),
                **form.cleaned_data,
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("publishing:campaign_list")
    post_count = campaign.post_set.count() if campaign is not None else 0
    return render(
        request,
        "publishing/plan_campaign_form.html",
        {"form": form, "campaign": campaign, "post_count": post_count},
    )


@login_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    return _campaign_form(request, None)


@login_required
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _campaign_form(request, access.get_campaign_for(request, campaign_id, write=True))


# --- brand kit ----------------------------------------------------------------------------


@login_required
def brand_kit(request: HttpRequest) -> HttpResponse:
    snippets = list(access.snippets_for(request))
    groups = [
        {"kind": kind, "label": label, "snippets": [s for s in snippets if s.kind == kind]}
        for kind, label in SnippetKind.choices
    ]
    return render(request, "publishing/plan_brand_kit.html", {"groups": groups})


def _snippet_form(request: HttpRequest, snippet: BrandSnippet | None) -> HttpResponse:
    org = organisation_for(request, "content.write")
    initial = {}
    if snippet is None and request.GET.get("kind") in SnippetKind.values:
        initial["kind"] = request.GET["kind"]
    form = SnippetForm(request.POST or None, instance=snippet, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_snippet(
                org, by=Actor.from_request(request), snippet=_fresh(snippet), **form.cleaned_data
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Brand kit item saved."))
            return redirect("publishing:brand_kit")
    return render(request, "publishing/plan_snippet_form.html", {"form": form, "snippet": snippet})


@login_required
def snippet_new(request: HttpRequest) -> HttpResponse:
    return _snippet_form(request, None)


@login_required
def snippet_edit(request: HttpRequest, snippet_id: int) -> HttpResponse:
    return _snippet_form(request, access.get_snippet_for(request, snippet_id, write=True))


@login_required
@require_POST
def snippet_delete(request: HttpRequest, snippet_id: int) -> HttpResponse:
    snippet = access.get_snippet_for(request, snippet_id, write=True)
    try:
        actions.delete_snippet(snippet, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Brand kit item removed."))
    return redirect("publishing:brand_kit")


# --- the production board -----------------------------------------------------------------


def _board_context(request: HttpRequest, org: Organisation) -> dict[str, Any]:
    today = _today(org)
    cards = access.cards_for(request).annotate(comment_count=Count("comments"))
    if request.GET.get("mine") and request.user.is_authenticated:
        cards = cards.filter(assignee=request.user)
    columns: list[dict[str, Any]] = [
        {"stage": value, "label": label, "cards": []} for value, label in Stage.choices
    ]
    by_stage = {column["stage"]: column for column in columns}
    for card in cards:
        card.overdue = (  # type: ignore[attr-defined]
            card.due_on is not None and card.due_on < today and card.stage != Stage.PUBLISHED
        )
        by_stage.get(card.stage, columns[0])["cards"].append(card)
    return {"columns": columns, "stages": Stage.choices, "today": today}


def _board_partial(
    request: HttpRequest, org: Organisation, *, error: str = "", notice: str = ""
) -> HttpResponse:
    context = _board_context(request, org) | {"error": error, "notice": notice}
    return render(request, "publishing/board_columns.html", context)


@login_required
def board(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "content.view")
    return render(request, "publishing/board.html", _board_context(request, org))


@login_required
def card_new(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "content.write")
    initial = {}
    if request.GET.get("stage") in Stage.values:
        initial["stage"] = request.GET["stage"]
    form = CardForm(request.POST or None, organisation=org, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            card = actions.save_card(org, by=Actor.from_request(request), **form.cleaned_data)
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("“%(title)s” is on the board.") % {"title": card.title})
            return redirect("publishing:board")
    return render(request, "publishing/board_card_form.html", {"form": form})


@login_required
def card(request: HttpRequest, card_id: int) -> HttpResponse:
    found = access.get_card_for(request, card_id, write=request.method == "POST")
    org = found.organisation
    membership = require(request, "content.view")
    can_write = membership.has_perm("content.write")
    form = None
    if can_write:
        form = CardForm(request.POST or None, instance=found, organisation=org)
    if form is not None and request.method == "POST" and form.is_valid():
        try:
            actions.save_card(
                org, by=Actor.from_request(request), card=_fresh(found), **form.cleaned_data
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Card saved."))
            return redirect("publishing:card", card_id=found.pk)
    if request.method == "POST":
        # The form wrote the rejected values onto the card while validating.
        found = access.get_card_for(request, card_id)
    return render(
        request,
        "publishing/board_card.html",
        {
            "card": found,
            "form": form,
            "comments": found.comments.select_related("author"),
            "comment_form": CommentForm(),
            "overdue": found.due_on is not None
            and found.due_on < _today(org)
            and found.stage != Stage.PUBLISHED,
        },
    )


@login_required
@require_POST
def card_comment(request: HttpRequest, card_id: int) -> HttpResponse:
    found = access.get_card_for(request, card_id, write=True)
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write a comment first."))
    else:
        try:
            actions.comment_on_card(
                found, by=Actor.from_request(request), text=form.cleaned_data["text"]
            )
        except ActionError as exc:
            messages.error(request, str(exc))
    return redirect(reverse("publishing:card", args=[found.pk]) + "#comments")


@login_required
@require_POST
def card_move(request: HttpRequest, card_id: int) -> HttpResponse:
    found = access.get_card_for(request, card_id, write=True)
    form = MoveCardForm(request.POST)
    error = notice = ""
    if not form.is_valid():
        error = _("Unknown stage.")
    else:
        try:
            actions.move_card(
                found, by=Actor.from_request(request), stage=form.cleaned_data["stage"]
            )
        except ActionError as exc:
            error = str(exc)
        else:
            notice = _("“%(title)s” moved to %(stage)s.") % {
                "title": found.title,
                "stage": Stage(found.stage).label,
            }
    if request.htmx:  # type: ignore[attr-defined]
        return _board_partial(request, found.organisation, error=error, notice=notice)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("publishing:board")


@login_required
@require_POST
def card_to_post(request: HttpRequest, card_id: int) -> HttpResponse:
    found = access.get_card_for(request, card_id, write=True)
    try:
        post = actions.card_to_post(found, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect("publishing:card", card_id=found.pk)
    messages.success(request, _("A draft post was made from this card."))
    return redirect(reverse("publishing:post_edit", args=[post.pk]))


# --- the calendar -------------------------------------------------------------------------


def _calendar_context(request: HttpRequest, org: Organisation, params: QueryDict) -> dict[str, Any]:
    zone = _zone(org)
    today = _today(org)
    membership = require(request, "content.view")
    channels = channel_access.channels_for(request).order_by("network", "handle")
    form = CalendarForm(params, channels=channels)
    form.is_valid()  # what is invalid is left out of cleaned_data and falls back below
    view = form.cleaned_data.get("view") or "month"
    anchor = form.cleaned_data.get("date") or today
    channel = form.cleaned_data.get("channel")

    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        weeks = [[start + timedelta(days=i) for i in range(7)]]
        previous, following = start - timedelta(days=7), start + timedelta(days=7)
        title = f"{date_format(start, 'j M Y')} – {date_format(weeks[0][-1], 'j M Y')}"
    else:
        weeks = month_calendar.Calendar(firstweekday=0).monthdatescalendar(
            anchor.year, anchor.month
        )
        first = anchor.replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        title = date_format(first, "F Y")

    # The grid's days are days in the organisation's zone: 23:30 WIB on 1 December is
    # 1 December in Jakarta and already 2 December in Jayapura.
    start_at = datetime.combine(weeks[0][0], time.min, tzinfo=zone)
    end_at = datetime.combine(weeks[-1][-1] + timedelta(days=1), time.min, tzinfo=zone)
    posts = access.posts_for(request).filter(
        Q(scheduled_at__gte=start_at, scheduled_at__lt=end_at)
        | Q(scheduled_at__isnull=True, published_at__gte=start_at, published_at__lt=end_at)
    )
    if channel is not None:
        posts = posts.filter(variants__channel=channel).distinct()
    can_move = membership.has_perm("content.write")
    by_day: dict[date, list[dict[str, Any]]] = {}
    for post in posts:
        at = (post.scheduled_at or post.published_at).astimezone(zone)  # type: ignore[union-attr]
        by_day.setdefault(at.date(), []).append(
            {
                "post": post,
                "at": at,
                "movable": can_move and post.status == PostStatus.SCHEDULED,
            }
        )
    for entries in by_day.values():
        entries.sort(key=lambda e: e["at"])

    def link(**changes: Any) -> str:
        query = {"view": view, "date": anchor.isoformat()}
        if channel is not None:
            query["channel"] = str(channel.pk)
        query |= {k: v for k, v in changes.items() if v is not None}
        return "?" + urlencode(query)

    return {
        "view": view,
        "anchor": anchor,
        "channel": channel,
        "channels": channels,
        "title": title,
        "today": today,
        "weekdays": weeks[0],
        "weeks": [
            [
                {
                    "date": day,
                    "entries": by_day.get(day, []),
                    "outside": view == "month" and day.month != anchor.month,
                    "is_today": day == today,
                }
                for day in week
            ]
            for week in weeks
        ],
        "previous_link": link(date=previous.isoformat()),
        "next_link": link(date=following.isoformat()),
        "today_link": link(date=today.isoformat()),
        "month_link": link(view="month"),
        "week_link": link(view="week"),
        "can_move": can_move,
    }


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    org = organisation_for(request, "content.view")
    context = _calendar_context(request, org, request.GET)
    context["best_times"] = [
        {"channel": c, "hours": best_hours(org, c)}
        for c in context["channels"]
        if c.status == ChannelStatus.ACTIVE
    ]
    return render(request, "publishing/calendar.html", context)


def _move_post(request: HttpRequest, org: Organisation, post: Post, day: date) -> str:
    """Reschedule ``post`` to ``day`` at the same local time of day; "" or what went wrong."""
    if post.status != PostStatus.SCHEDULED or post.scheduled_at is None:
        return _("Only a scheduled post can be moved.")
    zone = _zone(org)
    local = post.scheduled_at.astimezone(zone)
    when = datetime.combine(day, local.time(), tzinfo=zone)
    if when == local:
        return ""
    if when <= timezone.now():
        return _("A post cannot be moved into the past.")
    try:
        actions.reschedule(post, by=Actor.from_request(request), when=when)
    except ActionError as exc:
        return str(exc)
    return ""


@login_required
@require_POST
def calendar_move(request: HttpRequest) -> HttpResponse:
    """The calendar's drag and drop: ``post`` (id) and ``to`` (YYYY-MM-DD); the current
    ``view``, ``date`` and ``channel`` come along so the answer is the same grid again."""
    org = organisation_for(request, "content.write")
    form = CalendarMoveForm(request.POST)
    error = notice = ""
    if not form.is_valid():
        error = _("Choose a post and a day.")
    else:
        post = access.get_post_for(request, form.cleaned_data["post"], write=True)
        error = _move_post(request, org, post, form.cleaned_data["to"])
        if not error:
            notice = _("“%(title)s” moved to %(day)s.") % {
                "title": post.title,
                "day": date_format(form.cleaned_data["to"], "DATE_FORMAT"),
            }
    if request.htmx:  # type: ignore[attr-defined]
        context = _calendar_context(request, org, request.POST)
        context |= {"error": error, "notice": notice}
        return render(request, "publishing/calendar_grid.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    query = {k: request.POST[k] for k in ("view", "date", "channel") if request.POST.get(k)}
    return redirect(reverse("publishing:calendar") + ("?" + urlencode(query) if query else ""))
