"""Recording an operator's correction of a label."""

from __future__ import annotations

import pytest

from humas.accounts.actions import ActionError
from humas.accounts.models import AuditEntry
from humas.accounts.testing import SYSTEM
from humas.triage import record_correction
from humas.triage.actions import correction_counts
from humas.triage.models import LabelCorrection

pytestmark = pytest.mark.django_db


def test_it_keeps_the_text_as_given_with_the_label_and_an_audit_entry(org):
    text = "lampu PJU mati, hubungi [phone •••]"
    correction = record_correction(org, text=text, field="category", value="complaint", by=SYSTEM)
    assert (correction.text, correction.field, correction.value) == (text, "category", "complaint")
    entry = AuditEntry.objects.get(action="triage.correction.recorded")
    assert entry.payload == {"field": "category", "value": "complaint"}
    assert text not in str(entry.payload)


def test_it_accepts_a_yes_or_no_for_abuse(org):
    yes = record_correction(org, text="dasar kalian", field="abusive", value=True, by=SYSTEM)
    no = record_correction(org, text="terima kasih", field="abusive", value="false", by=SYSTEM)
    assert (yes.value, no.value) == ("true", "false")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("language", "id", "cannot be corrected"),
        ("category", "banjir", "not a label for category"),
        ("urgency", "", "not a label for urgency"),
        ("abusive", "maybe", "not a label for abusive"),
    ],
)
def test_it_refuses_a_field_or_value_the_engine_does_not_know(org, field, value, message):
    with pytest.raises(ActionError, match=message):
        record_correction(org, text="jalan rusak", field=field, value=value, by=SYSTEM)
    assert not LabelCorrection.objects.exists()


def test_it_refuses_an_empty_text(org):
    with pytest.raises(ActionError):
        record_correction(org, text="  ", field="category", value="other", by=SYSTEM)


def test_it_counts_corrections_per_field_for_one_organisation(org, other_org):
    record_correction(org, text="a", field="urgency", value="high", by=SYSTEM)
    record_correction(org, text="b", field="urgency", value="low", by=SYSTEM)
    record_correction(other_org, text="c", field="category", value="spam", by=SYSTEM)
    assert correction_counts(org) == {"sentiment": 0, "category": 0, "urgency": 2, "abusive": 0}


def test_corrections_from_a_source_can_be_forgotten_and_others_stay(org, other_org):
    from humas.triage import forget_corrections

    record_correction(
        org,
        text="jalan rusak",
        field="category",
        value="complaint",
        by=SYSTEM,
        source="inbox.message:1",
    )
    record_correction(
        org, text="jalan rusak", field="urgency", value="high", by=SYSTEM, source="inbox.message:1"
    )
    kept = record_correction(
        org,
        text="lampu mati",
        field="category",
        value="complaint",
        by=SYSTEM,
        source="inbox.message:2",
    )
    elsewhere = record_correction(
        other_org,
        text="jalan rusak",
        field="category",
        value="complaint",
        by=SYSTEM,
        source="inbox.message:1",
    )

    assert forget_corrections(org, ["inbox.message:1"]) == 2

    assert set(LabelCorrection.objects.values_list("pk", flat=True)) == {kept.pk, elsewhere.pk}
    assert forget_corrections(org, []) == 0
