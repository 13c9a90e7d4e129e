"""10,000 deliveries due at the same moment, two ``humas worker`` processes on PostgreSQL.

    .venv/bin/python bench/publishing_deliveries.py [--deliveries 10000] [--threads 20]

What it sets up:

- a fake Mastodon server in a subprocess (a threaded HTTP server on 127.0.0.1) that waits
  ``--latency`` (50 ms) on every call, answers ``POST /api/v1/statuses`` with a Status
  entity, and honours ``Idempotency-Key`` as Mastodon does: per account, a repeated key gets
  the status already made and no new one. Every status text carries a marker naming its
  delivery, so duplicates are counted on the network's side, not from humas's own records;
- a throwaway PostgreSQL database (``humas_bench_<random>`` on ``--postgres``), migrated,
  dropped at the end;
- ``--orgs`` organisations with ``--channels-per-org`` Mastodon channels each, and
  ``--deliveries`` deliveries: posts approved and scheduled, one variant per channel of
  their organisation, created in a shuffled order of organisations (as a real day's
  schedule would be, rather than one channel's posts one after another);
- two ``humas worker`` processes with ``HUMAS_DELIVERY_THREADS`` = ``--threads``.

Three runs, each with fresh posts: a plain one; one where a worker is killed with SIGKILL
once half of the deliveries are published and the other carries on alone; and one where the
killed worker is replaced ``--restart-after`` seconds later, as systemd's ``Restart=always``
or a container's restart policy does in a real deployment.

The periodic jobs (inbound polling, hourly metrics) are pushed an hour ahead first, as on an
installation that has been running for a while: on a fresh database they would all be due at
once and read 1,000 channels' metrics.

Planner statistics are refreshed (``ANALYZE``) once the deliveries exist, as they would be
on an installation whose schedule filled over days; straight after a bulk insert the claim
query picks a plan that takes seconds per claim.

``--profile`` runs the workers with wall-clock timers around each step of a delivery and
prints where the time went. ``--experiment`` measures a proposal without changing humas:
``no-audit`` skips the delivery's audit entry. That is not humas's behaviour; the figures in
docs/benchmarks.md say which is which.

Lateness is ``published_at - due_at`` per delivery (``published_at`` is written when the
outcome is recorded, after the network answered). The exit status is non-zero when any
delivery was not published or any delivery made more than one status on the network.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

REPO = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"\[d:([^\]]+)\]")
TARGET_SECONDS = 30.0


# --- the fake Mastodon server (runs in its own process) ---------------------------------


class FakeMastodon:
    """What the server remembers: statuses per delivery marker, and idempotency keys."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.lock = threading.Lock()
        # Status ids keep growing across resets, as a server's do: humas stores one post per
        # (channel, status id).
        self.next_id = 110_000_000_000_000_000
        self.reset()

    def reset(self) -> None:
        self.keys: dict[tuple[str, str], dict[str, Any]] = {}
        self.by_marker: dict[str, int] = {}
        self.requests = 0
        self.repeats = 0  # requests answered from the idempotency store
        self.unmarked = 0
        self.unexpected: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def create_status(self, token: str, key: str, form: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            # Mastodon: a repeated Idempotency-Key from the same account returns the status
            # it made the first time (kept an hour in Redis); nothing new is posted.
            known = self.keys.get((token, key)) if key else None
            if known is not None:
                self.repeats += 1
                return known
            self.next_id += 1
            status_id = str(self.next_id)
            text = form.get("status", "")
            found = MARKER.search(text)
            if found:
                self.by_marker[found.group(1)] = self.by_marker.get(found.group(1), 0) + 1
            else:
                self.unmarked += 1
            account = token.removeprefix("tok-")
            status = {
                "id": status_id,
                "uri": f"https://bench.test/users/a{account}/statuses/{status_id}",
                "url": f"https://bench.test/@a{account}/{status_id}",
                "created_at": datetime.now().astimezone().isoformat(),
                "content": f"<p>{text}</p>",
                "visibility": form.get("visibility", "public"),
                "sensitive": False,
                "spoiler_text": form.get("spoiler_text", ""),
                "language": form.get("language"),
                "in_reply_to_id": form.get("in_reply_to_id"),
                "in_reply_to_account_id": None,
                "reblogs_count": 0,
                "favourites_count": 0,
                "replies_count": 0,
                "media_attachments": [],
                "mentions": [],
                "tags": [],
                "emojis": [],
                "account": {
                    "id": account,
                    "username": f"a{account}",
                    "acct": f"a{account}",
                    "display_name": f"Akun {account}",
                    "url": f"https://bench.test/@a{account}",
                },
            }
            if key:
                self.keys[(token, key)] = status
            return status

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "repeats": self.repeats,
                "unmarked": self.unmarked,
                "unexpected": self.unexpected[:20],
                "max_in_flight": self.max_in_flight,
                "by_marker": self.by_marker,
            }


