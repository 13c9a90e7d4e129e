"""Reading RSS 2.0 and Atom 1.0 feeds (a city's news site, a ministry's press releases).

A feed is a read-only channel: humas polls it and stores each new item as an inbound event,
so the monitoring desk sees local news next to citizens' messages. Nothing is published,
deleted or answered here.

Polling is cheap for both sides: the cursor keeps the feed's ``ETag`` and ``Last-Modified``
and sends them back (``If-None-Match`` / ``If-Modified-Since``), so an unchanged feed costs one
304 with no body. The cursor also keeps the ids of recent items, because many feeds ignore
conditional requests and return the whole document every time.

Server-side request forgery: the feed address is typed by a person, and humas fetches it from
inside the agency's network. Without a check, "http://10.0.0.5/admin" or the cloud metadata
address "http://169.254.169.254/" would make humas read internal services and show their
answers as feed items. So every address, including each redirect target, must resolve only to
public (globally routable) IP addresses, and the request is then sent to the address that was
checked (the host name goes in ``Host`` and TLS SNI), so a DNS answer that changes between the
check and the connection ("DNS rebinding") cannot send it elsewhere. A test or development
set-up that serves feeds from its own machine turns this off with ``DEBUG`` or
``HUMAS_ALLOW_PRIVATE_FEEDS``.
"""

from __future__ import annotations

import hashlib
import html
import io
import ipaddress
import json
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser
import httpx
from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext_lazy as _

from humas.channels.providers.base import (
    AccountInfo,
    Capabilities,
    Connection,
    ErrorKind,
    EventKind,
    InboundEvent,
    Limits,
    PostContent,
    Provider,
    ProviderError,
    Published,
    failure_to_error,
    raise_for_response,
)
from humas.lib.env import env_bool
from humas.lib.http import MAX_RESPONSE_BYTES, HttpFailure, ResponseTooLarge

SCHEMES = ("http", "https")
MAX_REDIRECTS = 3
REDIRECT_STATUS = {301, 302, 303, 307, 308}
PERMANENT_REDIRECTS = {301, 308}
# Ids remembered between polls; a feed longer than this is read only up to it (feeds list
# their newest items first).
MAX_SEEN = 500
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BREAKS = re.compile(r"<br\s*/?>|</p\s*>|</div\s*>|</li\s*>", re.IGNORECASE)


def private_feeds_allowed() -> bool:
    """True when feeds on private or loopback addresses may be read (tests, development)."""
    if settings.DEBUG:
        return True
    flag = getattr(settings, "HUMAS_ALLOW_PRIVATE_FEEDS", None)
    if flag is not None:
        return bool(flag)
    return env_bool("HUMAS_ALLOW_PRIVATE_FEEDS", False)


