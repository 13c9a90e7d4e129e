"""Named actions for an organisation's own triage model: recording operators' corrections,
retraining from them, rolling back, and asking for a retrain in the background.

Each action runs in one transaction with one audit entry. Training itself happens before
the transaction opens (it takes seconds), so no row is locked while the model learns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, record
from humas.accounts.models import Organisation
from humas.triage import engine, training, weights
from humas.triage.models import LabelCorrection, ModelVersion, RetrainRun, RetrainStatus

logger = logging.getLogger(__name__)

#: A field needs this many corrections (distinct texts) before it is retrained.
MIN_FIELD_CORRECTIONS = 3
#: With this many corrections of a field, a slice of them is held out to score the models;
#: with fewer, a slice of the seed set is held out instead.
HOLD_OUT_MIN = 10
HOLD_OUT_SHARE = 0.2
#: A correction counts this many times a seed message: it is this organisation's own traffic.
CORRECTION_WEIGHT = 3.0
#: Passes of stochastic gradient descent over seed + corrections, from the shipped weights.
EPOCHS = 10
LEARNING_RATE = 0.1
#: A run queued or running for longer than this is taken to have died with its worker.
RUN_STALE = timedelta(minutes=15)

Progress = Callable[[float, str], None]


def labels_for(field: str) -> tuple[str, ...]:
    """The values an operator may give ``field``."""
    return {
        "sentiment": engine.SENTIMENTS,
        "category": engine.CATEGORIES,
        "urgency": engine.URGENCIES,
        "abusive": ("false", "true"),
    }[field]


def _normal_value(field: str, value: object) -> str:
    if field == "abusive" and isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


# --- corrections ----------------------------------------------------------------------------


def record_correction(
    organisation: Organisation,
    *,
    text: str,
    field: str,
    value: object,
    by: Actor,
    source: str = "",
) -> LabelCorrection:
    """Remember that an operator gave ``text`` the label ``value`` for ``field``.

    ``text`` is stored as given (control characters and HTML tags removed): pass the masked
    text when that is what the operator saw. ``source`` names where it came from, for
    :func:`forget_corrections`.
    """
    with transaction.atomic():
        (correction,) = add_corrections(
            organisation, text=text, labels={field: value}, by=by, source=source
        )
        record(
            "triage.correction.recorded",
            actor=by,
            organisation=organisation,
            target=correction,
            payload={"field": field, "value": correction.value},
        )
    return correction


def add_corrections(
    organisation: Organisation,
    *,
    text: str,
    labels: dict[str, object],
    by: Actor,
    source: str = "",
) -> list[LabelCorrection]:
    """:func:`record_correction` for several fields of one text, without an audit entry:
    for an action that writes its own (the inbox's relabelling)."""
    rows = []
    cleaned = engine.clean(text).strip()
    for field, value in labels.items():
        if field not in engine.MODEL_FIELDS:
            raise ActionError(
                _("“%(field)s” cannot be corrected; choose one of: %(fields)s.")
                % {"field": field, "fields": ", ".join(engine.MODEL_FIELDS)}
            )
        label = _normal_value(field, value)
        if label not in labels_for(field):
            raise ActionError(
                _("“%(value)s” is not a label for %(field)s; choose one of: %(labels)s.")
                % {"value": value, "field": field, "labels": ", ".join(labels_for(field))}
            )
        if not cleaned:
            raise ActionError(_("There is no message text to learn from."))
        rows.append(
            LabelCorrection(
                organisation=organisation,
                text=cleaned,
                source=source[:100],
                field=field,
                value=label,
                created_by=by.user,
            )
        )
    return LabelCorrection.objects.bulk_create(rows)


def forget_corrections(organisation: Organisation, sources: list[str]) -> int:
    """Delete the corrections learnt from ``sources``; return how many went.

    Part of erasing a citizen's data: the caller's action writes the audit entry. Model
    versions already trained keep their weights (numbers, not texts); the next retrain no
    longer sees these texts.
    """
    if not sources:
        return 0
    deleted, _by_model = LabelCorrection.objects.filter(
        organisation=organisation, source__in=sources
    ).delete()
    return deleted


def correction_counts(organisation: Organisation) -> dict[str, int]:
    """Corrections per field (every field present, 0 when none)."""
    counts = dict(
        LabelCorrection.objects.filter(organisation=organisation)
        .values_list("field")
        .annotate(n=Count("pk"))
        .values_list("field", "n")
    )
    return {field: int(counts.get(field, 0)) for field in engine.MODEL_FIELDS}


def _latest_corrections(organisation: Organisation) -> dict[str, list[tuple[str, str]]]:
    """``field -> [(text, value)]``, one per text: a later correction of the same text wins."""
    latest: dict[str, dict[str, str]] = {field: {} for field in engine.MODEL_FIELDS}
    rows = LabelCorrection.objects.filter(organisation=organisation).order_by("created_at", "pk")
    for text, field, value in rows.values_list("text", "field", "value"):
        if field in latest and value in labels_for(field):
            texts = latest[field]
            texts.pop(text, None)  # keep the order of the latest correction
            texts[text] = value
    return {field: list(texts.items()) for field, texts in latest.items()}


# --- training -------------------------------------------------------------------------------


def _split(labels: Sequence[str], share: float) -> tuple[list[int], list[int]]:
    """Indices to train on and to hold out: stratified when every label has two items."""
    from sklearn.model_selection import train_test_split

    indices = list(range(len(labels)))
    held = max(2, round(len(labels) * share))
    counts = {label: labels.count(label) for label in set(labels)}
    stratify = labels if min(counts.values()) >= 2 and held >= len(counts) else None
    train, test = train_test_split(
        indices, test_size=held, random_state=7, shuffle=True, stratify=stratify
    )
    return sorted(train), sorted(test)


def adapt(
    base: engine.LinearModel, features: Any, labels: Sequence[str], sample_weight: Any
) -> engine.LinearModel:
    """``base`` adapted to ``labels``: SGD (logistic loss) started from the base weights.

    Starting from the shipped weights keeps what they learned from data we do not ship (SmSA
    for sentiment) while the seed set and the corrections move them; L2 is kept small so the
    start is not shrunk away.
    """
    from sklearn.linear_model import SGDClassifier

    coef = np.ascontiguousarray(np.asarray(base.coef, dtype=np.float64).T)
    intercept = np.asarray(base.intercept, dtype=np.float64)
    model = SGDClassifier(
        loss="log_loss",
        alpha=1e-6,
        max_iter=EPOCHS,
        tol=None,
        learning_rate="constant",
        eta0=LEARNING_RATE,
        random_state=7,
    )
    model.fit(
        features,
        list(labels),
        coef_init=coef,
        intercept_init=intercept,
        sample_weight=sample_weight,
    )
    if tuple(str(c) for c in model.classes_) != base.classes:
        raise ActionError(_("The training data does not cover every label."))
    return training.to_linear(model)


def _field_macro_f1(field: str, models: engine.Models, rows: Sequence[tuple[str, str]]) -> float:
    results = engine.classify_with([text for text, _label in rows], models)
    predicted = [str(training.label_of(r.as_dict(), field)) for r in results]
    return round(training.macro_f1([label for _text, label in rows], predicted), 4)


def _with_field(models: engine.Models, field: str, model: engine.LinearModel) -> engine.Models:
    replaced = engine.Models(vectorizer=dict(models.vectorizer))
    replaced.fields = {**models.fields, field: model}
    return replaced


@dataclass
class _Data:
    """Seed rows and corrections of one field, featurised once, to fit subsets of."""

    base: engine.LinearModel
    seed_features: Any
    seed_rows: list[tuple[int, str]]  # (row in the seed set, label)
    fix_features: Any
    fix_values: list[str]

    def fit(self, seed_keep: Sequence[int], fix_keep: Sequence[int]) -> engine.LinearModel:
        from scipy import sparse

        matrix = sparse.vstack(
            [
                self.seed_features[[self.seed_rows[i][0] for i in seed_keep]],
                self.fix_features[list(fix_keep)],
            ]
        ).tocsr()
        labels = [self.seed_rows[i][1] for i in seed_keep] + [self.fix_values[i] for i in fix_keep]
        sample_weight = np.concatenate(
            [np.ones(len(seed_keep)), np.full(len(fix_keep), CORRECTION_WEIGHT)]
        )
        return adapt(self.base, matrix, labels, sample_weight)


def _train_field(
    field: str,
    base: engine.LinearModel,
    before: engine.Models,
    seed: Sequence[dict[str, Any]],
    seed_features: Any,
    items: Sequence[tuple[str, str]],
) -> tuple[engine.LinearModel, dict[str, Any]]:
    """The field's new model (seed + all corrections) and its before/after scores, measured
    with a model trained without the held-out slice."""
    seed_rows = [
        (i, str(label))
        for i, row in enumerate(seed)
        if (label := training.label_of(row, field)) is not None
    ]
    data = _Data(
        base,
        seed_features,
        seed_rows,
        training.featurise([text for text, _value in items]),
        [value for _text, value in items],
    )
    all_seed, all_fixes = range(len(seed_rows)), range(len(items))
    if len(items) >= HOLD_OUT_MIN:
        train_fixes, held_fixes = _split(data.fix_values, HOLD_OUT_SHARE)
        held = [items[i] for i in held_fixes]
        scored = data.fit(all_seed, train_fixes)
        held_out_from = "corrections"
    else:
        train_seed, held_seed = _split([label for _i, label in seed_rows], HOLD_OUT_SHARE)
        held = [(str(seed[seed_rows[i][0]]["text"]), seed_rows[i][1]) for i in held_seed]
        scored = data.fit(train_seed, all_fixes)
        held_out_from = "seed"
    score = {
        "before": _field_macro_f1(field, before, held),
        "after": _field_macro_f1(field, _with_field(before, field, scored), held),
        "held_out": len(held),
        "held_out_from": held_out_from,
        "corrections": len(items),
    }
    return data.fit(all_seed, all_fixes), score


def retrain(
    organisation: Organisation, *, by: Actor, progress: Progress | None = None
) -> ModelVersion:
    """Train a new model version from the seed set and the organisation's corrections, score
    it against the active one on held-out messages, and make it active.

    A field with fewer than :data:`MIN_FIELD_CORRECTIONS` corrections keeps the shipped model
    (the version's notes say so). Refused when there is nothing to learn from.
    """
    say: Progress = progress or (lambda fraction, message: None)
    corrections = _latest_corrections(organisation)
    total = sum(len(items) for items in corrections.values())
    if total == 0:
        raise ActionError(
            _("There are no corrections yet: correct some labels in the inbox first.")
        )
    trainable = [f for f in engine.MODEL_FIELDS if len(corrections[f]) >= MIN_FIELD_CORRECTIONS]
    if not trainable:
        raise ActionError(
            _("Not enough corrections yet: a field needs at least %(n)d corrected messages.")
            % {"n": MIN_FIELD_CORRECTIONS}
        )
    say(0.05, _("Reading the seed set and %(n)d corrections") % {"n": total})
    seed = training.read_jsonl(training.SEED_FILE)
    seed_features = training.featurise([str(row["text"]) for row in seed])
    shipped = engine.get_models()
    before = weights.models_for(organisation)
    trained: dict[str, engine.LinearModel] = {}
    scores: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for step, field in enumerate(engine.MODEL_FIELDS):
        items = corrections[field]
        if field not in trainable:
            if items:
                notes.append(
                    _("%(field)s: %(n)d correction(s), fewer than %(min)d: shipped model kept.")
                    % {"field": field, "n": len(items), "min": MIN_FIELD_CORRECTIONS}
                )
            continue
        say(0.1 + 0.8 * step / len(engine.MODEL_FIELDS), _("Training %(field)s") % {"field": field})
        trained[field], scores[field] = _train_field(
            field, shipped.fields[field], before, seed, seed_features, items
        )
    say(0.92, _("Saving the new version"))
    packed = weights.pack(trained)
    with transaction.atomic():
        # The organisation row serialises numbering and the switch of the active version.
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        versions = ModelVersion.objects.filter(organisation=organisation)
        number = (versions.aggregate(n=Max("number"))["n"] or 0) + 1
        previous = versions.filter(active=True).values_list("number", flat=True).first()
        versions.filter(active=True).update(active=False)
        version = ModelVersion.objects.create(
            organisation=organisation,
            number=number,
            created_by=by.user,
            weights=packed,
            fields=list(trained),
            corrections_used=sum(len(corrections[f]) for f in trained),
            scores=scores,
            active=True,
            notes="\n".join(notes),
        )
        record(
            "triage.model.trained",
            actor=by,
            organisation=organisation,
            target=version,
            payload={
                "number": number,
                "previous": previous,
                "fields": list(trained),
                "corrections_used": version.corrections_used,
                "scores": scores,
            },
        )
    say(1.0, _("Version %(n)d is active") % {"n": number})
    return version


# --- versions -------------------------------------------------------------------------------


def active_version(organisation: Organisation) -> ModelVersion | None:
    """The organisation's active version, or None when the shipped model is in use."""
    return (
        ModelVersion.objects.filter(organisation=organisation, active=True).defer("weights").first()
    )


def rollback(
    organisation: Organisation, *, to: ModelVersion | None, by: Actor
) -> ModelVersion | None:
    """Make ``to`` the active version; ``None`` goes back to the shipped model."""
    if to is not None and to.organisation_id != organisation.pk:
        raise ActionError(_("That model version belongs to another organisation."))
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        versions = ModelVersion.objects.filter(organisation=organisation)
        previous = versions.filter(active=True).values_list("number", flat=True).first()
        versions.filter(active=True).update(active=False)
        if to is not None:
            versions.filter(pk=to.pk).update(active=True)
            to.active = True
        record(
            "triage.model.rolled_back",
            actor=by,
            organisation=organisation,
            target=to,
            payload={"from": previous, "to": to.number if to is not None else None},
        )
    return to


# --- retraining in the background -----------------------------------------------------------


def open_run(organisation: Organisation) -> RetrainRun | None:
    """The retrain queued or running for ``organisation``, if any (stale ones ignored)."""
    return (
        RetrainRun.objects.filter(
            organisation=organisation,
            status__in=(RetrainStatus.QUEUED, RetrainStatus.RUNNING),
            created_at__gte=timezone.now() - RUN_STALE,
        )
        .order_by("-created_at")
        .first()
    )


def request_retrain(organisation: Organisation, *, by: Actor) -> RetrainRun:
    """Queue a retrain for the worker; refused while one is queued or running."""
    from humas.triage.tasks import run_retrain

    if not LabelCorrection.objects.filter(organisation=organisation).exists():
        raise ActionError(
            _("There are no corrections yet: correct some labels in the inbox first.")
        )
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        if open_run(organisation) is not None:
            raise ActionError(_("A retrain is already under way; wait for it to finish."))
        run = RetrainRun.objects.create(
            organisation=organisation,
            requested_by=by.user,
            message=_("Waiting for the worker"),
        )
        record("triage.retrain.requested", actor=by, organisation=organisation, target=run)
        transaction.on_commit(lambda: run_retrain.enqueue(run_id=run.pk))
    return run


def perform_run(run_id: int) -> str:
    """Do one queued retrain, writing its progress on the run row as it goes."""
    # Claimed with one conditional UPDATE, so a task delivered twice trains once.
    claimed = RetrainRun.objects.filter(pk=run_id, status=RetrainStatus.QUEUED).update(
        status=RetrainStatus.RUNNING, progress=1
    )
    if not claimed:
        return "skipped: not queued"
    run = RetrainRun.objects.select_related("organisation", "requested_by").get(pk=run_id)

    def progress(fraction: float, message: str) -> None:
        RetrainRun.objects.filter(pk=run.pk).update(
            progress=max(1, min(100, round(fraction * 100))), message=message[:300]
        )

    by = Actor(user=run.requested_by, label="triage retrain")
    try:
        version = retrain(run.organisation, by=by, progress=progress)
    except ActionError as exc:
        status, message, version_id = RetrainStatus.FAILED, str(exc), None
    except Exception:
        logger.exception("triage retrain %s failed", run.pk)
        status, message, version_id = (
            RetrainStatus.FAILED,
            _("Retraining failed; the active model is unchanged. The error is in the log."),
            None,
        )
    else:
        status, version_id = RetrainStatus.DONE, version.pk
        message = _("Version %(n)d is active") % {"n": version.number}
    RetrainRun.objects.filter(pk=run.pk).update(
        status=status,
        message=message[:300],
        progress=100,
        version_id=version_id,
        finished_at=timezone.now(),
    )
    return str(status)
