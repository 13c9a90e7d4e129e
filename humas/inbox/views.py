"""The inbox pages: the list of conversations across channels, and one conversation.

Views fetch every row through :mod:`humas.inbox.access` and change things only through
:mod:`humas.inbox.actions`; an :class:`ActionError` becomes a message. Message text is shown
with personal data masked unless the caller's role holds ``personal_data.view``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from humas.accounts import orgcache
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, client_ip
from humas.accounts.models import Membership, Organisation, Unit, User
from humas.channels.models import ChannelAccount, ChannelPost
from humas.inbox import access, actions, cases, first, routing
from humas.inbox.forms import (
    AssignForm,
    BulkResolveForm,
    CannedReplyForm,
    CaseForwardForm,
    CaseNoteForm,
    CaseStatusForm,
    InboxFilterForm,
    LabelForm,
    NoteForm,
    ReplyForm,
    RouteForm,
    RuleForm,
    RuleTestForm,
    StatusLookupForm,
    with_pending_due,
)
from humas.inbox.models import (
    CannedReply,
    Case,
    CaseStatus,
    Category,
    Conversation,
    Direction,
    Language,
    Message,
    RoutingRule,
    SendStatus,
    Sentiment,
    Status,
    Urgency,
)
from humas.lib.workdays import deadline_state
from humas.publishing.models import MediaAsset

PAGE_SIZE = 50


def _zone(org: Organisation) -> ZoneInfo:
    return ZoneInfo(org.time_zone)


def _units(membership: Membership) -> QuerySet[Unit]:
    units = Unit.objects.filter(organisation=membership.organisation)
    if membership.has_perm("inbox.view"):
        return units
    if membership.unit_id is None:
        return units.none()
    return units.filter(pk=membership.unit_id)


def _members(membership: Membership) -> QuerySet[User]:
    return User.objects.filter(
        memberships__organisation=membership.organisation,
        memberships__is_active=True,
        is_active=True,
    ).order_by("full_name", "email")


def _deadline(conversation: Conversation) -> str:
    due = conversation.pending_due
    if due is None:
        return ""
    return str(deadline_state(timezone.now(), due, actions.WARN_BEFORE))


#: How many of the newest media files the reply box offers to attach.
LIBRARY_CHOICES = 30


def _library(org: Organisation) -> QuerySet[MediaAsset]:
    """The newest files of the organisation's media library, to attach to a reply."""
    newest = MediaAsset.objects.filter(organisation=org).order_by("-created_at", "-pk")
    return MediaAsset.objects.filter(
        pk__in=list(newest.values_list("pk", flat=True)[:LIBRARY_CHOICES])
    )


def _conversation_url(conversation: Conversation) -> HttpResponse:
    return redirect("inbox:conversation", conversation_id=conversation.pk)


# --- the list ------------------------------------------------------------------------------

#: The deepest page the list offers (1,000 conversations): past it people filter or search.
MAX_PAGES = 20


class PageTotal(int):
    """A number of pages that prints as "3+" when there are more rows after them."""

    more: bool

    def __new__(cls, value: int, *, more: bool) -> PageTotal:
        total = super().__new__(cls, value)
        total.more = more
        return total

    def __str__(self) -> str:
        return f"{int(self)}+" if self.more else str(int(self))


def _page(rows: QuerySet[Conversation], wanted: str | None) -> Page:
    """One page of ``rows`` without counting them: one query for the page and the row after
    it, which tells whether there is a next page ("Page 2 of 3+"). A COUNT over a year of
    conversations, or over a search's matches, was the slowest query of the page; the small
    OFFSET (at most :data:`MAX_PAGES`) keeps each page a short walk along the list's ordered
    indexes."""
    try:
        number = min(max(int(wanted or 1), 1), MAX_PAGES)
    except ValueError:
        number = 1
    start = (number - 1) * PAGE_SIZE
    probe = list(rows[start : start + PAGE_SIZE + 1])
    if not probe and number > 1:
        # Past the end (the rows changed since the link was made): the first page.
        number, start = 1, 0
        probe = list(rows[: PAGE_SIZE + 1])
    more = len(probe) > PAGE_SIZE
    paginator = Paginator(probe, PAGE_SIZE)
    # Known without a query: cached_property values live in the instance's __dict__.
    paginator.__dict__["count"] = start + len(probe)
    last = number + 1 if more and number < MAX_PAGES else number
    paginator.__dict__["num_pages"] = PageTotal(last, more=more)
    return Page(probe[:PAGE_SIZE], number, paginator)


