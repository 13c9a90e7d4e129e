"""Broadcast template pages: the list by hazard, a form to add or change one, approving and
deleting. Changes go through :mod:`humas.crisis.template_actions`.

Everyone who works on public messages or the inbox may read the templates (``crisis.declare``,
``inbox.view`` or ``content.view``); only those who may declare an incident change or approve
them (``crisis.declare``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from humas.accounts.access import require
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.crisis import template_actions
from humas.crisis.access import require_any
from humas.crisis.broadcast_templates import (
    LANGUAGE_CODE,
    LANGUAGE_NAMES,
    check_text,
    language_name,
    seed_templates,
)
from humas.crisis.models import PLACEHOLDERS, BroadcastTemplate, HazardType

TEMPLATE_VIEW = ("crisis.declare", "inbox.view", "content.view")
TEMPLATE_WRITE = "crisis.declare"
#: The language select's last choice: a code typed in the field next to it.
OTHER = "other"


def get_template_for(
    request: HttpRequest, template_id: int, *, write: bool = False
) -> BroadcastTemplate:
    """One template of the caller's organisation (404 for another's), checked for reading or,
    with ``write``, for changing and approving."""
    membership = require(request)
    template = get_object_or_404(
        BroadcastTemplate.objects.filter(organisation=membership.organisation).select_related(
            "approved_by"
        ),
        pk=template_id,
    )
    if write:
        require(request, TEMPLATE_WRITE)
    else:
        require_any(request, TEMPLATE_VIEW)
    return template


def _language_choices() -> list[tuple[str, Any]]:
    return [
        *((code, f"{name} ({code})") for code, name in LANGUAGE_NAMES.items()),
        (OTHER, gettext_lazy("Another language (type its code)")),
    ]


class BroadcastTemplateForm(forms.Form):
    hazard = forms.ChoiceField(label=gettext_lazy("Hazard"), choices=HazardType.choices)
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=_language_choices)
    other_language = forms.CharField(
        label=gettext_lazy("Language code"),
        required=False,
        max_length=3,
        help_text=gettext_lazy(
            "Only for another language: two or three lower-case letters (ISO 639), "
            "e.g. “bew” for Betawi."
        ),
    )
    text = forms.CharField(
        label=gettext_lazy("Text"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=2000,
        help_text=gettext_lazy(
            "Placeholders are filled in when broadcasting: {area}, {time}, {shelter}, "
            "{hotline}, {instructions}. Keep it short: Bluesky takes 300 characters."
        ),
    )

    def __init__(
        self, *args: Any, template: BroadcastTemplate | None = None, **kwargs: Any
    ) -> None:
        if template is not None:
            kwargs.setdefault("initial", {})
            known = template.language in LANGUAGE_NAMES
            kwargs["initial"].update(
                hazard=template.hazard,
                language=template.language if known else OTHER,
                other_language="" if known else template.language,
                text=template.text,
            )
        super().__init__(*args, **kwargs)
        if template is not None and template.builtin:
            # A built-in keeps its slot (template_actions refuses a move); disabled fields
            # take their initial values whatever is posted.
            for name in ("hazard", "language", "other_language"):
                self.fields[name].disabled = True

    def clean_text(self) -> str:
        text: str = self.cleaned_data["text"].strip()
        problems = check_text(text)
        if problems:
            raise forms.ValidationError(problems)
        return text

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("language") == OTHER:
            code = (data.get("other_language") or "").strip().lower()
            if not LANGUAGE_CODE.match(code):
                self.add_error(
                    "other_language",
                    _("Type a code of two or three lower-case letters, such as “bew”."),
                )
            else:
                data["language"] = code
        return data


def _groups(templates: list[BroadcastTemplate]) -> list[dict[str, Any]]:
    by_hazard: dict[str, list[BroadcastTemplate]] = {}
    for template in templates:
        by_hazard.setdefault(template.hazard, []).append(template)
    order = {"id": 0, "en": 1}
    return [
        {
            "hazard": hazard,
            "label": label,
            "rows": [
                {"template": t, "language": language_name(t.language)}
                for t in sorted(
                    by_hazard[hazard], key=lambda t: (order.get(t.language, 2), t.language)
                )
            ],
        }
        for hazard, label in HazardType.choices
        if hazard in by_hazard
    ]


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    membership = require_any(request, TEMPLATE_VIEW)
    seed_templates(membership.organisation)
    templates = list(
        BroadcastTemplate.objects.filter(organisation=membership.organisation).select_related(
            "approved_by"
        )
    )
    return render(
        request,
        "crisis/broadcast_templates.html",
        {
            "groups": _groups(templates),
            "placeholders": PLACEHOLDERS,
            "may_edit": membership.has_perm(TEMPLATE_WRITE),
        },
    )


def _form_page(request: HttpRequest, template: BroadcastTemplate | None) -> HttpResponse:
    membership = require(request, TEMPLATE_WRITE)
    form = BroadcastTemplateForm(request.POST or None, template=template)
    if request.method == "POST" and form.is_valid():
        try:
            template_actions.save_template(
                membership.organisation,
                by=Actor.from_request(request),
                hazard=form.cleaned_data["hazard"],
                language=form.cleaned_data["language"],
                text=form.cleaned_data["text"],
                template=template,
            )
        except ActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Template saved."))
            return redirect("crisis:template_list")
    return render(
        request,
        "crisis/broadcast_template_form.html",
        {"form": form, "template": template, "placeholders": PLACEHOLDERS},
    )


@login_required
def template_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@login_required
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    return _form_page(request, get_template_for(request, template_id, write=True))


@login_required
@require_POST
def template_approve(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_template_for(request, template_id, write=True)
    try:
        template_actions.approve_template(template, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Template approved."))
    return redirect("crisis:template_list")


@login_required
@require_POST
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_template_for(request, template_id, write=True)
    try:
        template_actions.delete_template(template, by=Actor.from_request(request))
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Template deleted."))
    return redirect("crisis:template_list")
