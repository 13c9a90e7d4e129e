"""Shared set-up for the Bluesky benchmarks: a throwaway humas database and a local network.

Not part of the test suite. The network is the one ``e2e/bluesky/run.sh`` starts (or the
one ``BLUESKY_E2E_PDS`` names); humas runs on a temporary SQLite database under
``HUMAS_DATA_DIR``, migrated from scratch.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RUN_SH = REPO / "e2e" / "bluesky" / "run.sh"
BASH = shutil.which("bash") or "/bin/bash"


def setup_django() -> Path:
    """Point humas at a fresh SQLite database in a temporary folder and migrate it."""
    data_dir = Path(tempfile.mkdtemp(prefix="humas-bench-"))
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    os.environ["HUMAS_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humas.settings")
    sys.path.insert(0, str(REPO))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return data_dir


def start_network() -> tuple[str, bool]:
    """The PDS address, and whether this run started the network (and so must stop it)."""
    if os.environ.get("BLUESKY_E2E_PDS"):
        return os.environ["BLUESKY_E2E_PDS"].rstrip("/"), False
    status = subprocess.run([BASH, str(RUN_SH), "status"], capture_output=True, text=True)
    if status.returncode == 0:
        return json.loads(status.stdout.strip().splitlines()[-1])["pds"], False
    started = subprocess.run([BASH, str(RUN_SH), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        sys.exit(f"could not start the local Bluesky network:\n{started.stderr[-2000:]}")
    return json.loads(started.stdout.strip().splitlines()[-1])["pds"], True


def stop_network() -> None:
    subprocess.run([BASH, str(RUN_SH), "stop"], capture_output=True)


class Account:
    """A fresh account on the local PDS, logged in with the SDK."""

    def __init__(self, pds: str, name: str) -> None:
        from atproto import Client, models

        suffix = secrets.token_hex(3)
        self.handle = f"{name}-{suffix}.test"
        self.password = secrets.token_urlsafe(12)
        self.client = Client(base_url=pds)
        self.client.com.atproto.server.create_account(
            models.ComAtprotoServerCreateAccount.Data(
                handle=self.handle, email=f"{name}-{suffix}@example.test", password=self.password
            )
        )
        self.client.login(self.handle, self.password, fetch_bsky_profile=False)
        if self.client._session is None:
            raise RuntimeError(f"could not log in as {self.handle}")
        self.did: str = self.client._session.did

    def app_password(self) -> str:
        from atproto import models

        return self.client.com.atproto.server.create_app_password(
            models.ComAtprotoServerCreateAppPassword.Data(name=f"humas-{secrets.token_hex(2)}")
        ).password


def humas_channel(pds: str, account: Account, org_name: str) -> Any:
    """An organisation with an admin, and ``account`` connected to it as a channel."""
    from humas.accounts.audit import Actor
    from humas.accounts.roles import Role
    from humas.accounts.testing import make_member, make_org
    from humas.channels import actions

    org = make_org(org_name)
    admin = make_member(org, f"admin-{secrets.token_hex(3)}@example.go.id", Role.ADMIN)
    return actions.connect_channel(
        org,
        "bluesky",
        {"service": pds, "handle": account.handle, "app_password": account.app_password()},
        by=Actor(user=admin),
    )


def wait_until(what: str, probe: Any, deadline: float = 120.0) -> Any:
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    sys.exit(f"gave up waiting for {what}")