#: The columns the list shows, read as dicts: building 50 model instances (and four related
#: ones each) was a tenth of the page's CPU.
LIST_COLUMNS = (
    "pk",
    "status",
    "preview",
    "preview_masked",
    "urgency",
    "category",
    "sentiment",
    "abusive",
    "needs_review",
    "escalated",
    # The deadline that matters now, worked out by the database (one date to read per row
    # instead of three): the query must be annotated with ``with_pending_due``.
    "pending_due_at",
    "last_message_at",
    "channel__handle",
    "contact__display_name",
    "contact__handle",
    "contact__external_id",
    "assignee__full_name",
    "assignee__email",
    "unit__name",
)


def _pending_due(row: dict[str, Any]) -> Any:
    """:attr:`Conversation.pending_due` of a row read as a dict."""
    return row["pending_due_at"] if row["status"] == Status.OPEN else None


def _rows(
    page: Iterable[dict[str, Any]], *, unmasked: bool, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """What each row of the list shows, worked out once: labels from dicts of the choices
    (not ``get_*_display`` per row), the link from one ``reverse``, names, the deadline
    state and the dates, formatted as the ``date`` filter would in the organisation's time
    zone."""
    urgency = {value: str(label) for value, label in Urgency.choices}
    category = {value: str(label) for value, label in Category.choices}
    sentiment = {value: str(label) for value, label in Sentiment.choices}
    resolved = str(Status.RESOLVED.label)
    # The dates as the ``date`` filter writes "j M H:i", with the month's short name looked
    # up once: ``date_format`` per date was a fifth of the rows' time.
    months = {number: str(name).title() for number, name in MONTHS_3.items()}

    def day_and_time(moment: datetime) -> str:
        local = moment.astimezone(zone)
        return f"{local.day} {months[local.month]} {local:%H:%M}"

    # The conversation's link with a placeholder id, filled in per row.
    url = reverse("inbox:conversation", args=[987654321]).replace("987654321", "{}")
    now = timezone.now()
    items = []
    for c in page:
        name, handle = c["contact__display_name"], c["contact__handle"]
        due = _pending_due(c)
        preview = c["preview"] if unmasked else c["preview_masked"]
        last = c["last_message_at"].astimezone(zone)
        items.append(
            {
                "pk": c["pk"],
                "url": url.format(c["pk"]),
                "open": c["status"] == Status.OPEN,
                "citizen": name or handle or c["contact__external_id"] or "?",
                "handle": handle if handle and name else "",
                "preview": preview if len(preview) <= 140 else preview[:139] + "…",
                "urgency": c["urgency"],
                "critical": c["urgency"] == Urgency.CRITICAL,
                "urgency_label": urgency.get(c["urgency"], c["urgency"]),
                "category_label": category.get(c["category"], c["category"]),
                "sentiment_label": sentiment.get(c["sentiment"], c["sentiment"]),
                "abusive": c["abusive"],
                "needs_review": c["needs_review"],
                "resolved_label": resolved if c["status"] == Status.RESOLVED else "",
                "escalated": c["escalated"],
                "channel": c["channel__handle"],
                "due": "" if due is None else day_and_time(due),
                "deadline": "" if due is None else deadline_state(now, due, actions.WARN_BEFORE),
                "assignee": c["assignee__full_name"] or c["assignee__email"] or "",
                "unit": c["unit__name"] or "",
                "last_message_at": f"{last.day} {months[last.month]} {last:%Y %H:%M}",
            }
        )
    return items


def _rows_html(items: list[dict[str, Any]], *, may_work: bool) -> SafeString:
    """The table rows of the list, written here rather than in ``inbox/_rows.html``: 50 rows
    of template tags were most of the page's CPU, and the list is the page every responder
    keeps open (it asks for fresh rows every 10 seconds). Every value goes through
    :func:`escape`; the row markup is the template's, unchanged."""
    if not items:
        return format_html(
            '<tr><td colspan="8" class="muted">{}</td></tr>', _("No conversations here.")
        )
    tick, abusive, check = escape(_("Tick")), escape(_("Abusive")), escape(_("Check labels"))
    escalated = escape(_("Escalated"))
    deadline_badges = {
        "breached": (" bad", escape(_("Overdue"))),
        "due_soon": ("", escape(_("Due soon"))),
        "ok": (" ok", escape(_("On time"))),
    }
    html = []
    for item in items:
        pk, citizen = item["pk"], escape(item["citizen"])
        cells = [f'<tr data-testid="conversation-row" data-urgency="{escape(item["urgency"])}">']
        if may_work:
            box = (
                # hx-preserve keeps a ticked box ticked when the rows refresh.
                f'<input type="checkbox" name="conversations" value="{pk}" form="bulk-form"'
                f' id="pick-{pk}" hx-preserve="true" aria-label="{tick} {citizen}">'
                if item["open"]
                else ""
            )
            cells.append(f"<td>{box}</td>")
        handle = escape(item["handle"])
        handle = f'<br><span class="muted">{handle}</span>' if handle else ""
        cells.append(f'<td><a href="{item["url"]}">{citizen}</a>{handle}</td>')
        cells.append(f"<td>{escape(item['preview'])}</td>")
        badges = [
            f'<span class="badge{" bad" if item["critical"] else ""}" data-testid="urgency">'
            f"{escape(item['urgency_label'])}</span>",
            f'<span class="badge">{escape(item["category_label"])}</span>',
            f'<span class="badge">{escape(item["sentiment_label"])}</span>',
        ]
        if item["abusive"]:
            badges.append(f'<span class="badge bad">{abusive}</span>')
        if item["needs_review"]:
            badges.append(f'<span class="badge">{check}</span>')
        if item["resolved_label"]:
            badges.append(f'<span class="badge ok">{escape(item["resolved_label"])}</span>')
        if item["escalated"]:
            badges.append(f'<span class="badge bad">{escalated}</span>')
        cells.append(f"<td>{' '.join(badges)}</td>")
        cells.append(f"<td>{escape(item['channel'])}</td>")
        if item["due"]:
            state = str(item["deadline"])
            css, label = deadline_badges.get(state, deadline_badges["ok"])
            cells.append(
                f'<td><span class="badge{css}" data-testid="deadline" data-state="{escape(state)}">'
                f'{label}</span> <span class="muted">{escape(item["due"])}</span></td>'
            )
        else:
            cells.append('<td><span class="muted">—</span></td>')
        unit = f'<br><span class="muted">{escape(item["unit"])}</span>' if item["unit"] else ""
        cells.append(f"<td>{escape(item['assignee']) if item['assignee'] else '—'}{unit}</td>")
        cells.append(f"<td>{escape(item['last_message_at'])}</td></tr>")
        html.append("".join(cells))
    return mark_safe("\n".join(html))  # noqa: S308 - every value above went through escape


#: The most rows a section above the list shows.
FIRST_ROWS = 20


def _first_sections(request: HttpRequest, membership: Membership) -> list[dict[str, Any]]:
    """The sections other apps put above the list (:mod:`humas.inbox.first`: an active
    incident's conversations). Their conversations are read again through the caller's own
    scope and shown as the list shows them, masked alike."""
    sections = first.sections_for(membership.organisation, membership)
    if not sections:
        return []
    wanted = {c.pk for section in sections for c in section.conversations}
    found = {
        row["pk"]: row
        for row in with_pending_due(access.conversations_for(request).filter(pk__in=wanted)).values(
            *LIST_COLUMNS
        )
    }
    unmasked = access.sees_personal_data(request)
    zone = _zone(membership.organisation)
    shown = []
    for section in sections:
        rows = [found[c.pk] for c in section.conversations if c.pk in found][:FIRST_ROWS]
        items = _rows(rows, unmasked=unmasked, zone=zone)
        shown.append(
            {
                "title": section.title,
                "url": section.url,
                "rows_html": _rows_html(items, may_work=False) if items else "",
            }
        )
    return shown


@login_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    """Every conversation the caller may see, filtered; htmx asks again every few seconds
    for the rows alone, so new messages appear without a reload, and for the sections above
    the list (``fragment=first``)."""
    membership = access.inbox_membership(request)
    org = membership.organisation
    if request.headers.get("HX-Request") and request.GET.get("fragment") == "first":
        sections = _first_sections(request, membership)
        return render(request, "inbox/_first.html", {"first_sections": sections})
    # "page" and "fragment" are not filters: a link with nothing else (the next page, or the
    # refresh of the first visit's rows) keeps the defaults instead of binding an empty form
    # (every status: resolved conversations appeared after the first refresh, and sorting a
    # year of them by urgency was the slowest query of the list).
    filters = request.GET.copy()
    filters.pop("page", None)
    filters.pop("fragment", None)
    # The menus change rarely and this page is asked for all day: kept per process until
    # the organisation's channels, units or members change (humas.accounts.orgcache). The
    # channel labels name the network in the page's language; a unit agent's unit menu is
    # their unit alone, so they cannot filter by another.
    scope = "all" if membership.has_perm("inbox.view") else membership.unit_id
    menus = orgcache.cached(
        org,
        ("inbox.filter_menus", scope, get_language()),
        lambda: InboxFilterForm.menus_of(
            ChannelAccount.objects.filter(organisation=org).only(
                "pk", "display_name", "handle", "network"
            ),
            _units(membership).only("pk", "name"),
            _members(membership).only("pk", "full_name", "email"),
        ),
    )
    form = InboxFilterForm(filters or None, initial=InboxFilterForm.DEFAULTS, menus=menus)
    rows = form.filter(access.conversations_for(request)).values(*LIST_COLUMNS)
    page = _page(rows, request.GET.get("page"))
    zone = _zone(org)
    items = _rows(page, unmasked=access.sees_personal_data(request), zone=zone)
    context = {
        "form": form,
        "page": page,
        "items": items,
        "rows_html": _rows_html(items, may_work=membership.has_perm("inbox.work")),
        "query": filters.urlencode(),
        "zone": zone,
    }
    if request.headers.get("HX-Request") and request.GET.get("fragment") == "rows":
        return render(request, "inbox/_rows.html", context)
    context["first_sections"] = _first_sections(request, membership)
    return render(request, "inbox/list.html", context)


# --- one conversation -----------------------------------------------------------------------


def _our_post(conversation: Conversation, first: Message | None) -> ChannelPost | None:
    """The agency's post the citizen commented on, when the thread starts at one of ours."""
    if first is None or first.event is None:
        return None
    ids = {i for i in (first.event.thread_id, first.event.parent_id) if i}
    if not ids:
        return None
    return (
        ChannelPost.objects.filter(channel=conversation.channel, external_id__in=ids)
        .order_by("published_at")
        .first()
    )


@login_required
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_for(request, conversation_id)
    membership = access.inbox_membership(request)
    unmasked = access.sees_personal_data(request)
    thread = list(
        conversation.messages.select_related("event", "channel_post", "author")
        .prefetch_related("attachments")
        .order_by("created_at", "pk")
    )
    first_in = next((m for m in thread if m.direction == Direction.IN), None)
    shown = [
        {
            "message": m,
            "text": m.text if unmasked or not m.masked_text else m.masked_text,
        }
        for m in thread
    ]
    earlier = (
        access.conversations_for(request)
        .filter(contact=conversation.contact)
        .exclude(pk=conversation.pk)
        .order_by("-last_message_at")[:20]
    )
    may_work = actions.may_work(membership, conversation)
    case = Case.objects.filter(conversation=conversation).first()
    return render(
        request,
        "inbox/conversation.html",
        {
            "conversation": conversation,
            "thread": shown,
            "our_post": _our_post(conversation, first_in),
            "earlier": earlier,
            "notes": conversation.notes.select_related("author"),
            "zone": _zone(conversation.organisation),
            "deadline": _deadline(conversation),
            "may_work": may_work,
            "may_route": membership.has_perm("inbox.work"),
            "reply_form": ReplyForm(media=_library(conversation.organisation)),
            "note_form": NoteForm(),
            "assign_form": AssignForm(
                initial={"assignee": conversation.assignee_id}, members=_members(membership)
            ),
            "route_form": RouteForm(
                initial={"unit": conversation.unit_id}, units=_units(membership)
            ),
            "label_form": LabelForm(
                initial={
                    "category": conversation.category,
                    "urgency": conversation.urgency,
                    "sentiment": conversation.sentiment,
                }
            ),
            "failed": SendStatus.FAILED,
            "open": conversation.status == Status.OPEN,
            "case": case,
            "may_open_case": may_work
            and case is None
            and conversation.category == Category.COMPLAINT,
            "canned_replies": access.canned_replies_for(request) if may_work else [],
        },
    )


def _errors(request: HttpRequest, form: Any) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))


