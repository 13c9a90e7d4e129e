"""CAP 1.2 validation and parsing of 1,000 alerts: time and memory.

    .venv/bin/python bench/cap_parse.py [COUNT]     (default 1000)

The alerts are generated in memory, shaped like BMKG's nowcast alerts and varied the way real
feeds vary: one or two languages, one to three areas, polygons of 5 to 400 points (BMKG's
kecamatan outlines run to a few hundred), now and then a circle or geocodes, Updates and
Cancels that reference earlier alerts, descriptions from a line to a long paragraph. Three
passes over the same bytes:

- ``validate`` then ``parse`` (two parses per alert, what a caller doing both separately pays),
- ``parse(strict=True)`` (one parse, schema and rules included: what ``humas cap`` and the
  poller use),
- ``parse`` alone (no schema).

Memory: the peak of Python allocations during the strict pass (tracemalloc; libxml2's own
allocations are not seen by it), the size the 1,000 parsed ``Alert``s keep, and the peak RSS of
the whole process (Django, lxml and the schema included).
"""

from __future__ import annotations

import gc
import os
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ZONES = [timezone(timedelta(hours=h)) for h in (7, 8, 9)]  # WIB, WITA, WIT
PROVINCES = ["Banten", "Jawa Barat", "Jawa Tengah", "Sumatera Utara", "Bali", "Papua", "Maluku"]
EVENTS = [
    ("Hujan Lebat", "Heavy rain"),
    ("Hujan Lebat dan Petir", "Heavy rain and lightning"),
    ("Angin Kencang", "Strong wind"),
    ("Banjir", "Flood"),
]
URGENCY = ["Immediate", "Expected", "Future"]
SEVERITY = ["Minor", "Moderate", "Severe", "Extreme"]
CERTAINTY = ["Observed", "Likely", "Possible"]
SENTENCE = "Masyarakat dihimbau tetap waspada terhadap genangan dan pohon tumbang. "


def cap_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S%z")[:-2] + ":" + moment.strftime("%z")[-2:]


def polygon(rng: random.Random) -> str:
    lat, lon = rng.uniform(-9, 4), rng.uniform(95, 140)
    points = rng.choice([5, 12, 30, 80, 150, 400])
    ring = [(lat + 0.05 * rng.random(), lon + 0.05 * rng.random()) for _ in range(points - 1)]
    ring.append(ring[0])
    return " ".join(f"{a:.3f},{b:.3f}" for a, b in ring)


def area(rng: random.Random) -> str:
    parts = [f"<areaDesc>{rng.choice(PROVINCES)}</areaDesc>"]
    if rng.random() < 0.15:
        parts.append(f"<circle>{rng.uniform(-9, 4):.4f},{rng.uniform(95, 140):.4f} 10</circle>")
    else:
        parts += [f"<polygon>{polygon(rng)}</polygon>" for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.2:
        parts.append("<geocode><valueName>kemendagri</valueName><value>32.04</value></geocode>")
    return "<area>" + "".join(parts) + "</area>"


def info(rng: random.Random, language: str, event: str, sent: datetime) -> str:
    description = SENTENCE * rng.choice([1, 3, 10])
    areas = "".join(area(rng) for _ in range(rng.randint(1, 3)))
    return (
        f"<info><language>{language}</language><category>Met</category><event>{event}</event>"
        f"<urgency>{rng.choice(URGENCY)}</urgency><severity>{rng.choice(SEVERITY)}</severity>"
        f"<certainty>{rng.choice(CERTAINTY)}</certainty>"
        f"<eventCode><valueName>OET</valueName><value>OET-{rng.randrange(300)}</value></eventCode>"
        f"<effective>{cap_time(sent)}</effective>"
        f"<expires>{cap_time(sent + timedelta(hours=3))}</expires>"
        f"<senderName>Badan Meteorologi Klimatologi dan Geofisika</senderName>"
        f"<headline>{event}</headline><description>{description}</description>"
        f"<web>https://example.bmkg.go.id/infografis/{rng.randrange(10**6)}.jpg</web>"
        f"{areas}</info>"
    )


def alerts(count: int, rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    keys: list[str] = []
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for number in range(count):
        sent = (start + timedelta(minutes=7 * number)).astimezone(rng.choice(ZONES))
        identifier = f"2.49.0.1.360.0.{sent:%Y.%m.%d.%H.%M}.{number:03d}"
        sender = "cuaca.ekstrem@bmkg.go.id"
        roll = rng.random()
        msg_type = "Alert" if roll < 0.75 or not keys else ("Update" if roll < 0.92 else "Cancel")
        references = ""
        if msg_type != "Alert":
            references = f"<references>{rng.choice(keys)}</references>"
        event_id, event_en = rng.choice(EVENTS)
        infos = ""
        if msg_type != "Cancel":
            infos = info(rng, "id", event_id, sent)
            if rng.random() < 0.3:
                infos += info(rng, "en", event_en, sent)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<?xml-stylesheet type="text/xsl" href="/cap/nowcast-cap-style.xsl"?>\n'
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
            f"<identifier>{identifier}</identifier><sender>{sender}</sender>"
            f"<sent>{cap_time(sent)}</sent><status>Actual</status><msgType>{msg_type}</msgType>"
            f"<scope>Public</scope>{references}{infos}</alert>"
        )
        keys.append(f"{sender},{identifier},{cap_time(sent)}")
        out.append(body.encode())
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "humas.settings")
    import django

    django.setup()
    from humas.crisis import cap

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    data = alerts(count, random.Random(7))  # noqa: S311
    sizes = sorted(len(d) for d in data)
    print(
        f"{count} alerts, {sum(sizes) / 1024 / 1024:.1f} MB in all; size median "
        f"{sizes[len(sizes) // 2] / 1024:.1f} KB, largest {sizes[-1] / 1024:.1f} KB"
    )
    before = rss_mb()
    start = time.perf_counter()
    cap.schema()
    print(f"schema loaded in {(time.perf_counter() - start) * 1000:.0f} ms")

    problems = sum(len(cap.validate(d)) for d in data)
    if problems:
        raise SystemExit(f"{problems} problems in generated alerts: the generator is wrong")

    def both(d: bytes) -> None:
        cap.validate(d)
        cap.parse(d)

    # Each pass throws its results away, so no pass pays for the garbage of another.
    for label, work in [
        ("validate + parse", both),
        ("parse(strict=True)", lambda d: cap.parse(d, strict=True)),
        ("parse (no schema)", cap.parse),
        ("validate alone", cap.validate),
    ]:
        gc.collect()
        start = time.perf_counter()
        for d in data:
            work(d)
        took = time.perf_counter() - start
        print(f"{label:<20} {took:6.2f} s  {count / took:7.0f} alerts/s")

    print(f"peak RSS after the timed passes: {rss_mb():.0f} MB")

    gc.collect()
    tracemalloc.start()
    for d in data:
        cap.parse(d, strict=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    tracemalloc.start()
    kept = [cap.parse(d) for d in data]
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    points = sum(
        len(ring)
        for alert in kept
        for info in alert.infos
        for area in info.areas
        for ring in area.polygons
    )
    print(
        f"python peak while parsing one alert after another: {peak / 1024 / 1024:.1f} MB; "
        f"all {len(kept)} parsed alerts ({points} polygon points) kept at once: "
        f"{retained / 1024 / 1024:.1f} MB"
    )
    print(
        f"peak RSS at the end {rss_mb():.0f} MB (tracemalloc's own bookkeeping included; after "
        f"Django set-up, before the schema: {before:.0f} MB)"
    )


if __name__ == "__main__":
    main()
