"""Does a CAP alert concern the organisation's own area? Pure geometry and name matching.

Points are ``(lat, lon)`` in WGS 84, as CAP writes them. The areas involved (a kabupaten, a
warning polygon a few tens of kilometres wide) are small enough near the equator for plain
planar geometry on degrees to decide inside/outside and overlap; only distances (circles) are
computed in kilometres, on a local projection around the circle's centre.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from humas.crisis.cap import Alert, Area, Circle, Point

EARTH_RADIUS_KM = 6371.0

# Administrative prefixes written (or not) before a place name: "Kec. Cicalengka",
# "Kabupaten Bandung", "Kota Adm. Jakarta Pusat". Longest first so "kabupaten" wins over "kab".
_PREFIXES = (
    "kota administrasi",
    "kota adm.",
    "kota adm",
    "kabupaten",
    "kecamatan",
    "kelurahan",
    "provinsi",
    "kab.",
    "kec.",
    "kel.",
    "prov.",
    "kab",
    "kec",
    "kel",
    "kota",
    "desa",
)
_PREFIX = re.compile(
    r"(?<![\w.])(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r")(?=[\s.]|$)\.?\s*"
)
_NOT_WORD = re.compile(r"[^\w]+")


def _ring(points: Sequence[Point]) -> list[Point]:
    """The ring without its repeated last point."""
    ring = list(points)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    return ring


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Ray casting: count the edges a ray from ``point`` towards increasing longitude
    crosses; an odd count is inside."""
    lat, lon = point
    ring = _ring(polygon)
    inside = False
    for i in range(len(ring)):
        lat1, lon1 = ring[i]
        lat2, lon2 = ring[i - 1]
        if (lat1 > lat) != (lat2 > lat):
            crossing = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
            if lon < crossing:
                inside = not inside
    return inside


def _orientation(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, c: Point) -> bool:
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    d1 = _orientation(q1, q2, p1)
    d2 = _orientation(q1, q2, p2)
    d3 = _orientation(p1, p2, q1)
    d4 = _orientation(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 and d2 and d3 and d4:
        return True
    # Touching or collinear: a shared border counts as overlapping.
    return (
        (d1 == 0 and _on_segment(q1, q2, p1))
        or (d2 == 0 and _on_segment(q1, q2, p2))
        or (d3 == 0 and _on_segment(p1, p2, q1))
        or (d4 == 0 and _on_segment(p1, p2, q2))
    )


def _edges(polygon: Sequence[Point]) -> list[tuple[Point, Point]]:
    ring = _ring(polygon)
    return [(ring[i - 1], ring[i]) for i in range(len(ring))]


def polygons_overlap(a: Sequence[Point], b: Sequence[Point]) -> bool:
    """True when a vertex of one lies inside the other, or two edges cross."""
    if len(_ring(a)) < 3 or len(_ring(b)) < 3:
        return False
    if any(point_in_polygon(p, b) for p in _ring(a)) or any(
        point_in_polygon(p, a) for p in _ring(b)
    ):
        return True
    return any(segments_intersect(*ea, *eb) for ea in _edges(a) for eb in _edges(b))


def _project(point: Point, origin: Point) -> tuple[float, float]:
    """Kilometres east and north of ``origin`` (equirectangular: fine over tens of km)."""
    k = math.pi / 180 * EARTH_RADIUS_KM
    x = (point[1] - origin[1]) * k * math.cos(math.radians(origin[0]))
    y = (point[0] - origin[0]) * k
    return x, y


def _distance_to_segment_km(c: Point, a: Point, b: Point) -> float:
    ax, ay = _project(a, c)
    bx, by = _project(b, c)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    return math.hypot(ax + t * dx, ay + t * dy)


def circle_overlaps_polygon(circle: Circle, polygon: Sequence[Point]) -> bool:
    """The centre inside the polygon, or an edge closer to it than the radius."""
    if len(_ring(polygon)) < 3:
        return False
    if point_in_polygon(circle.center, polygon):
        return True
    return any(
        _distance_to_segment_km(circle.center, a, b) <= circle.radius_km for a, b in _edges(polygon)
    )


def normalise_place(name: str) -> str:
    """ "Kab. Bandung Barat" → "bandung barat": lower case, administrative prefixes and
    punctuation removed, spaces collapsed."""
    text = _PREFIX.sub(" ", name.casefold())
    return " ".join(_NOT_WORD.sub(" ", text).split())


def names_match(texts: Iterable[str], places: Iterable[str]) -> bool:
    """True when a configured place appears, as whole words, in one of ``texts`` (an
    ``areaDesc`` listing several places, a geocode value)."""
    wanted = [p for p in (normalise_place(p) for p in places) if p]
    if not wanted:
        return False
    for text in texts:
        plain = f" {normalise_place(text)} "
        if any(f" {place} " in plain for place in wanted):
            return True
    return False


def area_matches(area: Area, places: Sequence[str], polygon: Sequence[Point]) -> bool:
    texts = [area.desc, *(value for _name, value in area.geocodes)]
    if names_match(texts, places):
        return True
    if len(_ring(polygon)) < 3:
        return False
    return any(polygons_overlap(ring, polygon) for ring in area.polygons) or any(
        circle_overlaps_polygon(circle, polygon) for circle in area.circles
    )


def alert_matches(alert: Alert, places: Sequence[str], polygon: Sequence[Point]) -> bool:
    """True when any area of any info block of ``alert`` is ours."""
    return any(area_matches(a, places, polygon) for info in alert.infos for a in info.areas)
