"""The inbox list with 1,000,000 messages on PostgreSQL, under 8 concurrent clients.

    .venv/bin/python bench/inbox_list.py [--messages 1000000] [--clients 8] [--seconds 30]
                                         [--postgres postgres://postgres@127.0.0.1:5432]
                                         [--keep] [--reuse humas_bench_XXXX]   (measure again)
                                         [--load python|wrk]

What it sets up: a throwaway database ``humas_bench_<random>`` (dropped at the end), migrated;
one organisation (2FA not required) with 8 channels, 6 units, 20 responders and the admin the
clients sign in as; then, written with COPY:

- conversations until ``--messages`` messages exist (about 350,000 for 1,000,000: each has
  1 + an exponential number of messages, mean 2.8, at most 60), of about 136,000 citizens
  (most write once, a few often);
- ``last_message_at`` uniform over the past year, ``opened_at`` up to 3 days earlier; open
  when recent (80 % of the last 14 days, 30 % up to 60 days, 3 % older: about 9 % open in
  all), the rest resolved;
- category complaint 35 %, information request 25 %, aspiration 12 %, other 10 %,
  appreciation 8 %, spam 8 %, emergency 2 %; urgency critical for emergencies and 1 % more,
  high 12 %, low 25 %, the rest normal; sentiment negative 45 %, neutral 40 %, positive 15 %;
  language id 70 %, mixed 12 %, jv 8 %, su 5 %, en 3 %, unknown 2 %; abusive 3 %;
  a unit for 60 %, an assignee for 40 %; deadlines 8 hours / 14 days after opening, answered
  for 70 % of the open ones and all resolved ones;
- messages: texts varied from the triage seed set (``bench/triage_speed.py``), 80 % from the
  citizen, 20 % our replies, spread between opening and the last message.

Then ``ANALYZE``, the real app server (gunicorn, ``humas.wsgi``, 2 workers × 4 threads as
``humas serve`` starts it), and ``--clients`` threads, each with its own HTTP connection and the
admin's session cookie (made with Django's session machinery), requesting ``/inbox/`` for
``--seconds`` with a mix of filters: none (the default: open, most urgent first), channel,
category, urgency, sentiment, status, unit, assignee, deadline state, language, search
(words, a phrase, a handle), newest first over every status, later pages, and combinations;
each with the form's other fields as the page sends them (status open, most urgent first,
unless the kind changes them).
Prints p50/p95/p99 per kind and overall, requests/s, and the load average; the exit status is
non-zero when the overall p95 is 150 ms or more, or any request failed. ``--load wrk`` puts the
same mix under wrk instead (C, so the load generator takes less of the two cores; Debian's
``wrk`` package): overall figures only, after a 5-second warm-up.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from serving import (  # noqa: E402
    add_database_options,
    answers,
    bench_database,
    gunicorn,
    load_run,
    percentile,
    print_table,
    session_cookie,
    wait_until,
    wrk_run,
)

TARGET_P95_MS = 150.0
PORT = 8765
SEARCH_MIGRATION = "humas.inbox.migrations.0006_conversation_search_document"


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


CATEGORIES = {
    "complaint": 35,
    "information_request": 25,
    "aspiration": 12,
    "other": 10,
    "appreciation": 8,
    "spam": 8,
    "emergency": 2,
}
SENTIMENTS = {"negative": 45, "neutral": 40, "positive": 15}
LANGUAGES = {"id": 70, "mixed": 12, "jv": 8, "su": 5, "en": 3, "unknown": 2}


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


def fill(url: str, org_id: int, channels: list[int], units: list[int], users: list[int], n: int):
    """Contacts, conversations and messages with COPY; returns what the clients ask for."""
    import psycopg

    sys.path.insert(0, str(REPO / "bench"))
    from triage_speed import vary

    rng = random.Random(7)  # noqa: S311 (test data)
    seed_file = REPO / "humas" / "triage" / "data" / "seed.jsonl"
    seeds = [
        json.loads(line)["text"] for line in seed_file.read_text(encoding="utf-8").splitlines()
    ]
    texts = vary(seeds, 20_000, rng)
    now = datetime.now(UTC)
    year = timedelta(days=365).total_seconds()
    citizens = int(n / 3.3 * 0.45) + 1
    began = time.monotonic()
    with psycopg.connect(url, autocommit=False) as conn:
        # Bulk loading: the secondary indexes are dropped and built again after the COPY (the
        # same definitions, from pg_indexes), which is much faster than updating them per row.
        conn.execute("SET maintenance_work_mem = '256MB'")
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (["inbox_contact", "inbox_conversation", "inbox_message"],),
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        copy_rows(
            conn,
            "inbox_contact",
            [
                "id",
                "organisation_id",
                "network",
                "external_id",
                "handle",
                "display_name",
                "created_at",
            ],
            (
                (i + 1, org_id, "mastodon", f"warga-{i}", f"@warga{i}", f"Warga {i}", now)
                for i in range(citizens)
            ),
        )
        conversations: list[tuple[Any, ...]] = []
        messages: list[tuple[Any, ...]] = []
        total = 0
        cid = 0
        while total < n:
            cid += 1
            count = min(1 + int(rng.expovariate(1 / 2.3)), 60, n - total)
            total += count
            age = rng.random() * year
            last = now - timedelta(seconds=age)
            opened = last - timedelta(seconds=rng.random() * 3 * 86400)
            days = age / 86400
            open_chance = 0.8 if days < 14 else 0.3 if days < 60 else 0.03
            status = "open" if rng.random() < open_chance else "resolved"
            category = pick(rng, CATEGORIES)
            roll = rng.random()
            if category == "emergency" or roll < 0.01:
                urgency = "critical"
            elif roll < 0.13:
                urgency = "high"
            elif roll < 0.38:
                urgency = "low"
            else:
                urgency = "normal"
            responded = (
                opened + timedelta(hours=rng.random() * 10)
                if status == "resolved" or rng.random() < 0.7
                else None
            )
            text = rng.choice(texts)[:300]
            # Most citizens once, a few often.
            contact = (
                min(int(rng.paretovariate(1.1)), citizens)
                if rng.random() < 0.3
                else rng.randrange(1, citizens + 1)
            )
            conversations.append(
                (
                    cid,
                    org_id,
                    rng.choice(channels),
                    "dm" if rng.random() < 0.3 else f"post-{rng.randrange(5000)}",
                    contact,
                    status,
                    rng.choice(users) if rng.random() < 0.4 else None,
                    rng.choice(units) if rng.random() < 0.6 else None,
                    category,
                    urgency,
                    pick(rng, SENTIMENTS),
                    pick(rng, LANGUAGES),
                    rng.random() < 0.03,
                    rng.random() < 0.1,
                    False,
                    text,
                    text,
                    opened,
                    last,
                    opened + timedelta(hours=8),
                    opened + timedelta(days=14),
                    responded,
                    last if status == "resolved" else None,
                    False,
                    False,
                    None,
                )
            )
            span = (last - opened).total_seconds()
            for k in range(count):
                at = last if k == count - 1 else opened + timedelta(seconds=span * k / count)
                outbound = k > 0 and rng.random() < 0.2
                messages.append(
                    (
                        cid,
                        "out" if outbound else "in",
                        rng.choice(texts),
                        "",
                        "Dinas" if outbound else f"Warga {contact}",
                        at,
                        "{}",
                        "{}",
                        "",
                        "",
                        "",
                        0,
                    )
                )
        copy_rows(
            conn,
            "inbox_conversation",
            [
                "id",
                "organisation_id",
                "channel_id",
                "thread_key",
                "contact_id",
                "status",
                "assignee_id",
                "unit_id",
                "category",
                "urgency",
                "sentiment",
                "language",
                "abusive",
                "needs_review",
                "labels_corrected",
                "preview",
                "preview_masked",
                "opened_at",
                "last_message_at",
                "first_response_due",
                "resolution_due",
                "responded_at",
                "resolved_at",
                "routed_manually",
                "escalated",
                "emergency_notified_at",
            ],
            conversations,
        )
        copy_rows(
            conn,
            "inbox_message",
            [
                "conversation_id",
                "direction",
                "text",
                "masked_text",
                "author_label",
                "created_at",
                "triage",
                "corrections",
                "send_status",
                "send_error",
                "send_error_kind",
                "attempts",
            ],
            messages,
        )
        for table in ("inbox_contact", "inbox_conversation"):
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            conn.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))")  # noqa: S608
        conn.commit()  # the deferred foreign key checks run here
        # The search documents, filled the way an upgrade's migration fills them.
        began_documents = time.monotonic()
        conn.execute(importlib.import_module(SEARCH_MIGRATION).FILL)
        conn.commit()
        print(f"search documents filled in {time.monotonic() - began_documents:.0f} s")
        for _name, definition in indexes:
            conn.execute(definition)
        conn.commit()
    print(
        f"filled in {time.monotonic() - began:.0f} s: {citizens:,} citizens, {cid:,} "
        f"conversations ({sum(1 for c in conversations if c[5] == 'open'):,} open), "
        f"{total:,} messages"
    )
    return conversations


def requests_mix(channels: list[int], units: list[int], users: list[int]) -> list[tuple[str, str]]:
    """(kind, query string) pairs; each client walks them in its own random order."""
    mix: list[tuple[str, str]] = [("default", "")] * 4
    mix += [("default", "page=2"), ("default", "page=5")]
    mix += [("newest, all statuses", "status=&order=newest")] * 2
    mix += [("channel", f"channel={c}") for c in channels[:4]]
    mix += [("category", f"category={c}") for c in ("complaint", "emergency", "appreciation")]
    mix += [("urgency", f"urgency={u}&order=newest") for u in ("critical", "high", "low")]
    mix += [("sentiment", f"sentiment={s}") for s in ("negative", "positive")]
    mix += [("status", "status=resolved&order=newest"), ("status", "status=resolved")]
    mix += [("unit", f"unit={u}") for u in units[:3]]
    mix += [("assignee", f"assignee={u}") for u in users[:3]]
    mix += [("deadline", f"deadline={d}") for d in ("breached", "due_soon", "ok")]
    mix += [("language", f"language={code}") for code in ("jv", "en", "su")]
    mix += [
        ("search", f"q={q}")
        for q in ("banjir", "jalan rusak", "KTP", "beasiswa", "@warga1234", "sertifikat tanah")
    ]
    mix += [("search, all statuses", "status=&q=banjir&order=newest")]
    mix += [
        ("combined", f"category=complaint&unit={units[0]}&order=newest"),
        ("combined", f"status=&channel={channels[1]}&urgency=high&language=id"),
        ("combined", f"assignee={users[1]}&deadline=breached"),
    ]
    # What the filter form sends: every field, status "open" and the urgent order unless
    # changed (the bare /inbox/ above is the first visit).
    return [
        (
            kind,
            "&".join(
                [query]
                + ([] if "status=" in query else ["status=open"])
                + ([] if "order=" in query else ["order=urgent"])
            ).lstrip("&"),
        )
        if query
        else (kind, query)
        for kind, query in mix
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--load",
        choices=["python", "wrk"],
        default="python",
        help="the load generator: Python threads (p95 per kind) or wrk (overall only)",
    )
    add_database_options(parser)
    args = parser.parse_args()

    server: subprocess.Popen[bytes] | None = None
    with bench_database(args) as db:
        url, env = db.url, db.env
        try:
            from django.db import connection

            from humas.accounts import actions as account_actions
            from humas.accounts.audit import Actor
            from humas.accounts.models import Organisation, Unit
            from humas.accounts.roles import Role
            from humas.accounts.testing import make_member
            from humas.channels.models import ChannelAccount

            if args.reuse:
                from humas.accounts.models import User

                admin = User.objects.get(email="admin@bench.test")
                # The database may be bench/dashboard.py's, with other organisations' channels.
                org = Organisation.objects.get(name="Dinas Bench")
                channels = list(
                    ChannelAccount.objects.filter(organisation=org).values_list("pk", flat=True)
                )
                units = list(Unit.objects.filter(organisation=org).values_list("pk", flat=True))
                users = list(
                    User.objects.filter(email__startswith="petugas").values_list("pk", flat=True)
                )
            else:
                org = account_actions.create_organisation(
                    name="Dinas Bench", by=Actor.system("bench")
                )
                Organisation.objects.filter(pk=org.pk).update(require_2fa=False)
                for n in range(8):
                    channel = ChannelAccount(
                        organisation=org,
                        network="mastodon",
                        external_id=str(n),
                        handle=f"@dinas{n}@bench.test",
                        config={"instance": "https://bench.test"},
                    )
                    channel.set_credentials({"access_token": f"tok-{n}"})
                    channel.save()
                units = [
                    Unit.objects.create(organisation=org, name=f"Bidang {n}", code=f"B{n}").pk
                    for n in range(6)
                ]
                users = [
                    make_member(org, f"petugas{n}@bench.test", Role.RESPONDER).pk for n in range(20)
                ]
                admin = make_member(org, "admin@bench.test", Role.ADMIN)
                channels = list(ChannelAccount.objects.values_list("pk", flat=True))
                fill(url, org.pk, channels, units, users, args.messages)
                began = time.monotonic()
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE")
                print(f"VACUUM ANALYZE in {time.monotonic() - began:.0f} s")

            cookie = session_cookie(admin)
            connection.close()

            server = gunicorn(env, PORT)

            base = f"http://127.0.0.1:{PORT}"
            wait_until(answers(f"{base}/inbox/", cookie), "/inbox/ with 200")
            mix = [
                (kind, f"/inbox/?{query}" if query else "/inbox/")
                for kind, query in requests_mix(channels, units, users)
            ]
            if args.load == "wrk":
                run = wrk_run(base, cookie, mix, args.clients, args.seconds)
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                print(
                    f"\nwrk: {run['requests']:,} requests in {run['seconds']:.1f} s: "
                    f"{run['requests'] / run['seconds']:.1f}/s, {args.clients} connections; "
                    f"load average after: {load}\n"
                    f"overall p50 {run['p50']:.0f} ms, p95 {run['p95']:.0f} ms, "
                    f"p99 {run['p99']:.0f} ms; answers other than 200: {run['not_ok']}, "
                    f"socket errors: {run['socket_errors']}"
                )
                met = run["p95"] < TARGET_P95_MS and not run["not_ok"]
                print(f"target p95 < {TARGET_P95_MS:.0f} ms: {'met' if met else 'NOT met'}")
                sys.exit(0 if met else 1)
            results, elapsed = load_run(base, cookie, mix, args.clients, args.seconds)
            print_table(results, elapsed, args.clients)
            every = [ms for _k, ms, _s in results]
            p95 = percentile(every, 95)
            print(
                f"{'overall':<24}{len(every):>6}{percentile(every, 50):>9.0f}{p95:>9.0f}"
                f"{percentile(every, 99):>9.0f}"
            )
            failed = [r for r in results if r[2] != 200]
            met = p95 < TARGET_P95_MS and not failed
            print(f"target p95 < {TARGET_P95_MS:.0f} ms: {'met' if met else 'NOT met'}")
            sys.exit(0 if met else 1)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
