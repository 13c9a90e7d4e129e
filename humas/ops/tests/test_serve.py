"""`humas serve` as a user runs it: real processes, a real port, a throwaway SQLite file."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from humas.ops.tests.processes import DEADLINE_SECONDS, HUMAS, environment, is_running


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.port = port
        self.log = data_dir / f"serve-{port}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [*HUMAS, "serve", "--port", str(port)],
                env=environment(data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def child_pids(self) -> dict[str, int]:
        """The pids `serve` announces, waiting until both are printed."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            pids = {
                m[0]: int(m[1])
                for m in re.findall(r"(web server|worker): pid (\d+)", self.output())
            }
            if len(pids) == 2:
                return pids
            assert self.proc.poll() is None, self.output()
            time.sleep(0.1)
        raise AssertionError(f"serve never announced its children:\n{self.output()}")

    def wait_healthy(self) -> dict[str, object]:
        url = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + DEADLINE_SECONDS
        last = "no answer"
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return dict(json.load(response))
            except urllib.error.HTTPError as exc:
                last = f"{exc.code} {exc.read()[:300]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise AssertionError(f"/healthz never answered 200 (last: {last}):\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def serve(installed_dir: Path) -> Iterator[Serve]:
    running = Serve(installed_dir, free_port())
    yield running
    running.stop()


def processes_serving(port: int) -> list[int]:
    """Every live process whose command line binds the port (gunicorn's forks included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"127.0.0.1:{port}" in cmdline and is_running(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_it_serves_with_a_live_worker_and_stops_everything_on_ctrl_c(serve: Serve) -> None:
    pids = serve.child_pids()

    health = serve.wait_healthy()
    assert health["status"] == "ok"
    assert f"http://127.0.0.1:{serve.port}/" in serve.output()
    # One request per connection, even for an HTTP/1.1 client that would keep it: kept-alive
    # connections can pile up on one worker process (docs/deploy.md).
    connection = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=5)
    connection.request("GET", "/healthz")
    answer = connection.getresponse()
    answer.read()
    connection.close()
    assert answer.getheader("Connection") == "close"

    serve.proc.send_signal(signal.SIGINT)
    assert serve.proc.wait(timeout=DEADLINE_SECONDS) == 0, serve.output()
    assert [name for name, pid in pids.items() if is_running(pid)] == []
    assert processes_serving(serve.port) == []


def test_it_stops_the_web_server_and_fails_when_the_worker_dies(serve: Serve) -> None:
    pids = serve.child_pids()

    os.kill(pids["worker"], signal.SIGKILL)

    assert serve.proc.wait(timeout=DEADLINE_SECONDS) != 0
    assert "the worker stopped unexpectedly" in serve.output()
    assert not is_running(pids["web server"])
    assert processes_serving(serve.port) == []
