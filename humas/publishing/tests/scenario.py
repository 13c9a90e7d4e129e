"""A worker killed mid-send, played with real processes: ``python -m humas.publishing.tests.scenario``.

The "network" is a JSON-lines file (``HUMAS_FILENET``) that outlives the processes, so a
test can count what really arrived. Steps, each its own process:

- ``setup``: an organisation, a channel on the file network and a post due now;
- ``die``: a worker claims the delivery, the network stores the post, and the process is
  killed with SIGKILL before humas can record anything;
- ``recover``: the lease has lapsed (written as such, instead of waiting for it); a second
  worker runs the same drain and prints what it found as JSON.

``HUMAS_FILENET_MODE`` says what the network can do: ``lookup`` (find a post by key, like
Bluesky with its record key), ``idempotent`` (a repeated key returns the first post, like
Mastodon's Idempotency-Key) or ``none`` (neither, like Telegram).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from humas.channels.providers.base import (
    AccountInfo,
    Capabilities,
    Limits,
    PostContent,
    Provider,
    Published,
)


def _network() -> Path:
    return Path(os.environ["HUMAS_FILENET"])


def _posts() -> list[dict[str, Any]]:
    path = _network()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class FileNetProvider(Provider):
    network = "filenet"
    label = "File network"
    limits = Limits(max_text=500)
    mode = os.environ.get("HUMAS_FILENET_MODE", "lookup")
    capabilities = Capabilities(
        idempotent_publish=mode == "idempotent", find_by_key=mode == "lookup"
    )

    def account_info(self) -> AccountInfo:
        return AccountInfo(external_id="filenet-1", handle="pemkot")

    def publish(self, content: PostContent) -> Published:
        key = str(content.options.get("idempotency_key") or "")
        if self.mode == "idempotent":
            for post in _posts():
                if post["key"] == key:
                    return Published(external_id=post["id"])
        number = len(_posts()) + 1
        with _network().open("a") as handle:
            handle.write(json.dumps({"id": f"p{number}", "key": key, "text": content.text}) + "\n")
        if os.environ.get("HUMAS_FILENET_DIE") == "after_publish":
            # The network has the post; humas has not written a thing about it yet.
            os.kill(os.getpid(), signal.SIGKILL)
        return Published(external_id=f"p{number}", url=f"https://filenet.example/p{number}")

    def find_published(self, key: str) -> Published | None:
        for post in _posts():
            if post["key"] == key:
                return Published(external_id=post["id"])
        return None


def main(step: str) -> None:
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from humas.accounts.roles import Role
    from humas.accounts.testing import make_member, make_org
    from humas.channels import providers
    from humas.publishing.delivery import deliver_due
    from humas.publishing.models import Delivery
    from humas.publishing.testing import make_channel, make_post

    providers.REGISTRY["filenet"] = f"{__name__}.FileNetProvider"
    providers.provider_class.cache_clear()
    if step == "setup":
        call_command("migrate", verbosity=0)
        org = make_org("Kota Proses")
        org.approval_steps = 0
        org.save()
        editor = make_member(org, "editor@proses.go.id", Role.EDITOR)
        channel = make_channel(org, "pemkot", network="filenet")
        make_post(org, editor, [channel], when=timezone.now())
    elif step == "die":
        deliver_due("worker-one")
        sys.exit("the network call returned without the process being killed")
    elif step == "recover":
        Delivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
        deliver_due("worker-two")
        delivery = Delivery.objects.get()
        print(
            json.dumps(
                {
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "recorded_id": delivery.channel_post.external_id
                    if delivery.channel_post
                    else None,
                    "network_posts": len(_posts()),
                    "post_status": delivery.post.status,
                }
            )
        )


if __name__ == "__main__":
    main(sys.argv[1])
