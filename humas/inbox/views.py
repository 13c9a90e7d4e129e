"""The inbox pages: the list of conversations across channels, and one conversation.

Views fetch every row through :mod:`humas.inbox.access` and change things only through
:mod:`humas.inbox.actions`; an :class:`ActionError` becomes a message. Message text is shown
with personal data masked unless the caller's role holds ``personal_data.view``.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Membership, Organisation, Unit, User
from humas.channels.models import ChannelAccount, ChannelPost
from humas.inbox import access, actions
from humas.inbox.forms import (
    AssignForm,
    InboxFilterForm,
    LabelForm,
    NoteForm,
    ReplyForm,
    RouteForm,
)
from humas.inbox.models import Conversation, Direction, Message, SendStatus, Status
from humas.lib.workdays import deadline_state

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


def _conversation_url(conversation: Conversation) -> HttpResponse:
    return redirect("inbox:conversation", conversation_id=conversation.pk)


# --- the list ------------------------------------------------------------------------------


@login_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    """Every conversation the caller may see, filtered; htmx asks again every few seconds
    for the rows alone, so new messages appear without a reload."""
    membership = access.inbox_membership(request)
    org = membership.organisation
    form = InboxFilterForm(
        request.GET or None,
        initial=InboxFilterForm.DEFAULTS,
        channels=ChannelAccount.objects.filter(organisation=org),
        units=_units(membership),
        members=_members(membership),
    )
    rows = form.filter(access.conversations_for(request))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    unmasked = access.sees_personal_data(request)
    items = [
        {
            "conversation": c,
            "preview": c.preview if unmasked else c.preview_masked,
            "deadline": _deadline(c),
        }
        for c in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("fragment", None)
    context = {
        "form": form,
        "page": page,
        "items": items,
        "query": query.urlencode(),
        "zone": _zone(org),
    }
    if request.headers.get("HX-Request") and request.GET.get("fragment") == "rows":
        return render(request, "inbox/_rows.html", context)
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
        conversation.messages.select_related("event", "channel_post", "author").order_by(
            "created_at", "pk"
        )
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
            "reply_form": ReplyForm(),
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
    form = ReplyForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return _conversation_url(conversation)
    try:
        message = actions.send_reply(
            conversation, form.cleaned_data["text"], by=Actor.from_request(request)
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