def _run(request: HttpRequest, action: Any, success: str, *args: Any, **kwargs: Any) -> bool:
    try:
        action(*args, by=Actor.from_request(request), **kwargs)
    except ActionError as exc:
        messages.error(request, str(exc))
        return False
    messages.success(request, success)
    return True


@login_required
@require_POST
def conversation_reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_for(request, conversation_id, write=True)
    form = ReplyForm(request.POST, media=_library(conversation.organisation))
    if not form.is_valid():
        _errors(request, form)
        return _conversation_url(conversation)
    try:
        message = actions.send_reply(
            conversation,
            form.cleaned_data["text"],
            media=list(form.cleaned_data["attachments"]),
            by=Actor.from_request(request),
        )
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        _tell_outcome(request, message)
    return _conversation_url(conversation)


def _tell_outcome(request: HttpRequest, message: Message) -> None:
    if message.send_status == SendStatus.SENT:
        messages.success(request, _("The reply was sent."))
    else:
        messages.error(
            request,
            _("The reply was not sent: %(error)s It is kept below; you can send it again.")
            % {"error": message.send_error},
        )


@login_required
@require_POST
def message_retry(request: HttpRequest, message_id: int) -> HttpResponse:
    message = access.get_message_for(request, message_id, write=True)
    try:
        actions.retry_reply(message, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        _tell_outcome(request, message)
    return _conversation_url(message.conversation)


@login_required
@require_POST
def conversation_note(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_for(request, conversation_id, write=True)
    form = NoteForm(request.POST)
    if form.is_valid():
        _run(
            request,
            actions.add_note,
            _("The note was added."),
            conversation,
            form.cleaned_data["text"],
        )
    else:
        _errors(request, form)
    return _conversation_url(conversation)


@login_required
@require_POST
def conversation_assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_for(request, conversation_id, write=True)
    form = AssignForm(request.POST, members=_members(access.inbox_membership(request)))
    if form.is_valid():
        _run(
            request,
            actions.assign_conversation,
            _("The assignment was saved."),
            conversation,
            form.cleaned_data["assignee"],
        )
    else:
        _errors(request, form)
    return _conversation_url(conversation)


@login_required
@require_POST
def conversation_route(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_to_manage(request, conversation_id)
    form = RouteForm(request.POST, units=_units(access.inbox_membership(request)))
    if form.is_valid():
        _run(
            request,
            actions.route_conversation,
            _("The conversation was routed."),
            conversation,
            form.cleaned_data["unit"],
        )
    else:
        _errors(request, form)
    return _conversation_url(conversation)


@login_required
@require_POST
def conversation_labels(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_for(request, conversation_id, write=True)
    form = LabelForm(request.POST)
    if form.is_valid():
        _run(
            request,
            actions.correct_labels,
            _("The labels were saved."),
            conversation,
            **form.cleaned_data,
        )
    else:
        _errors(request, form)
    return _conversation_url(conversation)


@login_required
@require_POST
def conversation_resolve(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_for(request, conversation_id, write=True)
    _run(
        request,
        actions.resolve_conversation,
        _("The conversation was resolved."),
        conversation,
    )
    return _conversation_url(conversation)


@login_required
@require_POST
def conversation_reopen(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_for(request, conversation_id, write=True)
    _run(
        request,
        actions.reopen_conversation,
        _("The conversation is open again."),
        conversation,
    )
    return _conversation_url(conversation)


@login_required
@require_POST
def conversation_bulk_resolve(request: HttpRequest) -> HttpResponse:
    """Resolve the conversations ticked on the list; emergencies are skipped and said so."""
    membership = access.require(request, "inbox.work")
    rows = access.conversations_for(request).filter(organisation=membership.organisation)
    form = BulkResolveForm(request.POST, rows=rows)
    if not form.is_valid():
        messages.error(request, _("Tick the conversations to resolve first."))
        return redirect("inbox:list")
    resolved, skipped = actions.resolve_conversations(
        list(form.cleaned_data["conversations"]), by=Actor.from_request(request)
    )
    if resolved:
        messages.success(
            request,
            ngettext(
                "%(count)d conversation was resolved.",
                "%(count)d conversations were resolved.",
                len(resolved),
            )
            % {"count": len(resolved)},
        )
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(count)d emergency was not resolved: open it and resolve it on its own.",
                "%(count)d emergencies were not resolved: open each and resolve it on its own.",
                len(skipped),
            )
            % {"count": len(skipped)},
        )
    return redirect("inbox:list")


# --- canned replies -------------------------------------------------------------------------


@login_required
def canned_reply_fill(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The reply box, filled with the canned reply ``?reply=<id>`` for this conversation
    (empty without one): an htmx fragment."""
    conversation = access.get_conversation_for(request, conversation_id, write=True)
    text, left = "", list[str]()
    if request.GET.get("reply"):
        try:
            reply_id = int(request.GET["reply"])
        except ValueError:
            raise Http404("no such canned reply") from None
        reply = access.get_canned_reply_for(request, reply_id)
        text, left = actions.fill_canned_reply(reply, conversation)
    return render(
        request,
        "inbox/_reply_box.html",
        {"reply_form": ReplyForm(initial={"text": text}), "left": left},
    )


@login_required
def canned_reply_list(request: HttpRequest) -> HttpResponse:
    replies = access.canned_replies_for(request, write=True)
    return render(request, "inbox/canned_reply_list.html", {"replies": replies})


def _canned_reply_form(request: HttpRequest, reply: CannedReply | None) -> HttpResponse:
    org = access.require(request, "org.manage").organisation
    initial = {"title": reply.title, "text": reply.text} if reply else None
    form = CannedReplyForm(request.POST or None, initial=initial)
    if (
        request.method == "POST"
        and form.is_valid()
        and _run(
            request,
            actions.save_canned_reply,
            _("The canned reply was saved."),
            org,
            reply,
            **form.cleaned_data,
        )
    ):
        return redirect("inbox:canned_reply_list")
    return render(request, "inbox/canned_reply_form.html", {"form": form, "reply": reply})


@login_required
def canned_reply_new(request: HttpRequest) -> HttpResponse:
    return _canned_reply_form(request, None)


@login_required
def canned_reply_edit(request: HttpRequest, reply_id: int) -> HttpResponse:
    return _canned_reply_form(request, access.get_canned_reply_for(request, reply_id, write=True))


@login_required
@require_POST
def canned_reply_delete(request: HttpRequest, reply_id: int) -> HttpResponse:
    reply = access.get_canned_reply_for(request, reply_id, write=True)
    _run(request, actions.delete_canned_reply, _("The canned reply was deleted."), reply)
    return redirect("inbox:canned_reply_list")


# --- routing rules --------------------------------------------------------------------------


def _rule_page(request: HttpRequest, **extra: Any) -> HttpResponse:
    membership = access.require(request, "org.manage")
    org = membership.organisation
    return render(
        request,
        "inbox/rule_list.html",
        {
            "rules": access.rules_for(request).prefetch_related("channels"),
            "test_form": RuleTestForm(channels=ChannelAccount.objects.filter(organisation=org)),
            **extra,
        },
    )


@login_required
def rule_list(request: HttpRequest) -> HttpResponse:
    return _rule_page(request)


def _rule_form(request: HttpRequest, rule: RoutingRule | None) -> HttpResponse:
    membership = access.require(request, "org.manage")
    org = membership.organisation
    initial = None
    if rule is not None:
        initial = {
            "name": rule.name,
            "is_active": rule.is_active,
            "categories": rule.categories,
            "urgencies": rule.urgencies,
            "languages": rule.languages,
            "channels": list(rule.channels.all()),
            "keywords": rule.keywords,
            "places": rule.places,
            "unit": rule.unit,
            "assignee": rule.assignee,
            "raise_urgency": rule.raise_urgency,
        }
    form = RuleForm(
        request.POST or None,
        initial=initial,
        channels=ChannelAccount.objects.filter(organisation=org),
        units=Unit.objects.filter(organisation=org),
        members=_members(membership),
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        channels = list(data.pop("channels"))
        if _run(
            request,
            routing.save_rule,
            _("The routing rule was saved."),
            org,
            rule,
            channels=channels,
            **data,
        ):
            return redirect("inbox:rule_list")
    return render(request, "inbox/rule_form.html", {"form": form, "rule": rule})


@login_required
def rule_new(request: HttpRequest) -> HttpResponse:
    return _rule_form(request, None)


@login_required
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    return _rule_form(request, access.get_rule_for(request, rule_id))


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = access.get_rule_for(request, rule_id)
    _run(request, routing.delete_rule, _("The routing rule was deleted."), rule)
    return redirect("inbox:rule_list")


@login_required
@require_POST
def rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = access.get_rule_for(request, rule_id)
    try:
        routing.move_rule(rule, request.POST.get("direction", ""), by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    return redirect("inbox:rule_list")


@login_required
@require_POST
def rule_test(request: HttpRequest) -> HttpResponse:
    """Run the triage and the rules on a pasted message; show which rule matched and why.
    Nothing is stored. htmx swaps the result in; without JavaScript the whole page comes back."""
    membership = access.require(request, "org.manage")
    org = membership.organisation
    form = RuleTestForm(request.POST, channels=ChannelAccount.objects.filter(organisation=org))
    context: dict[str, Any] = {"test_form": form}
    if form.is_valid():
        text = actions.clean_text(form.cleaned_data["text"])
        channel = form.cleaned_data["channel"]
        sample = routing.Sample(
            text=text,
            channel_id=channel.pk if channel else None,
            **actions.triage_labels(text, org),
        )
        verdicts = routing.explain(routing.active_rules(org), sample)
        context["result"] = {
            "sample": sample,
            "category": Category(sample.category).label,
            "urgency": Urgency(sample.urgency).label,
            "language": Language(sample.language).label,
            "verdicts": verdicts,
            "matched": next((v.rule for v in verdicts if v.matched), None),
        }
    if request.headers.get("HX-Request"):
        return render(request, "inbox/_rule_test.html", context)
    return _rule_page(request, **context)


# --- cases ----------------------------------------------------------------------------------


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    membership = access.inbox_membership(request)
    rows = access.cases_for(request)
    status = request.GET.get("status", "open")
    if status == "open":
        rows = rows.exclude(status__in=[CaseStatus.RESOLVED, CaseStatus.CLOSED])
    elif status in CaseStatus.values:
        rows = rows.filter(status=status)
    page = Paginator(rows.order_by("-received_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    items = [
        {
            "case": c,
            "deadline": str(deadline_state(now, c.pending_due, actions.WARN_BEFORE))
            if c.pending_due
            else "",
        }
        for c in page
    ]
    return render(
        request,
        "inbox/case_list.html",
        {
            "page": page,
            "items": items,
            "status": status,
            "statuses": CaseStatus.choices,
            "zone": _zone(membership.organisation),
        },
    )


@login_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = access.get_case_for(request, case_id)
    membership = access.inbox_membership(request)
    may_work = cases.may_work_case(membership, case)
    nexts = [
        (s, CaseStatus(s).label)
        for s in CaseStatus.values
        if s in cases.TRANSITIONS[CaseStatus(case.status)] and s != CaseStatus.FORWARDED
    ]
    return render(
        request,
        "inbox/case.html",
        {
            "case": case,
            "conversation": case.conversation,
            "events": case.events.select_related("author"),
            "zone": _zone(case.organisation),
            "deadline": str(deadline_state(timezone.now(), case.pending_due, actions.WARN_BEFORE))
            if case.pending_due
            else "",
            "may_work": may_work,
            "may_forward": membership.has_perm("inbox.work")
            and case.status in (CaseStatus.RECEIVED, CaseStatus.FORWARDED),
            "status_form": CaseStatusForm(statuses=nexts) if nexts else None,
            "forward_form": CaseForwardForm(
                initial={"unit": case.unit_id}, units=_units(membership)
            ),
            "note_form": CaseNoteForm(),
            "resolution": case.resolution_message,
            "failed": SendStatus.FAILED,
        },
    )


def _case_url(case: Case) -> HttpResponse:
    return redirect("inbox:case", case_id=case.pk)


@login_required
@require_POST
def case_open(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.get_conversation_for(request, conversation_id, write=True)
    try:
        case = cases.open_case(conversation, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
        return _conversation_url(conversation)
    messages.success(
        request,
        _("Case %(number)s was opened.") % {"number": case.tracking_number},
    )
    return _case_url(case)


@login_required
@require_POST
def case_forward(request: HttpRequest, case_id: int) -> HttpResponse:
    case = access.get_case_to_forward(request, case_id)
    form = CaseForwardForm(request.POST, units=_units(access.inbox_membership(request)))
    if form.is_valid():
        _run(
            request,
            cases.forward_case,
            _("The case was forwarded."),
            case,
            form.cleaned_data["unit"],
            public_note=form.cleaned_data["public_note"],
            internal_note=form.cleaned_data["internal_note"],
        )
    else:
        _errors(request, form)
    return _case_url(case)


@login_required
@require_POST
def case_status(request: HttpRequest, case_id: int) -> HttpResponse:
    case = access.get_case_for(request, case_id, write=True)
    form = CaseStatusForm(request.POST, statuses=CaseStatus.choices)
    if not form.is_valid():
        _errors(request, form)
        return _case_url(case)
    try:
        reply = cases.change_case_status(
            case,
            form.cleaned_data["status"],
            public_note=form.cleaned_data["public_note"],
            internal_note=form.cleaned_data["internal_note"],
            by=Actor.from_request(request),
        )
    except ActionError as exc:
        messages.error(request, str(exc))
        return _case_url(case)
    messages.success(request, _("The case status was changed."))
    if reply is not None:
        _tell_outcome(request, reply)
    return _case_url(case)


@login_required
@require_POST
def case_note(request: HttpRequest, case_id: int) -> HttpResponse:
    case = access.get_case_for(request, case_id, write=True)
    form = CaseNoteForm(request.POST)
    if form.is_valid():
        _run(request, cases.add_case_note, _("The note was added."), case, **form.cleaned_data)
    else:
        _errors(request, form)
    return _case_url(case)


# --- the public status page -----------------------------------------------------------------

#: Lookups one address may make per window; enough for a family checking a few reports, far
#: too few to find a number among 32^8 by guessing.
STATUS_LOOKUPS = 20
STATUS_WINDOW_SECONDS = 15 * 60


def _too_many_lookups(request: HttpRequest) -> bool:
    key = f"inbox.status:{client_ip(request) or 'unknown'}"
    cache.add(key, 0, STATUS_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:
        # Expired between add and incr: this lookup starts a new window.
        cache.set(key, 1, STATUS_WINDOW_SECONDS)
        count = 1
    return count > STATUS_LOOKUPS


def public_status(request: HttpRequest) -> HttpResponse:
    """A citizen types their tracking number and sees how the report stands.

    Only the status, the unit's name, the dates and the public notes are shown: never a
    name, a handle or the message. A malformed number and an unknown one get the same answer.
    """
    form = StatusLookupForm(request.POST or None)
    context: dict[str, Any] = {"form": form}
    status = 200
    if request.method == "POST":
        if _too_many_lookups(request):
            context["limited"] = True
            status = 429
        elif form.is_valid():
            number = cases.parse_tracking_number(form.cleaned_data["number"])
            case = (
                Case.objects.filter(tracking_number=number)
                .select_related("unit", "organisation")
                .first()
                if number
                else None
            )
            if case is None:
                context["not_found"] = True
            else:
                context["case"] = case
                context["zone"] = _zone(case.organisation)
                context["events"] = [
                    e for e in case.events.order_by("created_at", "pk") if e.status or e.public_note
                ]
        else:
            context["not_found"] = True
    return render(request, "inbox/status.html", context, status=status)
