"""Text and image details Bluesky counts differently from Python: graphemes, WebP sizes."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator


def grapheme_count(text: str) -> int:
    """User-perceived characters, as Bluesky counts its 300: close to Unicode's extended
    grapheme clusters for what people type (accents, emoji with skin tones, flags, emoji
    joined by ZWJ, keycaps), without a full UAX #29 table."""
    return sum(1 for _ in _clusters(text))


def _clusters(text: str) -> Iterator[str]:
    cluster = ""
    previous = ""
    regional_run = 0
    for char in text:
        code = ord(char)
        if cluster and _extends(char, previous):
            cluster += char
        elif cluster and previous == "\u200d" and _is_pictographic(char):
            cluster += char  # ZWJ sequence: 👨‍👩‍👧 is one
        elif cluster and previous == "\r" and char == "\n":
            cluster += char
        elif cluster and 0x1F1E6 <= code <= 0x1F1FF and regional_run % 2 == 1:
            cluster += char  # the second half of a flag
        else:
            if cluster:
                yield cluster
            cluster = char
        regional_run = regional_run + 1 if 0x1F1E6 <= code <= 0x1F1FF else 0
        previous = char
    if cluster:
        yield cluster


def _extends(char: str, previous: str) -> bool:
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or code == 0x200D  # zero-width joiner
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
        or code == 0x20E3  # keycap
    )


def _is_pictographic(char: str) -> bool:
    code = ord(char)
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x2300 <= code <= 0x23FF
        or 0x2B00 <= code <= 0x2BFF
    )


def webp_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height of a WebP image (lossy, lossless or extended), for aspectRatio."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None, None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(data[26:28], "little") & 0x3FFF,
            int.from_bytes(data[28:30], "little") & 0x3FFF,
        )
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None, None
