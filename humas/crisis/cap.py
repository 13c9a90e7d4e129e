"""CAP 1.2 (Common Alerting Protocol, OASIS) alerts and the feeds that list them.

Pure functions, no database. The contract:

- ``validate(data)`` returns the problems of one alert as sentences a person can act on (empty:
  a valid CAP 1.2 alert). It checks the OASIS schema (``data/CAP-v1.2-schema.xsd``) and the few
  rules of the specification a schema cannot express (closed polygons, coordinates on the
  globe, circles with a radius, identifiers without spaces or commas, references as
  ``sender,identifier,sent`` triples).
- ``parse(data)`` returns an ``Alert``; it raises ``CapError`` when the document is not XML, is
  unsafe, is not a CAP 1.2 alert, or lacks what an ``Alert`` needs. With ``strict=True`` it also
  validates, in the same pass, and raises with every problem.
- ``feed_links(data)`` reads an RSS 2.0 or Atom list of alerts (BMKG's nowcast RSS) into
  ``FeedItem``s; fetching the alerts themselves is the poller's job.

Every document goes through one parser: no DTD loaded, no entity resolved, no network, libxml2's
size limits kept. A document type declaration is refused outright before parsing, which is the
simplest defence against entity bombs and external entities (no CAP alert needs one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from django.utils.translation import gettext as _
from lxml import etree

NS = "urn:oasis:names:tc:emergency:cap:1.2"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "CAP-v1.2-schema.xsd"
# Real alerts are a few kilobytes; embedded resources (derefUri) can make them larger. Anything
# past this is refused before the parser sees it.
MAX_BYTES = 5 * 1024 * 1024
DEFAULT_LANGUAGE = "en-US"  # the schema's default for a missing <language>

_Q = f"{{{NS}}}"
_FORBIDDEN_IN_IDS = re.compile(r"[\s,<&]")
# The schema's date rule (seconds, a numeric offset, no fraction, no "Z") fails with a regular
# expression in the message; this finds those failures to explain them in words.
_DATE_FAILURE = re.compile(
    r"Element '(?P<name>sent|effective|onset|expires)': \[facet 'pattern'\] "
    r"The value '(?P<value>[^']*)'"
)


class CapError(ValueError):
    """The document cannot be read as a CAP 1.2 alert (or a feed); ``problems`` says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# --- the alert ------------------------------------------------------------------------------

Point = tuple[float, float]  # (latitude, longitude), WGS 84
Pair = tuple[str, str]  # (valueName, value)
Key = tuple[str, str, datetime]  # (sender, identifier, sent): what CAP calls a message


@dataclass(frozen=True)
class Circle:
    center: Point
    radius_km: float


@dataclass(frozen=True)
class Area:
    desc: str
    polygons: tuple[tuple[Point, ...], ...] = ()
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[Pair, ...] = ()
    altitude: float | None = None
    ceiling: float | None = None


