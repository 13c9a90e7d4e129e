"""Named actions for emergency broadcast templates (see ``docs/broadcast-templates.md``).

Approval belongs to a text: a changed text (or a text moved to another hazard or language)
loses its approval and waits for someone who may declare incidents (``crisis.declare``) to
approve it again, so nothing unreviewed is ever one click away from every network.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Organisation
from humas.crisis.broadcast_templates import LANGUAGE_CODE, check_text
from humas.crisis.models import BroadcastTemplate, HazardType


def _payload(template: BroadcastTemplate, **extra: object) -> dict[str, object]:
    return {
        "hazard": template.hazard,
        "language": template.language,
        "text": template.text,
        **extra,
    }


def _validate(hazard: str, language: str, text: str) -> None:
    problems: list[str] = []
    if hazard not in HazardType.values:
        problems.append(_("Choose a hazard from the list."))
    if not LANGUAGE_CODE.match(language):
        problems.append(
            _("The language is a code of two or three lower-case letters, such as “jv”.")
        )
    problems.extend(check_text(text))
    if problems:
        raise ActionError(" ".join(problems))


def save_template(
    org: Organisation,
    *,
    by: Actor,
    hazard: str,
    language: str,
    text: str,
    template: BroadcastTemplate | None = None,
) -> BroadcastTemplate:
    """Create a template (waiting for approval) or change one. A change of text, hazard or
    language withdraws the approval; saving the same text again keeps it."""
    language = language.strip().lower()
    text = text.strip()
    _validate(hazard, language, text)
    taken = _("This hazard already has a template in this language.")
    with transaction.atomic():
        if template is None:
            if BroadcastTemplate.objects.filter(
                organisation=org, hazard=hazard, language=language
            ).exists():
                raise ActionError(taken)
            try:
                # A savepoint, so that losing a race leaves the outer transaction usable.
                with transaction.atomic():
                    saved = BroadcastTemplate.objects.create(
                        organisation=org, hazard=hazard, language=language, text=text
                    )
            except IntegrityError:
                raise ActionError(taken) from None
            record(
                "crisis.template.saved",
                actor=by,
                organisation=org,
                target=saved,
                payload=_payload(saved, created=True, approval_withdrawn=False),
            )
            return saved

        saved = BroadcastTemplate.objects.select_for_update().get(pk=template.pk, organisation=org)
        moved = (hazard, language) != (saved.hazard, saved.language)
        if moved and saved.builtin:
            # Seeding would bring the built-in back under its old hazard and language.
            raise ActionError(
                _("A template supplied with humas keeps its hazard and language; add a new one.")
            )
        if (
            moved
            and BroadcastTemplate.objects.filter(organisation=org, hazard=hazard, language=language)
            .exclude(pk=saved.pk)
            .exists()
        ):
            raise ActionError(taken)
        changed = moved or text != saved.text
        withdrawn = changed and saved.approved_at is not None
        saved.hazard, saved.language, saved.text = hazard, language, text
        if changed:
            saved.approved_at = None
            saved.approved_by = None
        saved.save()
        record(
            "crisis.template.saved",
            actor=by,
            organisation=org,
            target=saved,
            payload=_payload(saved, created=False, approval_withdrawn=withdrawn),
        )
    return saved


def may_approve(template: BroadcastTemplate, by: Actor) -> bool:
    if by.user is None:
        return False
    membership = Membership.objects.filter(
        user=by.user, organisation_id=template.organisation_id
    ).first()
    return membership is not None and membership.has_perm("crisis.declare")


def approve_template(template: BroadcastTemplate, *, by: Actor) -> BroadcastTemplate:
    """A person who may declare incidents approves the template's current text.

    A built-in arrives approved by humas only; an approver of the organisation confirming it
    is recorded like any other approval. Approving a text a person already approved is
    refused (it would only hide who approved it first)."""
    if not may_approve(template, by):
        raise ActionError(_("Only a member who may declare incidents can approve a template."))
    with transaction.atomic():
        locked = BroadcastTemplate.objects.select_for_update().get(pk=template.pk)
        if locked.approved_at is not None and locked.approved_by_id is not None:
            raise ActionError(_("This text is already approved."))
        locked.approved_at = timezone.now()
        locked.approved_by = by.user
        locked.save(update_fields=["approved_at", "approved_by", "updated_at"])
        record(
            "crisis.template.approved",
            actor=by,
            organisation=locked.organisation,
            target=locked,
            payload=_payload(locked),
        )
    return locked


def delete_template(template: BroadcastTemplate, *, by: Actor) -> None:
    """Remove a template the organisation added. Built-ins stay (seeding would restore them);
    they are edited instead."""
    with transaction.atomic():
        locked = BroadcastTemplate.objects.select_for_update().get(pk=template.pk)
        if locked.builtin:
            raise ActionError(
                _("A template supplied with humas cannot be deleted; change its text instead.")
            )
        record(
            "crisis.template.deleted",
            actor=by,
            organisation=locked.organisation,
            target=locked,
            payload=_payload(locked),
        )
        locked.delete()
