"""Publishing through humas versus the atproto SDK alone, against a local Bluesky network.

    .venv/bin/python bench/bluesky_publish.py [N]      (default N=200)

Both sides send the same N text posts (a link and a hashtag, so facets are computed) to
the same kind of fresh account, in alternating blocks so that a network slowing down as
repositories grow hits both alike. humas's side is ``actions.publish_to_channel`` as a
worker calls it: credentials decrypted, a provider and an HTTP client per post, validation,
the SDK's models, then a ChannelPost row and an audit entry in SQLite.

humas also throttles itself per channel (Bluesky allows 3,000 requests per 5 minutes from
an address: 10 a second). The dev PDS has no rate limits, so the run is made twice: with
humas's throttle as configured, and with it lifted to measure humas's own overhead.
"""

from __future__ import annotations

import sys
import time

from bluesky_common import Account, humas_channel, setup_django, start_network, stop_network

BLOCK = 50


def texts(n: int, tag: str) -> list[str]:
    return [
        f"Info layanan {tag} #{i}: jadwal posyandu minggu ini 🩺 "
        f"https://dinkes.example.go.id/posyandu/{i} #LayananPublik"
        for i in range(n)
    ]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    setup_django()
    from atproto_client.utils import facet_detection

    from humas.accounts.audit import Actor
    from humas.channels import actions
    from humas.channels.models import ChannelPost
    from humas.channels.providers.base import PostContent
    from humas.channels.providers.bluesky.provider import BlueskyProvider

    pds, started_here = start_network()
    try:
        by = Actor.system("bench")
        results: dict[str, float] = {}
        for mode in ("throttle lifted", "throttle as configured"):
            configured = BlueskyProvider.requests_per_second
            if mode == "throttle lifted":
                BlueskyProvider.requests_per_second = 1e9
            direct_account = Account(pds, "direct")
            humas_account = Account(pds, "humas")
            channel = humas_channel(pds, humas_account, f"Bench {mode}")

            def direct(text: str, account: Account = direct_account) -> None:
                account.client.send_post(
                    text,
                    profile_identify=account.did,
                    facets=facet_detection.detect_facets(text) or None,
                    langs=["id"],
                )

            def through_humas(text: str, channel: object = channel) -> None:
                actions.publish_to_channel(channel, PostContent(text=text), by=by)  # type: ignore[arg-type]

            for text in texts(3, "pemanasan"):  # warm-up: connections, imports, sessions
                direct(text)
                through_humas(text)
            direct_time = humas_time = 0.0
            todo_direct, todo_humas = texts(n, "langsung"), texts(n, "humas")
            for start in range(0, n, BLOCK):
                began = time.perf_counter()
                for text in todo_direct[start : start + BLOCK]:
                    direct(text)
                direct_time += time.perf_counter() - began
                began = time.perf_counter()
                for text in todo_humas[start : start + BLOCK]:
                    through_humas(text)
                humas_time += time.perf_counter() - began
            if ChannelPost.objects.filter(channel=channel).count() != n + 3:
                sys.exit("humas did not store one ChannelPost per post")
            BlueskyProvider.requests_per_second = configured
            results[f"{mode}: SDK alone"] = direct_time
            results[f"{mode}: through humas"] = humas_time
            print(
                f"{mode:>24}: SDK alone {direct_time:6.2f} s ({n / direct_time:5.1f} posts/s), "
                f"through humas {humas_time:6.2f} s ({n / humas_time:5.1f} posts/s), "
                f"ratio {humas_time / direct_time:.2f}×"
            )
    finally:
        if started_here:
            stop_network()


if __name__ == "__main__":
    main()