@dataclass(frozen=True)
class Info:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    response_types: tuple[str, ...] = ()
    audience: str = ""
    event_codes: tuple[Pair, ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    contact: str = ""
    parameters: tuple[Pair, ...] = ()
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True)
class Alert:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    source: str = ""
    restriction: str = ""
    addresses: str = ""
    codes: tuple[str, ...] = ()
    note: str = ""
    references: tuple[Key, ...] = ()
    incidents: tuple[str, ...] = ()
    infos: tuple[Info, ...] = field(default=())

    @property
    def key(self) -> Key:
        """What identifies this message: the same key twice is a duplicate; an Update or a
        Cancel names the keys it replaces in ``references``."""
        return (self.sender, self.identifier, self.sent)

    @property
    def replaces(self) -> tuple[Key, ...]:
        """The earlier messages this one supersedes (Update) or withdraws (Cancel)."""
        return self.references if self.msg_type in ("Update", "Cancel") else ()

    def is_expired(self, now: datetime) -> bool:
        """True when every info block has expired. An info without ``expires`` has no end, and
        an alert without info (a bare Cancel) never expires by itself."""
        if not self.infos:
            return False
        return all(info.expires is not None and info.expires <= now for info in self.infos)

    def info_for(self, language: str = "id") -> Info | None:
        """The info block to show: the wanted language, then English, then the first one.

        Languages are RFC 3066 tags ("id", "id-ID", "en-US"): an exact match wins over a match
        on the primary subtag only."""
        if not self.infos:
            return None
        for wanted in (language, "en"):
            wanted = wanted.lower()
            for info in self.infos:
                if info.language.lower() == wanted:
                    return info
            for info in self.infos:
                if info.language.lower().split("-")[0] == wanted.split("-")[0]:
                    return info
        return self.infos[0]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates in ISO 8601 with their offset, points as [lat, lon]."""
        return {
            "identifier": self.identifier,
            "sender": self.sender,
            "sent": self.sent.isoformat(),
            "status": self.status,
            "msg_type": self.msg_type,
            "scope": self.scope,
            "source": self.source,
            "restriction": self.restriction,
            "addresses": self.addresses,
            "codes": list(self.codes),
            "note": self.note,
            "references": [
                {"sender": s, "identifier": i, "sent": sent.isoformat()}
                for s, i, sent in self.references
            ],
            "incidents": list(self.incidents),
            "infos": [_info_dict(info) for info in self.infos],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=indent)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _info_dict(info: Info) -> dict[str, Any]:
    return {
        "language": info.language,
        "categories": list(info.categories),
        "event": info.event,
        "response_types": list(info.response_types),
        "urgency": info.urgency,
        "severity": info.severity,
        "certainty": info.certainty,
        "audience": info.audience,
        "event_codes": [{"name": n, "value": v} for n, v in info.event_codes],
        "effective": _iso(info.effective),
        "onset": _iso(info.onset),
        "expires": _iso(info.expires),
        "sender_name": info.sender_name,
        "headline": info.headline,
        "description": info.description,
        "instruction": info.instruction,
        "web": info.web,
        "contact": info.contact,
        "parameters": [{"name": n, "value": v} for n, v in info.parameters],
        "areas": [
            {
                "desc": area.desc,
                "polygons": [[list(point) for point in ring] for ring in area.polygons],
                "circles": [
                    {"center": list(c.center), "radius_km": c.radius_km} for c in area.circles
                ],
                "geocodes": [{"name": n, "value": v} for n, v in area.geocodes],
                "altitude": area.altitude,
                "ceiling": area.ceiling,
            }
            for area in info.areas
        ],
    }


# --- reading XML safely ---------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    # A new parser per document: lxml parsers are not safe to share between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


def _has_doctype(data: bytes) -> bool:
    """Whether the prolog (what comes before the root element) declares a document type.

    Only the prolog is looked at, so an alert quoting "<!DOCTYPE" in a CDATA section is not
    refused."""
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    elif head.startswith(b"<\x00"):
        text = head.decode("utf-16-le", errors="replace")
    elif head.startswith(b"\x00<"):
        text = head.decode("utf-16-be", errors="replace")
    else:
        # Markup is ASCII in every encoding lxml reads besides UTF-16; latin-1 never fails.
        text = head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    pos = 0
    while True:
        while pos < len(text) and (text[pos].isspace() or text[pos] == "\ufeff"):
            pos += 1
        if text.startswith("<?", pos):
            end = text.find("?>", pos)
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos)
        else:
            return text.startswith("<!DOCTYPE", pos)
        if end < 0:
            return False  # unterminated: the parser will say so
        pos = end + 2


def _load(data: bytes) -> Any:
    """The root element of a safe, well-formed document, or ``CapError``."""
    if len(data) > MAX_BYTES:
        raise CapError(
            [_("The file is too large: more than %(limit)d bytes.") % {"limit": MAX_BYTES}]
        )
    if not data.strip():
        raise CapError([_("The file is empty.")])
    if _has_doctype(data):
        raise CapError([_doctype_refused()])
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise CapError([_("Not well-formed XML: %(error)s") % {"error": exc.msg}]) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise CapError([_doctype_refused()])  # an encoding the prolog scan did not read
    return root


def _doctype_refused() -> str:
    return _(
        "The document declares a DOCTYPE; it is refused (CAP alerts need none, and DTDs "
        "carry entity bombs and external entities)."
    )


def _load_alert(data: bytes) -> Any:
    root = _load(data)
    if not isinstance(root.tag, str) or root.tag != _Q + "alert":
        tag = root.tag if isinstance(root.tag, str) else "?"
        if tag.endswith("}alert"):
            message = _("Not a CAP 1.2 alert: the alert is in the namespace %(ns)s.") % {
                "ns": tag[1:].split("}")[0]
            }
        else:
            message = _("Not a CAP 1.2 alert: the root element is %(tag)s.") % {"tag": tag}
        raise CapError([message])
    return root


@cache
def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 schema, loaded once per process."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE), _parser()))


# --- validation -----------------------------------------------------------------------------


def validate(data: bytes) -> list[str]:
    """The problems that make ``data`` something other than a valid CAP 1.2 alert."""
    try:
        root = _load_alert(data)
    except CapError as exc:
        return exc.problems
    return _problems(root)


def _problems(root: Any) -> list[str]:
    xsd = schema()
    problems = []
    if not xsd.validate(root):
        for error in xsd.error_log:
            # libxml2 writes the namespace into every element name; people do not need it.
            message = error.message.replace(_Q, "")
            date = _DATE_FAILURE.match(message)
            if date:
                message = _(
                    "%(name)s %(value)s is not written as CAP requires: "
                    "YYYY-MM-DDThh:mm:ss+hh:mm (whole seconds, a numeric offset, no Z)."
                ) % {"name": date["name"], "value": date["value"]}
            problems.append(
                _("line %(line)d: %(message)s") % {"line": error.line, "message": message}
            )
    problems.extend(_rule_problems(root))
    return problems


def _rule_problems(root: Any) -> list[str]:
    """The specification's rules that its schema does not encode."""
    problems = []

    def at(element: Any, message: str) -> None:
        problems.append(
            _("line %(line)d: %(message)s") % {"line": element.sourceline, "message": message}
        )

    for name in ("identifier", "sender"):
        element = root.find(_Q + name)
        if element is not None and _FORBIDDEN_IN_IDS.search(element.text or ""):
            at(element, _("%(name)s must not contain spaces, commas, < or &.") % {"name": name})
    element = root.find(_Q + "references")
    if element is not None:
        try:
            _references(element.text or "")
        except ValueError as exc:
            at(element, str(exc))
    for polygon in root.iterfind(f"{_Q}info/{_Q}area/{_Q}polygon"):
        try:
            _polygon(polygon.text or "")
        except ValueError as exc:
            at(polygon, str(exc))
    for circle in root.iterfind(f"{_Q}info/{_Q}area/{_Q}circle"):
        try:
            _circle(circle.text or "")
        except ValueError as exc:
            at(circle, str(exc))
    return problems


