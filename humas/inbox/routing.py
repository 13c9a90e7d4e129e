"""Routing rules: which unit and which person a citizen's message goes to, and how urgent it is.

An organisation keeps an ordered list of :class:`~humas.inbox.models.RoutingRule`. At ingest,
each message of a conversation that no person has routed is checked against the active rules
in order; the **first** rule whose conditions all hold is applied and the rest are not looked
at ("stop" semantics: put narrow rules above broad ones). Applying a rule

- routes the conversation to the rule's unit, unless it already has a unit;
- assigns it to the rule's assignee, unless someone already has it;
- raises its urgency to the rule's level, never lowers it.

Conditions (each empty condition holds for every message): category, urgency, channel and
language are any-of lists; keywords and place names are any-of lists of whole words or
phrases, matched case-insensitively on the normalised text (see :func:`normalised`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Organisation, Unit, User
from humas.channels.models import ChannelAccount
from humas.inbox.models import (
    URGENCY_RANK,
    Category,
    Conversation,
    Language,
    RoutingRule,
    Urgency,
)

_WORD = re.compile(r"[^\W_]+")


def normalised(text: str) -> str:
    """The text rules match on: Unicode-normalised (NFKC), case-folded, words only, one
    space between them. "JALAN-rusak!!" becomes "jalan rusak"."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def find_words(words: Iterable[str], text: str) -> list[str]:
    """The entries of ``words`` found in ``text`` as whole words (or whole phrases)."""
    padded = f" {normalised(text)} "
    found = []
    for word in words:
        wanted = normalised(word)
        if wanted and f" {wanted} " in padded:
            found.append(word)
    return found


@dataclass(frozen=True)
class Sample:
    """What a rule looks at: a message's labels, its channel and its text."""

    text: str
    category: str
    urgency: str
    language: str
    channel_id: int | None = None


@dataclass
class Verdict:
    """Whether one rule matched a sample, and why (one line per condition)."""

    rule: RoutingRule
    matched: bool
    reasons: list[str] = field(default_factory=list)


def _labels(values: Sequence[str], choices: Any) -> str:
    names = dict(choices.choices)
    return ", ".join(str(names.get(v, v)) for v in values)


def check(rule: RoutingRule, sample: Sample) -> Verdict:
    """Check every condition of ``rule`` (all of them, so the test form can explain)."""
    verdict = Verdict(rule=rule, matched=True)

    def condition(ok: bool, reason: str) -> None:
        verdict.reasons.append(("✓ " if ok else "✗ ") + reason)
        verdict.matched = verdict.matched and ok

    for name, wanted, value, choices in (
        (_("category"), rule.categories, sample.category, Category),
        (_("urgency"), rule.urgencies, sample.urgency, Urgency),
        (_("language"), rule.languages, sample.language, Language),
    ):
        if wanted:
            condition(
                value in wanted,
                _("%(name)s is %(value)s (rule: %(wanted)s)")
                % {
                    "name": name,
                    "value": _labels([value], choices),
                    "wanted": _labels(wanted, choices),
                },
            )
    channel_ids = {c.pk for c in rule.channels.all()}
    if channel_ids:
        on_channel = sample.channel_id in channel_ids
        condition(
            on_channel,
            _("channel is one of the rule's")
            if on_channel
            else _("channel is not one of the rule's"),
        )
    for name, words in ((_("keywords"), rule.keyword_list), (_("place names"), rule.place_list)):
        if words:
            found = find_words(words, sample.text)
            condition(
                bool(found),
                _("%(name)s found: %(found)s") % {"name": name, "found": ", ".join(found)}
                if found
                else _("none of the %(name)s found") % {"name": name},
            )
    if not verdict.reasons:
        verdict.reasons.append(_("no conditions: matches every message"))
    return verdict


@dataclass(frozen=True)
class Prepared:
    """What :func:`matches` needs of a rule, worked out once per rule list instead of per
    message (ingest asks every rule of every message)."""

    channel_ids: frozenset[int]
    keywords: tuple[str, ...]
    places: tuple[str, ...]


def prepare(rule: RoutingRule) -> Prepared:
    return Prepared(
        channel_ids=frozenset(c.pk for c in rule.channels.all()),
        keywords=tuple(map(normalised, rule.keyword_list)),
        places=tuple(map(normalised, rule.place_list)),
    )


def active_rules(org: Organisation) -> list[RoutingRule]:
    rules = list(
        RoutingRule.objects.filter(organisation=org, is_active=True)
        .select_related("unit", "assignee")
        .prefetch_related("channels")
        .order_by("position", "pk")
    )
    for rule in rules:
        # Read by matches(); rules from elsewhere are prepared on each call.
        rule._prepared = prepare(rule)  # type: ignore[attr-defined]
    return rules


def matches(rule: RoutingRule, sample: Sample, text: str | None = None) -> bool:
    """What :func:`check` decides, without writing its explanations: ingest asks this of
    every message, where translating the reasons cost more than the matching.
    ``text``: the sample's text already :func:`normalised` (one rule list, many rules)."""
    if rule.categories and sample.category not in rule.categories:
        return False
    if rule.urgencies and sample.urgency not in rule.urgencies:
        return False
    if rule.languages and sample.language not in rule.languages:
        return False
    prepared = getattr(rule, "_prepared", None) or prepare(rule)
    if prepared.channel_ids and sample.channel_id not in prepared.channel_ids:
        return False
    padded = f" {normalised(sample.text) if text is None else text} "
    for words in (prepared.keywords, prepared.places):
        if words and not any(wanted and f" {wanted} " in padded for wanted in words):
            return False
    return True


