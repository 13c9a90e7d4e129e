"""An emergency broadcast to 8 channels while 10,000 ordinary deliveries are due.

    .venv/bin/python bench/crisis_broadcast.py [--runs 3] [--languages id,en]

The issue's target: from approval until the broadcast is published on every channel, at most
the slowest channel's network latency plus 1 s, however long the ordinary queue is. The
broadcast must go out side by side, not behind the queue nor one channel after another.

What it sets up, reusing ``bench/publishing_deliveries.py`` and ``bench/serving.py``:

- a throwaway PostgreSQL database (``bench_database``), migrated, dropped at the end;
- the ordinary load, as ``publishing_deliveries.py`` makes it: ``--orgs`` organisations with
  ``--channels-per-org`` Mastodon channels on its fake server (``--latency``, 50 ms a call)
  and ``--deliveries`` deliveries due at once, sent by two ``humas worker`` processes;
- one more organisation (a BPBD) with 8 Mastodon channels on a second fake server, in its
  own process, whose latency depends on the account (the access token): 50, 115, 180, 245,
  310, 375, 440 and 500 ms by default (``--channel-latencies``). Statuses are counted per
  account and text there, so a post made twice is seen by the network, not by humas.

The ordinary deliveries belong to the other organisations on purpose: declaring an incident
holds the broadcasting organisation's own promotion, so its deliveries would be HELD rather
than competing with the broadcast.

Each run (``--runs``, 3 by default) declares a fresh incident, drafts a flood broadcast to
the 8 channels (not timed) and approves it in this process while the ordinary queue is
being sent. The clock starts when ``approve_broadcast`` returns (its transaction committed)
and the database is read every 20 ms until every urgent delivery is PUBLISHED.

For contrast, the same 8 sends are also made one after another from this process, straight
through the provider (no queue, no database): what sending the broadcast as a queue would
cost at best.

The exit status is non-zero when a run misses the target, a channel got the same status
twice, or the ordinary queue had fewer than ``--min-pending`` deliveries left at approval
(the measurement would not show a busy queue).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from publishing_deliveries import Bench, FakeMastodon, JsonHandler, http_json  # noqa: E402
from serving import add_database_options, bench_database, wait_until  # noqa: E402

TARGET_MARGIN = 1.0  # seconds over the slowest channel's latency (the figure)
POLL = 0.02
VALUES = {
    "area": "Kec. Coblong",
    "time": "14.30 WIB",
    "shelter": "GOR Pajajaran",
    "hotline": "112",
    "instructions": "Menuju tempat tinggi.",
}


# --- the fake network of the 8 broadcast channels (its own process) --------------------------


def latency_of(token: str) -> float:
    """The token names its account's latency: ``crisis-<ms>``."""
    try:
        return int(token.rsplit("-", 1)[1]) / 1000
    except (IndexError, ValueError):
        return 0.0


def serve_crisis_network(port_file: str) -> None:
    # FakeMastodon builds the Status entity and honours Idempotency-Key; the per-account
    # latency and the count of statuses per (account, text) are this server's own.
    state = FakeMastodon(0.0)
    made: Counter[tuple[str, str]] = Counter()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path == "/__stats":
                with state.lock:
                    per_account = Counter(token for token, _text in made.elements())
                    self._answer(
                        200,
                        {
                            "requests": state.requests,
                            "repeats": state.repeats,
                            "unexpected": state.unexpected[:20],
                            "statuses": dict(per_account),
                            "twice": sum(1 for n in made.values() if n > 1),
                        },
                    )
                return
            with state.lock:
                state.unexpected.append(f"GET {self.path}")
            self._answer(404, {"error": "Record not found"})

        def do_POST(self) -> None:
            raw = self._body()
            if self.path == "/__reset":
                with state.lock:
                    state.reset()
                    made.clear()
                self._answer(200, {})
                return
            if self.path != "/api/v1/statuses":
                with state.lock:
                    state.unexpected.append(f"POST {self.path}")
                self._answer(404, {"error": "Record not found"})
                return
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if not token:
                self._answer(401, {"error": "The access token is invalid"})
                return
            with state.lock:
                state.requests += 1
            time.sleep(latency_of(token))
            form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            key = self.headers.get("Idempotency-Key", "")
            with state.lock:
                repeats = state.repeats
            status = state.create_status(token, key, form)
            with state.lock:
                if state.repeats == repeats:  # a new status, not one answered from the key
                    made[(token, form.get("status", ""))] += 1
            self._answer(200, status)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


# --- the benchmark ----------------------------------------------------------------------------


