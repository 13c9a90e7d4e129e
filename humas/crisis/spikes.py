"""The spike rule: when is the inbox's traffic unusual for this organisation?

Pure functions, no database: :mod:`humas.crisis.detection` counts, this module judges.
``docs/spikes.md`` explains the same rule for the people who receive the alerts.

**Signals.** Three kinds of citizens' messages are watched: every inbound message
(``inbound``), those labelled negative (``negative``) and those labelled emergencies
(``emergency``); a label a person corrected wins over the triage's.

**Keys.** Each signal is counted for the whole organisation (key ``""``) and for each word of
the current window's messages (:func:`keys_of`): topic words (``banjir``, ``listrik``) and
place words (the word after "di", "jl.", "kec.", "desa", "kel."…, and the place names the
organisation wrote in its routing rules). A message counts once per key, however often it
says the word.

**Rule.** For one signal and key, ``count`` is the number of messages in the current window
(the last :data:`WINDOW`, 60 minutes). The baseline is the same clock window on each of the
previous :data:`BASELINE_DAYS` days (28) that the organisation already had messages on: the
expected count is their mean, never below :data:`EXPECTED_FLOOR` (1.0). Comparing with the
same hour of earlier days keeps the daily rhythm (busy mornings, quiet nights) from looking
like a spike. The window is a spike when both hold:

* ``count >= MIN_COUNT`` (5): a handful of messages is never a crisis, whatever the odds;
* ``P(X >= count) < ALPHA`` (0.001) for ``X ~ Poisson(expected)``: so unlikely under the
  organisation's usual traffic that a key gives about one false alarm in 40 days of hourly
  windows (more keys, more false alarms: the minimum and the floor keep them to words many
  people use).

An organisation with fewer than :data:`MIN_BASELINE_DAYS` (3) days of history gets no
alerts at all: its first messages (or a channel's first poll bringing in a backlog) are not
a spike, and its rhythm is not known yet. The floor keeps a word never seen before from
alerting on five messages: with an expected count of 1.0 it needs six messages in an hour
(P(X >= 6) = 0.0006).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from scipy.stats import poisson

from humas.triage.engine import normalise

#: The window counted against the baseline (the job slides it every five minutes).
WINDOW = timedelta(minutes=60)
#: How many previous days give the baseline (four weeks: every weekday four times).
BASELINE_DAYS = 28
#: Fewer days of history than this: no alerts yet.
MIN_BASELINE_DAYS = 3
#: A spike has at least this many messages.
MIN_COUNT = 5
#: …and is at least this unlikely under the baseline.
ALPHA = 0.001
#: The expected count is never taken below this (see the module docstring).
EXPECTED_FLOOR = 1.0


class Signal(StrEnum):
    INBOUND = "inbound"
    NEGATIVE = "negative"
    EMERGENCY = "emergency"


class KeyKind(StrEnum):
    ALL = "all"
    WORD = "word"
    PLACE = "place"


@dataclass(frozen=True)
class Verdict:
    count: int
    expected: float
    p_value: float
    spike: bool


def expected_count(baseline_total: int, baseline_days: int) -> float:
    """The mean count of the baseline windows, floored at :data:`EXPECTED_FLOOR`."""
    if baseline_days <= 0:
        return EXPECTED_FLOOR
    return max(EXPECTED_FLOOR, baseline_total / baseline_days)


def tail_probability(count: int, expected: float) -> float:
    """P(X >= count) for X ~ Poisson(expected)."""
    if count <= 0:
        return 1.0
    return float(poisson.sf(count - 1, expected))


def judge(count: int, baseline_total: int, baseline_days: int) -> Verdict:
    """Whether ``count`` messages in the window are a spike, given ``baseline_total``
    messages over ``baseline_days`` same-clock windows of earlier days."""
    expected = expected_count(baseline_total, baseline_days)
    p_value = tail_probability(count, expected)
    spike = baseline_days >= MIN_BASELINE_DAYS and count >= MIN_COUNT and p_value < ALPHA
    return Verdict(count=count, expected=expected, p_value=p_value, spike=spike)


def baseline_windows(
    window_start: datetime, history_start: datetime | None
) -> list[tuple[datetime, datetime]]:
    """The same clock window on each of the previous :data:`BASELINE_DAYS` days, oldest
    last, leaving out days before the organisation's first message (``history_start``):
    a day it had no channel yet would count as a quiet day and make everything a spike."""
    if history_start is None:
        return []
    windows = []
    for days in range(1, BASELINE_DAYS + 1):
        start = window_start - timedelta(days=days)
        if start < history_start:
            break
        windows.append((start, start + WINDOW))
    return windows


# --- words -----------------------------------------------------------------------------------

#: Words that say nothing about a topic or a place: function words, greetings, the usual
#: ways of addressing the agency, and the placeholders :func:`normalise` writes.
_STOPWORDS = """
    ada adalah agar akan aku anda apa atau bagaimana bahwa baik banget bapak belum bisa buat
    bu dalam dan dari dengan dia gimana hal hari harus ibu ini itu jadi jam juga kak kakak kalau
    kali kami kamu kapan karena ke kenapa kita kok lagi lah mau mereka min mimin minta mohon
    nya oleh pada pak para saja sama sampai saya sejak sekali selamat semua sudah supaya tapi
    terima kasih tersebut tidak tolong untuk warga ya yang sini situ sana masih pun
    the and for you your this that with are was not but have has from they what
    tautan pengguna angka nomorpanjang emojipositif emojinegatif
