"""The spike rule on synthetic counts: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from humas.crisis import spikes
from humas.crisis.spikes import KeyKind, Sample, Signal

NOW = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)


def test_steady_traffic_is_not_a_spike():
    # 20 messages an hour, every day for four weeks; 24 this hour is ordinary noise.
    verdict = spikes.judge(24, baseline_total=20 * 28, baseline_days=28)
    assert verdict.expected == 20
    assert not verdict.spike


def test_a_burst_well_above_the_usual_hour_is_a_spike():
    verdict = spikes.judge(45, baseline_total=20 * 28, baseline_days=28)
    assert verdict.spike
    assert verdict.p_value < spikes.ALPHA


def test_fewer_messages_than_the_minimum_are_never_a_spike_however_unlikely():
    # Nothing at this hour for four weeks: four messages are improbable but not a crisis.
    verdict = spikes.judge(4, baseline_total=0, baseline_days=28)
    assert verdict.p_value < 0.05
    assert not verdict.spike


def test_a_word_never_seen_before_needs_six_messages_because_of_the_floor():
    assert spikes.judge(0, 0, 28).expected == spikes.EXPECTED_FLOOR
    assert not spikes.judge(5, baseline_total=0, baseline_days=28).spike
    assert spikes.judge(6, baseline_total=0, baseline_days=28).spike


def test_a_new_organisation_without_history_gets_no_alert():
    assert spikes.baseline_windows(NOW - spikes.WINDOW, None) == []
    verdict = spikes.judge(500, baseline_total=0, baseline_days=0)
    assert not verdict.spike


def test_an_organisation_with_two_days_of_history_is_still_learning():
    started = NOW - timedelta(days=2, hours=2)
    windows = spikes.baseline_windows(NOW - spikes.WINDOW, started)
    assert len(windows) == 2
    assert not spikes.judge(500, baseline_total=2, baseline_days=len(windows)).spike
    assert spikes.judge(500, baseline_total=3, baseline_days=3).spike


def test_the_baseline_is_the_same_clock_hour_on_earlier_days_only_since_the_first_message():
    window_start = NOW - spikes.WINDOW
    windows = spikes.baseline_windows(window_start, NOW - timedelta(days=100))
    assert len(windows) == spikes.BASELINE_DAYS
    assert windows[0] == (window_start - timedelta(days=1), NOW - timedelta(days=1))
    assert windows[-1][0] == window_start - timedelta(days=28)
    # The current window is never part of its own baseline.
    assert all(end <= window_start for _start, end in windows)


def test_the_tail_probability_is_the_poisson_upper_tail():
    # P(X >= 1 | 1) = 1 - e^-1
    assert abs(spikes.tail_probability(1, 1.0) - 0.6321) < 1e-4
    assert spikes.tail_probability(0, 3.0) == 1.0


def test_words_leave_out_stopwords_numbers_and_short_words_and_find_places():
    keys = spikes.keys_of("Tolong min, banjiiir di Cipinang sudah 50 cm, jl. Merdeka putus!")
    assert keys["banjir"] == KeyKind.WORD
    assert keys["cipinang"] == KeyKind.PLACE
    assert keys["merdeka"] == KeyKind.PLACE
    assert keys["putus"] == KeyKind.WORD
    for dropped in ("tolong", "min", "di", "sudah", "50", "cm", "jl"):
        assert dropped not in keys


def test_the_organisations_own_place_names_are_matched_as_whole_words():
    keys = spikes.keys_of("Air PDAM mati di Pasar Minggu", places=["Pasar Minggu", "Tebet"])
    assert keys["pasar minggu"] == KeyKind.PLACE
    assert "tebet" not in keys
    assert "tebet" not in spikes.keys_of("tebetan", places=["Tebet"])


def test_messages_are_grouped_per_signal_and_key_once_each():
    samples = [
        Sample(1, "banjir banjir banjir", negative=True, emergency=True),
        Sample(2, "banjir lagi", negative=True, emergency=False),
        Sample(3, "terima kasih", negative=False, emergency=False),
    ]
    counted, kinds = spikes.group(samples)
    assert counted[(Signal.INBOUND, "")] == [1, 2, 3]
    assert counted[(Signal.INBOUND, "banjir")] == [1, 2]
    assert counted[(Signal.NEGATIVE, "banjir")] == [1, 2]
    assert counted[(Signal.EMERGENCY, "banjir")] == [1]
    assert (Signal.EMERGENCY, "") in counted
    assert kinds["banjir"] == KeyKind.WORD


def test_only_keys_with_the_minimum_are_candidates_and_words_are_bounded():
    counted = {
        (Signal.INBOUND, ""): list(range(10)),
        (Signal.NEGATIVE, ""): [1],
        (Signal.INBOUND, "banjir"): list(range(8)),
        (Signal.INBOUND, "listrik"): list(range(6)),
        (Signal.NEGATIVE, "listrik"): list(range(5)),
        (Signal.INBOUND, "jalan"): list(range(4)),
    }
    assert spikes.candidates(counted, limit=10) == [
        (Signal.INBOUND, ""),
        (Signal.INBOUND, "banjir"),
        (Signal.INBOUND, "listrik"),
        (Signal.NEGATIVE, "listrik"),
    ]
    assert spikes.candidates(counted, limit=1) == [(Signal.INBOUND, ""), (Signal.INBOUND, "banjir")]
