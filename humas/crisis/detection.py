"""Counting for the spike rule: the current window's messages and their baselines.

Per organisation and run, a fixed number of queries whatever the traffic: the start of its
history, the window's messages (read into Python, where their words are found; a window is
an hour of messages), and one aggregate over the baseline windows with a conditional count
per signal and candidate key. The judging is :mod:`humas.crisis.spikes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Count, Min, Q, QuerySet

from humas.accounts.models import Organisation
from humas.crisis import spikes
from humas.crisis.spikes import KeyKind, Sample, Signal, Verdict
from humas.inbox.models import Category, Conversation, Direction, Message, RoutingRule, Sentiment

#: At most this many words per run get a baseline (the busiest of the window).
MAX_KEYS = 30


@dataclass(frozen=True)
class Spike:
    signal: Signal
    key: str
    kind: KeyKind
    verdict: Verdict
    message_ids: list[int]


def label_q(field: str, value: str) -> Q:
    """Messages whose effective label ``field`` is ``value``: a person's correction, else
    the triage's.

    Each comparison is guarded by its ``has_key``: a missing key compares as NULL in SQL,
    and ``exclude()`` of a NULL condition would drop the row instead of keeping it.
    """
    corrected = Q(corrections__has_key=field) & Q(**{f"corrections__{field}": value})
    triaged = (
        ~Q(corrections__has_key=field) & Q(triage__has_key=field) & Q(**{f"triage__{field}": value})
    )
    return corrected | triaged


def _label(message: Message, field: str) -> Any:
    corrections = message.corrections or {}
    if field in corrections:
        return corrections[field]
    return (message.triage or {}).get(field)


SIGNAL_Q = {
    Signal.INBOUND: Q(),
    Signal.NEGATIVE: label_q("sentiment", Sentiment.NEGATIVE),
    Signal.EMERGENCY: label_q("category", Category.EMERGENCY),
}


def watched(org: Organisation) -> QuerySet[Message]:
    """The citizens' messages the rule counts: inbound, not from blocked citizens (a spammer
    flooding the inbox is blocked, not a crisis) and not labelled spam."""
    return (
        Message.objects.filter(conversation__organisation=org, direction=Direction.IN)
        .exclude(conversation__contact__blocked_at__isnull=False)
        .exclude(label_q("category", Category.SPAM))
    )


def history_start(org: Organisation) -> datetime | None:
    """When the organisation's first conversation opened (the ``conv_opened`` index)."""
    first: datetime | None = Conversation.objects.filter(organisation=org).aggregate(
        first=Min("opened_at")
    )["first"]
    return first


def configured_places(org: Organisation) -> list[str]:
    """The place names the organisation wrote in its routing rules."""
    names: set[str] = set()
    for rule in RoutingRule.objects.filter(organisation=org, is_active=True):
        names.update(rule.place_list)
    return sorted(names)


def find_spikes(org: Organisation, now: datetime) -> list[Spike]:
    """Every (signal, key) of ``org`` spiking in the window ending at ``now``."""
    window_start = now - spikes.WINDOW
    windows = spikes.baseline_windows(window_start, history_start(org))
    if len(windows) < spikes.MIN_BASELINE_DAYS:
        # Too young for a baseline: nothing can spike, so nothing else is read.
        return []
    rows = list(
        watched(org)
        .filter(created_at__gte=window_start, created_at__lt=now)
        .only("pk", "text", "masked_text", "triage", "corrections")
        .order_by("created_at", "pk")
    )
    # The masked text: a phone number or an address is nobody's topic.
    samples = [
        Sample(
            id=m.pk,
            text=m.masked_text or m.text,
            negative=_label(m, "sentiment") == Sentiment.NEGATIVE,
            emergency=_label(m, "category") == Category.EMERGENCY,
        )
        for m in rows
    ]
    counted, kinds = spikes.group(samples, configured_places(org))
    wanted = spikes.candidates(counted, MAX_KEYS)
    if not wanted:
        return []
    in_baseline = reduce(or_, (Q(created_at__gte=s, created_at__lt=e) for s, e in windows))
    aggregates = {}
    for i, (signal, key) in enumerate(wanted):
        condition = SIGNAL_Q[signal] & (Q(text__icontains=key) if key else Q())
        aggregates[f"c{i}"] = Count("pk", filter=condition or None)
    # icontains also counts "air" in "pair": a baseline that is, if anything, too high,
    # which errs towards fewer alerts. SQL has no portable "whole word" match.
    totals = watched(org).filter(in_baseline).aggregate(**aggregates)
    found = []
    for i, (signal, key) in enumerate(wanted):
        ids = counted[(signal, key)]
        verdict = spikes.judge(len(ids), totals[f"c{i}"], len(windows))
        if verdict.spike:
            found.append(Spike(signal, key, kinds.get(key, KeyKind.WORD), verdict, ids))
    return found