# --- parsing --------------------------------------------------------------------------------


def parse(data: bytes, *, strict: bool = False) -> Alert:
    """The alert in ``data``; ``CapError`` when it cannot be read (or, with ``strict``, when it
    is not valid CAP 1.2: one parse serves both)."""
    root = _load_alert(data)
    if strict:
        problems = _problems(root)
        if problems:
            raise CapError(problems)
    try:
        return _alert(root)
    except ValueError as exc:
        raise CapError([str(exc)]) from exc


def _text(parent: Any, name: str) -> str:
    element = parent.find(_Q + name)
    if element is None or element.text is None:
        return ""
    return str(element.text).strip()


def _texts(parent: Any, name: str) -> tuple[str, ...]:
    return tuple((e.text or "").strip() for e in parent.iterfind(_Q + name))


def _pairs(parent: Any, name: str) -> tuple[Pair, ...]:
    return tuple((_text(e, "valueName"), _text(e, "value")) for e in parent.iterfind(_Q + name))


def _required(parent: Any, name: str) -> str:
    value = _text(parent, name)
    if not value:
        raise ValueError(_("<%(name)s> is missing or empty.") % {"name": name})
    return value


def parse_time(value: str) -> datetime:
    """A CAP date-time as an aware datetime; "-00:00" (CAP's way of saying UTC) included.

    Lenient on purpose (fractions and "Z" are read): ``validate`` is what holds publishers to
    the schema's stricter pattern."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(_("%(value)s is not a date and time.") % {"value": value}) from None
    if parsed.tzinfo is None:
        raise ValueError(_("%(value)s has no time zone offset.") % {"value": value})
    return parsed


def _time(parent: Any, name: str) -> datetime | None:
    value = _text(parent, name)
    return parse_time(value) if value else None


def _decimal(parent: Any, name: str) -> float | None:
    value = _text(parent, name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(_("%(name)s is not a number.") % {"name": name}) from None


def _point(text: str) -> Point:
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise ValueError(
            _("%(point)s is not a latitude,longitude pair.") % {"point": text}
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(_("%(point)s is not on the globe.") % {"point": text})
    return (lat, lon)


def _polygon(text: str) -> tuple[Point, ...]:
    ring = tuple(_point(pair) for pair in text.split())
    if len(ring) < 4:
        raise ValueError(_("A polygon needs at least four points (the first repeated last)."))
    if ring[0] != ring[-1]:
        raise ValueError(_("A polygon must be closed: its last point repeats the first."))
    return ring


def _circle(text: str) -> Circle:
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(_("A circle is written as latitude,longitude radius_km."))
    try:
        radius = float(parts[1])
    except ValueError:
        radius = -1.0
    if not radius >= 0:  # also catches NaN
        raise ValueError(_("%(radius)s is not a radius in kilometres.") % {"radius": parts[1]})
    return Circle(_point(parts[0]), radius)


def _references(text: str) -> tuple[Key, ...]:
    keys = []
    for item in text.split():
        parts = item.split(",")
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                _("The reference %(ref)s is not sender,identifier,sent.") % {"ref": item}
            )
        keys.append((parts[0], parts[1], parse_time(parts[2])))
    return tuple(keys)


def _alert(root: Any) -> Alert:
    references = root.find(_Q + "references")
    return Alert(
        identifier=_required(root, "identifier"),
        sender=_required(root, "sender"),
        sent=parse_time(_required(root, "sent")),
        status=_required(root, "status"),
        msg_type=_required(root, "msgType"),
        scope=_required(root, "scope"),
        source=_text(root, "source"),
        restriction=_text(root, "restriction"),
        addresses=_text(root, "addresses"),
        codes=_texts(root, "code"),
        note=_text(root, "note"),
        references=_references(references.text or "") if references is not None else (),
        incidents=tuple(_text(root, "incidents").split()),
        infos=tuple(_info(element) for element in root.iterfind(_Q + "info")),
    )


def _info(element: Any) -> Info:
    return Info(
        language=_text(element, "language") or DEFAULT_LANGUAGE,
        categories=_texts(element, "category"),
        event=_text(element, "event"),
        urgency=_text(element, "urgency"),
        severity=_text(element, "severity"),
        certainty=_text(element, "certainty"),
        response_types=_texts(element, "responseType"),
        audience=_text(element, "audience"),
        event_codes=_pairs(element, "eventCode"),
        effective=_time(element, "effective"),
        onset=_time(element, "onset"),
        expires=_time(element, "expires"),
        sender_name=_text(element, "senderName"),
        headline=_text(element, "headline"),
        description=_text(element, "description"),
        instruction=_text(element, "instruction"),
        web=_text(element, "web"),
        contact=_text(element, "contact"),
        parameters=_pairs(element, "parameter"),
        areas=tuple(_area(area) for area in element.iterfind(_Q + "area")),
    )


def _area(element: Any) -> Area:
    return Area(
        desc=_text(element, "areaDesc"),
        polygons=tuple(_polygon(text) for text in _texts(element, "polygon")),
        circles=tuple(_circle(text) for text in _texts(element, "circle")),
        geocodes=_pairs(element, "geocode"),
        altitude=_decimal(element, "altitude"),
        ceiling=_decimal(element, "ceiling"),
    )


# --- feeds ----------------------------------------------------------------------------------

_ATOM = "{http://www.w3.org/2005/Atom}"
_CAP_TYPES = ("application/cap+xml", "application/common-alerting-protocol+xml")


@dataclass(frozen=True)
class FeedItem:
    link: str
    title: str = ""
    published: datetime | None = None
    guid: str = ""  # BMKG puts the CAP identifier here


def feed_links(data: bytes, base_url: str = "") -> list[FeedItem]:
    """The alerts an RSS 2.0 or Atom feed lists, in feed order; items without a link are left
    out. Relative links are resolved against ``base_url``. ``CapError`` for anything else.

    Read with the same safe parser as alerts (feedparser is not used here: its handling of
    entities depends on which XML backend it finds)."""
    root = _load(data)
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag == "rss":
        items = [_rss_item(item) for item in root.iterfind("channel/item")]
    elif tag == _ATOM + "feed":
        items = [_atom_entry(entry) for entry in root.iterfind(_ATOM + "entry")]
    else:
        raise CapError([_("Not an RSS or Atom feed: the root element is %(tag)s.") % {"tag": tag}])
    return [
        FeedItem(urljoin(base_url, item.link), item.title, item.published, item.guid)
        for item in items
        if item.link
    ]


def _plain(parent: Any, path: str) -> str:
    element = parent.find(path)
    return (element.text or "").strip() if element is not None else ""


def _feed_time(value: str, rfc822: bool) -> datetime | None:
    """A feed date as an aware datetime, or None: a bad date must not cost us the alert."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value) if rfc822 else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    # RFC 822 "-0000" and naive ISO dates mean "UTC, origin unknown".
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _rss_item(item: Any) -> FeedItem:
    link = _plain(item, "link")
    if not link:
        enclosure = item.find("enclosure")
        if enclosure is not None:
            link = (enclosure.get("url") or "").strip()
    return FeedItem(
        link=link,
        title=_plain(item, "title"),
        published=_feed_time(_plain(item, "pubDate"), rfc822=True),
        guid=_plain(item, "guid"),
    )


def _atom_entry(entry: Any) -> FeedItem:
    links = list(entry.iterfind(_ATOM + "link"))
    # Prefer the link typed as CAP, then the alternate (Atom's default rel), then any.
    # (Elements without children are falsy in lxml, hence no "or" chain here.)
    chosen = next((lk for lk in links if lk.get("type") in _CAP_TYPES), None)
    if chosen is None:
        chosen = next((lk for lk in links if lk.get("rel", "alternate") == "alternate"), None)
    if chosen is None and links:
        chosen = links[0]
    published = _plain(entry, _ATOM + "published") or _plain(entry, _ATOM + "updated")
    return FeedItem(
        link=(chosen.get("href") or "").strip() if chosen is not None else "",
        title=_plain(entry, _ATOM + "title"),
        published=_feed_time(published, rfc822=False),
        guid=_plain(entry, _ATOM + "id"),
    )
