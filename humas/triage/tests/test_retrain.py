"""Operators' corrections become the organisation's own model, and only theirs."""

from __future__ import annotations

import io

import numpy as np
import pytest

from humas.accounts.actions import ActionError
from humas.accounts.models import AuditEntry
from humas.accounts.testing import SYSTEM
from humas.triage import (
    active_version,
    classify,
    classify_many,
    record_correction,
    retrain,
    weights,
)
from humas.triage import rollback as roll_back
from humas.triage.models import ModelVersion

pytestmark = pytest.mark.django_db

# Street lights out: the shipped model calls these "normal" or "low" urgency; this city
# wants them treated as "high" (unlit streets are where robberies happen).
STREET_LIGHTS = [
    "lampu PJU mati di jalan Melati sudah seminggu",
    "PJU depan sekolah padam terus tiap malam",
    "lampu jalan di gang kami mati, gelap sekali",
    "tolong lampu penerangan jalan di perempatan mati",
    "lampu jalan umum di dekat pasar tidak menyala",
    "PJU di jembatan mati sejak kemarin malam",
]
NEW_STREET_LIGHT = "lampu PJU di jalan Kenanga mati, gelap"


def teach(org, value="high", field="urgency", texts=STREET_LIGHTS):
    for text in texts:
        record_correction(org, text=text, field=field, value=value, by=SYSTEM)


def urgency(org=None):
    return classify(NEW_STREET_LIGHT, organisation=org).urgency


def test_it_changes_the_organisations_predictions_for_messages_like_the_corrected_ones(org):
    assert urgency(org) != "high"
    teach(org)
    version = retrain(org, by=SYSTEM)
    assert version.fields == ["urgency"]
    assert urgency(org) == "high"


def test_it_leaves_other_organisations_and_the_shipped_model_alone(org, other_org):
    shipped = urgency()
    teach(org)
    retrain(org, by=SYSTEM)
    assert urgency(other_org) == shipped
    assert urgency() == shipped
    assert active_version(other_org) is None


def test_it_numbers_versions_per_organisation_and_keeps_one_active(org, other_org):
    teach(org)
    teach(other_org)
    first = retrain(org, by=SYSTEM)
    second = retrain(org, by=SYSTEM)
    theirs = retrain(other_org, by=SYSTEM)
    assert (first.number, second.number, theirs.number) == (1, 2, 1)
    assert list(ModelVersion.objects.filter(organisation=org, active=True)) == [second]
    assert active_version(org) == second


def test_a_later_correction_of_the_same_text_wins(org):
    teach(org, "high")
    retrain(org, by=SYSTEM)
    teach(org, "low")
    version = retrain(org, by=SYSTEM)
    assert version.corrections_used == len(STREET_LIGHTS)
    assert urgency(org) == "low"


def test_rolling_back_restores_the_previous_predictions(org):
    shipped = urgency(org)
    teach(org, "high")
    first = retrain(org, by=SYSTEM)
    teach(org, "low")
    retrain(org, by=SYSTEM)
    assert urgency(org) == "low"
    roll_back(org, to=first, by=SYSTEM)
    assert urgency(org) == "high"
    assert active_version(org) == first
    roll_back(org, to=None, by=SYSTEM)
    assert urgency(org) == shipped
    assert active_version(org) is None


def test_a_version_of_another_organisation_cannot_be_rolled_back_to(org, other_org):
    teach(other_org)
    theirs = retrain(other_org, by=SYSTEM)
    with pytest.raises(ActionError):
        roll_back(org, to=theirs, by=SYSTEM)
    assert active_version(other_org) == theirs


def test_it_reports_before_and_after_scores_on_held_out_corrections(org):
    texts = [f"{text} ({n})" for n in range(2) for text in STREET_LIGHTS]
    teach(org, texts=texts)
    version = retrain(org, by=SYSTEM)
    score = version.scores["urgency"]
    assert score["held_out_from"] == "corrections"
    assert score["held_out"] >= 2
    assert 0.0 <= score["before"] <= 1.0 and 0.0 <= score["after"] <= 1.0
    assert score["after"] >= score["before"]


def test_with_few_corrections_it_scores_on_held_out_seed_messages(org):
    teach(org)
    score = retrain(org, by=SYSTEM).scores["urgency"]
    assert score["held_out_from"] == "seed"
    assert score["held_out"] > 50


def test_a_field_with_too_few_corrections_keeps_the_shipped_model_and_says_so(org):
    teach(org)
    teach(org, "information_request", field="category", texts=STREET_LIGHTS[:1])
    version = retrain(org, by=SYSTEM)
    assert version.fields == ["urgency"]
    assert "category" in version.notes
    assert "category" not in version.scores


def test_sentiment_starts_from_the_shipped_weights_and_learns_the_corrections(org):
    resigned = [
        "ya sudahlah, jalan rusak lagi",
        "ya sudahlah, sampah belum diangkut lagi",
        "ya sudahlah, air mati lagi",
        "ya sudahlah, antrean panjang lagi",
    ]
    teach(org, "neutral", field="sentiment", texts=resigned)
    unrelated = ["pelayanannya sangat memuaskan, terima kasih", "kecewa sekali, petugasnya kasar"]
    shipped = [t.sentiment for t in classify_many(unrelated)]
    retrain(org, by=SYSTEM)
    assert classify("ya sudahlah, lampu mati lagi", organisation=org).sentiment == "neutral"
    assert [t.sentiment for t in classify_many(unrelated, organisation=org)] == shipped


def test_it_is_refused_without_any_corrections(org):
    with pytest.raises(ActionError, match="no corrections"):
        retrain(org, by=SYSTEM)
    assert not ModelVersion.objects.exists()


def test_every_change_is_audited(org):
    teach(org)
    version = retrain(org, by=SYSTEM)
    roll_back(org, to=None, by=SYSTEM)
    actions = list(
        AuditEntry.objects.filter(organisation=org, action__startswith="triage.")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        *["triage.correction.recorded"] * len(STREET_LIGHTS),
        "triage.model.trained",
        "triage.model.rolled_back",
    ]
    trained = AuditEntry.objects.get(action="triage.model.trained")
    assert trained.payload["number"] == version.number


def test_the_weights_are_plain_arrays_that_load_without_pickle(org):
    teach(org)
    version = retrain(org, by=SYSTEM)
    data = bytes(ModelVersion.objects.get(pk=version.pk).weights)
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)
    assert set(weights.unpack(data)) == {"urgency"}


def test_weights_holding_pickled_objects_are_refused():
    buffer = io.BytesIO()
    np.savez_compressed(buffer, vectorizer=np.array([{"evil": True}], dtype=object))
    with pytest.raises(ValueError):
        weights.unpack(buffer.getvalue())


def test_classifying_a_batch_asks_the_database_once(org, django_assert_num_queries):
    teach(org)
    retrain(org, by=SYSTEM)
    classify_many(["pemanasan"], organisation=org)  # loads and caches the version
    with django_assert_num_queries(1):
        classify_many(STREET_LIGHTS, organisation=org)
