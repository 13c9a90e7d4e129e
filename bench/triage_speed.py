"""Triage throughput of ``classify_many`` and memory after loading the models.

    .venv/bin/python bench/triage_speed.py [COUNT] [--batch N]     (default 20000, batch 1000)

Targets: at least 2,000 messages/s in one process, models loaded in under 200 MB (peak RSS of
the whole process, Python and the libraries included). The messages are the seed set's,
varied the way real traffic varies: slang swapped, a place or an emoji added, two messages
joined, capitals, a phone number or a link now and then, and a few very long pastes.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLACES = ["di RW 03", "dekat pasar", "depan SDN 1", "jl. Kenanga", "Perum Griya Asri", "desa kami"]
TAILS = ["", "", " min", " 🙏", " 😡", "!!", " tolong dicek", " makasih", " pls", " wkwk"]
SWAPS = [("tidak", "gak"), ("sudah", "udh"), ("yang", "yg"), ("banget", "bgt"), ("belum", "blm")]


def vary(texts: list[str], count: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(count):
        text = rng.choice(texts)
        for source, target in SWAPS:
            if source in text and rng.random() < 0.5:
                text = text.replace(source, target)
        roll = rng.random()
        if roll < 0.15:
            text = f"{text} {rng.choice(PLACES)}"
        elif roll < 0.25:
            text = f"{text}. {rng.choice(texts)}"
        elif roll < 0.30:
            text = text + f" WA 08{rng.randrange(10**9, 10**10)}"
        elif roll < 0.33:
            text = text + " cek bit.ly/" + str(rng.randrange(10**6))
        elif roll < 0.3305:
            text = (text + " ") * 400  # a pasted wall of text
        if rng.random() < 0.07:
            text = text.upper()
        out.append(text + rng.choice(TAILS))
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 20_000
    batch = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else 1000
    seed_file = ROOT / "humas" / "triage" / "data" / "seed.jsonl"
    texts = [
        json.loads(line)["text"] for line in seed_file.read_text(encoding="utf-8").splitlines()
    ]
    messages = vary(texts, count, random.Random(1))  # noqa: S311
    print(f"{len(messages)} messages, {sum(map(len, messages)) / len(messages):.0f} chars average")

    before = rss_mb()
    start = time.perf_counter()
    from humas.triage import classify_many
    from humas.triage.engine import get_models

    get_models()
    classify_many(["pemanasan"])  # builds the hashers and the word lists once
    print(
        f"models loaded in {time.perf_counter() - start:.2f} s; peak RSS {rss_mb():.0f} MB "
        f"(before import {before:.0f} MB)"
    )

    start = time.perf_counter()
    flagged = 0
    for i in range(0, len(messages), batch):
        for result in classify_many(messages[i : i + batch]):
            flagged += result.needs_review
    elapsed = time.perf_counter() - start
    print(
        f"classify_many: {len(messages) / elapsed:,.0f} messages/s "
        f"({elapsed:.2f} s, batch {batch}); {flagged / len(messages):.0%} need review"
    )
    print(f"peak RSS after the run: {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