"""
STOPWORDS = frozenset(_STOPWORDS.split())
#: The words that introduce a place: "banjir di cipinang", "jl. merdeka", "kec. tebet".
# Not "jalan" itself: "jalan rusak" is about a road, not a street called Rusak. The slang
# table turns "jl." into "jalan" as well, so street names are found in the raw text.
_PLACE_MARKERS = (
    "di ke dari gg gang kec kecamatan desa kel kelurahan kab kabupaten kota dusun kampung kp"
)
PLACE_MARKERS = frozenset(_PLACE_MARKERS.split())
_STREET = re.compile(r"\bjln?\.?\s+([a-z]+)")
#: Too short to mean anything on their own ("rt", "gg" are markers, not topics).
MIN_WORD_LENGTH = 3


def _lower(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def keys_of(text: str, places: Sequence[str] = ()) -> dict[str, KeyKind]:
    """The word keys of one message: topic words and place words.

    Words come from the triage's :func:`~humas.triage.engine.normalise` (lower case, slang
    to standard Indonesian, "banjiiir" to "banjir"), without stopwords, numbers and words
    shorter than three letters. A word right after a place marker ("di", "kec.", "desa"…)
    or after "jl." is a place; ``places`` are the organisation's own place names (from its
    routing rules), matched as whole words in the raw text.
    """
    tokens = normalise(text).split()
    found: dict[str, KeyKind] = {}
    for i, token in enumerate(tokens):
        if not token.isalpha() or token in STOPWORDS or len(token) < MIN_WORD_LENGTH:
            continue
        after_marker = i > 0 and tokens[i - 1] in PLACE_MARKERS
        if after_marker:
            found[token] = KeyKind.PLACE
        else:
            found.setdefault(token, KeyKind.WORD)
    lowered = _lower(text)
    for street in _STREET.findall(lowered):
        if len(street) >= MIN_WORD_LENGTH and street not in STOPWORDS:
            found[street] = KeyKind.PLACE
    for place in places:
        name = _lower(place).strip()
        if name and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", lowered):
            found[name] = KeyKind.PLACE
    return found


@dataclass(frozen=True)
class Sample:
    """One message of the current window, as the rule needs it."""

    id: int
    text: str
    negative: bool
    emergency: bool


def signals_of(sample: Sample) -> list[Signal]:
    return [
        s
        for s, holds in (
            (Signal.INBOUND, True),
            (Signal.NEGATIVE, sample.negative),
            (Signal.EMERGENCY, sample.emergency),
        )
        if holds
    ]


def group(
    samples: Iterable[Sample], places: Sequence[str] = ()
) -> tuple[dict[tuple[Signal, str], list[int]], dict[str, KeyKind]]:
    """The messages of each (signal, key) of the window, and each key's kind."""
    counted: dict[tuple[Signal, str], list[int]] = {}
    kinds: dict[str, KeyKind] = {"": KeyKind.ALL}
    for sample in samples:
        keys = keys_of(sample.text, places)
        for key, kind in keys.items():
            # A word that is a place in one message and a topic in another is a place.
            if kinds.get(key) != KeyKind.PLACE:
                kinds[key] = kind
        for signal in signals_of(sample):
            for key in ("", *keys):
                counted.setdefault((signal, key), []).append(sample.id)
    return counted, kinds


def candidates(
    counted: dict[tuple[Signal, str], list[int]], limit: int
) -> list[tuple[Signal, str]]:
    """The (signal, key) pairs that could be spikes (at least :data:`MIN_COUNT` messages),
    the whole organisation's first, then the busiest words; at most ``limit`` words, so a
    storm of messages cannot make the baseline query unbounded."""
    whole = [sk for sk in counted if sk[1] == "" and len(counted[sk]) >= MIN_COUNT]
    words = sorted(
        (sk for sk in counted if sk[1] != "" and len(counted[sk]) >= MIN_COUNT),
        key=lambda sk: (-len(counted[sk]), sk[1], sk[0]),
    )
    kept_keys: list[str] = []
    for _signal, key in words:
        if key not in kept_keys:
            kept_keys.append(key)
    kept = set(kept_keys[:limit])
    return sorted(whole) + [sk for sk in words if sk[1] in kept]
