"""The overview dashboard and the monthly PDF report with 5,000,000 metric snapshots and
1,000,000 inbound messages on PostgreSQL.

    .venv/bin/python bench/dashboard.py [--snapshots 5000000] [--messages 1000000]
                                        [--clients 8] [--seconds 30]
                                        [--postgres postgres://postgres@127.0.0.1:5432]
                                        [--keep] [--reuse humas_bench_XXXX]   (measure again)

What it sets up: a throwaway database ``humas_bench_<random>`` (dropped at the end), migrated;
the organisation of ``bench/inbox_list.py`` (8 channels, 6 units, 20 responders, the admin
the clients sign in as) with its ``--messages`` inbound messages, written the same way; then
for that organisation a year of content: 5 pillars, 12 campaigns, 16 posts a day each
published to 1–3 of its channels (about 11,700 posts on the networks), with followers per
channel per day; and twelve more organisations with 8 channels each publishing 13 posts a day,
so most of the snapshot table is other organisations' rows, as on a shared server. Every
published post gets its snapshots at the ages the collector takes them (1 h, 6 h, 24 h, 3 d,
7 d, then daily to 90 days) until ``--snapshots`` rows exist (COPY), a few
counts missing where a network does not give them (views on half the channels).

Then ``VACUUM ANALYZE``, the real app server (gunicorn, ``humas.wsgi``, 2 workers × 4
threads, as ``humas serve`` starts it) and ``--clients`` threads, each on its own connection
with the admin's session, requesting for ``--seconds`` a mix of the overview dashboard
(``/analitik/``: the default last 28 days, last month, a quarter) and the per-channel page.
Prints p50/p95/p99 per kind and overall and requests/s. Then, with the server stopped, the
monthly PDF report of last month built in this process (``bench/report_pdf.py``'s
measurement): seconds and pages.

The exit status is non-zero when the overview p95 is 300 ms or more, a request failed, or
the PDF took 10 s or more.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from inbox_list import copy_rows, fill  # noqa: E402
from serving import (  # noqa: E402
    add_database_options,
    answers,
    bench_database,
    gunicorn,
    load_run,
    percentile,
    print_table,
    session_cookie,
    wait_until,
)

TARGET_P95_MS = 300.0
TARGET_PDF_S = 10.0
PORT = 8767
#: The ages (hours) the collector takes snapshots at: humas.analytics.models.SNAPSHOT_HOURS.
AGES = (1, 6, 24, 72, 168, *range(192, 90 * 24 + 1, 24))
POSTS_PER_DAY = 16
OTHER_ORGS = 12
OTHER_POSTS_PER_DAY = 13  # each


def make_content(org: Any, channels: list[Any], rng: random.Random, now: datetime) -> list[Any]:
    """A year of posts of the measured organisation, through the ORM (with deliveries, so
    campaigns and pillars reach the published posts); returns the published posts."""
    from humas.channels.models import ChannelPost
    from humas.publishing.models import Campaign, Delivery, DeliveryStatus, Pillar, Post, Variant

    pillars = [
        Pillar.objects.create(organisation=org, name=name, target_share=share)
        for name, share in (
            ("Layanan publik", 35),
            ("Edukasi", 25),
            ("Kegiatan pimpinan", 15),
            ("Tanggap darurat", 10),
            ("Budaya", 15),
        )
    ]
    today = now.date()
    campaigns = [
        Campaign.objects.create(
            organisation=org,
            name=f"Kampanye {n}",
            slug=f"kampanye-{n}",
            starts_on=today - timedelta(days=30 * (n + 1)),
            ends_on=today - timedelta(days=30 * n - 20),
            pillar=pillars[n % len(pillars)],
        )
        for n in range(12)
    ]
    posts: list[Any] = []
    for day in range(365):
        for n in range(POSTS_PER_DAY):
            at = now - timedelta(days=day, minutes=rng.randrange(24 * 60))
            posts.append(
                Post(
                    organisation=org,
                    title=f"Pos {day}-{n}",
                    text=rng.choice(TEXTS),
                    pillar=rng.choice(pillars) if rng.random() < 0.9 else None,
                    campaign=rng.choice(campaigns) if rng.random() < 0.3 else None,
                    status="published",
                    published_at=at,
                )
            )
    Post.objects.bulk_create(posts, batch_size=2000)
    variants, published, deliveries = [], [], []
    for post in posts:
        for channel in rng.sample(channels, rng.choice((1, 1, 2, 3))):
            variants.append(Variant(post=post, channel=channel, text=post.text))
    Variant.objects.bulk_create(variants, batch_size=2000)
    for number, variant in enumerate(variants):
        post = variant.post
        published.append(
            ChannelPost(
                organisation=org,
                channel=variant.channel,
                external_id=f"m-{number}",
                text=post.text,
                published_at=post.published_at,
                deleted_at=post.published_at + timedelta(days=3) if number % 97 == 0 else None,
            )
        )
    ChannelPost.objects.bulk_create(published, batch_size=2000)
    for variant, channel_post in zip(variants, published, strict=True):
        deliveries.append(
            Delivery(
                organisation=org,
                post=variant.post,
                variant=variant,
                channel=variant.channel,
                post_version=1,
                due_at=variant.post.published_at,
                status=DeliveryStatus.PUBLISHED,
                channel_post=channel_post,
                published_at=variant.post.published_at,
            )
        )
    Delivery.objects.bulk_create(deliveries, batch_size=2000)
    return published


TEXTS = [
    "Pelayanan KTP elektronik kini buka hari Sabtu di kantor kecamatan.",
    "Apa kabar warga? Simak jadwal posyandu bulan ini.",
    "5 cara menghemat air saat kemarau panjang.",
    "Pagi itu Bu Siti datang paling awal ke balai desa…",
    "Ternyata, pajak kendaraan bisa dibayar lewat aplikasi!",
    "Waspada banjir: cek saluran air di sekitar rumah Anda.",
]


def other_organisations(rng: random.Random, now: datetime) -> list[Any]:
    from humas.accounts import actions as account_actions
    from humas.accounts.audit import Actor
    from humas.channels.models import ChannelAccount, ChannelPost

    published: list[Any] = []
    for number in range(OTHER_ORGS):
        org = account_actions.create_organisation(
            name=f"Pemda Bench {number}", by=Actor.system("bench")
        )
        channels = []
        for n in range(8):
            channel = ChannelAccount(
                organisation=org,
                network="bluesky" if n % 2 else "mastodon",
                external_id=f"o{number}-{n}",
                handle=f"@pemda{number}-{n}.bench.test",
                config={"instance": "https://bench.test"},
            )
            channel.set_credentials({"access_token": f"tok-{number}-{n}"})
            channel.save()
            channels.append(channel)
        for day in range(365):
            for n in range(OTHER_POSTS_PER_DAY):
                published.append(
                    ChannelPost(
                        organisation=org,
                        channel=rng.choice(channels),
                        external_id=f"o-{number}-{day}-{n}",
                        text=rng.choice(TEXTS),
                        published_at=now - timedelta(days=day, minutes=rng.randrange(24 * 60)),
                    )
                )
    ChannelPost.objects.bulk_create(published, batch_size=2000)
    return published


def fill_metrics(url: str, published: list[Any], limit: int, rng: random.Random, now: datetime):
    """Snapshots of every post at each age it has reached (newest posts first, until
    ``limit`` rows), and followers per channel per day; COPY with the indexes dropped."""
    import psycopg

    began = time.monotonic()
    published = sorted(published, key=lambda post: post.published_at, reverse=True)
    no_views = {post.channel_id for post in published if post.channel_id % 2}

    def snapshots() -> Any:
        written = 0
        for post in published:
            age_now = (now - post.published_at).total_seconds() / 3600
            likes = rng.randrange(5, 400)
            for age in AGES:
                if age > age_now or written >= limit:
                    break
                grown = min(1.0, 0.3 + age / 200)
                yield (
                    post.organisation_id,
                    post.pk,
                    age,
                    post.published_at + timedelta(hours=age),
                    int(likes * grown),
                    int(likes * grown / 6),
                    int(likes * grown / 10),
                    int(likes * grown / 40),
                    None if post.channel_id in no_views else int(likes * grown * 30),
                )
                written += 1

    channel_orgs = {post.channel_id: post.organisation_id for post in published}

    def followers() -> Any:
        for channel_id, org_id in channel_orgs.items():
            count = rng.randrange(2_000, 200_000)
            for day in range(400, -1, -1):
                count += rng.randrange(-20, 80)
                at = now - timedelta(days=day)
                yield (org_id, channel_id, at.date(), at, count, 100, 1000)

    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        tables = ["analytics_postsnapshot", "analytics_accountsnapshot"]
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT LIKE '%%pkey'",
            (tables,),
        ).fetchall()
        constraints = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) AND contype = 'u'",
            (tables,),
        ).fetchall()
        for table, name, _definition in constraints:
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            if name not in {c[1] for c in constraints}:
                conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        count = copy_rows(
            conn,
            "analytics_postsnapshot",
            [
                "organisation_id",
                "post_id",
                "age_hours",
                "taken_at",
                "likes",
                "reposts",
                "replies",
                "quotes",
                "views",
            ],
            snapshots(),
        )
        days = copy_rows(
            conn,
            "analytics_accountsnapshot",
            ["organisation_id", "channel_id", "day", "taken_at", "followers", "following", "posts"],
            followers(),
        )
        conn.commit()
        for table, name, definition in constraints:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in indexes:
            if name not in {c[1] for c in constraints}:
                conn.execute(definition)
        conn.commit()
    print(
        f"metrics filled in {time.monotonic() - began:.0f} s: {count:,} post snapshots of "
        f"{len(published):,} posts, {days:,} follower counts"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=5_000_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    add_database_options(parser)
    args = parser.parse_args()

    server: subprocess.Popen[bytes] | None = None
    failed_target = False
    with bench_database(args) as db:
        url, env = db.url, db.env
        try:
            from django.db import connection

            from humas.accounts import actions as account_actions
            from humas.accounts.audit import Actor
            from humas.accounts.models import Organisation, Unit, User
            from humas.accounts.roles import Role
            from humas.accounts.testing import make_member
            from humas.channels.models import ChannelAccount

            now = datetime.now(UTC)
            if args.reuse:
                admin = User.objects.get(email="admin@bench.test")
                org = Organisation.objects.get(name="Dinas Bench")
            else:
                rng = random.Random(11)  # noqa: S311 (test data)
                org = account_actions.create_organisation(
                    name="Dinas Bench", by=Actor.system("bench")
                )
                Organisation.objects.filter(pk=org.pk).update(require_2fa=False)
                for n in range(8):
                    channel = ChannelAccount(
                        organisation=org,
                        network="mastodon" if n % 2 else "bluesky",
                        external_id=str(n),
                        handle=f"@dinas{n}@bench.test",
                        config={"instance": "https://bench.test"},
                    )
                    channel.set_credentials({"access_token": f"tok-{n}"})
                    channel.save()
                units = [
                    Unit.objects.create(organisation=org, name=f"Bidang {n}", code=f"B{n}").pk
                    for n in range(6)
                ]
                users = [
                    make_member(org, f"petugas{n}@bench.test", Role.RESPONDER).pk for n in range(20)
                ]
                admin = make_member(org, "admin@bench.test", Role.ADMIN)
                channels = list(ChannelAccount.objects.filter(organisation=org))
                fill(url, org.pk, [c.pk for c in channels], units, users, args.messages)
                began = time.monotonic()
                published = make_content(org, channels, rng, now)
                published += other_organisations(rng, now)
                print(
                    f"{len(published):,} published posts made in {time.monotonic() - began:.0f} s"
                )
                fill_metrics(url, published, args.snapshots, rng, now)
                began = time.monotonic()
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE")
                print(f"VACUUM ANALYZE in {time.monotonic() - began:.0f} s")

            cookie = session_cookie(admin)
            channel_ids = list(
                ChannelAccount.objects.filter(organisation=org).values_list("pk", flat=True)
            )
            last_month = (now.date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
            quarter_end = now.date() - timedelta(days=1)
            mix = [
                ("overview 28 days", "/analitik/"),
                ("overview 28 days", "/analitik/"),
                ("overview last month", f"/analitik/?bulan={last_month}"),
                (
                    "overview 90 days",
                    f"/analitik/?dari={quarter_end - timedelta(days=89)}&sampai={quarter_end}",
                ),
                *(("channel 28 days", f"/analitik/kanal/{pk}/") for pk in channel_ids[:4]),
            ]
            connection.close()

            server = gunicorn(env, PORT)

            base = f"http://127.0.0.1:{PORT}"
            wait_until(answers(f"{base}/analitik/", cookie), "/analitik/ with 200")
            results, elapsed = load_run(base, cookie, mix, args.clients, args.seconds)
            server.terminate()
            server.wait(timeout=30)
            server = None
            print_table(results, elapsed, args.clients)
            failed = [r for r in results if r[2] != 200]
            overview = [ms for kind, ms, _s in results if kind.startswith("overview")]
            p95 = percentile(overview, 95)
            print(
                f"{'overview (all)':<24}{len(overview):>6}"
                f"{percentile(overview, 50):>9.0f}{p95:>9.0f}"
            )
            met = p95 < TARGET_P95_MS and not failed
            print(f"target overview p95 < {TARGET_P95_MS:.0f} ms: {'met' if met else 'NOT met'}")
            failed_target = not met

            from report_pdf import measure

            seconds, pages = measure(org, last_month)
            pdf_met = seconds < TARGET_PDF_S
            print(
                f"monthly PDF report {last_month}: {seconds:.1f} s, {pages} pages; target < "
                f"{TARGET_PDF_S:.0f} s: {'met' if pdf_met else 'NOT met'}"
            )
            failed_target = failed_target or not pdf_met
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    sys.exit(1 if failed_target else 0)


if __name__ == "__main__":
    main()