def normalise_url(url: str) -> str:
    """The address in one spelling: lower-case scheme and host, no default port, no fragment.

    Used as the channel's external id, so "HTTPS://Berita.go.id:443/rss" and
    "https://berita.go.id/rss" are the same channel.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if port and port != {"http": 80, "https": 443}.get(scheme):
        netloc = f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _check_scheme(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise ProviderError(f"“{url}” is not a valid web address.", ErrorKind.PERMANENT) from exc
    if parsed.scheme not in SCHEMES or not parsed.host:
        raise ProviderError(
            f"“{url}” is not an http or https address; only web feeds can be read.",
            ErrorKind.PERMANENT,
        )
    if parsed.userinfo:
        raise ProviderError(
            "Feed addresses with a user name or password are not supported.", ErrorKind.PERMANENT
        )
    return parsed


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    # "::ffff:10.0.0.1" reaches 10.0.0.1; judge the IPv4 address it carries.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """IP addresses of ``host`` (the system resolver). Tests replace this."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class _Target:
    """Where to send one request: the URL to connect to and what makes it reach the host."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


def checked_target(url: str) -> _Target:
    """Refuse non-web and non-public addresses; pin the request to the checked IP address."""
    parsed = _check_scheme(url)
    if private_feeds_allowed():
        return _Target(url=url, headers={}, extensions={})
    # The ASCII (IDNA) form: what DNS, the Host header and SNI all need.
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        is_literal = False
    else:
        is_literal = True
    if is_literal:
        addresses = [host]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise ProviderError(
                f"The feed's server “{host}” could not be found ({exc}).", ErrorKind.TRANSIENT
            ) from exc
    if not addresses or not all(_is_public(a) for a in addresses):
        raise ProviderError(
            f"“{host}” is a private or local network address; humas only reads feeds "
            "published on the public internet.",
            ErrorKind.PERMANENT,
        )
    if is_literal:
        return _Target(url=url, headers={}, extensions={})
    pinned = str(parsed.copy_with(host=addresses[0].split("%", 1)[0]))
    host_header = host if parsed.port is None else f"{host}:{parsed.port}"
    extensions: dict[str, Any] = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return _Target(url=pinned, headers={"Host": host_header}, extensions=extensions)


def _plain(value: str, content_type: str = "text/html") -> str:
    """Text an editor can read: tags removed, entities decoded, whitespace tidied."""
    if content_type != "text/plain":
        # Line breaks and paragraph ends become new lines before the tags go.
        value = html.unescape(strip_tags(_BREAKS.sub("\n", value)))
    lines = [_SPACES.sub(" ", line).strip() for line in value.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _web_link(value: Any) -> str:
    """``value`` if it is an http(s) address; never a ``javascript:`` link into the inbox.

    An address longer than the 1,000 characters humas stores is dropped rather than cut
    into a link that leads nowhere.
    """
    if not isinstance(value, str) or len(value.strip()) > 1000:
        return ""
    if urlsplit(value.strip()).scheme.lower() in SCHEMES:
        return value.strip()
    return ""


def _moment(parsed: Any) -> datetime | None:
    # feedparser gives every date it understood as a UTC time.struct_time.
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _language(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        return ""
    return value.strip().replace("_", "-").split("-", 1)[0].lower()[:20]


def entry_id(entry: Mapping[str, Any]) -> str:
    """The item's stable id: its guid/id, else its link, else a hash of title and date."""
    for key in ("id", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            # Stored ids are at most 500 characters; a longer one is hashed, not cut, so two
            # long ids with the same beginning stay different.
            if len(value) > 500:
                return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
            return value
    basis = f"{entry.get('title', '')}\n{entry.get('published', entry.get('updated', ''))}"
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


@dataclass
class Cursor:
    """What the next poll needs: the feed's validators and the ids already reported."""

    etag: str = ""
    modified: str = ""
    seen: tuple[str, ...] = ()

    @classmethod
    def load(cls, raw: str) -> Cursor:
        # An unreadable cursor starts over; store_events drops the items already stored.
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        etag, modified, seen = data.get("etag"), data.get("modified"), data.get("seen")
        return cls(
            etag=etag if isinstance(etag, str) else "",
            modified=modified if isinstance(modified, str) else "",
            seen=tuple(s for s in seen if isinstance(s, str)) if isinstance(seen, list) else (),
        )

    def dump(self) -> str:
        return json.dumps(
            {"etag": self.etag, "modified": self.modified, "seen": list(self.seen)},
            ensure_ascii=False,
            separators=(",", ":"),
        )


class RssConnectForm(forms.Form):
    url = forms.URLField(
        label=_("Feed address"),
        max_length=1000,
        assume_scheme="https",
        help_text=_("The address of the RSS or Atom feed, starting with https:// or http://."),
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=255,
        required=False,
        help_text=_("Shown in humas instead of the feed's own title (optional)."),
    )

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        parts = urlsplit(url)
        if parts.scheme.lower() not in SCHEMES:
            raise forms.ValidationError(_("Only http and https addresses can be read."))
        try:
            parts.port  # noqa: B018 (raises for a port outside 0-65535)
        except ValueError as exc:
            raise forms.ValidationError(
                self.fields["url"].error_messages["invalid"], code="invalid"
            ) from exc
        return normalise_url(url)


@dataclass(frozen=True)
class _Fetched:
    response: httpx.Response
    url: str
    moved_permanently: bool


class RssProvider(Provider):
    network = "rss"
    label = "RSS/Atom feed"
    capabilities = Capabilities(
        publish=False,
        delete=False,
        reply=False,
        threads=False,
        direct_messages=False,
        post_metrics=False,
        account_metrics=False,
        polling=True,
        webhooks=False,
        link_cards=False,
    )
    # Nothing can be published to a feed.
    limits = Limits(max_text=0)
    connect_form: ClassVar[type[forms.Form] | None] = RssConnectForm
    # One request a poll; a feed server deserves gentleness.
    requests_per_second = 1.0

    # --- connecting -----------------------------------------------------------------

    @classmethod
    def connect(
        cls, data: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None
    ) -> Connection:
        url = data.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ProviderError("Enter the address of the feed.", ErrorKind.PERMANENT)
        _check_scheme(url.strip())
        url = normalise_url(url)
        provider = cls(credentials={}, config={"url": url}, transport=transport)
        fetched = provider._fetch(url, {})
        parsed = provider._parse(fetched)
        # A feed that moved for good (301/308 all the way) is stored at its new address.
        if fetched.moved_permanently and fetched.url != url:
            url = normalise_url(fetched.url)
        name = str(data.get("name") or "").strip()
        return Connection(
            account=AccountInfo(
                external_id=url,
                handle=url,
                display_name=name or _feed_title(parsed, url),
            ),
            credentials={},
            config={
                "url": url,
                "name": name,
                "etag": fetched.response.headers.get("ETag", ""),
                "last_modified": fetched.response.headers.get("Last-Modified", ""),
            },
        )

    def account_info(self) -> AccountInfo:
        url = self._url()
        parsed = self._parse(self._fetch(url, {}))
        return AccountInfo(
            external_id=url,
            handle=url,
            display_name=self.config.get("name") or _feed_title(parsed, url),
        )

    # --- a feed is read-only ---------------------------------------------------------

    def publish(self, content: PostContent) -> Published:
        raise ProviderError("A feed can only be read; humas cannot publish to it.", "permanent")

    def delete(self, external_id: str) -> None:
        raise ProviderError("A feed can only be read; humas cannot delete from it.", "permanent")

    def reply(self, event: InboundEvent, content: PostContent) -> Published:
        raise ProviderError("Feed items cannot be answered through humas.", "permanent")

    # --- hearing --------------------------------------------------------------------

    def fetch_inbound(self, cursor: str) -> tuple[list[InboundEvent], str]:
        url = self._url()
        state = Cursor.load(cursor)
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.modified:
            headers["If-Modified-Since"] = state.modified
        fetched = self._fetch(url, headers)
        if fetched.response.status_code == 304:
            return [], cursor
        parsed = self._parse(fetched)

        feed = parsed.get("feed", {})
        feed_title = _feed_title(parsed, url)
        site = _web_link(feed.get("link")) or url
        feed_language = _language(feed.get("language"))
        feed_author = (feed.get("author_detail") or {}).get("name") or feed.get("author")
        seen = set(state.seen)
        current: dict[str, None] = {}  # ordered set: the document's ids, in its order
        events: list[InboundEvent] = []
        for entry in parsed.get("entries", [])[:MAX_SEEN]:
            if not _usable(entry):
                continue
            key = entry_id(entry)
            if key in current:
                # The same guid twice in one document: the first one counts.
                continue
            current[key] = None
            if key not in seen:
                events.append(
                    self._event(entry, key, url, site, feed_title, feed_language, feed_author)
                )
        # The items in the document now, then older ones still remembered, newest first.
        remembered = list(current) + [s for s in state.seen if s not in current]
        next_cursor = Cursor(
            etag=fetched.response.headers.get("ETag", ""),
            modified=fetched.response.headers.get("Last-Modified", ""),
            seen=tuple(remembered[:MAX_SEEN]),
        )
        # Oldest first, the order in which they happened.
        events.sort(key=lambda e: e.created_at)
        return events, next_cursor.dump()

    def _event(
        self,
        entry: Mapping[str, Any],
        key: str,
        feed_url: str,
        site: str,
        feed_title: str,
        feed_language: str,
        feed_author: Any,
    ) -> InboundEvent:
        title_detail = entry.get("title_detail") or {}
        title = _plain(str(entry.get("title") or ""), title_detail.get("type", "text/plain"))
        body, body_type, body_language = "", "text/html", ""
        contents = entry.get("content") or []
        if entry.get("summary"):
            detail = entry.get("summary_detail") or {}
            body, body_type = str(entry["summary"]), detail.get("type", "text/html")
            body_language = detail.get("language") or ""
        elif contents:
            body, body_type = str(contents[0].get("value", "")), contents[0].get("type", "")
            body_language = contents[0].get("language") or ""
        summary = _plain(body, body_type)
        text = title if not summary or summary == title else f"{title}\n\n{summary}".strip()
        created = _moment(entry.get("published_parsed")) or _moment(entry.get("updated_parsed"))
        # An Atom entry without an author has its feed's (RFC 4287, 4.2.1).
        detail = entry.get("author_detail") or {}
        author = str(detail.get("name") or entry.get("author") or feed_author or "").strip()
        media = [
            {"url": link["href"], "type": link.get("type", ""), "length": link.get("length", "")}
            for link in entry.get("enclosures", [])
            if _web_link(link.get("href"))
        ]
        return InboundEvent(
            kind=EventKind.ARTICLE,
            external_id=key,
            created_at=created or timezone.now(),
            author_id=feed_url,
            author_handle=urlsplit(site).hostname or feed_url,
            author_name=author or feed_title,
            text=text,
            permalink=_web_link(entry.get("link")),
            language=_language(body_language)
            or _language(title_detail.get("language"))
            or feed_language,
            media=media,
            raw={
                # Until humas has an "article" event kind, this tells news items apart from
                # people mentioning the agency.
                "feed_item": True,
                "feed": feed_url,
                "feed_title": feed_title,
                "title": title,
                "tags": [t["term"] for t in entry.get("tags", []) if t.get("term")],
            },
        )

    # --- HTTP and parsing -----------------------------------------------------------

    def _url(self) -> str:
        url = self.config.get("url")
        if not isinstance(url, str) or not url:
            raise ProviderError(
                "This channel has no feed address; connect the feed again.", ErrorKind.PERMANENT
            )
        return url

    def _fetch(self, url: str, conditional: dict[str, str]) -> _Fetched:
        """GET ``url``, following at most MAX_REDIRECTS redirects, checking every address."""
        what = "Reading the feed"
        current = url
        moved_permanently = True
        with self.http(headers={"Accept": ACCEPT}) as client:
            for hop in range(MAX_REDIRECTS + 1):
                target = checked_target(current)
                try:
                    response = client.get(
                        target.url,
                        headers={**conditional, **target.headers},
                        extensions=target.extensions,
                    )
                except ResponseTooLarge as exc:
                    raise ProviderError(
                        f"The feed is too large (more than {MAX_RESPONSE_BYTES // 1_000_000} MB)"
                        "; humas reads feeds up to that size.",
                        ErrorKind.PERMANENT,
                    ) from exc
                except HttpFailure as exc:
                    raise failure_to_error(exc, what) from exc
                if response.status_code not in REDIRECT_STATUS:
                    if response.status_code != 304:
                        raise_for_response(response, what)
                    return _Fetched(response, current, moved_permanently and hop > 0)
                location = response.headers.get("Location", "").strip()
                if not location:
                    raise ProviderError(
                        f"{what}: HTTP {response.status_code} without a new address.",
                        ErrorKind.PERMANENT,
                        status=response.status_code,
                    )
                moved_permanently = moved_permanently and (
                    response.status_code in PERMANENT_REDIRECTS
                )
                current = urljoin(current, location)
        raise ProviderError(
            f"{what}: the address redirected more than {MAX_REDIRECTS} times.",
            ErrorKind.PERMANENT,
        )

    def _parse(self, fetched: _Fetched) -> Any:
        response = fetched.response
        headers = {k.lower(): v for k, v in response.headers.items()}
        # Relative links in the feed are relative to where it was finally found.
        headers.setdefault("content-location", fetched.url)
        # A file-like object, never bytes: feedparser treats bytes that look like a file
        # name as a local path to open.
        parsed = feedparser.parse(io.BytesIO(response.content), response_headers=headers)
        if not any(_usable(entry) for entry in parsed.get("entries", [])):
            # After a syntax error feedparser's lenient parser may still produce empty
            # entries; with nothing usable in them the document is as good as unreadable.
            problem = parsed.get("bozo_exception")
            # feedparser also flags harmless things (a missing or odd Content-Type, a
            # corrected encoding); only a document it could not parse is unreadable.
            if parsed.get("bozo") and not isinstance(
                problem, feedparser.ThingsNobodyCaresAboutButMe
            ):
                reason = problem or "unknown problem"
                raise ProviderError(f"The feed could not be read: {reason}.", ErrorKind.PERMANENT)
            if not parsed.get("version"):
                raise ProviderError(
                    "This address does not look like an RSS or Atom feed.", ErrorKind.PERMANENT
                )
        return parsed


def _usable(entry: Mapping[str, Any]) -> bool:
    """An item with something to show or to recognise it by."""
    return any(entry.get(key) for key in ("id", "link", "title", "summary", "content"))


def _feed_title(parsed: Any, url: str) -> str:
    feed = parsed.get("feed", {})
    detail = feed.get("title_detail") or {}
    title = _plain(str(feed.get("title") or ""), detail.get("type", "text/plain"))
    return title[:255] or (urlsplit(url).hostname or url)
