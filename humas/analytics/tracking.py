"""The public side of tracked links: counting a click, verifying a signed conversion call.

Kept free of sessions, users and the ORM's heavier paths: the redirect runs one indexed
lookup and one counter upsert, nothing else (``tests/test_redirect.py`` counts the queries).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import time
from datetime import date
from functools import cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from humas.accounts.models import Organisation
from humas.analytics.models import CLICK_SLOTS, LinkClickDay, TrackedLink

#: Query parameter added to the destination so the landing page can name the link in its
#: pixel or server call. It carries the public code only, nothing about the visitor.
LANDING_PARAM = "hl"

#: Signed calls older or newer than this are refused (clock skew plus transit).
SIGNATURE_TOLERANCE = 300

# Link-preview fetchers and crawlers. They still get the redirect (a preview needs it) but
# their visit is not a click. Matched case-insensitively anywhere in the User-Agent.
_BOTS = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|facebot|meta-externalagent|"
    r"whatsapp|telegram|slack|discord|skypeuri|embedly|vkshare|pinterest|redditbot|"
    r"linkedin|mastodon|bluesky|cardyb|applebot|google-inspectiontool|"
    r"curl|wget|python-requests|python-httpx|go-http-client|okhttp|http\.rb",
    re.IGNORECASE,
)


def is_bot(request: HttpRequest) -> bool:
    """True for anything that is not a person opening the link in a browser."""
    if request.method != "GET":
        return True  # HEAD: link checkers and preview fetchers
    # Browsers announce speculative loads (prerender, prefetch); the person has not clicked.
    purpose = request.headers.get("Sec-Purpose", "") or request.headers.get("Purpose", "")
    if "prefetch" in purpose.lower():
        return True
    agent = request.headers.get("User-Agent", "")
    return not agent or bool(_BOTS.search(agent))


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(time_zone: str) -> date:
    return timezone.now().astimezone(_zone(time_zone)).date()


@cache
def _upsert_sql(vendor: str) -> str:
    table = connection.ops.quote_name(LinkClickDay._meta.db_table)
    # One statement, one round trip, under autocommit: the row lock lasts for the statement.
    # The same upsert on PostgreSQL and SQLite (3.24+).
    values = "VALUES (%s, %s, %s, 1)"
    if vendor == "postgresql":
        # This statement's own transaction commits without waiting for the WAL to reach the
        # disk (set_config(..., true) is local to it; every other write keeps waiting). A
        # click is a counter, not a record: a database crash may lose the last fraction of a
        # second of clicks, never corrupt them, and the redirect stops paying for an fsync
        # (0.5 ms on a quiet disk, 4 ms and more on a busy one).
        values = (
            "SELECT %s, %s, %s, 1 FROM (SELECT set_config('synchronous_commit', 'off', true))"
            " AS async_commit"
        )
    return (
        f"INSERT INTO {table} (link_id, day, slot, clicks) {values} "
        f"ON CONFLICT (link_id, day, slot) DO UPDATE SET clicks = {table}.clicks + 1"
    )


@cache
def _lookup_sql() -> str:
    quote = connection.ops.quote_name
    link, org = quote(TrackedLink._meta.db_table), quote(Organisation._meta.db_table)
    # Written out rather than built by the ORM on every redirect (a third of a millisecond):
    # the unique index on code, then the organisation by primary key.
    return (
        f"SELECT {link}.id, {link}.destination, {org}.time_zone FROM {link} "  # noqa: S608
        f"JOIN {org} ON {org}.id = {link}.organisation_id "
        f"WHERE {link}.code = %s AND {link}.is_active"
    )


def find_active(code: str) -> tuple[int, str, str] | None:
    """(link id, destination, organisation time zone) of the active link with ``code``."""
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [code])
        row = cursor.fetchone()
    return (row[0], row[1], row[2]) if row else None


def count_click(link_id: int, day: date) -> None:
    slot = random.randrange(CLICK_SLOTS)  # noqa: S311 (spreads writes; not security)
    # set_config(..., true) lasts until the end of the transaction: inside someone else's
    # atomic block it would make their whole commit asynchronous, so only under autocommit.
    fast = connection.vendor == "postgresql" and not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql("postgresql" if fast else "plain"), [link_id, day, slot])


def landing_url(destination: str, code: str) -> str:
    """``destination`` with ``hl=<code>`` added (an existing ``hl`` is replaced)."""
    parts = urlsplit(destination)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != LANDING_PARAM
    ]
    query.append((LANDING_PARAM, code))
    return urlunsplit(parts._replace(query=urlencode(query)))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a conversion call carries: hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SignatureError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def verify(secret: str, timestamp: str, signature: str, body: bytes) -> None:
    """Raise :class:`SignatureError` unless the call is signed with ``secret`` and fresh."""
    if not timestamp or not signature:
        raise SignatureError(
            "missing_signature", "X-Humas-Timestamp and X-Humas-Signature are required."
        )
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureError("bad_timestamp", "X-Humas-Timestamp is not a number.") from None
    if abs(time.time() - sent) > SIGNATURE_TOLERANCE:
        raise SignatureError(
            "stale_timestamp",
            f"The timestamp is more than {SIGNATURE_TOLERANCE} seconds from the server's clock.",
        )
    given = signature.removeprefix("sha256=").strip().lower()
    if not hmac.compare_digest(given, sign(secret, timestamp, body)):
        raise SignatureError("bad_signature", "The signature does not match the body.")


def dedupe_key(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()