class CrisisBench:
    def __init__(self, args: argparse.Namespace, database: Any) -> None:
        self.args = args
        self.latencies = [int(ms) for ms in args.channel_latencies.split(",")]
        # The ordinary load is publishing_deliveries' own set-up, on this database.
        self.load = Bench(
            argparse.Namespace(
                latency=args.latency,
                postgres=args.postgres,
                threads=args.threads,
                batch=args.batch,
                orgs=args.orgs,
                channels_per_org=args.channels_per_org,
                deliveries=args.deliveries,
                profile=False,
                experiment="",
                keep_database=True,  # bench_database drops it
                keep_logs=args.keep_logs,
            )
        )
        self.load.db_name = database.name
        self.load.env = {
            **database.env,
            "HUMAS_DELIVERY_THREADS": str(args.threads),
            "HUMAS_DELIVERY_BATCH": str(args.batch),
        }
        self.network: subprocess.Popen[bytes] | None = None
        self.network_url = ""

    def start_crisis_network(self) -> None:
        port_file = self.load.tmp / "crisis.port"
        self.network = subprocess.Popen(
            [sys.executable, __file__, "--serve-crisis-network", str(port_file)], cwd=REPO
        )
        wait_until(lambda: port_file.exists() and bool(port_file.read_text()), "its port")
        self.network_url = f"http://127.0.0.1:{port_file.read_text()}"

    def create_broadcaster(self) -> None:
        from humas.accounts import actions as account_actions
        from humas.accounts.audit import Actor
        from humas.accounts.models import User
        from humas.accounts.roles import Role
        from humas.channels.models import ChannelAccount

        by = Actor.system("bench")
        self.org = account_actions.create_organisation(name="BPBD Bench", by=by)
        self.admin = User.objects.create_user(
            "kalaksa@bpbd.bench.test", "x", full_name="Kalaksa Bench"
        )
        account_actions.add_member(self.org, self.admin, role=Role.ADMIN, by=by)
        channels = []
        for ms in self.latencies:
            channel = ChannelAccount(
                organisation=self.org,
                network="mastodon",
                external_id=f"crisis-{ms}",
                handle=f"@bpbd{ms}@crisis.test",
                config={
                    "instance": self.network_url,
                    "domain": "crisis.test",
                    "account_id": f"crisis-{ms}",
                },
            )
            channel.set_credentials({"access_token": f"crisis-{ms}"})
            channels.append(channel)
        ChannelAccount.objects.bulk_create(channels)
        self.channels = list(ChannelAccount.objects.filter(organisation=self.org).order_by("pk"))
        # The access token is the external id: ``crisis-<ms>``.
        self.latency_of = {c.pk: latency_of(c.external_id) for c in self.channels}

    def start_ordinary_load(self) -> None:
        """The ordinary deliveries, due now; return once the workers are busy sending them."""
        from django.db import connection
        from django.utils import timezone

        from humas.publishing.models import Delivery, DeliveryStatus, Post

        began = time.monotonic()
        post_ids = self.load.create_deliveries("ordinary")
        print(
            f"{self.args.deliveries:,} ordinary deliveries created in "
            f"{time.monotonic() - began:.1f} s"
        )
        with connection.cursor() as cursor:
            # As publishing_deliveries does: without statistics after the bulk insert, the
            # claim query picks a plan that takes seconds per claim.
            cursor.execute("ANALYZE publishing_delivery, channels_channelaccount")
        self.ordinary = Delivery.objects.filter(post_id__in=post_ids)
        now = timezone.now()
        self.ordinary.update(due_at=now)
        Post.objects.filter(pk__in=post_ids).update(scheduled_at=now)
        self.due = time.monotonic()
        published = self.ordinary.filter(status=DeliveryStatus.PUBLISHED)
        while time.monotonic() - self.due < self.args.warm_up or not published.exists():
            time.sleep(0.1)

    def declare(self, by: Any, title: str) -> Any:
        from humas.crisis.incidents import declare_incident

        return declare_incident(self.org, by=by, hazard="flood", title=title)

    def pending(self) -> int:
        from humas.publishing.models import DeliveryStatus

        return self.ordinary.filter(
            status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)
        ).count()

    def run(self, number: int) -> dict[str, Any]:
        from django.utils import timezone

        from humas.accounts.audit import Actor
        from humas.crisis import broadcasts
        from humas.publishing.models import Delivery, DeliveryStatus

        http_json(f"{self.network_url}/__reset", "POST")
        by = Actor(user=self.admin)
        incident = self.declare(by, f"Banjir Coblong (bench {number})")
        draft = broadcasts.draft_broadcast(
            incident,
            by=by,
            hazard="flood",
            languages=self.args.languages.split(","),
            values=VALUES,
            channels=self.channels,
        )
        pending = self.pending()
        began = time.monotonic()
        approved = broadcasts.approve_broadcast(draft, by=by)
        t0 = time.monotonic()
        committed = timezone.now()
        approve_seconds = t0 - began
        urgent = Delivery.objects.filter(post_id=approved.post_id)
        seen: dict[int, float] = {}
        states: dict[int, str] = {}
        while time.monotonic() - t0 < self.args.deadline:
            for channel_id, status in urgent.values_list("channel_id", "status"):
                states[channel_id] = status
                if status == DeliveryStatus.PUBLISHED and channel_id not in seen:
                    seen[channel_id] = time.monotonic() - t0
            if len(seen) == len(self.channels) or any(
                s in (DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN) for s in states.values()
            ):
                break
            time.sleep(POLL)
        total = max(seen.values()) if len(seen) == len(self.channels) else float("inf")
        steps = self.steps(urgent, committed)
        steps["approve"] = self.approve_wait(approved)
        network = http_json(f"{self.network_url}/__stats")
        parts = len(approved.languages)  # Mastodon has threads: one status per language
        statuses = network["statuses"]
        wrong = [c.pk for c in self.channels if statuses.get(c.external_id, 0) != parts]
        # The slowest channel's own time for this broadcast: a thread of two languages is
        # two calls to the network, one after the other (the second replies to the first).
        target = max(self.latency_of.values()) * parts + TARGET_MARGIN
        result = {
            "run": number,
            "pending": pending,
            "after_due": began - self.due,
            "approve": approve_seconds,
            "total": total,
            "target": target,
            "passed": total <= target,
            "seen": seen,
            "steps": steps,
            "states": states,
            "twice": network["twice"],
            "wrong_count": wrong,
            "repeats": network["repeats"],
            "unexpected": network["unexpected"],
            "parts": parts,
            "load": os.getloadavg()[0],
        }
        self.report(result)
        self.baseline_content = {c.pk: broadcasts.content_for(approved, c) for c in self.channels}
        return result

    def steps(self, urgent: Any, committed: Any) -> dict[Any, Any]:
        """Where each channel's time went, from what humas wrote (times from the commit of
        the approval): ``published_at`` is taken when the network has answered, the audit
        entry's ``created_at`` once its transaction holds the audit chain's head; between
        the two, how many other entries were chained first."""
        from humas.accounts.models import AuditEntry

        entries = {
            int(target): (at, seq)
            for target, at, seq in AuditEntry.objects.filter(
                action="publishing.delivery.published", organisation=self.org
            ).values_list("target_id", "created_at", "seq")
        }
        found: dict[Any, Any] = {}
        for channel_id, published_at, channel_post_id in urgent.values_list(
            "channel_id", "published_at", "channel_post_id"
        ):
            if published_at is None or channel_post_id not in entries:
                continue
            at, seq = entries[channel_post_id]
            ahead = AuditEntry.objects.filter(created_at__gt=published_at, seq__lt=seq).count()
            found[channel_id] = (
                (published_at - committed).total_seconds(),
                (at - committed).total_seconds(),
                ahead,
            )
        return found

    def approve_wait(self, approved: Any) -> float:
        """Seconds between ``approved_at`` and the approval's audit entry (its wait for the
        audit chain's head, inside ``approve_broadcast``)."""
        from humas.accounts.models import AuditEntry

        entry = AuditEntry.objects.get(
            action="crisis.broadcast.approved", target_id=str(approved.pk)
        )
        return (entry.created_at - approved.approved_at).total_seconds()

    def report(self, r: dict[str, Any]) -> None:
        print(
            f"\n[run {r['run']}] approved {r['after_due']:.1f} s after the ordinary deliveries "
            f"fell due, with {r['pending']:,} of them still pending; approve_broadcast took "
            f"{r['approve'] * 1000:.0f} ms (of which {r['steps']['approve'] * 1000:.0f} ms "
            f"waiting for the audit chain); load average {r['load']:.1f}"
        )
        print(
            "seconds from the approval's commit: answer taken up by the drain thread "
            "(published_at), audit chain taken (entry's created_at), PUBLISHED seen by this "
            "process; other audit entries chained in between"
        )
        print(
            f"{'channel':>8} {'latency':>9} {'calls':>6} {'taken up':>9} {'audit':>7} "
            f"{'seen':>7} {'entries ahead':>14}"
        )
        for channel in self.channels:
            seen = r["seen"].get(channel.pk)
            answered, audited, ahead = r["steps"].get(channel.pk, (None, None, None))
            print(
                f"{channel.pk:>8} {self.latency_of[channel.pk] * 1000:>7.0f} ms {r['parts']:>6} "
                + (f"{answered:>9.2f} {audited:>7.2f} " if answered is not None else " " * 18)
                + (
                    f"{seen:>7.2f}"
                    if seen is not None
                    else f"{r['states'].get(channel.pk, '?'):>7}"
                )
                + (f" {ahead:>14}" if ahead is not None else "")
            )
        verdict = "PASS" if r["passed"] else "FAIL"
        print(
            f"[run {r['run']}] all published after {r['total']:.2f} s; target (slowest latency "
            f"x calls + {TARGET_MARGIN:.0f} s) {r['target']:.2f} s: {verdict}; "
            f"statuses made twice on the network: {r['twice']}; "
            f"channels without exactly {r['parts']} statuses: "
            f"{len(r['wrong_count'])}; repeats answered from Idempotency-Key: {r['repeats']}"
        )
        if r["unexpected"]:
            print(f"[run {r['run']}] unexpected requests: {r['unexpected']}")

    def baseline(self) -> tuple[float, float]:
        """The same sends one after another, straight through the provider: (configured sum
        of latencies × calls, measured seconds)."""
        from humas.channels.providers.base import PostContent

        http_json(f"{self.network_url}/__reset", "POST")
        began = time.monotonic()
        for channel in self.channels:
            text, thread = self.baseline_content[channel.pk]
            # A different text from the broadcast's, so the network makes new statuses.
            content = PostContent(
                text=f"{text} (baseline)", thread=[PostContent(text=t) for t in thread]
            )
            channel.provider().publish(content)
        measured = time.monotonic() - began
        calls = 1 + max(len(parts) for _text, parts in self.baseline_content.values())
        return sum(self.latency_of.values()) * calls, measured

    def stop(self) -> None:
        self.load.cleanup()
        if self.network is not None and self.network.poll() is None:
            self.network.terminate()
            self.network.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="broadcasts, one after another")
    parser.add_argument("--channel-latencies", default="50,115,180,245,310,375,440,500")
    parser.add_argument("--languages", default="id,en", help="the broadcast's languages")
    parser.add_argument("--deliveries", type=int, default=10_000, help="ordinary deliveries")
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--channels-per-org", type=int, default=10)
    parser.add_argument("--threads", type=int, default=20, help="HUMAS_DELIVERY_THREADS")
    parser.add_argument("--batch", type=int, default=20, help="HUMAS_DELIVERY_BATCH")
    parser.add_argument("--latency", type=float, default=0.05, help="ordinary network, seconds")
    parser.add_argument(
        "--warm-up", type=float, default=3.0, help="seconds after due before the first broadcast"
    )
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between broadcasts")
    parser.add_argument("--deadline", type=float, default=30.0, help="seconds per broadcast")
    parser.add_argument("--min-pending", type=int, default=1000)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--serve-crisis-network", metavar="PORT_FILE", help=argparse.SUPPRESS)
    add_database_options(parser)
    args = parser.parse_args()
    if args.serve_crisis_network:
        serve_crisis_network(args.serve_crisis_network)
        return

    failed = False
    with bench_database(args) as database:
        bench = CrisisBench(args, database)
        try:
            bench.start_crisis_network()
            bench.load.start_fake_network()
            bench.load.quiet_periodic_jobs()
            bench.load.create_channels()
            bench.create_broadcaster()
            print(
                f"{args.orgs} organisations x {args.channels_per_org} Mastodon channels "
                f"({args.latency * 1000:.0f} ms a call) for the ordinary load; 8 broadcast "
                f"channels at {args.channel_latencies} ms"
            )
            for n in range(2):
                bench.load.start_worker(f"bench-crisis-{n}")
            bench.load.wait_for_workers()
            bench.start_ordinary_load()
            results = []
            for number in range(1, args.runs + 1):
                if number > 1:
                    time.sleep(args.gap)
                results.append(bench.run(number))
            left = bench.pending()
            print(f"\nordinary deliveries still pending after the last broadcast: {left:,}")
            configured, measured = bench.baseline()
            print(
                f"baseline, the same 8 sends one after another from this process: "
                f"{measured:.2f} s (sum of latencies x calls: {configured:.2f} s)"
            )
        finally:
            bench.stop()
    print()
    print(
        "| run | ordinary deliveries pending at approval | approved after due "
        "| all 8 published after | each channel, by latency | target | result "
        "| statuses made twice |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        each = " / ".join(
            f"{r['seen'][pk]:.2f}" if pk in r["seen"] else "—"
            for pk in sorted(bench.latency_of, key=bench.latency_of.__getitem__)
        )
        print(
            f"| {r['run']} | {r['pending']:,} | {r['after_due']:.1f} s | {r['total']:.2f} s "
            f"| {each} s | {r['target']:.2f} s | {'PASS' if r['passed'] else 'FAIL'} "
            f"| {r['twice']} |"
        )
        failed |= (
            not r["passed"]
            or r["twice"] > 0
            or bool(r["wrong_count"])
            or r["pending"] < args.min_pending
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
