"""The contract between humas and a social network.

A network is a subclass of :class:`Provider` in ``providers/<network>/provider.py`` and one
line in ``providers.REGISTRY``. humas calls only the methods below; each says what it returns
and raises :class:`ProviderError` with a ``kind`` that tells the caller what to do next:

- ``transient``: try again later with backoff (5xx, timeouts, a dropped connection);
- ``rate_limited``: try again after ``retry_after`` seconds (the network said so);
- ``auth``: the credentials no longer work (revoked, expired, wrong); the channel is marked
  "needs reconnection" and its organisation's admins are told;
- ``permanent``: this request will never succeed as it is (content rejected, media too large,
  post deleted); the reason is shown to the person who asked.

Providers never touch the database: they receive plain data and the channel's decrypted
credentials, and return plain data. Storing, deduplicating, cursors and audit entries are
done by ``channels.actions``, the same for every network.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from django import forms
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from humas.lib.http import HttpClient, HttpFailure, TooManyRequests, parse_retry_after

if TYPE_CHECKING:
    from humas.channels.models import ChannelAccount


class ErrorKind(StrEnum):
    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    PERMANENT = "permanent"


class ProviderError(Exception):
    """A network call failed; ``kind`` says whether and when to try again."""

    def __init__(
        self,
        message: str,
        kind: ErrorKind | str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = ErrorKind(kind)
        self.retry_after = retry_after
        self.status = status

    def __str__(self) -> str:
        return self.message


class EventKind(StrEnum):
    COMMENT = "comment"
    REPLY = "reply"
    MENTION = "mention"
    DIRECT_MESSAGE = "direct_message"
    REACTION = "reaction"
    QUOTE = "quote"
    REPOST = "repost"
    # A news item read from a monitored feed: not a person's message, so no reply is due.
    ARTICLE = "article"


@dataclass(frozen=True)
class Limits:
    """What the network accepts; the composer validates against these before sending."""

    max_text: int
    max_images: int = 0
    image_types: tuple[str, ...] = ("image/jpeg", "image/png")
    max_image_bytes: int = 0
    video_types: tuple[str, ...] = ()
    max_video_bytes: int = 0
    # (min, max) width/height ratio; None when the network crops or accepts anything.
    aspect_ratio: tuple[float, float] | None = None
    alt_text_required: bool = False
    max_alt_text: int = 1000
    max_videos: int = 1
    max_video_seconds: float = 0  # 0: no limit known
    # (min, max) width/height ratio for video, e.g. (0.55, 0.57) for vertical 9:16 only.
    video_aspect_ratio: tuple[float, float] | None = None


@dataclass(frozen=True)
class Capabilities:
    publish: bool = True
    delete: bool = True
    reply: bool = True
    threads: bool = False
    direct_messages: bool = False
    post_metrics: bool = False
    account_metrics: bool = False
    polling: bool = False
    webhooks: bool = False
    link_cards: bool = False
    # Publishing twice with the same ``options["idempotency_key"]`` creates one post (the
    # network remembers the key), so a send whose outcome is unknown can simply be repeated.
    idempotent_publish: bool = False
    # :meth:`Provider.find_published` can tell whether a post with a given key exists.
    find_by_key: bool = False


@dataclass
class Media:
    """One image or video to attach. ``data`` is the file's bytes."""

    data: bytes
    mime_type: str
    alt_text: str = ""
    filename: str = ""
    width: int | None = None
    height: int | None = None
    # Known without the bytes (the composer validates from the media library's records).
    size: int = 0
    duration: float | None = None

    @property
    def byte_size(self) -> int:
        return len(self.data) or self.size

    @classmethod
    def from_path(cls, path: str, alt_text: str = "") -> Media:
        with open(path, "rb") as handle:
            data = handle.read()
        mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
        width = height = None
        if mime.startswith("image/"):
            width, height = image_size(data)
        return cls(
            data=data,
            mime_type=mime,
            alt_text=alt_text,
            filename=path.rsplit("/", 1)[-1],
            width=width,
            height=height,
        )