def first_match(rules: Sequence[RoutingRule], sample: Sample) -> RoutingRule | None:
    text = normalised(sample.text) if rules else ""
    for rule in rules:
        if matches(rule, sample, text):
            return rule
    return None


def explain(rules: Sequence[RoutingRule], sample: Sample) -> list[Verdict]:
    """Every rule's verdict up to and including the first match (the ones after it are not
    evaluated at ingest, so they are not shown either)."""
    verdicts = []
    for rule in rules:
        verdict = check(rule, sample)
        verdicts.append(verdict)
        if verdict.matched:
            break
    return verdicts


def apply_rule(conversation: Conversation, rule: RoutingRule) -> dict[str, Any]:
    """Change the (unsaved) conversation as ``rule`` says; return what changed."""
    changes: dict[str, Any] = {}
    if rule.unit_id and conversation.unit_id is None:
        conversation.unit_id = rule.unit_id
        changes["unit"] = rule.unit_id
    if rule.assignee_id and conversation.assignee_id is None:
        conversation.assignee_id = rule.assignee_id
        changes["assignee"] = rule.assignee_id
    if (
        rule.raise_urgency
        and URGENCY_RANK[Urgency(rule.raise_urgency)] < URGENCY_RANK[Urgency(conversation.urgency)]
    ):
        conversation.urgency = rule.raise_urgency
        changes["urgency"] = rule.raise_urgency
    return changes


# --- managing the rules ---------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "is_active",
    "categories",
    "urgencies",
    "languages",
    "keywords",
    "places",
    "unit",
    "assignee",
    "raise_urgency",
)


def _describe(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "active": rule.is_active,
        "categories": list(rule.categories),
        "urgencies": list(rule.urgencies),
        "languages": list(rule.languages),
        "channels": sorted(c.pk for c in rule.channels.all()),
        "keywords": rule.keyword_list,
        "places": rule.place_list,
        "unit": rule.unit.name if rule.unit else None,
        "assignee": rule.assignee.email if rule.assignee else None,
        "raise_urgency": rule.raise_urgency or None,
    }


def _check_targets(org: Organisation, unit: Unit | None, assignee: User | None) -> None:
    if unit is not None and unit.organisation_id != org.pk:
        raise ActionError(_("Choose one of your organisation's units."))
    if assignee is None:
        return
    membership = Membership.objects.filter(organisation=org, user=assignee, is_active=True).first()
    if membership is None:
        raise ActionError(_("%(who)s is not a member here.") % {"who": assignee.email})
    works_all = membership.has_perm("inbox.work")
    works_unit = (
        membership.has_perm("cases.work_unit")
        and unit is not None
        and membership.unit_id == unit.pk
    )
    if not (works_all or works_unit):
        raise ActionError(
            _("%(who)s could not work on the conversations this rule routes.")
            % {"who": assignee.email}
        )


def save_rule(
    org: Organisation,
    rule: RoutingRule | None,
    *,
    by: Actor,
    channels: Iterable[ChannelAccount] = (),
    **data: Any,
) -> RoutingRule:
    """Create a rule (at the end of the list) or change one."""
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)}")
    channels = list(channels)
    if any(c.organisation_id != org.pk for c in channels):
        raise ActionError(_("Choose one of your organisation's channels."))
    _check_targets(org, data.get("unit"), data.get("assignee"))
    if not str(data.get("name", rule.name if rule else "")).strip():
        raise ActionError(_("Give the rule a name."))
    with transaction.atomic():
        before = _describe(rule) if rule is not None else None
        if rule is None:
            last = RoutingRule.objects.filter(organisation=org).aggregate(m=Max("position"))["m"]
            rule = RoutingRule(organisation=org, position=(last or 0) + 1)
        elif rule.organisation_id != org.pk:
            raise ActionError(_("This rule belongs to another organisation."))
        for key, value in data.items():
            setattr(rule, key, value)
        rule.save()
        rule.channels.set(channels)
        after = _describe(rule)
        record(
            "inbox.rule.created" if before is None else "inbox.rule.changed",
            actor=by,
            organisation=org,
            target=rule,
            payload={"before": before, "after": after} if before else {"rule": after},
        )
    return rule


def _renumber(org: Organisation) -> None:
    for number, rule in enumerate(
        RoutingRule.objects.filter(organisation=org).order_by("position", "pk"), start=1
    ):
        if rule.position != number:
            RoutingRule.objects.filter(pk=rule.pk).update(position=number)


def delete_rule(rule: RoutingRule, *, by: Actor) -> None:
    org = rule.organisation
    with transaction.atomic():
        described = _describe(rule)
        rule_id = rule.pk
        rule.delete()
        _renumber(org)
        record(
            "inbox.rule.deleted",
            actor=by,
            organisation=org,
            payload={"rule": rule_id, **described},
        )


def move_rule(rule: RoutingRule, direction: str, *, by: Actor) -> None:
    """Swap the rule with the one above (``"up"``) or below (``"down"``) it."""
    if direction not in ("up", "down"):
        raise ActionError(_("Move a rule up or down."))
    org = rule.organisation
    with transaction.atomic():
        # Locked in order, so two admins reordering at once queue instead of interleaving.
        rules = list(
            RoutingRule.objects.select_for_update()
            .filter(organisation=org)
            .order_by("position", "pk")
        )
        index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(rules):
            raise ActionError(_("The rule is already at that end of the list."))
        rules[index], rules[other] = rules[other], rules[index]
        for number, row in enumerate(rules, start=1):
            if row.position != number:
                RoutingRule.objects.filter(pk=row.pk).update(position=number)
        record(
            "inbox.rule.moved",
            actor=by,
            organisation=org,
            target=rule,
            payload={"direction": direction, "order": [r.pk for r in rules]},
        )
