from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from argparse import ArgumentParser, ArgumentTypeError
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

# Long enough for gunicorn's graceful timeout (30 s) and a typical task to finish.
STOP_TIMEOUT_SECONDS = 60.0


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise ArgumentTypeError("a port is between 1 and 65535")
    return port


class Command(BaseCommand):
    help = (
        "Run the web server (gunicorn) and a worker beside it. Ctrl-C or SIGTERM stops both; "
        "if either stops on its own, the other is stopped too."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=_port, default=8000, help="port to listen on")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="run only the web server (workers run elsewhere, e.g. `humas worker`)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.signals_received = 0
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self._serve(options["host"], options["port"], with_worker=not options["no_worker"])
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals_received += 1

    def _serve(self, host: str, port: int, *, with_worker: bool) -> None:
        if not settings.DEBUG:
            # The manifest storage refuses to serve a page whose static files were not
            # collected, so a fresh install would answer 500 everywhere without this.
            call_command("collectstatic", interactive=False, verbosity=0)

        bind_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        env = os.environ.copy()
        env.setdefault("DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE)
        commands = [
            (
                "web server",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "humas.wsgi:application",
                    "--bind",
                    f"{bind_host}:{port}",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    # Every request on a connection of its own, as a reverse proxy sends them
                    # by default: with kept-alive connections the first worker to wake can
                    # take them all, and one process (one core, under Python's GIL) then
                    # serves everybody while the other idles (see docs/deploy.md).
                    "--keep-alive",
                    "0",
                    "--access-logfile",
                    "-",
                ],
            )
        ]
        if with_worker:
            commands.append(("worker", [sys.executable, "-m", "humas.cli", "worker"]))

        children: list[tuple[str, subprocess.Popen[bytes]]] = []
        died: tuple[str, int] | None = None
        try:
            for name, command in commands:
                # Children stay in our process group: a Ctrl-C in the terminal reaches them
                # too, and killing the group never leaves one behind.
                children.append((name, subprocess.Popen(command, env=env)))  # noqa: S603
            self._announce(f"http://{bind_host}:{port}/", children)
            while not self.signals_received and died is None:
                time.sleep(0.2)
                for name, proc in children:
                    code = proc.poll()
                    if code is not None:
                        died = (name, code)
                        break
        finally:
            self._stop(children)
        if died is not None:
            name, code = died
            raise CommandError(
                f"the {name} stopped unexpectedly (exit code {code}); the rest was stopped too"
            )
        self.stdout.write(_("humas stopped."))

    def _announce(self, url: str, children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        self.stdout.write(self.style.SUCCESS(_("humas is running at %(url)s") % {"url": url}))
        for name, proc in children:
            self.stdout.write(f"  {name}: pid {proc.pid}")
        if len(children) == 1:
            self.stdout.write(
                "  " + _("no worker: run `humas worker` elsewhere for background work")
            )
        self.stdout.write(_("Press Ctrl-C to stop."))
        self.stdout.flush()

    def _stop(self, children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        """SIGTERM every child, wait for them; kill on a second Ctrl-C or after the timeout."""
        for _name, proc in children:
            if proc.poll() is None:
                proc.terminate()
        signals_before = self.signals_received
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while any(proc.poll() is None for _name, proc in children):
            if self.signals_received > signals_before or time.monotonic() > deadline:
                for name, proc in children:
                    if proc.poll() is None:
                        self.stderr.write(f"the {name} did not stop in time; killing it")
                        proc.kill()
                for _name, proc in children:
                    proc.wait()
                return
            time.sleep(0.1)