@dataclass
class PostContent:
    """What to publish on one network: text, media and network-specific options.

    ``thread`` holds follow-up parts for networks that support threads (each published as a
    reply to the one before). ``options`` carries things only some networks know
    (``visibility``, ``spoiler_text``, ``subject``…); providers ignore what they do not know.
    """

    text: str
    media: list[Media] = field(default_factory=list)
    link: str = ""
    thread: list[PostContent] = field(default_factory=list)
    language: str = "id"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    external_id: str
    url: str = ""
    # For threads: the ids of every part, first to last.
    part_ids: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Attachment:
    """A file that came with an inbound message; humas stores it, the event keeps its path."""

    filename: str
    mime_type: str
    data: bytes


@dataclass
class InboundEvent:
    """A citizen's message, comment, mention or reaction, in one shape for every network."""

    kind: EventKind
    external_id: str
    created_at: datetime
    author_id: str = ""
    author_handle: str = ""
    author_name: str = ""
    text: str = ""
    thread_id: str = ""
    parent_id: str = ""
    permalink: str = ""
    language: str = ""
    media: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    # Files to keep (an e-mail's attachments); each also has an entry in ``media``, in order.
    attachments: list[Attachment] = field(default_factory=list)


@dataclass(frozen=True)
class PostMetrics:
    """A post's counts as the network gives them. ``None`` means the network did not give
    that number (it has no such count, or this server is too old to have it): it is shown as
    "not provided by <network>", never taken for 0."""

    external_id: str
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None


@dataclass(frozen=True)
class AccountMetrics:
    followers: int
    following: int | None = None
    posts: int | None = None


@dataclass(frozen=True)
class AccountInfo:
    """Who the credentials belong to; stored on the channel when connecting."""

    external_id: str
    handle: str
    display_name: str = ""
    avatar_url: str = ""


@dataclass(frozen=True)
class Connection:
    """The outcome of a successful connect: what to store (credentials encrypted)."""

    account: AccountInfo
    credentials: dict[str, Any]
    # Non-secret settings kept in clear (a Mastodon server address, a Telegram chat id…).
    config: dict[str, Any] = field(default_factory=dict)


def pause(seconds: float) -> None:
    """Sleep; a module-level name so tests can record pauses instead of waiting."""
    time.sleep(seconds)


