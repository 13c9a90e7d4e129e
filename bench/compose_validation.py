"""Composer validation of one post across 8 channels, server side (target: under 20 ms).

    .venv/bin/python bench/compose_validation.py [ROUNDS]      (default 200)

Two figures: ``check_all`` alone (the validation), and the whole live-check request the
composer sends on every pause in typing (``POST /konten/periksa/``: session, access checks,
form, validation, the preview partial rendered), through Django's test client on a throwaway
SQLite database. The 8 channels are two of each network that publishes (Bluesky, Mastodon,
Telegram, e-mail); the post has two images with alt text, a link, a hashtag and an emoji.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time
from urllib.parse import urlencode

from bluesky_common import setup_django


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    setup_django()
    from django.core.files.base import ContentFile
    from django.http import HttpResponse
    from django.test import Client
    from django.urls import reverse

    from humas.accounts.roles import Role
    from humas.accounts.testing import make_member, make_org, sign_in
    from humas.channels.providers.bluesky.tests.images import png
    from humas.publishing.compose import Draft, check_all
    from humas.publishing.models import MediaAsset
    from humas.publishing.testing import make_channel

    org = make_org("Kota Bench")
    editor = make_member(org, "editor@bench.go.id", Role.EDITOR)
    channels = [
        make_channel(org, f"{network}-{n}", network=network)
        for network in ("bluesky", "mastodon", "telegram", "email")
        for n in (1, 2)
    ]
    assets = []
    for n in range(2):
        data = png(1200, 800)
        asset = MediaAsset(
            organisation=org,
            kind="image",
            mime_type="image/png",
            size=len(data),
            sha256=hashlib.sha256(data + bytes([n])).hexdigest(),
            width=1200,
            height=800,
            alt_text=f"Foto kegiatan posyandu {n}",
            original_name=f"foto-{n}.png",
        )
        asset.file.save(f"foto-{n}.png", ContentFile(data), save=False)
        asset.save()
        assets.append(asset)
    text = (
        "Posyandu buka Sabtu pukul 08.00 di balai RW 05 🩺 Bawa buku KIA ya! "
        "Info: https://dinkes.example.go.id/posyandu #LayananPublik"
    )
    drafts = [Draft(channel=c, text=text) for c in channels]

    def timed(call: object, n: int) -> list[float]:
        samples = []
        for _ in range(n):
            began = time.perf_counter()
            call()  # type: ignore[operator]
            samples.append((time.perf_counter() - began) * 1000)
        return samples

    timed(lambda: check_all(drafts, assets), 10)  # warm-up: imports, provider classes
    validation = timed(lambda: check_all(drafts, assets), rounds)

    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = sign_in(Client(), editor)
    form = {
        "title": "Jadwal posyandu",
        "text": text,
        "link": "https://dinkes.example.go.id/posyandu",
        "channels": [c.pk for c in channels],
        "assets": [a.pk for a in assets],
        "media_order": ",".join(str(a.pk) for a in assets),
    }
    for c in channels:
        form[f"v{c.pk}-text"] = text
        form[f"v{c.pk}-with_media"] = "on"
    url = reverse("publishing:compose_check")
    # Sent as htmx sends it: URL-encoded, with its HX-Request header.
    body = urlencode(form, doseq=True)

    def live_check() -> HttpResponse:
        return client.post(
            url, body, content_type="application/x-www-form-urlencoded", HTTP_HX_REQUEST="true"
        )

    response = live_check()
    if response.status_code != 200 or "Foto kegiatan posyandu 0" not in response.content.decode():
        sys.exit(f"the live check did not answer as expected: {response.status_code}")
    timed(live_check, 10)
    request = timed(live_check, rounds)

    def line(name: str, samples: list[float]) -> str:
        ordered = sorted(samples)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"{name:<44} median {statistics.median(samples):6.2f} ms   "
            f"p99 {p99:6.2f} ms   max {max(samples):6.2f} ms"
        )

    print(f"8 channels (2 × Bluesky, Mastodon, Telegram, e-mail), 2 images, {rounds} rounds")
    print(line("check_all (validation only)", validation))
    print(line("POST /konten/periksa/ (whole request)", request))
    worst = statistics.median(request)
    print(f"target under 20 ms server side: {'met' if worst < 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
