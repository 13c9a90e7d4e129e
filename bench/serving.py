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
    """gunicorn on ``humas.wsgi`` with 2 workers × 4 threads, as ``humas serve`` starts it."""
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
