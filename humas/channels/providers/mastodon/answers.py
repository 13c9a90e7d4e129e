"""Reading Mastodon's answers: required fields, error bodies, rate limits, pagination.

Every answer goes through :func:`check` (status code → ProviderError kind) and :func:`body`
(JSON of the expected shape); fields humas relies on are read with the helpers below, which
raise :class:`Malformed` so a renamed or missing field never escapes as KeyError/TypeError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from humas.channels.providers.base import ErrorKind, ProviderError, json_body
from humas.lib.http import parse_retry_after


def _now() -> datetime:
    return datetime.now(UTC)


class Malformed(Exception):
    """An item in a Mastodon answer lacks a field humas needs."""


def text_field(obj: Any, name: str) -> str:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise Malformed(name)
    return str(value)


def mapping_field(obj: Any, name: str) -> Mapping[str, Any]:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if not isinstance(value, Mapping):
        raise Malformed(name)
    return value


def count_field(obj: Any, name: str) -> int:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Malformed(name)
    return value


def time_field(obj: Any, name: str) -> datetime:
    value = text_field(obj, name)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def missing(what: str, field: str) -> ProviderError:
    return ProviderError(
        f"{what}: Mastodon's answer has no usable “{field}” field; the server may run a "
        "version humas does not understand yet.",
        ErrorKind.PERMANENT,
    )


def _reason(response: httpx.Response) -> str:
    """Mastodon's explanation (the Error entity), or "" for bodies that are not one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, Mapping):
        return ""
    for key in ("error_description", "error"):
        if isinstance(body.get(key), str) and body[key].strip():
            return str(body[key]).strip()[:300]
    return ""


def retry_after(response: httpx.Response) -> float:
    """Seconds until the server accepts requests again.

    Mastodon itself sends ``X-RateLimit-Reset`` (an ISO 8601 time) rather than
    ``Retry-After``; proxies in front of it may send ``Retry-After``. One minute if neither.
    """
    wait = parse_retry_after(response.headers.get("Retry-After"))
    if wait is not None:
        return max(wait, 1.0)
    reset = (response.headers.get("X-RateLimit-Reset") or "").strip()
    if reset:
        try:
            when = datetime.fromisoformat(reset.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max((when - _now()).total_seconds(), 1.0)
    return 60.0


def check(response: httpx.Response, what: str) -> None:
    """Turn an unsuccessful answer into the ProviderError that says what to do next."""
    status = response.status_code
    if status < 400:
        return
    reason = _reason(response)
    said = f" ({reason})" if reason else ""
    if status == 429:
        raise ProviderError(
            f"{what}: the server asks humas to slow down (HTTP 429){said}.",
            ErrorKind.RATE_LIMITED,
            retry_after=retry_after(response),
            status=status,
        )
    if status == 401:
        raise ProviderError(
            f"{what}: the server no longer accepts humas's access{said}. "
            "Connect the channel again.",
            ErrorKind.AUTH,
            status=status,
        )
    if status == 403:
        # "This action is not allowed" is a refusal of this one request (replying to someone
        # who blocks the account, for example); the channel itself still works. Every other
        # 403 (login disabled, unconfirmed or unapproved account, a scope the token lacks)
        # needs a person to fix the account or reconnect.
        if reason.rstrip(".").lower() == "this action is not allowed":
            raise ProviderError(
                f"{what}: the server does not allow this action{said}.",
                ErrorKind.PERMANENT,
                status=status,
            )
        raise ProviderError(
            f"{what}: the server refused this account's access{said}. Check the account on "
            "the server, then connect the channel again.",
            ErrorKind.AUTH,
            status=status,
        )
    if status == 413:
        raise ProviderError(
            f"{what}: the file is larger than this server accepts (HTTP 413). Use a smaller file.",
            ErrorKind.PERMANENT,
            status=status,
        )
    if status == 422:
        raise ProviderError(
            f"{what}: the server refused it{said or ' (HTTP 422)'}.",
            ErrorKind.PERMANENT,
            status=status,
        )
    if status >= 500 or status == 408:
        raise ProviderError(
            f"{what}: the server had a problem (HTTP {status}){said}; humas will try again.",
            ErrorKind.TRANSIENT,
            status=status,
        )
    raise ProviderError(f"{what}: HTTP {status}{said}.", ErrorKind.PERMANENT, status=status)


def body(response: httpx.Response, what: str, shape: type) -> Any:
    """The JSON answer, which must be a ``shape`` (dict or list)."""
    found = json_body(response, what)  # not JSON (an HTML error page, a cut-off body): transient
    if not isinstance(found, shape):
        raise ProviderError(
            f"{what}: the server answered with something other than the expected "
            f"{'object' if shape is dict else 'list'}; it may not be a Mastodon server.",
            ErrorKind.PERMANENT,
        )
    return found


def newer_id(response: httpx.Response, ids: Iterable[str], fallback: str) -> str:
    """The id to page forward from: the ``min_id`` of the ``rel="prev"`` link, or the newest id.

    Only the id is taken from the link, never the address, so a hostile Link header cannot
    send humas (with the token) anywhere else.
    """
    prev = response.links.get("prev", {}).get("url", "")
    if prev:
        found = parse_qs(urlsplit(prev).query).get("min_id")
        if found and found[0]:
            return found[0]
    known = [i for i in ids if i]
    if known:
        # Ids are strings of digits on Mastodon (snowflakes): longer means newer.
        return max(known, key=lambda i: (len(i), i))
    return fallback


def positive(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )
