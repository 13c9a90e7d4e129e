"""The tracked-link redirect ``/l/<code>`` on PostgreSQL with 100,000 links, on two cores.

    .venv/bin/python bench/link_redirect.py [--links 100000] [--days 10] [--clients 8]
                                            [--processes 2] [--seconds 20]
                                            [--postgres postgres://postgres@127.0.0.1:5432]
                                            [--keep] [--reuse humas_bench_XXXX]

What it sets up: a throwaway database ``humas_bench_<random>`` (dropped at the end), migrated;
20 organisations spread over WIB, WITA and WIT, 200 campaigns and, written with COPY,
``--links`` tracked links (a third with a channel, the rest plain; 2 % inactive) and click
counters for the last ``--days`` days of every link on 1 to 4 of the 8 slots (about
``links × days × 2.5`` rows: 2,500,000 by default). The counter table is big because the
redirect writes into its unique index (link, day, slot); the link table is big because the
redirect reads its unique index on ``code``. Conversions and metric snapshots are not on the
redirect's path and are left empty.

Then ``VACUUM ANALYZE``, the real app server (gunicorn, ``humas.wsgi``, 2 workers × 4
threads, as ``humas serve`` starts it), and ``--processes`` client processes with
``--clients`` threads in all (8 by default: one per server thread, so the latencies are the
server's and not a queue of clients waiting for a thread), each thread on its own keep-alive
connection, without cookies (a citizen), for ``--seconds`` per phase:

- ``spread``: codes drawn with a Zipf-like skew over every link (a few popular, a long tail),
  of which 3 % sent with a link-preview User-Agent (redirected, not counted), 2 % HEAD,
  1 % unknown codes (404);
- ``viral``: every request for one link, the hot-row case the counter slots exist for.

Prints p50/p95/p99 per phase and requests/s, the load average, and checks that the counters
grew by exactly the number of counted redirects. Client and server share the machine, so
the figures include the client's own CPU. The exit status is non-zero when a phase's p95 is
20 ms or more, fewer than 1,000 redirects/s were served, a request failed, or a click was
lost.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from serving import add_database_options, bench_database, gunicorn, percentile, wait_until  # noqa: E402

TARGET_P95_MS = 20.0
TARGET_RPS = 1000.0
PORT = 8766
BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
PREVIEW = "TelegramBot (like TwitterBot)"
ZONES = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def copy_rows(conn: Any, table: str, columns: list[str], rows: Any) -> int:
    count = 0
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def fill(
    url: str, orgs: list[int], campaigns: dict[int, list[int]], n: int, days: int
) -> list[str]:
    """Links and click counters with COPY; returns the active codes."""
    import psycopg

    from humas.analytics.models import new_code

    rng = random.Random(11)  # noqa: S311 (test data)
    now = datetime.now(UTC)
    today = now.date()
    began = time.monotonic()
    codes: list[str] = []
    links = []
    seen: set[str] = set()
    for i in range(n):
        code = new_code()
        while code in seen:
            code = new_code()
        seen.add(code)
        org = orgs[i % len(orgs)]
        active = rng.random() >= 0.02
        if active:
            codes.append(code)
        links.append(
            (
                i + 1,
                org,
                code,
                f"https://dinas{org}.go.id/program/{i}?utm_source=bluesky&utm_medium=social",
                rng.choice(campaigns[org]),
                "",
                now - timedelta(days=rng.random() * 365),
                active,
            )
        )
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        copy_rows(
            conn,
            "analytics_trackedlink",
            [
                "id",
                "organisation_id",
                "code",
                "destination",
                "campaign_id",
                "label",
                "created_at",
                "is_active",
            ],
            links,
        )
        conn.commit()  # the deferred foreign key checks run here, before ALTER TABLE
        # The counters' unique index (the one the redirect writes into) is built after COPY.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'analytics_linkclickday'"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("ALTER TABLE analytics_linkclickday DROP CONSTRAINT click_day_slot_unique")
        rows = 0

        def counters() -> Any:
            nonlocal rows
            for link_id in range(1, n + 1):
                for back in range(days):
                    day = today - timedelta(days=back + 1)
                    for slot in rng.sample(range(8), rng.randint(1, 4)):
                        rows += 1
                        yield (link_id, day, slot, 1 + int(rng.expovariate(1 / 5)))

        copy_rows(conn, "analytics_linkclickday", ["link_id", "day", "slot", "clicks"], counters())
        conn.commit()
        conn.execute(
            "ALTER TABLE analytics_linkclickday ADD CONSTRAINT click_day_slot_unique "
            "UNIQUE (link_id, day, slot)"
        )
        for _name, definition in indexes:
            conn.execute(definition)
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('analytics_trackedlink', 'id'), %s)", (n,)
        )
        conn.commit()
    print(
        f"filled in {time.monotonic() - began:.0f} s: {n:,} links ({len(codes):,} active), "
        f"{rows:,} counter rows"
    )
    return codes


def clicks_total(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(sum(clicks), 0) FROM analytics_linkclickday").fetchone()
        return int(row[0]) if row else 0


def client_thread(
    plan: list[tuple[str, str, bool]], until: float, out: list[tuple[float, int, bool]]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    i = 0
    while time.monotonic() < until:
        method, path, preview = plan[i % len(plan)]
        i += 1
        headers = {"User-Agent": PREVIEW if preview else BROWSER}
        began = time.perf_counter()
        try:
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            status = 0
        counted = status == 302 and method == "GET" and not preview
        out.append(((time.perf_counter() - began) * 1000, status, counted))
    conn.close()


def client_process(
    plans: list[list[tuple[str, str, bool]]], start: float, until: float, queue: Any
) -> None:
    results: list[tuple[float, int, bool]] = []
    while time.time() < start:
        time.sleep(0.001)
    mono_until = time.monotonic() + (until - start)
    threads = [
        threading.Thread(target=client_thread, args=(plan, mono_until, results)) for plan in plans
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def make_plan(
    kind: str, codes: list[str], seed: int, size: int = 20_000
) -> list[tuple[str, str, bool]]:
    rng = random.Random(seed)  # noqa: S311
    plan = []
    for _ in range(size):
        if kind == "viral":
            plan.append(("GET", f"/l/{codes[0]}", False))
            continue
        roll = rng.random()
        # Zipf-like: a few links get most clicks, every link some.
        index = min(int(rng.paretovariate(0.8)) - 1, len(codes) - 1)
        code = codes[index] if rng.random() < 0.6 else rng.choice(codes)
        if roll < 0.01:
            plan.append(("GET", f"/l/zz{secrets.token_hex(3)}", False))
        elif roll < 0.03:
            plan.append(("HEAD", f"/l/{code}", False))
        elif roll < 0.06:
            plan.append(("GET", f"/l/{code}", True))
        else:
            plan.append(("GET", f"/l/{code}", False))
    return plan


def run_phase(
    kind: str, codes: list[str], args: argparse.Namespace
) -> list[tuple[float, int, bool]]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    per_process = [
        [make_plan(kind, codes, seed=p * 1000 + t) for t in range(args.clients // args.processes)]
        for p in range(args.processes)
    ]
    start = time.time() + 1.0
    until = start + args.seconds
    processes = [
        ctx.Process(target=client_process, args=(plans, start, until, queue))
        for plans in per_process
    ]
    for process in processes:
        process.start()
    results: list[tuple[float, int, bool]] = []
    for _ in processes:
        results.extend(queue.get())
    for process in processes:
        process.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    add_database_options(parser)
    args = parser.parse_args()

    server: subprocess.Popen[bytes] | None = None
    failed_target = False
    with bench_database(args) as db:
        url, env = db.url, db.env
        try:
            from django.db import connection

            from humas.accounts import actions as account_actions
            from humas.accounts.audit import Actor
            from humas.accounts.models import Organisation
            from humas.analytics.models import TrackedLink
            from humas.publishing.models import Campaign

            if args.reuse:
                codes = list(
                    TrackedLink.objects.filter(is_active=True).values_list("code", flat=True)
                )
            else:
                orgs: list[int] = []
                campaigns: dict[int, list[int]] = {}
                for n in range(20):
                    org = account_actions.create_organisation(
                        name=f"Dinas Bench {n}", by=Actor.system("bench")
                    )
                    Organisation.objects.filter(pk=org.pk).update(time_zone=ZONES[n % 3])
                    orgs.append(org.pk)
                    campaigns[org.pk] = [
                        Campaign.objects.create(
                            organisation=org,
                            name=f"Kampanye {k}",
                            slug=f"kampanye-{k}",
                            starts_on=datetime(2026, 1, 1, tzinfo=UTC).date(),
                            ends_on=datetime(2026, 12, 31, tzinfo=UTC).date(),
                        ).pk
                        for k in range(10)
                    ]
                codes = fill(url, orgs, campaigns, args.links, args.days)
                began = time.monotonic()
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE")
                print(f"VACUUM ANALYZE in {time.monotonic() - began:.0f} s")
            # The popular links first, in a random order (code order would be alphabetical).
            random.Random(3).shuffle(codes)  # noqa: S311
            connection.close()

            server = gunicorn(env, PORT)

            def redirects() -> bool:
                probe = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
                probe.request("HEAD", f"/l/{codes[0]}")
                return probe.getresponse().status == 302

            wait_until(redirects, "the redirect")
            # Warm-up: both workers' connections and code paths, as a server running a while.
            run_phase("spread", codes, argparse.Namespace(**{**vars(args), "seconds": 3}))

            print(
                f"\n{'phase':<8}{'n':>8}{'req/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}"
                "  (ms)  load after"
            )
            for kind in ("spread", "viral"):
                before = clicks_total(url)
                began = time.monotonic()
                results = run_phase(kind, codes, args)
                elapsed = time.monotonic() - began - 1.0  # the processes wait 1 s to start together
                grown = clicks_total(url) - before
                times = [ms for ms, _status, _counted in results]
                counted = sum(1 for _ms, _status, c in results if c)
                bad = [status for _ms, status, _c in results if status not in (302, 404)]
                rps = len(results) / elapsed
                p95 = percentile(times, 95)
                print(
                    f"{kind:<8}{len(results):>8,}{rps:>9.0f}{percentile(times, 50):>8.1f}"
                    f"{p95:>8.1f}{percentile(times, 99):>8.1f}        {load()}"
                )
                print(f"        counted clicks {counted:,}, counters grew by {grown:,}")
                if bad:
                    print(f"        {len(bad)} requests failed: {sorted(set(bad))}")
                if p95 >= TARGET_P95_MS or rps < TARGET_RPS or bad or grown != counted:
                    failed_target = True
            print(
                f"targets p95 < {TARGET_P95_MS:.0f} ms and >= {TARGET_RPS:.0f} redirects/s, "
                f"no click lost: {'NOT met' if failed_target else 'met'}"
            )
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    sys.exit(1 if failed_target else 0)


if __name__ == "__main__":
    main()