class JsonHandler(BaseHTTPRequestHandler):
    """What the fake networks' request handlers share: JSON answers on kept-alive
    connections, the request body, no request log."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real server behind nginx
    # TCP_NODELAY, as nginx sets by default: http.server writes a response's headers and
    # body separately, and with Nagle on, the body waits for the client's delayed ACK of
    # the headers (~40 ms per call on Linux, nearly doubling the 50 ms latency).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


def serve_fake_mastodon(port_file: str, latency: float) -> None:
    state = FakeMastodon(latency)

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.path == "/__stats":
                self._answer(200, state.stats())
                return
            self._unexpected()

        def do_POST(self) -> None:
            raw = self._body()
            if len(raw) < int(self.headers.get("Content-Length") or 0):
                # The client died mid-request (the SIGKILL run): a real server never sees a
                # whole request, so it makes nothing and remembers no key.
                self.close_connection = True
                return
            if self.path == "/__reset":
                with state.lock:
                    state.reset()
                self._answer(200, {})
                return
            if self.path != "/api/v1/statuses":
                self._unexpected()
                return
            with state.lock:
                state.requests += 1
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(state.latency)
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if not token:
                    self._answer(401, {"error": "The access token is invalid"})
                    return
                form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
                status = state.create_status(token, self.headers.get("Idempotency-Key", ""), form)
                self._answer(200, status)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _unexpected(self) -> None:
            with state.lock:
                state.unexpected.append(f"{self.command} {self.path}")
            time.sleep(state.latency)
            self._answer(404, {"error": "Record not found"})

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


# --- an instrumented worker (``--profile``) ----------------------------------------------


def run_profiled_worker(stats_file: str, worker_args: list[str], experiment: str) -> None:
    """``humas worker`` with wall-clock timers around each step of a delivery.

    The timers measure time spent inside each step, summed over all threads, waits for
    locks (database rows, the GIL) included; written to ``stats_file`` when the worker stops.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humas.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from humas.channels import actions as channel_actions
    from humas.channels.providers.mastodon.provider import MastodonProvider
    from humas.publishing import delivery

    totals: dict[str, list[float]] = {}
    lock = threading.Lock()

    def timed(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent = time.perf_counter() - began
                with lock:
                    entry = totals.setdefault(name, [0, 0.0])
                    entry[0] += 1
                    entry[1] += spent

        return wrapper

    for name in ("claim", "_start_many", "_assets", "_content", "_send", "_record", "release"):
        setattr(delivery, name, timed(name, getattr(delivery, name)))
    delivery.finish_posts_if_done = timed("finish_posts_if_done", delivery.finish_posts_if_done)
    delivery.deliver_many = timed("deliver_many (whole batch)", delivery.deliver_many)
    record: Any = channel_actions.record_many
    if experiment == "no-audit":
        # Not humas's behaviour: measures what the single audit chain costs.
        record = lambda *args, **kwargs: None  # noqa: E731
    channel_actions.record_many = timed("audit record_many (in _record)", record)
    MastodonProvider.publish = timed("provider.publish (in _send)", MastodonProvider.publish)  # type: ignore[method-assign]
    from humas.cli import main as humas_main

    try:
        humas_main(["worker", *worker_args])
    finally:
        Path(stats_file).write_text(json.dumps(totals))


# --- the benchmark ----------------------------------------------------------------------


def http_json(url: str, method: str = "GET") -> Any:
    import httpx

    response = httpx.request(method, url, timeout=30)
    response.raise_for_status()
    return response.json()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backends_of(db_name: str) -> list[int]:
    """PostgreSQL server processes serving ``db_name`` (same machine)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if db_name in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="humas-bench-deliveries-"))
        self.db_name = f"humas_bench_{secrets.token_hex(4)}"
        self.fake: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        atexit.register(self.cleanup)

    # set-up

    def start_fake_network(self) -> None:
        port_file = self.tmp / "fake.port"
        self.fake = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve-fake-mastodon",
                str(port_file),
                "--latency",
                str(self.args.latency),
            ],
            cwd=REPO,
        )
        for _ in range(100):
            if port_file.exists() and port_file.read_text():
                break
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{port_file.read_text()}"

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(f"{self.args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db_name}"')
            self.max_connections = conn.execute("SHOW max_connections").fetchone()[0]  # type: ignore[index]
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{self.args.postgres}/{self.db_name}",
            "HUMAS_DATA_DIR": str(self.tmp),  # shared secret and Fernet keys
            "HUMAS_DELIVERY_THREADS": str(self.args.threads),
            "HUMAS_DELIVERY_BATCH": str(self.args.batch),
            "DJANGO_SETTINGS_MODULE": "humas.settings",
            "HUMAS_LOG_LEVEL": "WARNING",
        }
        os.environ.update(self.env)
        sys.path.insert(0, str(REPO))
        import django
        from django.core.management import call_command

        django.setup()
        began = time.monotonic()
        call_command("migrate", verbosity=0)
        print(f"database {self.db_name} migrated in {time.monotonic() - began:.1f} s")

    def quiet_periodic_jobs(self) -> None:
        from django.utils import timezone

        from humas.ops.jobs import discover_jobs, ensure_jobs
        from humas.ops.models import PeriodicJob

        discover_jobs()
        ensure_jobs()
        PeriodicJob.objects.update(next_run_at=timezone.now() + timedelta(hours=1))

    def create_channels(self) -> None:
        from humas.accounts import actions as account_actions
        from humas.accounts.audit import Actor
        from humas.accounts.models import Organisation
        from humas.channels.models import ChannelAccount

        by = Actor.system("bench")
        self.orgs: list[Organisation] = [
            account_actions.create_organisation(name=f"Dinas Bench {i:03d}", by=by)
            for i in range(self.args.orgs)
        ]
        channels: list[ChannelAccount] = []
        for org in self.orgs:
            for _n in range(self.args.channels_per_org):
                number = len(channels)
                channel = ChannelAccount(
                    organisation=org,
                    network="mastodon",
                    external_id=str(number),
                    handle=f"@a{number}@bench.test",
                    config={
                        "instance": self.base_url,
                        "domain": "bench.test",
                        "account_id": str(number),
                    },
                )
                channel.set_credentials({"access_token": f"tok-{number}"})
                channels.append(channel)
        ChannelAccount.objects.bulk_create(channels)
        self.channels_of: dict[int, list[ChannelAccount]] = {}
        for channel in ChannelAccount.objects.filter(network="mastodon"):
            self.channels_of.setdefault(channel.organisation_id, []).append(channel)

    def create_deliveries(self, run: str) -> list[int]:
        """Posts ready to go (far in the future for now); return their ids."""
        from django.utils import timezone

        from humas.publishing.models import (
            Delivery,
            Post,
            PostStatus,
            Variant,
            new_delivery_key,
        )

        per_post = self.args.channels_per_org
        posts_wanted = self.args.deliveries // per_post
        later = timezone.now() + timedelta(days=1)
        rng = random.Random(run)  # noqa: S311 (an order of posts, not a secret)
        orgs = [self.orgs[i % len(self.orgs)] for i in range(posts_wanted)]
        rng.shuffle(orgs)
        posts = Post.objects.bulk_create(
            [
                Post(
                    organisation=org,
                    title=f"Bench {run} #{i}",
                    text="Pelayanan KTP elektronik buka Sabtu pukul 08.00.",
                    status=PostStatus.SCHEDULED,
                    version=1,
                    scheduled_at=later,
                )
                for i, org in enumerate(orgs)
            ],
            batch_size=1000,
        )
        variants = Variant.objects.bulk_create(
            [
                Variant(
                    post=post,
                    channel=channel,
                    text=(
                        f"Pelayanan KTP elektronik buka Sabtu pukul 08.00 di kantor kecamatan. "
                        f"#LayananPublik [d:{run}:{post.pk}:{channel.pk}]"
                    ),
                )
                for post in posts
                for channel in self.channels_of[post.organisation_id]
            ],
            batch_size=1000,
        )
        keys: set[str] = set()
        while len(keys) < len(variants):
            keys.add(new_delivery_key())
        Delivery.objects.bulk_create(
            [
                Delivery(
                    organisation_id=variant.post.organisation_id,
                    post=variant.post,
                    variant=variant,
                    channel=variant.channel,
                    post_version=1,
                    due_at=later,
                    key=key,
                )
                for variant, key in zip(variants, sorted(keys), strict=True)
            ],
            batch_size=1000,
        )
        return [post.pk for post in posts]

    def start_worker(self, name: str) -> None:
        log = (self.tmp / f"worker-{name}.log").open("ab")
        command = [str(REPO / ".venv" / "bin" / "humas"), "worker"]
        if self.args.profile:
            command = [
                sys.executable,
                __file__,
                "--profiled-worker",
                str(self.tmp / name),
                "--experiment",
                self.args.experiment,
            ]
        self.workers[name] = subprocess.Popen(
            [*command, "--worker-id", name],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_for_workers(self) -> None:
        from humas.ops.models import WorkerHeartbeat

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if WorkerHeartbeat.objects.filter(worker_id__in=list(self.workers)).count() == len(
                self.workers
            ):
                time.sleep(2)  # the drain threads start right after the first beat
                return
            time.sleep(0.2)
        sys.exit("the workers did not start; see " + str(self.tmp))

    # one run

    def run(
        self, run: str, kill_at_half: bool, restart_after: float | None = None
    ) -> dict[str, Any]:
        from django.db.models import Count
        from django.utils import timezone

        from humas.publishing.models import Delivery, DeliveryStatus, Post

        waiting = Delivery.objects.filter(
            status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING)
        )
        for _ in range(3000):  # what an earlier run left must not count in this one
            if not waiting.exists():
                break
            time.sleep(0.2)
        http_json(f"{self.base_url}/__reset", "POST")
        began = time.monotonic()
        post_ids = self.create_deliveries(run)
        print(
            f"[{run}] {self.args.deliveries} deliveries created in {time.monotonic() - began:.1f} s"
        )
        deliveries = Delivery.objects.filter(post_id__in=post_ids)
        total = deliveries.count()
        from django.db import connection

        with connection.cursor() as cursor:
            # Planner statistics, as an installation whose schedule filled over days has.
            # Right after a bulk insert they are missing until autovacuum's next round, and
            # the claim query then loops over every channel (seconds per claim).
            cursor.execute("ANALYZE publishing_delivery, channels_channelaccount")
        due = timezone.now() + timedelta(seconds=self.args.lead)
        deliveries.update(due_at=due)
        Post.objects.filter(pk__in=post_ids).update(scheduled_at=due)
        due_mono = time.monotonic() + self.args.lead

        killed: dict[str, Any] = {}
        restart_at: float | None = None
        published = 0
        while time.monotonic() < due_mono:
            time.sleep(0.01)
        load_before = os.getloadavg()[0]
        worker_pids = [p.pid for p in self.workers.values()]
        workers_before = sum(cpu_seconds(p) for p in worker_pids)
        postgres_before = {p: cpu_seconds(p) for p in backends_of(self.db_name)}
        network_before = cpu_seconds(self.fake.pid) if self.fake else 0.0
        while time.monotonic() - due_mono < self.args.deadline:
            published = deliveries.filter(status=DeliveryStatus.PUBLISHED).count()
            if published >= total:
                break
            if kill_at_half and not killed and published >= total // 2:
                victim = sorted(self.workers)[0]
                self.workers[victim].send_signal(signal.SIGKILL)
                self.workers[victim].wait()
                at = time.monotonic() - due_mono
                held = deliveries.filter(
                    claimed_by__startswith=f"{victim}-",
                    status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING),
                )
                killed = {
                    "worker": victim,
                    "at": at,
                    "published": published,
                    "held": held.count(),
                    "sending": held.filter(status=DeliveryStatus.SENDING).count(),
                }
                print(
                    f"[{run}] killed worker {victim} with SIGKILL at {at:.1f} s "
                    f"({published} published); it held {killed['held']} deliveries, "
                    f"{killed['sending']} of them SENDING"
                )
                worker_pids.remove(self.workers[victim].pid)
                del self.workers[victim]
                if restart_after is not None:
                    restart_at = time.monotonic() + restart_after
            if restart_at is not None and time.monotonic() >= restart_at:
                # What a supervisor does (systemd Restart=always, a container's restart
                # policy): a new process, which has to start Django before it can help.
                restart_at = None
                self.start_worker(f"bench-{run}-restarted")
                killed["restarted"] = time.monotonic() - due_mono
                print(f"[{run}] a new worker started at {killed['restarted']:.1f} s")
            time.sleep(0.2)
        pg_pids = backends_of(self.db_name)
        cpu = {
            # A worker killed halfway takes its CPU time with it; this counts the survivors'.
            "workers": sum(cpu_seconds(p) for p in worker_pids) - workers_before
            if not killed
            else float("nan"),
            "postgres": sum(cpu_seconds(p) - postgres_before.get(p, 0.0) for p in pg_pids),
            "network": (cpu_seconds(self.fake.pid) if self.fake else 0.0) - network_before,
        }
        load_after = os.getloadavg()[0]

        states = dict(deliveries.values_list("status").annotate(n=Count("pk")).order_by())
        rows = list(
            deliveries.filter(status=DeliveryStatus.PUBLISHED).values_list(
                "due_at", "published_at", "attempts"
            )
        )
        lateness = [(p - d).total_seconds() for d, p, _a in rows if p is not None]
        last = max(lateness) if lateness else float("nan")
        network = http_json(f"{self.base_url}/__stats")
        markers = {m: n for m, n in network["by_marker"].items() if m.startswith(f"{run}:")}
        result = {
            "run": run,
            "total": total,
            "published": len(rows),
            "states": states,
            "p50": percentile(lateness, 50),
            "p99": percentile(lateness, 99),
            "last": last,
            "rate": len(rows) / last if lateness and last > 0 else 0.0,
            "statuses": sum(markers.values()),
            "duplicates": sum(1 for n in markers.values() if n > 1),
            "missing": total - len(markers),
            "repeats": network["repeats"],
            "requests": network["requests"],
            "unexpected": network["unexpected"],
            "unmarked": network["unmarked"],
            "max_in_flight": network["max_in_flight"],
            "retried": sum(1 for _d, _p, a in rows if a > 1),
            # The tail, and whether it was a second attempt (a killed worker's delivery).
            "slowest": sorted(
                (((p - d).total_seconds(), a) for d, p, a in rows if p is not None), reverse=True
            )[:5],
            "killed": killed,
            "cpu": cpu,
            "load": (load_before, load_after),
        }
        self.report_run(result)
        return result

    def report_run(self, r: dict[str, Any]) -> None:
        print(f"[{r['run']}] delivery states: {r['states']}")
        print(
            f"[{r['run']}] network: {r['requests']} POST /statuses, {r['statuses']} statuses "
            f"made, {r['repeats']} repeats answered from the Idempotency-Key, "
            f"{r['duplicates']} deliveries with more than one status, {r['missing']} without any; "
            f"at most {r['max_in_flight']} requests in flight"
        )
        per = 1000 / max(r["published"], 1)
        cpu = r["cpu"]
        print(
            f"[{r['run']}] CPU per delivery: workers {cpu['workers'] * per:.1f} ms, PostgreSQL "
            f"{cpu['postgres'] * per:.1f} ms, fake network {cpu['network'] * per:.1f} ms; "
            f"load average {r['load'][0]:.1f} at due, {r['load'][1]:.1f} at the end"
        )
        slowest = ", ".join(f"{late:.1f} s ({a} attempts)" for late, a in r["slowest"])
        print(f"[{r['run']}] slowest: {slowest}")
        if r["unexpected"] or r["unmarked"]:
            print(f"[{r['run']}] unexpected requests: {r['unexpected']}, unmarked: {r['unmarked']}")

    def profile(self) -> None:
        """Stop the workers and print where their delivery threads spent their time."""
        self.stop_workers()
        totals: dict[str, list[float]] = {}
        for stats in self.tmp.glob("bench-*"):
            for name, (count, spent) in json.loads(stats.read_text()).items():
                entry = totals.setdefault(name, [0, 0.0])
                entry[0] += count
                entry[1] += spent
        # One _content per delivery sent (or looked up) in a batch.
        delivered = totals.get("_content", [1, 0.0])[0] or 1
        print("\nwall-clock time inside each step, all threads of all workers summed:")
        print(f"{'step':34} {'calls':>7} {'ms per call':>12} {'ms per delivery':>16}")
        for name, (count, spent) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
            print(
                f"{name:34} {count:7d} {1000 * spent / max(count, 1):12.1f} "
                f"{1000 * spent / delivered:16.1f}"
            )

    def stop_workers(self) -> None:
        for proc in list(self.workers.values()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in list(self.workers.values()):
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.workers.clear()

    def cleanup(self) -> None:
        self.stop_workers()
        if self.fake is not None and self.fake.poll() is None:
            self.fake.terminate()
            self.fake.wait()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 (Django may not be set up yet)
            pass
        if self.env and not self.args.keep_database:
            import psycopg

            with psycopg.connect(f"{self.args.postgres}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        if self.args.keep_logs:
            print(f"worker logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| run | published | last published after due | deliveries/s | p50 lateness "
        "| p99 lateness | duplicates on the network | not published | repeats absorbed by "
        "Idempotency-Key | within 30 s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['run']} | {r['published']:,} / {r['total']:,} | {r['last']:.1f} s "
            f"| {r['rate']:.0f} | {r['p50']:.1f} s | {r['p99']:.1f} s | {r['duplicates']} "
            f"| {r['total'] - r['published']} | {r['repeats']} "
            f"| {'yes' if r['published'] == r['total'] and r['last'] <= TARGET_SECONDS else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--channels-per-org", type=int, default=10)
    parser.add_argument("--threads", type=int, default=20, help="HUMAS_DELIVERY_THREADS")
    parser.add_argument("--batch", type=int, default=20, help="HUMAS_DELIVERY_BATCH")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per network call")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds from set-up to due")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds after due")
    parser.add_argument(
        "--runs",
        default="plain,sigkill,sigkill-restart",
        help="plain; sigkill (one worker killed halfway, not replaced); sigkill-restart (and "
        "a new one started --restart-after seconds later, as a supervisor would)",
    )
    parser.add_argument("--restart-after", type=float, default=1.0)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="time each step of a delivery inside the workers"
    )
    parser.add_argument(
        "--experiment",
        choices=["", "no-audit"],
        default="",
        help="not humas's behaviour, to measure a proposal: no-audit (implies --profile) skips "
        "the delivery's audit entry",
    )
    parser.add_argument("--serve-fake-mastodon", metavar="PORT_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--profiled-worker", metavar="STATS_FILE", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.profiled_worker:
        run_profiled_worker(args.profiled_worker, rest, args.experiment)
        return
    if args.experiment == "no-audit":
        args.profile = True
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    if args.serve_fake_mastodon:
        serve_fake_mastodon(args.serve_fake_mastodon, args.latency)
        return

    bench = Bench(args)
    bench.start_fake_network()
    bench.create_database()
    print(
        f"PostgreSQL max_connections {bench.max_connections}; 2 workers x "
        f"({args.threads} delivery threads + heartbeat + lease keeper + main loop) = "
        f"{2 * (args.threads + 3)} connections"
    )
    bench.quiet_periodic_jobs()
    bench.create_channels()
    print(
        f"{args.orgs} organisations x {args.channels_per_org} Mastodon channels on the fake "
        f"server ({args.latency * 1000:.0f} ms per call)"
    )
    results = []
    for run in args.runs.split(","):
        while len(bench.workers) < 2:
            bench.start_worker(f"bench-{run}-{len(bench.workers)}")
        bench.wait_for_workers()
        results.append(
            bench.run(
                run,
                kill_at_half=run.startswith("sigkill"),
                restart_after=args.restart_after if run == "sigkill-restart" else None,
            )
        )
    print()
    print(table(results, args))
    for r in results:
        if r["killed"]:
            k = r["killed"]
            print(
                f"\n{r['run']}: worker {k['worker']} killed at {k['at']:.1f} s after due with "
                f"{k['published']} published; it held {k['held']} deliveries "
                f"({k['sending']} SENDING); {r['retried']} deliveries needed a second attempt"
                + (
                    f"; a new worker started at {k['restarted']:.1f} s."
                    if "restarted" in k
                    else "; no new worker started."
                )
            )
    if args.profile:
        bench.profile()
    bad = [r for r in results if r["duplicates"] or r["published"] != r["total"]]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
