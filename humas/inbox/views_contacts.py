"""The citizens' pages: the list of citizens, one citizen's identities and history, merging,
blocking, exporting and erasing on request; and the list's bulk spam and abuse actions.

Who may do what (see ``docs/inbox.md``, "Citizens"): the pages need ``inbox.view`` (the whole
inbox: responders and administrators; a unit agent sees only part of a citizen's history, so
not these pages); merging, blocking and the bulk actions need ``inbox.work``; exporting needs
``personal_data.view`` as well; erasing is for administrators (``org.manage``). Another
organisation's citizen is a 404. Names, handles and texts are masked for roles without
``personal_data.view``.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from humas.accounts.access import require
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import Membership
from humas.inbox import access, contacts
from humas.inbox.models import Contact, Conversation, Direction, Message

PAGE_SIZE = 50


# --- access ----------------------------------------------------------------------------------


def citizens_for(request: HttpRequest, perm: str = "inbox.view") -> QuerySet[Contact]:
    membership = require(request, perm)
    return Contact.objects.filter(organisation=membership.organisation)


def get_citizen_for(request: HttpRequest, contact_id: int, *perms: str) -> Contact:
    """One of the organisation's identities (404 for another organisation's), if the caller
    holds ``inbox.view`` and every one of ``perms`` (403 otherwise)."""
    membership = require(request)
    contact = get_object_or_404(
        Contact.objects.filter(organisation=membership.organisation), pk=contact_id
    )
    for perm in ("inbox.view", *perms):
        if not membership.has_perm(perm):
            raise PermissionDenied(perm)
    return contact


def masked_name(contact: Contact, unmasked: bool) -> str:
    if unmasked and not contact.erased_at:
        return str(contact)
    if contact.erased_at:
        return _("Erased citizen #%(id)s") % {"id": contact.pk}
    return _("Citizen #%(id)s") % {"id": contact.pk}


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _citizen_url(contact: Contact) -> str:
    from django.urls import reverse

    return reverse("inbox:citizen", args=[contacts.kept_identity(contact).pk])


# --- the list --------------------------------------------------------------------------------


class CitizenSearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Name or handle"), required=False, max_length=200)


@login_required
def citizen_list(request: HttpRequest) -> HttpResponse:
    """The organisation's citizens (kept identities), searchable by name or handle of any of
    their identities; the list is where identities are ticked to be merged."""
    rows = citizens_for(request).filter(merged_into__isnull=True)
    membership: Membership = require(request)
    unmasked = membership.has_perm("personal_data.view")
    form = CitizenSearchForm(request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    # Searching by name would tell a role without personal_data.view who wrote: not for them.
    if query and unmasked:
        matching = Q(handle__icontains=query) | Q(display_name__icontains=query)
        rows = rows.filter(
            matching | Q(merged__handle__icontains=query) | Q(merged__display_name__icontains=query)
        ).distinct()
    rows = rows.annotate(
        conversation_count=Count("conversations", distinct=True),
        merged_count=Count("merged", distinct=True),
    ).order_by("-pk")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    items = [
        {"contact": c, "name": masked_name(c, unmasked), "handle": c.handle if unmasked else ""}
        for c in page
    ]
    return render(
        request,
        "inbox/citizen_list.html",
        {
            "form": form,
            "page": page,
            "items": items,
            "query": query,
            "may_merge": membership.has_perm("inbox.work"),
        },
    )


class MergeForm(forms.Form):
    contacts = forms.ModelMultipleChoiceField(queryset=Contact.objects.none())
    keep = forms.ModelChoiceField(queryset=Contact.objects.none())

    def __init__(self, *args: Any, rows: QuerySet[Contact], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contacts"].queryset = rows  # type: ignore[attr-defined]
        self.fields["keep"].queryset = rows  # type: ignore[attr-defined]


@login_required
@require_POST
def citizen_merge(request: HttpRequest) -> HttpResponse:
    """Merge the ticked identities into the one chosen to be kept."""
    rows = citizens_for(request, "inbox.work")
    form = MergeForm(request.POST, rows=rows)
    if not form.is_valid():
        messages.error(request, _("Tick the identities to merge and choose the one to keep."))
        return redirect("inbox:citizen_list")
    keep = form.cleaned_data["keep"]
    try:
        moved = contacts.merge_contacts(
            keep, list(form.cleaned_data["contacts"]), by=Actor.from_request(request)
        )
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect("inbox:citizen_list")
    messages.success(
        request,
        ngettext("%(count)d identity was merged.", "%(count)d identities were merged.", len(moved))
        % {"count": len(moved)},
    )
    return redirect(_citizen_url(keep))


# --- one citizen -----------------------------------------------------------------------------


@login_required
def citizen_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_citizen_for(request, contact_id)
    if contact.merged_into_id is not None:
        return redirect("inbox:citizen", contact_id=contact.merged_into_id)
    membership: Membership = require(request)
    unmasked = membership.has_perm("personal_data.view")
    people = contacts.identities(contact)
    history = list(contacts.conversations_of(contact))
    texts: dict[int, list[dict[str, Any]]] = {c.pk: [] for c in history}
    for m in Message.objects.filter(conversation__in=history).order_by("created_at", "pk"):
        texts[m.conversation_id].append(
            {
                "message": m,
                "text": m.text if unmasked or not m.masked_text else m.masked_text,
                "incoming": m.direction == Direction.IN,
            }
        )
    return render(
        request,
        "inbox/citizen.html",
        {
            "contact": contact,
            "name": masked_name(contact, unmasked),
            "unmasked": unmasked,
            "identities": [
                {
                    "contact": p,
                    "name": masked_name(p, unmasked),
                    "handle": p.handle if unmasked else "",
                    "conversations": sum(1 for c in history if c.contact_id == p.pk),
                }
                for p in people
            ],
            "history": [{"conversation": c, "messages": texts[c.pk]} for c in history],
            "counts": contacts.category_counts(history),
            "blocked": contacts.is_blocked(contact),
            "may_work": membership.has_perm("inbox.work"),
            "may_export": membership.has_perm("personal_data.view"),
            "may_erase": membership.has_perm("org.manage") and contact.erased_at is None,
            "zone": _zone(contact),
        },
    )


def _zone(contact: Contact) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(contact.organisation.time_zone)


@login_required
@require_POST
def citizen_unmerge(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_citizen_for(request, contact_id, "inbox.work")
    kept = contact.merged_into_id
    try:
        contacts.unmerge_contact(contact, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The identity is a citizen of its own again."))
    return redirect("inbox:citizen", contact_id=kept or contact.pk)


@login_required
@require_POST
def citizen_block(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_citizen_for(request, contact_id, "inbox.work")
    try:
        contacts.block_citizen(contact, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _(
                "The citizen is blocked: their messages are kept out of the inbox and never "
                "answered automatically."
            ),
        )
    return redirect(_back(request, _citizen_url(contact)))


@login_required
@require_POST
def citizen_unblock(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = get_citizen_for(request, contact_id, "inbox.work")
    try:
        contacts.unblock_citizen(contact, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The citizen is no longer blocked."))
    return redirect(_back(request, _citizen_url(contact)))


@login_required
def citizen_export(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Download everything stored about the citizen: ``?format=json`` (default) or ``csv``."""
    contact = get_citizen_for(request, contact_id, "personal_data.view")
    fmt = "csv" if request.GET.get("format") == "csv" else "json"
    data = contacts.export_citizen(contact, by=Actor.from_request(request), format=fmt)
    name = f"warga-{data['citizen']['id']}"
    if fmt == "csv":
        response = HttpResponse(contacts.citizen_csv(data), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def citizen_erase(request: HttpRequest, contact_id: int) -> HttpResponse:
    """GET: what will be erased, and a confirmation; POST (ticked confirmation): erase."""
    contact = get_citizen_for(request, contact_id, "org.manage")
    contact = contacts.kept_identity(contact)
    if contact.erased_at is not None and request.method != "POST":
        messages.info(request, _("This citizen's data was already erased."))
        return redirect("inbox:citizen", contact_id=contact.pk)
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(request, _("Tick the confirmation to erase the citizen's data."))
            return redirect("inbox:citizen_erase", contact_id=contact.pk)
        counts = contacts.erase_citizen(contact, by=Actor.from_request(request))
        messages.success(
            request,
            _(
                "The citizen's data was erased: %(messages)d messages in %(conversations)d "
                "conversations."
            )
            % counts,
        )
        return redirect("inbox:citizen", contact_id=contact.pk)
    summary = contacts.erasure_summary(contact)
    return render(
        request,
        "inbox/citizen_erase.html",
        {
            "contact": contact,
            "summary": summary,
            "identities": [
                {"contact": p, "name": str(p), "handle": p.handle} for p in summary["identities"]
            ],
        },
    )


# --- the list's bulk actions -----------------------------------------------------------------


class BulkMarkForm(forms.Form):
    conversations = forms.ModelMultipleChoiceField(queryset=Conversation.objects.none())
    action = forms.ChoiceField(choices=[(a, a) for a in contacts.BULK_ACTIONS])

    def __init__(self, *args: Any, rows: QuerySet[Conversation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["conversations"].queryset = rows  # type: ignore[attr-defined]


def _done_message(action: str, count: int) -> str:
    if action == "spam":
        text = ngettext(
            "%(count)d conversation was marked as spam.",
            "%(count)d conversations were marked as spam.",
            count,
        )
    elif action == "abusive":
        text = ngettext(
            "%(count)d conversation was marked as abusive.",
            "%(count)d conversations were marked as abusive.",
            count,
        )
    elif action == "archive":
        text = ngettext(
            "%(count)d conversation was archived without a reply.",
            "%(count)d conversations were archived without a reply.",
            count,
        )
    else:
        text = ngettext(
            "The citizen of %(count)d conversation was blocked.",
            "The citizens of %(count)d conversations were blocked.",
            count,
        )
    return text % {"count": count}


@login_required
@require_POST
def conversation_bulk_mark(request: HttpRequest) -> HttpResponse:
    """Spam, abuse, archive or block for the conversations ticked on the list; emergencies
    are skipped and said so."""
    membership = require(request, "inbox.work")
    rows = access.conversations_for(request).filter(organisation=membership.organisation)
    form = BulkMarkForm(request.POST, rows=rows)
    if not form.is_valid():
        messages.error(request, _("Tick the conversations and choose what to do first."))
        return redirect("inbox:list")
    action = form.cleaned_data["action"]
    done, skipped = contacts.mark_conversations(
        list(form.cleaned_data["conversations"]), action, by=Actor.from_request(request)
    )
    if done:
        messages.success(request, _done_message(action, len(done)))
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(count)d emergency was skipped: open it and handle it on its own.",
                "%(count)d emergencies were skipped: open each and handle it on its own.",
                len(skipped),
            )
            % {"count": len(skipped)},
        )
    return redirect("inbox:list")
