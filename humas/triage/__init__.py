"""Understand one inbound citizen message: language, sentiment, category, urgency, abuse,
personal data and suspicious links; and let each organisation teach the engine its own
labels. See ``docs/triage.md``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from humas.triage.engine import Triage, classify, classify_many, mask

if TYPE_CHECKING:
    from humas.accounts.audit import Actor
    from humas.accounts.models import Organisation
    from humas.triage.actions import Progress
    from humas.triage.models import LabelCorrection, ModelVersion

__all__ = [
    "Triage",
    "active_version",
    "classify",
    "classify_many",
    "forget_corrections",
    "mask",
    "record_correction",
    "retrain",
    "rollback",
]

# The actions need the Django models, which cannot be imported while the app registry loads
# this package: these wrappers import them on first call.


def record_correction(
    organisation: Organisation,
    *,
    text: str,
    field: str,
    value: object,
    by: Actor,
    source: str = "",
) -> LabelCorrection:
    """See :func:`humas.triage.actions.record_correction`."""
    from humas.triage import actions

    return actions.record_correction(
        organisation, text=text, field=field, value=value, by=by, source=source
    )


def forget_corrections(organisation: Organisation, sources: list[str]) -> int:
    """See :func:`humas.triage.actions.forget_corrections`."""
    from humas.triage import actions

    return actions.forget_corrections(organisation, sources)


def retrain(
    organisation: Organisation, *, by: Actor, progress: Progress | None = None
) -> ModelVersion:
    """See :func:`humas.triage.actions.retrain`."""
    from humas.triage import actions

    return actions.retrain(organisation, by=by, progress=progress)


def rollback(
    organisation: Organisation, *, to: ModelVersion | None, by: Actor
) -> ModelVersion | None:
    """See :func:`humas.triage.actions.rollback`."""
    from humas.triage import actions

    return actions.rollback(organisation, to=to, by=by)


def active_version(organisation: Organisation) -> ModelVersion | None:
    """See :func:`humas.triage.actions.active_version`."""
    from humas.triage import actions

    return actions.active_version(organisation)
