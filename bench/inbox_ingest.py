"""Citizens' messages through ingest → triage → store, against a plain bulk insert.

    .venv/bin/python bench/inbox_ingest.py [--messages 20000] [--database sqlite|postgres|both]
                                           [--batch 200] [--postgres postgres://postgres@127.0.0.1:5432]
                                           [--path webhook|poll]
                                           [--without-index NAME]   (an experiment)

What it sets up, per database: a throwaway one (an SQLite file in a temporary directory, or
``humas_bench_<random>`` on ``--postgres``, dropped at the end), migrated; one organisation with
five Mastodon channels stored directly; an admin and two responders on duty (told of
emergencies, in humas and by e-mail); two routing rules (a keyword rule raising urgency and a
catch-all rule that does nothing but match), as an organisation that set up routing has.

The events: ``--messages`` texts varied from the triage seed set (``bench/triage_speed.py``'s
``vary``), written over the last three days in order; authors drawn so that most citizens
write once and a few write often (a pool of 0.4 × N citizens per channel, Pareto-weighted,
one in ten of them also writing to the other channels); 45 % comments
and replies under 40 of the agency's posts (so one citizen often writes twice in one thread),
20 % direct messages, the rest mentions (each its own thread). They go to the real path,
``store_events(channel, batch)`` in batches of ``--batch`` (a poll page or a webhook delivery),
whose ``events_stored`` signal runs ``ingest_events``: triage, contacts, threading, deadlines,
routing, emergency alerts, one audit entry per batch. ``--path webhook`` (the default) calls
it alone, as a webhook delivery does: the events are committed, then ingested in a second
transaction. ``--path poll`` does what ``poll_channel`` does with a page: the events, their
ingest and the channel's cursor in one transaction (one commit per page instead of two).

The baseline: the same rows written with ``bulk_create`` alone — the InboundEvent rows, then one
Message per event, all in one conversation opened beforehand: no triage, no contacts, no
threading — in the same process, straight after.

Figures: messages/s of one process (models loaded beforehand, as in a running worker), the
baseline's, their ratio; then two processes ingesting different channels at once (as two
``humas worker`` processes would), messages/s over the wall-clock time of both. Targets: 1,000
messages/s on SQLite, 2,000 on PostgreSQL; the exit status is non-zero when neither the one-
nor the two-process figure meets the target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"sqlite": 1000.0, "postgres": 2000.0}
CHANNELS = 5


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the child process: one role against an already migrated database --------------------


def events_for(count: int, seed: str, prefix: str) -> list[Any]:
    from humas.channels.providers.base import EventKind
    from humas.channels.providers.base import InboundEvent as EventData

    sys.path.insert(0, str(REPO / "bench"))
    from triage_speed import vary

    rng = random.Random(seed)  # noqa: S311 (test data, not a secret)
    seed_file = REPO / "humas" / "triage" / "data" / "seed.jsonl"
    texts = [
        json.loads(line)["text"] for line in seed_file.read_text(encoding="utf-8").splitlines()
    ]
    bodies = vary(texts, count, rng)
    citizens = max(1, int(count * 0.4))
    posts = [f"post-{i}" for i in range(40)]
    start = datetime.now(UTC) - timedelta(days=3)
    step = timedelta(days=3) / max(count, 1)
    events = []
    for i, text in enumerate(bodies):
        # Pareto: most citizens once, a few many times.
        who = min(int(rng.paretovariate(1.2)) - 1, citizens - 1) if rng.random() < 0.3 else None
        author = who if who is not None else rng.randrange(citizens)
        # One citizen in ten also writes to the organisation's other channels.
        who_id = f"{author}" if author % 10 == 0 else f"{prefix}-{author}"
        roll = rng.random()
        if roll < 0.45:
            kind = rng.choice([EventKind.COMMENT, EventKind.REPLY])
            thread = rng.choice(posts)
        elif roll < 0.65:
            kind, thread = EventKind.DIRECT_MESSAGE, ""
        else:
            kind, thread = EventKind.MENTION, ""
        events.append(
            EventData(
                kind=kind,
                external_id=f"{prefix}-{i}",
                created_at=start + step * i,
                author_id=f"warga-{who_id}",
                author_handle=f"@warga{who_id}",
                author_name=f"Warga {who_id}",
                text=text,
                thread_id=thread,
                parent_id=thread,
                permalink=f"https://bench.test/@warga{who_id}/{prefix}-{i}",
            )
        )
    return events


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humas.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from humas.accounts import actions as account_actions
    from humas.accounts.audit import Actor
    from humas.channels.models import ChannelAccount

    if args.role == "prepare":
        began = time.monotonic()
        call_command("migrate", verbosity=0)
        org = account_actions.create_organisation(name="Dinas Bench", by=Actor.system("bench"))
        channels = []
        for n in range(CHANNELS):
            channel = ChannelAccount(
                organisation=org,
                network="mastodon",
                external_id=str(n),
                handle=f"@dinas{n}@bench.test",
                config={"instance": "https://bench.test", "domain": "bench.test"},
            )
            channel.set_credentials({"access_token": f"tok-{n}"})
            channels.append(channel)
        ChannelAccount.objects.bulk_create(channels)
        from humas.inbox.models import RoutingRule, Urgency

        RoutingRule.objects.create(
            organisation=org,
            name="Banjir",
            position=0,
            keywords="banjir\nlongsor",
            raise_urgency=Urgency.HIGH,
        )
        RoutingRule.objects.create(organisation=org, name="Lainnya", position=1)
        from humas.accounts.models import Membership
        from humas.accounts.roles import Role
        from humas.accounts.testing import make_member

        make_member(org, "admin@bench.test", Role.ADMIN)
        for n in range(2):
            make_member(org, f"piket{n}@bench.test", Role.RESPONDER)
        Membership.objects.filter(user__email__startswith="piket").update(on_duty=True)
        for name in args.without_index:
            # An experiment, not humas's schema: what one index costs ingest.
            with connection.cursor() as cursor:
                cursor.execute(f'DROP INDEX "{name}"')
        print(json.dumps({"migrated": round(time.monotonic() - began, 1)}))
        return

    channels = list(ChannelAccount.objects.order_by("pk"))
    channel = channels[args.channel]
    events = events_for(args.messages, f"bench-{args.channel}", f"c{args.channel}")
    from humas.channels.actions import store_events
    from humas.inbox.models import Message
    from humas.triage import classify_many

    classify_many(["pemanasan"])  # a running worker has its models loaded
    from django.urls import reverse

    # ...and its URLs (imported on the first emergency alert's links: half a second, once).
    reverse("inbox:list")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    if args.start_at:
        time.sleep(max(0.0, args.start_at - time.time()))
    from django.db import transaction
    from django.utils import timezone

    began = time.perf_counter()
    for i in range(0, len(events), args.batch):
        if args.path == "poll":
            # As poll_channel stores a page: its events, their ingest and the channel's cursor
            # in one transaction.
            with transaction.atomic():
                store_events(channel, events[i : i + args.batch])
                ChannelAccount.objects.filter(pk=channel.pk).update(
                    inbound_cursor=str(i), last_sync_at=timezone.now()
                )
        else:
            # As a webhook delivery: the events are committed, then ingested.
            store_events(channel, events[i : i + args.batch])
    elapsed = time.perf_counter() - began
    stored = Message.objects.filter(conversation__channel=channel).count()
    result: dict[str, Any] = {"messages": stored, "seconds": elapsed, "load": load()}
    if args.baseline:
        result["baseline_seconds"] = baseline(channels[args.baseline_channel], events, args.batch)
    print(json.dumps(result))


def baseline(channel: Any, events: list[Any], batch: int) -> float:
    """The same rows with bulk_create only, batch by batch, one transaction each."""
    from django.db import transaction

    from humas.channels.models import InboundEvent
    from humas.inbox.models import Contact, Conversation, Direction, Message

    contact = Contact.objects.create(
        organisation_id=channel.organisation_id, network=channel.network, external_id="base"
    )
    conversation = Conversation.objects.create(
        organisation_id=channel.organisation_id,
        channel=channel,
        thread_key="base",
        contact=contact,
        opened_at=events[0].created_at,
        last_message_at=events[0].created_at,
    )
    began = time.perf_counter()
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        with transaction.atomic():
            rows = InboundEvent.objects.bulk_create(
                [
                    InboundEvent(
                        organisation_id=channel.organisation_id,
                        channel=channel,
                        kind=str(e.kind),
                        external_id=e.external_id,
                        thread_id=e.thread_id,
                        parent_id=e.parent_id,
                        author_id=e.author_id,
                        author_handle=e.author_handle,
                        author_name=e.author_name,
                        text=e.text,
                        permalink=e.permalink,
                        created_at=e.created_at,
                    )
                    for e in chunk
                ]
            )
            Message.objects.bulk_create(
                [
                    Message(
                        conversation=conversation,
                        event=row,
                        direction=Direction.IN,
                        text=row.text,
                        author_label=row.author_name,
                        created_at=row.created_at,
                    )
                    for row in rows
                ]
            )
    return time.perf_counter() - began


# --- the parent: databases, child processes, figures ---------------------------------------


def run_child(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", *extra],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def result_of(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _err = process.communicate()
    if process.returncode:
        raise SystemExit(f"child failed ({process.returncode})")
    return dict(json.loads(out.strip().splitlines()[-1]))


def bench(kind: str, args: argparse.Namespace) -> bool:
    tmp = Path(tempfile.mkdtemp(prefix="humas-bench-"))
    db_name = f"humas_bench_{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "HUMAS_DATA_DIR": str(tmp),
        "DJANGO_SETTINGS_MODULE": "humas.settings",
        "HUMAS_LOG_LEVEL": "WARNING",
    }
    if kind == "postgres":
        import psycopg

        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        env["DATABASE_URL"] = f"{args.postgres}/{db_name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    try:
        without = [f"--without-index={name}" for name in args.without_index]
        prepared = result_of(run_child(env, "--role", "prepare", *without))
        if without:
            print(f"EXPERIMENT: without the indexes {', '.join(args.without_index)}")
        print(
            f"\n== {kind}: migrated in {prepared['migrated']} s; {args.messages} messages; "
            f"the {args.path} path"
        )
        common = [
            "--role",
            "ingest",
            "--messages",
            str(args.messages),
            "--batch",
            str(args.batch),
            "--path",
            args.path,
        ]
        one = result_of(
            run_child(env, *common, "--channel", "0", "--baseline", "--baseline-channel", "4")
        )
        rate = one["messages"] / one["seconds"]
        base = one["messages"] / one["baseline_seconds"]
        print(
            f"one process: {rate:,.0f} messages/s ({one['messages']} in {one['seconds']:.1f} s; "
            f"load {one['load']})"
        )
        print(
            f"baseline bulk_create, same rows: {base:,.0f} messages/s "
            f"({one['baseline_seconds']:.1f} s); ingest is {base / rate:.1f}× slower "
            f"(ratio {rate / base:.2f})"
        )
        start_at = time.time() + 15  # both children load Django and the models first
        both = [
            run_child(env, *common, "--channel", str(n), "--start-at", str(start_at))
            for n in (1, 2)
        ]
        results = [result_of(p) for p in both]
        wall = max(r["seconds"] for r in results)
        total = sum(r["messages"] for r in results)
        rate2 = total / wall
        print(
            f"two processes, two channels: {rate2:,.0f} messages/s ({total} in {wall:.1f} s; "
            f"load {results[0]['load']})"
        )
        target = TARGETS[kind]
        met = [name for name, r in (("one process", rate), ("two processes", rate2)) if r >= target]
        print(f"target {target:,.0f}/s: " + (f"met by {', '.join(met)}" if met else "NOT met"))
        return bool(met)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if kind == "postgres":
            import psycopg

            with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--without-index",
        action="append",
        default=[],
        help="experiment: drop this index after migrating (repeatable)",
    )
    parser.add_argument(
        "--path",
        choices=["webhook", "poll"],
        default="webhook",
        help="webhook: store_events alone (events committed, then ingested); poll: as "
        "poll_channel stores a page (events, ingest and cursor in one transaction)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--role", default="", help=argparse.SUPPRESS)
    parser.add_argument("--channel", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-channel", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(f"load average before: {load()}")
    kinds = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    ok = [bench(kind, args) for kind in kinds]
    sys.exit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