class Provider:
    """Base class: one instance talks to one connected account."""

    network: ClassVar[str]
    label: ClassVar[str | Promise]
    capabilities: ClassVar[Capabilities] = Capabilities()
    limits: ClassVar[Limits] = Limits(max_text=500)
    #: Form shown when connecting (app password, token, server address…); its cleaned data
    #: goes to :meth:`connect`. Networks connected by OAuth set ``uses_oauth`` instead.
    connect_form: ClassVar[type[forms.Form] | None] = None
    uses_oauth: ClassVar[bool] = False
    #: For OAuth networks: a second way in, with a token made on the network itself; its
    #: cleaned data also goes to :meth:`connect`.
    token_form: ClassVar[type[forms.Form] | None] = None
    #: Requests per second this provider allows itself per channel.
    requests_per_second: ClassVar[float] = 5.0

    def __init__(
        self,
        *,
        credentials: Mapping[str, Any],
        config: Mapping[str, Any] | None = None,
        channel_key: str = "new",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.credentials = dict(credentials)
        self.config = dict(config or {})
        self.channel_key = channel_key
        self.transport = transport
        # How the provider pauses (rate limits, retries, waiting for media); tests replace it.
        self.sleep = sleep or pause

    @classmethod
    def for_channel(cls, channel: ChannelAccount, **kwargs: Any) -> Provider:
        return cls(
            credentials=channel.get_credentials(),
            config=channel.config,
            channel_key=f"{channel.network}:{channel.pk}",
            **kwargs,
        )

    # --- connecting -----------------------------------------------------------------

    @classmethod
    def connect(
        cls, data: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None
    ) -> Connection:
        """Check the credentials a person entered and return what to store.

        Raises ``ProviderError(kind="auth")`` when the network refuses them.
        """
        raise NotImplementedError

    def oauth_start(self, redirect_uri: str, state: str) -> tuple[str, dict[str, Any]]:
        """(OAuth networks) The authorisation URL and data to keep until the callback."""
        raise NotImplementedError

    @classmethod
    def oauth_finish(
        cls,
        pending: Mapping[str, Any],
        code: str,
        redirect_uri: str,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> Connection:
        """(OAuth networks) Exchange the callback's code for credentials."""
        raise NotImplementedError

    def account_info(self) -> AccountInfo:
        """Who the stored credentials belong to; used by "test connection"."""
        raise NotImplementedError

    def health_warnings(self) -> list[str]:
        """Problems with how the account is set up on the network, shown on the channel page
        (for example a Telegram bot that cannot read the discussion group). No network call."""
        return []

    def setup_delivery(self, webhook_url: str) -> dict[str, Any]:
        """(Push networks) Register ``webhook_url`` with the network, or prepare polling.

        Called after every (re)connection. Returns config keys to store on the channel; a
        ``"delivery": "webhook"`` entry stops humas from polling this channel.
        """
        return {}

    # --- publishing -----------------------------------------------------------------

    def text_length(self, text: str) -> int:
        """The length of ``text`` counted the network's way (shown in the composer)."""
        return len(text)

    def validate(self, content: PostContent) -> list[str]:
        """Problems with ``content`` for this network, as sentences for the editor."""
        return validate_against(self.limits, content)

    def publish(self, content: PostContent) -> Published:
        raise NotImplementedError

    def delete(self, external_id: str) -> None:
        raise NotImplementedError

    def find_published(self, key: str) -> Published | None:
        """The post published earlier with ``options["idempotency_key"] == key``, if any.

        Only for networks with ``capabilities.find_by_key``. Used when a worker died during
        a send: whether the post arrived decides between recording it and sending again.
        """
        raise NotImplementedError

    def reply(self, event: InboundEvent, content: PostContent) -> Published:
        """Answer ``event`` in its thread (or as a direct message, for direct messages)."""
        raise NotImplementedError

    # --- hearing --------------------------------------------------------------------

    def fetch_inbound(self, cursor: str) -> tuple[list[InboundEvent], str]:
        """Events newer than ``cursor`` ("" the first time) and the cursor to store next.

        May return at most one page; the caller stores the events, then the cursor (in one
        transaction), and calls again until the cursor stops moving. Return the cursor
        unchanged when there is nothing new.
        """
        raise NotImplementedError

    def verify_webhook(self, request: HttpRequest) -> bool:
        """True only if the request carries this channel's signature or secret token."""
        return False

    def parse_webhook(self, request: HttpRequest) -> list[InboundEvent]:
        """Events in a verified webhook delivery. ``ProviderError(permanent)`` if malformed."""
        raise NotImplementedError

    # --- measuring ------------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        raise NotImplementedError

    def fetch_account_metrics(self) -> AccountMetrics:
        raise NotImplementedError

    # --- helpers for subclasses ------------------------------------------------------

    def http(self, base_url: str = "", headers: dict[str, str] | None = None) -> HttpClient:
        return HttpClient(
            key=self.channel_key,
            base_url=base_url,
            headers=headers,
            per_second=self.requests_per_second,
            transport=self.transport,
            sleep=self.sleep,
        )


def raise_for_response(response: httpx.Response, what: str) -> None:
    """Turn an unsuccessful HTTP answer into the right ProviderError (shared by providers)."""
    status = response.status_code
    if status < 400:
        return
    detail = _error_detail(response)
    message = f"{what}: HTTP {status}" + (f" — {detail}" if detail else "")
    if status in (401, 403):
        raise ProviderError(message, ErrorKind.AUTH, status=status)
    if status == 429:
        raise ProviderError(
            message,
            ErrorKind.RATE_LIMITED,
            retry_after=parse_retry_after(response.headers.get("Retry-After")) or 60.0,
            status=status,
        )
    if status >= 500 or status == 408:
        raise ProviderError(message, ErrorKind.TRANSIENT, status=status)
    raise ProviderError(message, ErrorKind.PERMANENT, status=status)


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict):
        for key in ("error_description", "error", "message", "description", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])[:300]
    return ""


