"""Several workers claiming from one table at once, each on its own database connection.

Only PostgreSQL runs these for real: SQLite has a single writer, so there is no race to
prove anything about.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from humas.lib.leases import claim, release, renew
from humas.ops.models import PeriodicJob

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.usefixtures("postgres_only"),
    pytest.mark.django_db(transaction=True),
]

ROWS = 200
WORKERS = 3
LEASE = timedelta(minutes=5)


def test_it_never_gives_one_row_to_two_concurrent_workers() -> None:
    now = timezone.now()
    PeriodicJob.objects.bulk_create(
        PeriodicJob(name=f"tests.race_{i:03}", interval_seconds=60, next_run_at=now)
        for i in range(ROWS)
    )
    got: dict[str, list[int]] = {f"worker-{n}": [] for n in range(WORKERS)}
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def work(worker_id: str) -> None:
        try:
            start.wait()
            empty_rounds = 0
            # Skipped rows locked by a neighbour can make one round come back empty while
            # work remains; a few empty rounds in a row mean the table is drained.
            while empty_rounds < 3:
                rows = claim(
                    PeriodicJob.objects.all(),
                    worker_id=worker_id,
                    lease=LEASE,
                    limit=5,
                    due_field="next_run_at",
                )
                empty_rounds = 0 if rows else empty_rounds + 1
                got[worker_id].extend(row.pk for row in rows)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(worker_id,)) for worker_id in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    counts = Counter(pk for pks in got.values() for pk in pks)
    assert [pk for pk, n in counts.items() if n > 1] == []
    assert set(counts) == set(PeriodicJob.objects.values_list("pk", flat=True))
    holders = dict(PeriodicJob.objects.values_list("pk", "claimed_by"))
    for worker_id, pks in got.items():
        assert {holders[pk] for pk in pks} <= {worker_id}
    # Not a requirement of claim(), but a sign the test really raced: with all workers
    # started together, more than one of them won rows.
    assert sum(1 for pks in got.values() if pks) > 1


def test_it_lets_another_worker_take_over_a_lapsed_lease() -> None:
    now = timezone.now()
    PeriodicJob.objects.create(name="tests.lapse", interval_seconds=60, next_run_at=now)
    (held,) = claim(PeriodicJob.objects.all(), worker_id="alpha", lease=LEASE, now=now)

    still_held = now + LEASE - timedelta(seconds=1)
    assert claim(PeriodicJob.objects.all(), worker_id="beta", lease=LEASE, now=still_held) == []

    lapsed = now + LEASE + timedelta(seconds=1)
    (taken,) = claim(PeriodicJob.objects.all(), worker_id="beta", lease=LEASE, now=lapsed)
    assert taken.pk == held.pk
    assert taken.claimed_by == "beta"

    assert renew(held, "alpha", LEASE, now=lapsed) is False
    assert release(held, "alpha") is False
    assert PeriodicJob.objects.get().claimed_by == "beta"
