"""The local Bluesky network for end-to-end tests, and helpers to act as its citizens.

``bluesky_network`` is session-wide (loaded by the root ``conftest.py``), so every e2e test
module shares one network: it starts with ``e2e/bluesky/run.sh`` (installing Node 22 and
dev-env the first time, ~3 minutes) unless ``BLUESKY_E2E_PDS`` names one already running.
Outside CI a machine that cannot install it skips the tests with the reason; in CI (``CI``
set) that is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from atproto import Client, models

from humas.accounts.testing import in_ci

REPO = Path(__file__).resolve().parents[5]
RUN_SH = REPO / "e2e" / "bluesky" / "run.sh"
BASH = shutil.which("bash") or "/bin/bash"
T = TypeVar("T")
timings: dict[str, float] = {}


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"the local Bluesky network is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def bluesky_network(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if os.environ.get("BLUESKY_E2E_PDS"):
        yield {"pds": os.environ["BLUESKY_E2E_PDS"].rstrip("/")}
        _report_timings()
        return
    if "e2e" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("end-to-end test against a local Bluesky network: run `pytest -m e2e`")
    if not RUN_SH.exists():
        _unavailable(f"{RUN_SH} is missing")
    already = subprocess.run(
        [BASH, str(RUN_SH), "status"], capture_output=True, text=True, check=False
    )
    if already.returncode == 0:
        # Someone started it (a developer iterating): use it and leave it running.
        yield json.loads(already.stdout.strip().splitlines()[-1])
        _report_timings()
        return
    started = time.monotonic()
    result = subprocess.run(
        [BASH, str(RUN_SH), "start"], capture_output=True, text=True, timeout=1200, check=False
    )
    timings["network start (incl. any install)"] = time.monotonic() - started
    if result.returncode == 3:
        lines = result.stderr.strip().splitlines()
        _unavailable(lines[-1] if lines else "run.sh could not install the network")
    if result.returncode != 0:
        pytest.fail(f"run.sh start failed:\n{result.stderr[-3000:]}")
    try:
        yield json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        started = time.monotonic()
        subprocess.run([BASH, str(RUN_SH), "stop"], capture_output=True, check=False, timeout=120)
        timings["network stop"] = time.monotonic() - started
        _report_timings()


def _report_timings() -> None:
    print("\nBluesky e2e timings (s):", json.dumps({k: round(v, 2) for k, v in timings.items()}))


def wait_for(what: str, probe: Callable[[], T | None], deadline: float = 20.0) -> T:
    """Poll until ``probe`` answers something truthy; the AppView indexes asynchronously."""
    started = time.monotonic()
    while True:
        try:
            found = probe()
        except Exception:  # the AppView answers 400/502 until it has indexed the record
            found = None
        if found:
            timings[f"wait: {what}"] = time.monotonic() - started
            return found
        if time.monotonic() - started > deadline:
            pytest.fail(f"gave up after {deadline:.0f} s waiting for {what}")
        time.sleep(0.05)


class Person:
    """A Bluesky account made for the test, driven with the SDK directly."""

    def __init__(self, pds: str, name: str, suffix: str) -> None:
        self.handle = f"{name}-{suffix}.test"
        self.password = secrets.token_urlsafe(12)
        self.client = Client(base_url=pds)
        self.client.com.atproto.server.create_account(
            models.ComAtprotoServerCreateAccount.Data(
                handle=self.handle, email=f"{name}-{suffix}@example.test", password=self.password
            )
        )
        # The AppView learns of a new account a moment later: no profile fetch at login.
        session = self.client.login(self.handle, self.password, fetch_bsky_profile=False)
        del session
        assert self.client._session is not None
        self.did = self.client._session.did

    def post(self, text: str, **kwargs: Any) -> models.AppBskyFeedPost.CreateRecordResponse:
        facets = self.client.detect_facets(text)
        return self.client.send_post(
            text, profile_identify=self.did, facets=facets or None, langs=["id"], **kwargs
        )

    def like(self, ref: models.ComAtprotoRepoStrongRef.Main) -> None:
        now = self.client.get_current_time_iso()
        self.client.app.bsky.feed.like.create(
            self.did, models.AppBskyFeedLike.Record(subject=ref, created_at=now)
        )

    def repost(self, ref: models.ComAtprotoRepoStrongRef.Main) -> None:
        now = self.client.get_current_time_iso()
        self.client.app.bsky.feed.repost.create(
            self.did, models.AppBskyFeedRepost.Record(subject=ref, created_at=now)
        )

    def follow(self, did: str) -> None:
        now = self.client.get_current_time_iso()
        self.client.app.bsky.graph.follow.create(
            self.did, models.AppBskyGraphFollow.Record(subject=did, created_at=now)
        )

    def post_view(self, uri: str) -> Any:
        posts = self.client.app.bsky.feed.get_posts(
            models.AppBskyFeedGetPosts.Params(uris=[uri])
        ).posts
        return posts[0] if posts else None
