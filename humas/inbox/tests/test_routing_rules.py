"""Routing rules: matching, applying at ingest (first match wins), the settings page and
its "test against a sample message" form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.inbox import actions, routing
from humas.inbox.models import Case, CaseStatus, RoutingRule

pytestmark = pytest.mark.django_db


def rule(org, name="Banjir", **fields):
    channels = fields.pop("channels", [])
    return routing.save_rule(org, None, by=Actor.system(), name=name, channels=channels, **fields)


def test_keywords_match_whole_words_in_any_case():
    assert routing.find_words(["banjir"], "BANJIR di RT 03!!") == ["banjir"]
    assert routing.find_words(["banjir"], "banjiran terus") == []
    assert routing.find_words(["Kebon Jeruk"], "jalan di kebon-jeruk rusak") == ["Kebon Jeruk"]
    assert routing.find_words(["  "], "apa saja") == []


def test_a_rule_checks_every_condition_and_explains_each(org, channel):
    r = rule(
        org,
        categories=["complaint"],
        urgencies=["high", "critical"],
        keywords="banjir\ngenangan",
        places="Cilandak",
        channels=[channel],
        raise_urgency="high",
    )
    sample = routing.Sample(
        text="Genangan di Cilandak",
        category="complaint",
        urgency="high",
        language="id",
        channel_id=channel.pk,
    )
    verdict = routing.check(r, sample)
    assert verdict.matched
    assert any("genangan" in reason for reason in verdict.reasons)
    other = routing.Sample(
        text="Genangan di Kemang", category="complaint", urgency="high", language="id"
    )
    verdict = routing.check(r, other)
    assert not verdict.matched
    assert any(reason.startswith("✗") for reason in verdict.reasons)


def test_the_quick_match_at_ingest_decides_as_the_explained_check_does(org, channel, other_channel):
    import itertools

    rules = [
        rule(org, name="kosong"),
        rule(org, name="kategori", categories=["complaint", "emergency"]),
        rule(org, name="mendesak", urgencies=["critical"], languages=["id", "jv"]),
        rule(org, name="kanal", channels=[channel]),
        rule(org, name="kata", keywords="banjir\nKebon Jeruk", places="Cilandak\n  "),
        rule(org, name="tempat", places="cilandak", categories=["complaint"]),
    ]
    texts = ["Banjir di CILANDAK!", "jalan di kebon-jeruk rusak", "banjiran terus", "", "😀"]
    for r, text, category, urgency, language, on in itertools.product(
        rules,
        texts,
        ["complaint", "spam"],
        ["critical", "normal"],
        ["id", "en"],
        [channel.pk, other_channel.pk, None],
    ):
        sample = routing.Sample(text, category, urgency, language, on)
        assert routing.matches(r, sample) == routing.check(r, sample).matched, (r.name, sample)


def test_the_first_matching_rule_routes_assigns_and_raises_urgency_at_ingest(
    org, unit, agent, responder, say
):
    rule(org, "Kesehatan", keywords="puskesmas", unit=unit, assignee=agent, raise_urgency="high")
    rule(org, "Catch-all", raise_urgency="critical")
    conversation = say("Puskesmas tutup terus")
    assert conversation.unit == unit
    assert conversation.assignee == agent
    assert conversation.urgency == "high", "the second rule is not looked at"
    (entry,) = AuditEntry.objects.filter(action="inbox.events.ingested")
    routed = entry.payload["routed"][str(conversation.pk)]
    assert routed["unit"] == unit.pk
    assert Notification.objects.filter(user=agent, kind="inbox.routed").exists()


def test_a_complaint_a_rule_sends_to_a_unit_becomes_a_forwarded_case(org, unit, say):
    rule(org, "Kesehatan", keywords="puskesmas", unit=unit)
    conversation = say("Puskesmas tutup terus")
    case = Case.objects.get(conversation=conversation)
    assert case.status == CaseStatus.FORWARDED
    assert case.unit == unit
    assert case.tracking_number.startswith("LPR-2026-")


def test_rules_leave_a_conversation_a_person_routed_alone(org, unit, responder, say, labels):
    rule(org, "Kesehatan", keywords="puskesmas", unit=unit, raise_urgency="high")
    conversation = say("Jalan rusak", thread="t")
    actions.route_conversation(conversation, None, by=Actor(user=responder))
    say("Puskesmas juga tutup", thread="t")
    conversation.refresh_from_db()
    assert conversation.unit is None
    assert conversation.urgency == "normal"


def test_inactive_rules_and_lower_urgencies_are_not_applied(org, unit, say, labels):
    rule(org, "Off", keywords="puskesmas", unit=unit, is_active=False)
    rule(org, "Lower", keywords="puskesmas", raise_urgency="low")
    labels["#high"] = {"urgency": "high"}
    conversation = say("Puskesmas tutup #high")
    assert conversation.unit is None
    assert conversation.urgency == "high"


def test_an_admin_creates_edits_reorders_and_deletes_rules(as_user, admin, org, unit, channel):
    client = as_user(admin)
    response = client.post(
        reverse("inbox:rule_new"),
        {
            "name": "Banjir",
            "is_active": "on",
            "categories": ["emergency"],
            "channels": [channel.pk],
            "keywords": "banjir\ngenangan",
            "unit": unit.pk,
            "raise_urgency": "critical",
        },
    )
    assert response.status_code == 302
    first = RoutingRule.objects.get()
    assert first.categories == ["emergency"]
    assert list(first.channels.all()) == [channel]
    client.post(reverse("inbox:rule_new"), {"name": "Jalan", "keywords": "jalan", "unit": unit.pk})
    second = RoutingRule.objects.get(name="Jalan")
    assert (first.position, second.position) == (1, 2)
    client.post(reverse("inbox:rule_move", args=[second.pk]), {"direction": "up"})
    assert list(RoutingRule.objects.order_by("position").values_list("name", flat=True)) == [
        "Jalan",
        "Banjir",
    ]
    client.post(
        reverse("inbox:rule_edit", args=[first.pk]),
        {"name": "Banjir besar", "keywords": "banjir", "unit": unit.pk},
    )
    first.refresh_from_db()
    assert first.name == "Banjir besar"
    assert not first.is_active
    client.post(reverse("inbox:rule_delete", args=[second.pk]))
    assert list(RoutingRule.objects.values_list("position", flat=True)) == [1]
    for action in ("created", "moved", "changed", "deleted"):
        assert AuditEntry.objects.filter(action=f"inbox.rule.{action}").exists(), action
    client.post(
        reverse("inbox:rule_edit", args=[first.pk]),
        {"name": "Banjir besar", "categories": ["emergency"], "unit": unit.pk},
    )
    page = client.get(reverse("inbox:rule_list")).content.decode()
    assert "Banjir besar" in page
    assert "category: Emergency" in page


def test_a_rule_that_does_nothing_is_refused(as_user, admin):
    response = as_user(admin).post(reverse("inbox:rule_new"), {"name": "Kosong"})
    assert response.status_code == 200
    assert not RoutingRule.objects.exists()
    assert "Say what the rule does" in response.content.decode()


def test_a_rule_cannot_assign_someone_who_could_not_work_the_conversation(org, analyst):
    with pytest.raises(actions.ActionError):
        rule(org, "x", assignee=analyst)


def test_the_sample_test_shows_which_rule_matched_and_why(as_user, admin, org, unit):
    rule(org, "Jalan", keywords="jalan", unit=unit)
    rule(org, "<b>Banjir</b>", keywords="banjir", unit=unit)
    rule(org, "Never shown", raise_urgency="high")
    response = as_user(admin).post(
        reverse("inbox:rule_test"),
        {"text": "Banjir lagi di Cilandak"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body, "a fragment for htmx"
    assert 'data-testid="rule-matched"' in body
    assert "&lt;b&gt;Banjir&lt;/b&gt;" in body
    assert "<b>Banjir</b>" not in body
    assert "keywords found: banjir" in body
    assert "Never shown" not in body
    assert body.count('data-testid="verdict"') == 2
    assert not AuditEntry.objects.filter(action="inbox.events.ingested").exists()


def test_rules_are_for_admins_and_their_own_organisation(
    as_user, responder, other_admin, org, unit
):
    r = rule(org, "Jalan", keywords="jalan", unit=unit)
    assert as_user(responder).get(reverse("inbox:rule_list")).status_code == 403
    client = as_user(other_admin)
    assert client.get(reverse("inbox:rule_edit", args=[r.pk])).status_code == 404
    assert client.post(reverse("inbox:rule_delete", args=[r.pk])).status_code == 404
    assert RoutingRule.objects.filter(pk=r.pk).exists()
