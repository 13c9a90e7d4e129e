"""Ingesting 1,000 real notifications from a local Bluesky network through humas.

    .venv/bin/python bench/bluesky_ingest.py [N]      (default N=1000)

Twenty citizen accounts write N records that notify the agency (replies to its posts,
mentions, likes and reposts; each citizen's batch goes in one ``applyWrites``), the
AppView indexes them, then ``actions.poll_channel`` ingests them until it finds nothing
new. Reported: events per second, how many were stored (must be exactly N), the time the
SDK alone takes to page through the same notifications (the network's share), and peak
memory: Python allocations during ingestion (tracemalloc, measured on a second channel of
the same account so that tracing does not slow the timed run) and the process's peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc

from bluesky_common import (
    Account,
    humas_channel,
    setup_django,
    start_network,
    stop_network,
    wait_until,
)

CITIZENS = 20
AGENCY_POSTS = 10


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    per_citizen = n // CITIZENS
    setup_django()
    from atproto import models

    from humas.channels import actions
    from humas.channels.models import InboundEvent

    pds, started_here = start_network()
    try:
        agency = Account(pds, "agency")
        channel = humas_channel(pds, agency, "Bench ingest")
        traced = humas_channel(pds, agency, "Bench ingest (traced)")
        # The first polls find nothing and remember "from now on".
        if actions.poll_channel(channel) or actions.poll_channel(traced):
            sys.exit("a brand-new account already had notifications")

        posts = [
            agency.client.send_post(f"Pengumuman layanan nomor {i}", profile_identify=agency.did)
            for i in range(AGENCY_POSTS)
        ]
        refs = [models.ComAtprotoRepoStrongRef.Main(uri=p.uri, cid=p.cid) for p in posts]
        citizens = [Account(pds, f"warga{i}") for i in range(CITIZENS)]
        mention = f"@{agency.handle}"

        began = time.perf_counter()
        for c, citizen in enumerate(citizens):
            now = citizen.client.get_current_time_iso()
            writes = []
            for k in range(per_citizen):
                ref = refs[k % AGENCY_POSTS]
                slot = k % 10
                if slot < 4:  # replies
                    record: object = models.AppBskyFeedPost.Record(
                        text=f"Warga {c}: pertanyaan {k} soal layanan ini 🙏",
                        created_at=now,
                        langs=["id"],
                        reply=models.AppBskyFeedPost.ReplyRef(root=ref, parent=ref),
                    )
                    collection = "app.bsky.feed.post"
                elif slot < 7:  # mentions
                    text = f"{mention} laporan warga {c} nomor {k}: jalan berlubang 🚧"
                    record = models.AppBskyFeedPost.Record(
                        text=text,
                        created_at=now,
                        langs=["id"],
                        facets=[
                            models.AppBskyRichtextFacet.Main(
                                features=[models.AppBskyRichtextFacet.Mention(did=agency.did)],
                                index=models.AppBskyRichtextFacet.ByteSlice(
                                    byte_start=0, byte_end=len(mention.encode())
                                ),
                            )
                        ],
                    )
                    collection = "app.bsky.feed.post"
                elif slot < 9:  # likes: one per agency post per citizen
                    ref = refs[(k // 10 * 2 + slot - 7) % AGENCY_POSTS]
                    record = models.AppBskyFeedLike.Record(subject=ref, created_at=now)
                    collection = "app.bsky.feed.like"
                else:  # reposts
                    ref = refs[(k // 10) % AGENCY_POSTS]
                    record = models.AppBskyFeedRepost.Record(subject=ref, created_at=now)
                    collection = "app.bsky.feed.repost"
                writes.append(
                    models.ComAtprotoRepoApplyWrites.Create(collection=collection, value=record)
                )
            citizen.client.com.atproto.repo.apply_writes(
                models.ComAtprotoRepoApplyWrites.Data(repo=citizen.did, writes=writes)
            )
        written = time.perf_counter() - began

        def listed(reasons: list[str] | None = None) -> int:
            total, cursor = 0, None
            while True:
                page = agency.client.app.bsky.notification.list_notifications(
                    models.AppBskyNotificationListNotifications.Params(
                        limit=100, cursor=cursor, reasons=reasons
                    )
                )
                total += len(page.notifications)
                cursor = page.cursor
                if not cursor or not page.notifications:
                    return total

        began = time.perf_counter()
        wait_until(f"{n} notifications in the AppView", lambda: listed() >= n)
        indexed = time.perf_counter() - began

        began = time.perf_counter()
        listed()
        sdk_alone = time.perf_counter() - began
        # The same query humas makes (the reasons it handles), for the network's share.
        began = time.perf_counter()
        listed(["mention", "reply", "quote", "like", "repost"])
        sdk_filtered = time.perf_counter() - began

        began = time.perf_counter()
        stored = actions.poll_channel(channel)
        ingest = time.perf_counter() - began
        began = time.perf_counter()
        again = actions.poll_channel(channel)  # the next poll: nothing new, nothing twice
        confirm = time.perf_counter() - began
        in_db = InboundEvent.objects.filter(channel=channel).count()

        tracemalloc.start()
        traced_stored = actions.poll_channel(traced)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(f"wrote {n} notifying records in {written:.2f} s ({CITIZENS} applyWrites)")
        print(f"AppView indexed them within {indexed:.2f} s")
        print(
            f"SDK alone pages through them in {sdk_alone:.2f} s "
            f"({sdk_filtered:.2f} s with humas's reasons filter)"
        )
        print(
            f"humas ingested {stored} events in one poll_channel in {ingest:.2f} s: "
            f"{stored / ingest:.0f} events/s; the next poll found {again} new in "
            f"{confirm:.2f} s (stored rows: {in_db})"
        )
        print(
            f"peak Python allocations while ingesting {traced_stored} events: "
            f"{peak / 1_000_000:.1f} MB (tracemalloc); process peak RSS {rss_mb:.0f} MB"
        )
        if in_db != n or traced_stored != n or again:
            sys.exit(f"expected exactly {n} events, stored {in_db} and {traced_stored}")
    finally:
        if started_here:
            stop_network()


if __name__ == "__main__":
    main()
