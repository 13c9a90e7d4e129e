"""A throwaway database, the real app server and a signed-in member's cookie, as the HTTP
benchmarks use them."""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def gunicorn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """gunicorn on ``humas.wsgi`` with 2 workers × 4 threads and no kept-alive connections,
    as ``humas serve`` starts it."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "humas.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--keep-alive",
            "0",
        ],
        env=env,
        cwd=REPO,
    )


def wait_until(ready: Callable[[], bool], what: str, tries: int = 100) -> None:
    """Ask ``ready`` every 0.3 s until it says yes (connection errors count as no)."""
    for _ in range(tries):
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer {what}")


def answers(url: str, cookie: dict[str, str], status: int = 200) -> Callable[[], bool]:
    def ready() -> bool:
        import httpx

        try:
            return httpx.get(url, cookies=cookie, timeout=60).status_code == status
        except httpx.HTTPError:
            return False

    return ready


def session_cookie(user: Any) -> dict[str, str]:
    """The cookie of a session signed in as ``user``, made with Django's own machinery."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {settings.SESSION_COOKIE_NAME: session.session_key or ""}


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    url: str
    env: dict[str, str]


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="keep the database (and print it)")
    parser.add_argument("--reuse", default="", help="a database --keep kept: no new data")


@contextmanager
def bench_database(args: argparse.Namespace) -> Iterator[BenchDatabase]:
    """A throwaway PostgreSQL database ``humas_bench_<random>`` (or ``--reuse``'s), set up
    for this process (Django configured, migrated, static files collected) and dropped at
    the end unless ``--keep`` or ``--reuse``."""
    import psycopg

    tmp = Path(tempfile.mkdtemp(prefix="humas-bench-"))
    name = args.reuse or f"humas_bench_{secrets.token_hex(4)}"
    url = f"{args.postgres}/{name}"
    if not args.reuse:
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HUMAS_DATA_DIR": str(tmp),
        "DJANGO_SETTINGS_MODULE": "humas.settings",
        "HUMAS_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    try:
        sys.path.insert(0, str(REPO))
        import django

        django.setup()
        from django.core.management import call_command

        began = time.monotonic()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        print(f"database {name} migrated in {time.monotonic() - began:.1f} s")
        yield BenchDatabase(name=name, url=url, env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep and not args.reuse:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept {name}")


def _client(
    base: str,
    cookie: dict[str, str],
    mix: list[tuple[str, str]],
    until: float,
    seed: int,
    out: list[tuple[str, float, int]],
) -> None:
    import httpx

    rng = random.Random(seed)  # noqa: S311
    with httpx.Client(base_url=base, cookies=cookie, timeout=60) as http:
        while time.monotonic() < until:
            kind, path = rng.choice(mix)
            began = time.perf_counter()
            response = http.get(path)
            out.append((kind, (time.perf_counter() - began) * 1000, response.status_code))


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def load_run(
    base: str, cookie: dict[str, str], mix: list[tuple[str, str]], clients: int, seconds: float
) -> tuple[list[tuple[str, float, int]], float]:
    """``clients`` threads, each on its own connection with ``cookie``, asking for ``(kind,
    path)`` pairs of ``mix`` in their own random order for ``seconds``; the results
    ``(kind, ms, status)`` and the elapsed time. Each kind is asked once first (warm-up)."""
    import httpx

    for _kind, path in mix:
        httpx.get(f"{base}{path}", cookies=cookie, timeout=60)
    results: list[tuple[str, float, int]] = []
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(base, cookie, mix, until, n, results))
        for n in range(clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


WRK_SCRIPT = """
paths = {%(paths)s}
wrk.headers["Cookie"] = "%(cookie)s"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) not_ok = 0 end
function request() return wrk.format(nil, paths[math.random(#paths)]) end
function response(status, headers, body) if status ~= 200 then not_ok = not_ok + 1 end end
function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("not_ok") end
  io.write(string.format(
    '{"requests": %%d, "seconds": %%.3f, "p50": %%.1f, "p95": %%.1f, "p99": %%.1f, ' ..
    '"not_ok": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, failed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def wrk_run(
    base: str, cookie: dict[str, str], mix: list[tuple[str, str]], clients: int, seconds: float
) -> dict[str, Any]:
    """The same mix under wrk (a load generator written in C, so the client takes less of the
    two cores than Python threads do): ``clients`` connections on two threads, each request
    a random path of ``mix``, after a 5-second warm-up. Overall figures only (wrk does not
    tell latency per kind): requests, seconds, p50/p95/p99 in ms, answers other than 200,
    socket errors."""
    import json
    from urllib.parse import quote

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    ((name, value),) = cookie.items()
    paths = ",".join(f'"{quote(path, safe="/?=&")}"' for _kind, path in mix)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"paths": paths, "cookie": f"{name}={value}"})
    try:
        for duration in (5, seconds):
            out = subprocess.run(
                ["wrk", "-t2", f"-c{clients}", f"-d{int(duration)}s", "-s", script.name, base],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))
    finally:
        os.unlink(script.name)


def print_table(results: list[tuple[str, float, int]], elapsed: float, clients: int) -> None:
    """Requests/s, the load average, and p50/p95/p99 per kind."""
    kinds: dict[str, list[float]] = {}
    for kind, ms, _status in results:
        kinds.setdefault(kind, []).append(ms)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\n{len(results):,} requests in {elapsed:.1f} s: {len(results) / elapsed:.1f}/s, "
        f"{clients} clients; load average after: {load}"
    )
    print(f"{'kind':<24}{'n':>6}{'p50':>9}{'p95':>9}{'p99':>9}  (ms)")
    for kind, values in sorted(kinds.items()):
        print(
            f"{kind:<24}{len(values):>6}{percentile(values, 50):>9.0f}"
            f"{percentile(values, 95):>9.0f}{percentile(values, 99):>9.0f}"
        )
    failed = [status for _kind, _ms, status in results if status != 200]
    if failed:
        print(f"{len(failed)} requests failed: {sorted(set(failed))}")
