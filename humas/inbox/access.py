"""Access helpers for the inbox (see humas.accounts.access for the rules).

Responders and admins (``inbox.view``) see every conversation and case of their
organisation; unit agents (``cases.view_unit``) see only those routed to their unit. Anything
else is a 404 (another organisation's conversation, or one routed elsewhere) or a 403 (no
inbox at all). Routing rules and canned replies are managed by admins (``org.manage``);
everyone who works the inbox uses the canned replies.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from humas.accounts.access import require
from humas.accounts.models import Membership
from humas.inbox.actions import may_work
from humas.inbox.cases import may_work_case
from humas.inbox.models import CannedReply, Case, Conversation, Message, RoutingRule


def inbox_membership(request: HttpRequest) -> Membership:
    membership = require(request)
    if not (membership.has_perm("inbox.view") or membership.has_perm("cases.view_unit")):
        raise PermissionDenied("inbox.view")
    return membership


def sees_personal_data(request: HttpRequest) -> bool:
    return require(request).has_perm("personal_data.view")


def conversations_for(request: HttpRequest) -> QuerySet[Conversation]:
    membership = inbox_membership(request)
    rows = Conversation.objects.filter(organisation=membership.organisation).select_related(
        "channel", "contact", "assignee", "unit"
    )
    if membership.has_perm("inbox.view"):
        return rows
    if membership.unit_id is None:
        return rows.none()
    return rows.filter(unit_id=membership.unit_id)


def get_conversation_for(
    request: HttpRequest, conversation_id: int, *, write: bool = False
) -> Conversation:
    conversation = get_object_or_404(conversations_for(request), pk=conversation_id)
    if write and not may_work(require(request), conversation):
        raise PermissionDenied("inbox.work")
    return conversation


def get_conversation_to_manage(request: HttpRequest, conversation_id: int) -> Conversation:
    """For routing: moving a conversation between units is the central inbox's work."""
    conversation = get_object_or_404(conversations_for(request), pk=conversation_id)
    require(request, "inbox.work")
    return conversation


def get_message_for(request: HttpRequest, message_id: int, *, write: bool = False) -> Message:
    message = get_object_or_404(
        Message.objects.select_related("conversation"),
        pk=message_id,
        conversation__in=conversations_for(request),
    )
    if write and not may_work(require(request), message.conversation):
        raise PermissionDenied("inbox.work")
    return message


def cases_for(request: HttpRequest) -> QuerySet[Case]:
    membership = inbox_membership(request)
    rows = Case.objects.filter(organisation=membership.organisation).select_related(
        "unit", "conversation__contact", "conversation__channel"
    )
    if membership.has_perm("inbox.view"):
        return rows
    if membership.unit_id is None:
        return rows.none()
    return rows.filter(unit_id=membership.unit_id)


def get_case_for(request: HttpRequest, case_id: int, *, write: bool = False) -> Case:
    case = get_object_or_404(cases_for(request), pk=case_id)
    if write and not may_work_case(require(request), case):
        raise PermissionDenied("cases.work_unit")
    return case


def get_case_to_forward(request: HttpRequest, case_id: int) -> Case:
    """Choosing a case's unit is the central inbox's work, as routing conversations is."""
    case = get_object_or_404(cases_for(request), pk=case_id)
    require(request, "inbox.work")
    return case


def rules_for(request: HttpRequest) -> QuerySet[RoutingRule]:
    membership = require(request, "org.manage")
    return RoutingRule.objects.filter(organisation=membership.organisation).select_related(
        "unit", "assignee"
    )


def get_rule_for(request: HttpRequest, rule_id: int) -> RoutingRule:
    membership = require(request)
    rule = get_object_or_404(
        RoutingRule.objects.filter(organisation=membership.organisation), pk=rule_id
    )
    require(request, "org.manage")
    return rule


def canned_replies_for(request: HttpRequest, *, write: bool = False) -> QuerySet[CannedReply]:
    membership = require(request, "org.manage") if write else inbox_membership(request)
    return CannedReply.objects.filter(organisation=membership.organisation)


def get_canned_reply_for(
    request: HttpRequest, reply_id: int, *, write: bool = False
) -> CannedReply:
    membership = require(request)
    reply = get_object_or_404(
        CannedReply.objects.filter(organisation=membership.organisation), pk=reply_id
    )
    if write:
        require(request, "org.manage")
    else:
        inbox_membership(request)
    return reply