def failure_to_error(exc: HttpFailure, what: str) -> ProviderError:
    if isinstance(exc, TooManyRequests):
        return ProviderError(
            f"{what}: {exc}", ErrorKind.RATE_LIMITED, retry_after=exc.retry_after or 60.0
        )
    return ProviderError(f"{what}: {exc}", ErrorKind.TRANSIENT, retry_after=exc.retry_after)


def json_body(response: httpx.Response, what: str) -> Any:
    """The response's JSON, or a permanent error naming the call if it is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(
            f"{what}: the network answered with something that is not JSON", ErrorKind.TRANSIENT
        ) from exc


def validate_against(limits: Limits, content: PostContent) -> list[str]:
    problems: list[str] = []
    if len(content.text) > limits.max_text:
        problems.append(
            str(_("The text is %(n)d characters long; this network takes at most %(max)d."))
            % {"n": len(content.text), "max": limits.max_text}
        )
    images = [m for m in content.media if m.mime_type.startswith("image/")]
    videos = [m for m in content.media if m.mime_type.startswith("video/")]
    if len(images) > limits.max_images:
        problems.append(
            str(_("At most %(max)d images can go in one post here.")) % {"max": limits.max_images}
        )
    for item in content.media:
        is_image = item.mime_type.startswith("image/")
        allowed = limits.image_types + limits.video_types
        if item.mime_type not in allowed:
            problems.append(
                str(_("This network does not accept %(type)s files.")) % {"type": item.mime_type}
            )
            continue
        cap = limits.max_image_bytes if is_image else limits.max_video_bytes
        if cap and item.byte_size > cap:
            problems.append(
                str(_("“%(name)s” is %(size)s; the limit here is %(max)s."))
                % {
                    "name": item.filename or item.mime_type,
                    "size": _mb(item.byte_size),
                    "max": _mb(cap),
                }
            )
        if not is_image:
            if limits.max_video_seconds and (item.duration or 0) > limits.max_video_seconds:
                problems.append(
                    str(_("“%(name)s” lasts %(n)d seconds; this network takes at most %(max)d."))
                    % {
                        "name": item.filename or item.mime_type,
                        "n": round(item.duration or 0),
                        "max": limits.max_video_seconds,
                    }
                )
            if limits.video_aspect_ratio and item.width and item.height:
                low, high = limits.video_aspect_ratio
                if not low <= item.width / item.height <= high:
                    problems.append(
                        str(_("“%(name)s” must be a vertical 9:16 video on this network."))
                        % {"name": item.filename or item.mime_type}
                    )
        if limits.alt_text_required and is_image and not item.alt_text.strip():
            problems.append(
                str(_("Describe “%(name)s” in its alt text: people using screen readers need it."))
                % {"name": item.filename or item.mime_type}
            )
        if len(item.alt_text) > limits.max_alt_text:
            problems.append(
                str(_("Alt text can be at most %(max)d characters.")) % {"max": limits.max_alt_text}
            )
        if limits.aspect_ratio and item.width and item.height:
            ratio = item.width / item.height
            low, high = limits.aspect_ratio
            if not low <= ratio <= high:
                problems.append(
                    str(_("“%(name)s” has an aspect ratio this network does not accept."))
                    % {"name": item.filename or item.mime_type}
                )
    if videos and not limits.video_types:
        problems.append(str(_("This network does not take videos.")))
    elif len(videos) > limits.max_videos:
        problems.append(
            str(_("At most %(max)d videos can go in one post here.")) % {"max": limits.max_videos}
        )
    return problems


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def image_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height of a PNG or JPEG without an imaging library (enough for limits)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                    data[i + 5 : i + 7], "big"
                )
            i += 2 + length
    return None, None
