"""Telegram: a bot publishes to one channel and hears citizens where they write to it.

What an agency connects is a bot made with @BotFather plus the channel it publishes to. The
bot must be an administrator of the channel with the right to post messages. Citizens reach
the agency in two places, both read through the same bot:

- private messages to the bot (``EventKind.DIRECT_MESSAGE``; the thread is the private chat);
- comments in the channel's linked discussion group: Telegram copies every channel post into
  that group ("automatic forward") and a comment is a reply to the copy (``COMMENT``, whose
  parent is the channel post, so it matches the ``ChannelPost`` humas stored when publishing);
  a reply to another comment is a ``REPLY``.

The Bot API is plain HTTPS + JSON (https://core.telegram.org/bots/api), so this talks to it
through humas's ``HttpClient`` instead of an SDK. Every answer is ``{"ok": true, "result": …}``
or ``{"ok": false, "error_code": …, "description": …, "parameters": {…}}``.

Updates reach humas one of two ways, which Telegram makes mutually exclusive: a webhook
(``setWebhook``; Telegram only calls https addresses on ports 443, 80, 88 or 8443) or polling
with ``getUpdates``. :meth:`TelegramProvider.setup_delivery` picks one after connecting.

The Bot API gives no view, reaction or forward counts for channel posts (those exist only in
the MTProto client API), so ``post_metrics`` is off; the channel's member count is available.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import urlsplit

import httpx
from django import forms
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from humas.channels.providers.base import (
    AccountInfo,
    AccountMetrics,
    Capabilities,
    Connection,
    ErrorKind,
    EventKind,
    InboundEvent,
    Limits,
    Media,
    PostContent,
    Provider,
    ProviderError,
    Published,
    failure_to_error,
    raise_for_response,
    validate_against,
)
from humas.channels.signals import bot_started
from humas.lib.http import HttpFailure, parse_retry_after

if TYPE_CHECKING:
    from humas.channels.models import ChannelAccount

logger = logging.getLogger(__name__)

API_ROOT = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
# New private messages and group comments are what humas needs. Edits and channel posts are
# asked for so the choice is explicit (and stays the same for webhook and polling), but they
# are not turned into events: an edit has the same message id as the original, and channel
# posts are the agency's own words.
ALLOWED_UPDATES = ["message", "edited_message", "channel_post"]
WEBHOOK_PORTS = {443, 80, 88, 8443}
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_ALBUM = 10
PAGE_SIZE = 100
# Telegram's "10 MB" and "50 MB" for multipart uploads; decimal megabytes keep us on the safe
# side and match how humas prints sizes to editors.
MAX_PHOTO_BYTES = 10_000_000
MAX_VIDEO_BYTES = 50_000_000

TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
CHAT_ID_RE = re.compile(r"^-?\d{1,20}$")
LINK_RE = re.compile(r"^(?:https?://)?(?:t\.me|telegram\.me)/(?P<name>[A-Za-z0-9_]+)/?$")

# 403 answers about the person written to, not about the bot's rights in the channel: the
# reply fails, the channel keeps working.
RECIPIENT_REFUSALS = (
    "blocked by the user",
    "user is deactivated",
    "can't initiate conversation",
    "bots can't send messages to bots",
)
# 400/403 answers meaning the bot lost its place in the channel or discussion group; nothing
# will work there until an administrator fixes the bot's rights and reconnects.
LOST_RIGHTS = (
    "chat not found",
    "kicked",
    "not a member",
    "need administrator rights",
    "not enough rights",
    "have no rights to send",
    "chat_write_forbidden",
    "chat_admin_required",
)


BOT_PATH_RE = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")


class HideBotTokens(logging.Filter):
    """Blank the token out of Bot API addresses in log lines.

    httpx logs every request's address at INFO, and the Bot API puts the token in the path
    (``/bot<token>/sendMessage``): without this, anyone reading the logs could run the bot.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            cleaned = BOT_PATH_RE.sub("/bot<token>", message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


def _hide_tokens_in_http_logs() -> None:
    http_logger = logging.getLogger("httpx")
    if not any(isinstance(f, HideBotTokens) for f in http_logger.filters):
        http_logger.addFilter(HideBotTokens())


_hide_tokens_in_http_logs()


class TelegramError(ProviderError):
    """A ProviderError that keeps Telegram's own ``description`` for decisions by callers."""

    def __init__(
        self,
        message: str,
        kind: ErrorKind | str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        description: str = "",
    ) -> None:
        super().__init__(message, kind, retry_after=retry_after, status=status)
        self.description = description


def recipient_unreachable(error: ProviderError) -> bool:
    """Whether a failed private message means the bot may no longer write to that person.

    403 for a private chat is always about the person (they blocked the bot, deleted their
    account, or never started it); 400 "chat not found" means the bot never had that chat.
    """
    description = error.description.lower() if isinstance(error, TelegramError) else ""
    return error.status == 403 or (error.status == 400 and "chat not found" in description)


# --- connecting ---------------------------------------------------------------------------


def normalise_chat(value: str) -> str:
    """ "@name", "name", "t.me/name" or a numeric id → "@name" or the id, as Telegram takes it."""
    value = value.strip()
    link = LINK_RE.match(value)
    if link:
        value = link.group("name")
    if CHAT_ID_RE.match(value):
        return value
    name = value.removeprefix("@")
    if USERNAME_RE.match(name):
        return f"@{name}"
    raise forms.ValidationError(
        _(
            "Enter the channel's username (like @dinkeskota) or its numeric id "
            "(like -1001234567890)."
        )
    )


class TelegramConnectForm(forms.Form):
    bot_token = forms.CharField(
        label=_("Bot token"),
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_(
            "The token @BotFather gave you when you created the bot "
            "(it looks like 123456789:AAH…). Anyone who has it controls the bot: keep it secret."
        ),
    )
    channel = forms.CharField(
        label=_("Channel"),
        max_length=200,
        help_text=_(
            "The channel to publish to: its username (like @dinkeskota) or numeric id. Add the "
            "bot to the channel as an administrator allowed to post messages first."
        ),
    )
    discussion_chat_id = forms.CharField(
        label=_("Discussion group (optional)"),
        max_length=200,
        required=False,
        help_text=_(
            "The group linked to the channel for comments, by username or numeric id. Leave it "
            "empty to use the group linked in the channel's settings, if there is one."
        ),
    )

    def clean_bot_token(self) -> str:
        token: str = self.cleaned_data["bot_token"].strip()
        if not TOKEN_RE.match(token):
            raise forms.ValidationError(
                _("This does not look like a bot token from @BotFather (digits, a colon, letters).")
            )
        return token

    def clean_channel(self) -> str:
        return normalise_chat(self.cleaned_data["channel"])

    def clean_discussion_chat_id(self) -> str:
        value: str = self.cleaned_data["discussion_chat_id"].strip()
        return normalise_chat(value) if value else ""


def webhook_url_problem(url: str) -> str:
    """Why Telegram would refuse ``url`` as a webhook address ("" when it would not)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return gettext(
            "Telegram only delivers to https addresses; humas will poll for new messages instead."
        )
    try:
        port = parts.port or 443
    except ValueError:
        port = -1
    if port not in WEBHOOK_PORTS:
        return gettext(
            "Telegram only delivers to ports 443, 80, 88 and 8443; humas will poll for new "
            "messages instead."
        )
    return ""


# --- errors -------------------------------------------------------------------------------


def error_from_answer(
    method: str,
    body: Mapping[str, Any],
    *,
    http_status: int,
    retry_after_header: str | None = None,
    about_channel: bool = True,
) -> TelegramError:
    """Turn a Bot API ``{"ok": false, …}`` answer into the right ProviderError.

    ``about_channel`` says whether the call was about the agency's own channel or discussion
    group (where a rights problem means the channel needs reconnecting) or about a citizen's
    private chat (where it only means this one message cannot go).
    """
    raw_description = body.get("description")
    description = raw_description if isinstance(raw_description, str) else ""
    code = body.get("error_code")
    if not isinstance(code, int) or isinstance(code, bool):
        code = http_status if http_status >= 400 else None
    parameters = body.get("parameters")
    if not isinstance(parameters, Mapping):
        parameters = {}
    reason = description or gettext("no reason given")
    lowered = description.lower()
    where = f" (Telegram {method})"

    def error(message: str, kind: ErrorKind, retry_after: float | None = None) -> TelegramError:
        return TelegramError(
            message + where, kind, retry_after=retry_after, status=code, description=description
        )

    migrated = parameters.get("migrate_to_chat_id")
    if isinstance(migrated, int) and not isinstance(migrated, bool):
        return error(
            gettext(
                "The Telegram group was upgraded to a supergroup, which has the new id "
                "%(id)s. An administrator must connect the channel again with that id."
            )
            % {"id": migrated},
            ErrorKind.PERMANENT,
        )
    wait = parameters.get("retry_after")
    if code == 429 or (isinstance(wait, int | float) and not isinstance(wait, bool)):
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > 0:
            seconds = float(wait)
        else:
            seconds = parse_retry_after(retry_after_header) or 30.0
        return error(
            gettext("Telegram asks humas to slow down for %(n)d seconds (%(reason)s).")
            % {"n": round(seconds), "reason": reason},
            ErrorKind.RATE_LIMITED,
            retry_after=seconds,
        )
    if code in (401, 404):
        # The Bot API answers 404 "Not Found" when the token in the address is not a bot's.
        return error(
            gettext(
                "Telegram refused the bot token (%(reason)s). Copy the current token from "
                "@BotFather and connect the channel again."
            )
            % {"reason": reason},
            ErrorKind.AUTH,
        )
    if code == 409:
        if "webhook" in lowered:
            return error(
                gettext(
                    "Telegram will not hand out new messages by polling because a webhook is set "
                    "for this bot (perhaps by another program or an earlier connection). Connect "
                    "the channel again so humas can set up delivery, and make sure no other "
                    "program uses this bot."
                ),
                ErrorKind.AUTH,
            )
        return error(
            gettext(
                "Another program is reading this bot's messages at the same time (%(reason)s). "
                "Each bot should be used by one humas installation only."
            )
            % {"reason": reason},
            ErrorKind.TRANSIENT,
        )
    if code == 413:
        return error(
            gettext(
                "The file is too large for Telegram (%(reason)s). Photos can be at most 10 MB "
                "and videos at most 50 MB."
            )
            % {"reason": reason},
            ErrorKind.PERMANENT,
        )
    if code is None:
        return error(
            gettext("Telegram refused the request without saying why; humas will try again."),
            ErrorKind.TRANSIENT,
        )
    if code >= 500 or code == 408:
        return error(
            gettext("Telegram is having trouble (%(reason)s); humas will try again.")
            % {"reason": reason},
            ErrorKind.TRANSIENT,
        )
    recipient_refused = any(phrase in lowered for phrase in RECIPIENT_REFUSALS)
    if code == 403 and (recipient_refused or not about_channel):
        return error(
            gettext("Telegram did not deliver this message: %(reason)s.") % {"reason": reason},
            ErrorKind.PERMANENT,
        )
    if about_channel and (code == 403 or any(phrase in lowered for phrase in LOST_RIGHTS)):
        return error(
            gettext(
                "The bot can no longer post in this Telegram chat (%(reason)s). Add the bot back "
                "as an administrator allowed to post messages, then connect the channel again."
            )
            % {"reason": reason},
            ErrorKind.AUTH,
        )
    return error(
        gettext("Telegram refused this: %(reason)s.") % {"reason": reason}, ErrorKind.PERMANENT
    )


def shape_error(method: str, detail: str) -> TelegramError:
    """Telegram answered "ok" in a shape humas does not know (a renamed or missing field).

    Permanent on purpose: the request may well have worked (a message may be out), so trying
    it again could publish twice; a person has to look.
    """
    return TelegramError(
        gettext(
            "Telegram answered %(method)s in a shape humas does not understand (%(detail)s); "
            "humas may need an update."
        )
        % {"method": method, "detail": detail},
        ErrorKind.PERMANENT,
    )


def _integer(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def update_id_of(update: Any) -> int:
    """The ``update_id`` of an Update, or a permanent error: without it nothing can be trusted."""
    update_id = _integer(update.get("update_id")) if isinstance(update, dict) else None
    if update_id is None:
        raise TelegramError(
            gettext(
                "Telegram sent an update without an update_id, so humas cannot tell which "
                "updates it has read; humas may need an update."
            ),
            ErrorKind.PERMANENT,
        )
    return update_id


def split_ref(external_id: str) -> tuple[int | str, int | None]:
    """ "<chat id>:<message id>" → (chat id, message id); None for a post Telegram scheduled."""
    chat_text, _sep, message = external_id.rpartition(":")
    if not CHAT_ID_RE.match(chat_text):
        raise TelegramError(
            gettext("“%(id)s” is not a Telegram message reference.") % {"id": external_id},
            ErrorKind.PERMANENT,
        )
    chat = int(chat_text)
    if message.isdigit():
        return chat, int(message)
    if message.startswith("scheduled-"):
        return chat, None
    raise TelegramError(
        gettext("“%(id)s” is not a Telegram message reference.") % {"id": external_id},
        ErrorKind.PERMANENT,
    )


# --- the provider -------------------------------------------------------------------------


class TelegramProvider(Provider):
    network = "telegram"
    label = "Telegram"
    capabilities = Capabilities(
        publish=True,
        delete=True,
        reply=True,
        threads=True,
        direct_messages=True,
        # No view or reaction counts for channel posts in the Bot API (see the module doc).
        post_metrics=False,
        account_metrics=True,
        polling=True,
        webhooks=True,
        link_cards=True,
    )
    limits = Limits(
        max_text=MAX_TEXT,
        max_images=MAX_ALBUM,
        image_types=("image/jpeg", "image/png", "image/webp"),
        max_image_bytes=MAX_PHOTO_BYTES,
        video_types=("video/mp4",),
        max_video_bytes=MAX_VIDEO_BYTES,
        max_videos=MAX_ALBUM,  # an album mixes photos and videos, ten items in all
    )
    connect_form: ClassVar[type[forms.Form] | None] = TelegramConnectForm
    # Telegram asks bots to stay around one message a second per chat; bursts of a few (a
    # thread, a page of polling) are fine, and a 429 with retry_after covers the rest.
    requests_per_second = 1.0
    api_root: ClassVar[str] = API_ROOT
    #: The ChannelAccount this provider serves (set by :meth:`for_channel`), named in the
    #: ``bot_started`` signal; None for a provider built by hand (connecting, tests).
    channel_id: int | None = None

    @classmethod
    def for_channel(cls, channel: ChannelAccount, **kwargs: Any) -> TelegramProvider:
        provider = cast(TelegramProvider, super().for_channel(channel, **kwargs))
        provider.channel_id = channel.pk
        return provider

    # --- talking to the Bot API -------------------------------------------------------

    @property
    def token(self) -> str:
        token = self.credentials.get("bot_token")
        if not isinstance(token, str) or not token:
            raise TelegramError(
                gettext("This Telegram channel has no bot token; connect it again."),
                ErrorKind.AUTH,
            )
        return token

    def _scrub(self, text: str) -> str:
        # The token is part of every Bot API address; it must never reach a log or a page.
        token = self.credentials.get("bot_token")
        return text.replace(token, "<token>") if isinstance(token, str) and token else text

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        read: bool = False,
        about_channel: bool = True,
    ) -> Any:
        """Call a Bot API method and return its ``result``, or raise the right ProviderError.

        ``read`` marks calls that change nothing on Telegram (or are idempotent), which the
        HTTP client may retry after a timeout or a 5xx; sending a message is never retried
        blindly, as the first attempt may have gone out.
        """
        try:
            with self.http(f"{self.api_root}/bot{self.token}/") as client:
                if files:
                    response = client.post(
                        method,
                        data={k: _form_value(v) for k, v in (params or {}).items()},
                        files=dict(files),
                        retry=False,
                    )
                else:
                    response = client.post(method, json=dict(params or {}), retry=read)
        except HttpFailure as exc:
            error = failure_to_error(exc, f"Telegram {method}")
            raise TelegramError(
                self._scrub(error.message), error.kind, retry_after=error.retry_after
            ) from exc
        return self._result(method, response, read=read, about_channel=about_channel)

    def _result(
        self, method: str, response: httpx.Response, *, read: bool, about_channel: bool
    ) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
            # Not the Bot API's envelope: a proxy's error page, a cut-off answer…
            try:
                raise_for_response(response, f"Telegram {method}")
            except ProviderError as exc:
                raise TelegramError(
                    self._scrub(exc.message),
                    exc.kind,
                    retry_after=exc.retry_after,
                    status=exc.status,
                ) from exc
            if read:
                raise TelegramError(
                    gettext(
                        "Telegram answered %(method)s with something that is not its usual "
                        "JSON; humas will try again."
                    )
                    % {"method": method},
                    ErrorKind.TRANSIENT,
                    status=response.status_code,
                )
            # A success status with a garbled body: the message most likely went out, and
            # sending it again would publish it twice.
            raise TelegramError(
                gettext(
                    "Telegram's answer to %(method)s was cut off or garbled, so the message may "
                    "have been published. Check the chat in Telegram before trying again."
                )
                % {"method": method},
                ErrorKind.PERMANENT,
                status=response.status_code,
            )
        if body["ok"]:
            if "result" not in body:
                raise shape_error(method, "no “result”")
            return body["result"]
        raise error_from_answer(
            method,
            body,
            http_status=response.status_code,
            retry_after_header=response.headers.get("Retry-After"),
            about_channel=about_channel,
        )

    # --- connecting -------------------------------------------------------------------

    @classmethod
    def connect(
        cls, data: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None
    ) -> Connection:
        form = TelegramConnectForm(data=dict(data))
        if not form.is_valid():
            problems = [str(m) for messages in form.errors.values() for m in messages]
            raise TelegramError(" ".join(problems), ErrorKind.PERMANENT)
        token: str = form.cleaned_data["bot_token"]
        probe = cls(
            credentials={"bot_token": token},
            channel_key="telegram:connect",
            transport=transport,
        )
        bot = probe._bot()
        chat = probe._channel(form.cleaned_data["channel"])
        chat_id = _integer(chat.get("id"))
        if chat_id is None:
            raise shape_error("getChat", "no numeric “id”")
        title = _text(chat.get("title"))
        username = _text(chat.get("username"))
        probe._require_poster(chat_id, bot, title or username or str(chat_id))

        discussion: dict[str, Any] = {}
        wanted = form.cleaned_data["discussion_chat_id"] or _integer(chat.get("linked_chat_id"))
        if wanted:
            discussion = probe._discussion(str(wanted), bot)
        config: dict[str, Any] = {
            "chat_id": chat_id,
            "chat_username": username,
            "discussion_chat_id": discussion.get("id"),
            "discussion_username": discussion.get("username", ""),
            # Without admin rights or privacy mode off, Telegram shows a bot only the group
            # messages that reply to the bot itself, so comments would go unseen.
            "discussion_readable": discussion.get("readable", False),
            "bot_id": _integer(bot.get("id")),
            "bot_username": _text(bot.get("username")),
        }
        return Connection(
            account=AccountInfo(
                external_id=str(chat_id),
                handle=f"@{username}" if username else title,
                display_name=title,
            ),
            credentials={
                "bot_token": token,
                # Telegram allows A-Z, a-z, 0-9, "_" and "-", 1–256 characters: token_urlsafe
                # uses exactly that alphabet.
                "webhook_secret": secrets.token_urlsafe(32),
            },
            config=config,
        )

    def _bot(self) -> dict[str, Any]:
        bot = self.call("getMe", read=True)
        if not isinstance(bot, dict) or _integer(bot.get("id")) is None:
            raise shape_error("getMe", "no numeric “id”")
        return bot

    def _channel(self, chat: str) -> dict[str, Any]:
        try:
            found = self.call("getChat", {"chat_id": chat}, read=True, about_channel=False)
        except TelegramError as exc:
            if exc.status == 400:
                raise TelegramError(
                    gettext(
                        "Telegram does not know the channel %(chat)s, or the bot cannot see it. "
                        "Check the username and add the bot to the channel as an administrator."
                    )
                    % {"chat": chat},
                    ErrorKind.PERMANENT,
                    status=exc.status,
                    description=exc.description,
                ) from exc
            raise
        if not isinstance(found, dict):
            raise shape_error("getChat", "the chat is not an object")
        if found.get("type") != "channel":
            raise TelegramError(
                gettext(
                    "%(chat)s is a Telegram %(type)s, not a channel. Enter the channel humas "
                    "should publish to."
                )
                % {"chat": chat, "type": _text(found.get("type")) or "chat"},
                ErrorKind.PERMANENT,
            )
        return found

    def _membership(self, chat_id: int | str, bot_id: int) -> dict[str, Any]:
        member = self.call("getChatMember", {"chat_id": chat_id, "user_id": bot_id}, read=True)
        if not isinstance(member, dict) or not isinstance(member.get("status"), str):
            raise shape_error("getChatMember", "no “status”")
        return member

    def _require_poster(self, chat_id: int | str, bot: Mapping[str, Any], name: str) -> None:
        bot_id = _integer(bot.get("id")) or 0
        member = self._membership(chat_id, bot_id)
        status = member["status"]
        if status == "creator" or (status == "administrator" and member.get("can_post_messages")):
            return
        raise TelegramError(
            gettext(
                "The bot @%(bot)s is not an administrator of %(chat)s with the right to post "
                "messages. In the channel's settings, make the bot an administrator with “Post "
                "messages”, then connect again."
            )
            % {"bot": _text(bot.get("username")) or bot_id, "chat": name},
            ErrorKind.AUTH,
        )

    def _discussion(self, chat: str, bot: Mapping[str, Any]) -> dict[str, Any]:
        """The discussion group's id and username, and whether the bot can read comments."""
        try:
            found = self.call("getChat", {"chat_id": chat}, read=True, about_channel=False)
        except TelegramError as exc:
            if exc.kind != ErrorKind.PERMANENT:
                raise
            # A private group the bot is not in: keep the id, comments stay unreadable.
            if not CHAT_ID_RE.match(chat):
                raise TelegramError(
                    gettext(
                        "Telegram does not know the discussion group %(chat)s, or the bot is not "
                        "in it. Add the bot to the group, or leave the field empty."
                    )
                    % {"chat": chat},
                    ErrorKind.PERMANENT,
                ) from exc
            return {"id": int(chat), "readable": False}
        group = _mapping(found)
        group_id = _integer(group.get("id"))
        if group_id is None:
            raise shape_error("getChat", "no numeric “id”")
        readable = bool(bot.get("can_read_all_group_messages"))
        if not readable:
            try:
                member = self._membership(group_id, _integer(bot.get("id")) or 0)
            except TelegramError as exc:
                if exc.kind not in (ErrorKind.PERMANENT, ErrorKind.AUTH):
                    raise
                member = {"status": "left"}
            readable = member["status"] in ("administrator", "creator")
        return {"id": group_id, "username": _text(group.get("username")), "readable": readable}

    def account_info(self) -> AccountInfo:
        bot = self._bot()
        chat_id = self._chat_id()
        chat = self.call("getChat", {"chat_id": chat_id}, read=True)
        if not isinstance(chat, dict):
            raise shape_error("getChat", "the chat is not an object")
        title = _text(chat.get("title"))
        username = _text(chat.get("username"))
        self._require_poster(chat_id, bot, title or str(chat_id))
        return AccountInfo(
            external_id=str(chat_id),
            handle=f"@{username}" if username else title,
            display_name=title,
        )

    # --- choosing how updates arrive --------------------------------------------------

    def register_webhook(self, url: str) -> None:
        """Ask Telegram to POST this bot's updates to ``url`` with our secret token."""
        problem = webhook_url_problem(url)
        if problem:
            raise TelegramError(problem, ErrorKind.PERMANENT)
        secret = self.credentials.get("webhook_secret")
        if not isinstance(secret, str) or not secret:
            raise TelegramError(
                gettext("This Telegram channel has no webhook secret; connect it again."),
                ErrorKind.AUTH,
            )
        self.call(
            "setWebhook",
            {"url": url, "secret_token": secret, "allowed_updates": ALLOWED_UPDATES},
            read=True,  # setting the same webhook twice is harmless
            about_channel=False,
        )

    def delete_webhook(self) -> None:
        """Remove any webhook, so that getUpdates works (pending updates are kept)."""
        self.call("deleteWebhook", {"drop_pending_updates": False}, read=True, about_channel=False)

    def health_warnings(self) -> list[str]:
        if self.config.get("discussion_chat_id") and not self.config.get("discussion_readable"):
            return [
                str(
                    _(
                        "The bot cannot read the discussion group, so citizens' comments will not "
                        "arrive. Make the bot an administrator of the group (or turn its privacy "
                        "mode off with @BotFather), then connect the channel again."
                    )
                )
            ]
        return []

    def setup_delivery(self, webhook_url: str) -> dict[str, Any]:
        """Register the webhook when Telegram can reach ``webhook_url``, else prepare polling.

        Returns the config keys to store on the channel: ``{"delivery": "webhook"}`` or
        ``{"delivery": "polling"}``. Call it after every (re)connection, since connecting
        makes a new webhook secret.
        """
        if not webhook_url_problem(webhook_url):
            self.register_webhook(webhook_url)
            return {"delivery": "webhook"}
        self.delete_webhook()
        return {"delivery": "polling"}

    # --- publishing -------------------------------------------------------------------

    def validate(self, content: PostContent) -> list[str]:
        """Per part: a caption (text with media) has 1024 characters, a plain text 4096."""
        problems: list[str] = []
        parts = [content, *content.thread]
        for number, part in enumerate(parts, start=1):
            text = _final_text(part)
            # The shared checks see no text: the limit depends on the media, checked below.
            found = validate_against(self.limits, replace(part, text=""))
            if part.media and len(text) > MAX_CAPTION:
                found.insert(
                    0,
                    gettext(
                        "With a photo or video, Telegram allows a caption of at most %(max)d "
                        "characters; this one has %(n)d. Shorten it or post the text separately."
                    )
                    % {"max": MAX_CAPTION, "n": len(text)},
                )
            elif len(text) > MAX_TEXT:
                found.insert(
                    0,
                    gettext(
                        "The text is %(n)d characters long; this network takes at most %(max)d."
                    )
                    % {"n": len(text), "max": MAX_TEXT},
                )
            images = sum(1 for m in part.media if m.mime_type.startswith("image/"))
            if len(part.media) > MAX_ALBUM and images <= MAX_ALBUM:
                found.append(
                    gettext("Telegram takes at most %(max)d photos and videos in one post.")
                    % {"max": MAX_ALBUM}
                )
            if not text.strip() and not part.media:
                found.append(gettext("There is nothing to publish: write a text or add media."))
            for item in part.media:
                if item.width and item.height and item.mime_type.startswith("image/"):
                    big, small = max(item.width, item.height), min(item.width, item.height)
                    if item.width + item.height > 10_000 or big > 20 * max(small, 1):
                        found.append(
                            gettext(
                                "Telegram refuses photos whose width and height add up to more "
                                "than 10000 pixels or whose sides differ more than 20 times "
                                "(“%(name)s”)."
                            )
                            % {"name": item.filename or item.mime_type}
                        )
            if len(parts) > 1:
                found = [
                    gettext("Part %(n)d: %(problem)s") % {"n": number, "problem": p} for p in found
                ]
            problems.extend(found)
        return problems

    def publish(self, content: PostContent) -> Published:
        chat_id = self._chat_id()
        parts = [content, *content.thread]
        refs: list[str] = []
        first_ref = ""
        reply_to: int | None = None
        # A follow-up to an earlier post of ours (an emergency update) answers it in the channel.
        wanted = content.options.get("in_reply_to")
        if isinstance(wanted, Mapping) and wanted.get("id"):
            with contextlib.suppress(ProviderError):
                _chat, reply_to = split_ref(str(wanted["id"]))
        for number, part in enumerate(parts, start=1):
            try:
                ids = self._send(chat_id, part, reply_to=reply_to, about_channel=True)
            except ProviderError as exc:
                if not refs:
                    raise
                # Earlier parts are already public: retrying the whole thread would post them
                # twice, so this needs a person (the message says what is out).
                raise TelegramError(
                    gettext(
                        "%(error)s Part %(n)d of the thread could not be sent; the parts before "
                        "it were published (%(ids)s)."
                    )
                    % {"error": exc.message, "n": number, "ids": ", ".join(refs)},
                    ErrorKind.PERMANENT,
                    status=exc.status,
                ) from exc
            part_refs = [self._ref(chat_id, i) for i in ids]
            refs.extend(part_refs)
            if number == 1:
                first_ref = part_refs[0]
            # The next part answers the first message of this one (an album's first item).
            if ids[0]:
                reply_to = ids[0]
        first_id = split_ref(first_ref)[1]
        return Published(
            external_id=first_ref,
            url=self._post_url(first_id) if first_id else "",
            part_ids=tuple(refs),
        )

    def delete(self, external_id: str) -> None:
        chat, message_id = split_ref(external_id)
        if message_id is None:
            raise TelegramError(
                gettext(
                    "Telegram was still processing this post's video when humas sent it, so "
                    "humas does not know its number. Delete it in Telegram."
                ),
                ErrorKind.PERMANENT,
            )
        try:
            self.call("deleteMessage", {"chat_id": chat, "message_id": message_id})
        except TelegramError as exc:
            if "message to delete not found" in exc.description.lower():
                return  # already gone: deleting is done
            raise

    def reply(self, event: InboundEvent, content: PostContent) -> Published:
        chat, message_id = split_ref(event.external_id)
        private = event.kind == EventKind.DIRECT_MESSAGE
        ids = self._send(
            chat,
            replace(content, thread=[]),
            reply_to=message_id,
            about_channel=not private,
            # In a private chat the answer still makes sense if the citizen deleted the
            # question; in the group it would land outside the comment thread.
            allow_without_reply=private,
        )
        refs = tuple(self._ref(chat, i) for i in ids)
        url = ""
        group_username = self.config.get("discussion_username")
        if not private and group_username and ids[0]:
            url = f"https://t.me/{group_username}/{ids[0]}"
        return Published(external_id=refs[0], url=url, part_ids=refs)

    def _chat_id(self) -> int | str:
        chat_id = self.config.get("chat_id")
        if isinstance(chat_id, int | str) and not isinstance(chat_id, bool) and chat_id != "":
            return chat_id
        raise TelegramError(
            gettext("This Telegram channel has no chat id stored; connect it again."),
            ErrorKind.AUTH,
        )

    def _ref(self, chat_id: int | str, message_id: int) -> str:
        # Telegram may hold back a post with a video until it is re-encoded and answer with
        # message id 0; the reference must still be unique per channel.
        if message_id == 0:
            return f"{chat_id}:scheduled-{uuid.uuid4().hex[:12]}"
        return f"{chat_id}:{message_id}"

    def _post_url(self, message_id: int) -> str:
        username = self.config.get("chat_username")
        if username:
            return f"https://t.me/{username}/{message_id}"
        chat = str(self.config.get("chat_id", ""))
        if chat.startswith("-100"):
            # Private channels: the link opens for members only.
            return f"https://t.me/c/{chat[4:]}/{message_id}"
        return ""

    def _send(
        self,
        chat_id: int | str,
        part: PostContent,
        *,
        reply_to: int | None,
        about_channel: bool,
        allow_without_reply: bool = False,
    ) -> list[int]:
        """Send one part (text, one photo or video, or an album); the new message ids."""
        text = _final_text(part)
        reply: dict[str, Any] | None = None
        if reply_to:
            reply = {"message_id": reply_to}
            if allow_without_reply:
                reply["allow_sending_without_reply"] = True
        if not part.media:
            params: dict[str, Any] = {"chat_id": chat_id, "text": text}
            if reply:
                params["reply_parameters"] = reply
            result = self.call("sendMessage", params, about_channel=about_channel)
            return [_message_id(result, "sendMessage")]
        if len(part.media) == 1:
            item = part.media[0]
            field = "photo" if item.mime_type.startswith("image/") else "video"
            method = "sendPhoto" if field == "photo" else "sendVideo"
            fields: dict[str, Any] = {"chat_id": chat_id}
            if text:
                fields["caption"] = text
            if field == "video":
                fields["supports_streaming"] = True
            if reply:
                fields["reply_parameters"] = reply
            result = self.call(
                method, fields, files={field: _upload(item, 0)}, about_channel=about_channel
            )
            return [_message_id(result, method)]
        album: list[dict[str, Any]] = []
        files: dict[str, tuple[str, bytes, str]] = {}
        for index, item in enumerate(part.media):
            name = f"file{index}"
            kind = "photo" if item.mime_type.startswith("image/") else "video"
            entry: dict[str, Any] = {"type": kind, "media": f"attach://{name}"}
            if index == 0 and text:
                entry["caption"] = text  # Telegram shows the first item's caption for the album
            if kind == "video":
                entry["supports_streaming"] = True
            album.append(entry)
            files[name] = _upload(item, index)
        fields = {"chat_id": chat_id, "media": album}
        if reply:
            fields["reply_parameters"] = reply
        result = self.call("sendMediaGroup", fields, files=files, about_channel=about_channel)
        if not isinstance(result, list) or not result:
            raise shape_error("sendMediaGroup", "no list of messages")
        return [_message_id(m, "sendMediaGroup") for m in result]

    # --- hearing ----------------------------------------------------------------------

    def fetch_inbound(self, cursor: str) -> tuple[list[InboundEvent], str]:
        """One page of getUpdates after the update id in ``cursor``.

        Telegram forgets an update once getUpdates is called with a higher offset, which
        happens on the next call, after humas stored this page and its cursor; a crash in
        between fetches the page again and ``store_events`` drops the repeats.
        """
        if self.config.get("delivery") == "webhook":
            # Telegram refuses getUpdates while a webhook is set; events arrive there.
            return [], cursor
        last: int | None = int(cursor) if cursor.lstrip("-").isdigit() else None
        if cursor and last is None:
            logger.warning("ignoring a Telegram cursor that is not an update id: %r", cursor[:40])
        params: dict[str, Any] = {
            "limit": PAGE_SIZE,
            "timeout": 0,  # short polling: a worker must not hang here
            "allowed_updates": ALLOWED_UPDATES,
        }
        if last is not None:
            params["offset"] = last + 1
        result = self.call("getUpdates", params, read=True, about_channel=False)
        if not isinstance(result, list):
            raise shape_error("getUpdates", "the result is not a list")
        events: list[InboundEvent] = []
        newest = last
        for update in result:
            update_id = update_id_of(update)
            newest = update_id if newest is None else max(newest, update_id)
            events.extend(self.events_from_update(update))
        return events, (str(newest) if newest is not None else cursor)

    def verify_webhook(self, request: HttpRequest) -> bool:
        secret = self.credentials.get("webhook_secret")
        given = request.headers.get(SECRET_HEADER, "")
        if not isinstance(secret, str) or not secret or not given:
            return False
        return hmac.compare_digest(given.encode(), secret.encode())

    def parse_webhook(self, request: HttpRequest) -> list[InboundEvent]:
        """Telegram posts one Update per request."""
        try:
            update = json.loads(request.body)
        except ValueError as exc:  # includes bodies that are not UTF-8
            raise TelegramError(
                gettext("The Telegram delivery is not JSON."), ErrorKind.PERMANENT
            ) from exc
        update_id_of(update)
        return self.events_from_update(update)

    def events_from_update(self, update: Mapping[str, Any]) -> list[InboundEvent]:
        """The citizen's words in one Update (none for edits, channel posts, service messages).

        Lenient on purpose below the envelope: an odd message is skipped and logged rather than
        refused, because a refused webhook delivery is retried by Telegram again and again.

        A private ``/start <code>`` (someone opening the bot through a deep link, such as a
        member linking their account for alerts) is not a citizen's message: it is announced
        with the ``bot_started`` signal and never becomes an event.
        """
        message = update.get("message")
        if not isinstance(message, dict):
            return []
        started = _deep_link_start(message)
        if started is not None:
            self._announce_start(*started)
            return []
        try:
            event = self._event(message, dict(update))
        except (TypeError, ValueError, AttributeError):
            logger.warning("skipping a Telegram message humas could not read", exc_info=True)
            return []
        return [event] if event else []

    def _event(self, message: dict[str, Any], update: dict[str, Any]) -> InboundEvent | None:
        chat = _mapping(message.get("chat"))
        chat_id = _integer(chat.get("id"))
        message_id = _integer(message.get("message_id"))
        if chat_id is None or message_id is None:
            return None
        sender = _mapping(message.get("from"))
        sender_chat = _mapping(message.get("sender_chat"))
        bot_id = self.config.get("bot_id")
        if bot_id is not None and sender.get("id") == bot_id:
            return None
        if not _has_content(message):
            return None  # a service message: someone joined, a pin, a new title…
        text = _text(message.get("text")) or _text(message.get("caption"))

        discussion = self.config.get("discussion_chat_id")
        permalink = ""
        parent_id = ""
        if chat.get("type") == "private":
            if sender.get("is_bot") or _is_start(text):
                return None
            kind = EventKind.DIRECT_MESSAGE
            thread_id = str(chat_id)
        elif discussion is not None and str(chat_id) == str(discussion):
            if message.get("is_automatic_forward"):
                return None  # Telegram's copy of the agency's own channel post
            if sender_chat and str(sender_chat.get("id")) == str(self.config.get("chat_id")):
                return None  # the channel itself writing in its group
            kind, parent_id, thread_id, permalink = self._place_in_discussion(message, chat_id)
        else:
            return None  # a chat humas does not serve (the bot was added elsewhere)

        if sender_chat:
            # Written "as" a chat (an anonymous group admin, a channel): Telegram fills
            # ``from`` with a placeholder user, so the chat is the real author.
            author_id = str(sender_chat.get("id", ""))
            username = _text(sender_chat.get("username"))
            name = _text(sender_chat.get("title"))
        else:
            author_id = str(sender.get("id", ""))
            username = _text(sender.get("username"))
            name = " ".join(
                p for p in (_text(sender.get("first_name")), _text(sender.get("last_name"))) if p
            )
        date = _integer(message.get("date"))
        created = datetime.fromtimestamp(date, tz=UTC) if date else timezone.now()
        return InboundEvent(
            kind=kind,
            external_id=f"{chat_id}:{message_id}",
            created_at=created,
            author_id=author_id,
            author_handle=f"@{username}" if username else "",
            author_name=name,
            text=text,
            thread_id=thread_id,
            parent_id=parent_id,
            permalink=permalink,
            media=_media(message),
            raw=update,
        )

    def _place_in_discussion(
        self, message: dict[str, Any], group_id: int
    ) -> tuple[EventKind, str, str, str]:
        """(kind, parent_id, thread_id, permalink) of a message in the discussion group."""
        message_id = message["message_id"]
        group_username = _text(self.config.get("discussion_username"))
        permalink = f"https://t.me/{group_username}/{message_id}" if group_username else ""
        replied = _mapping(message.get("reply_to_message"))
        replied_id = _integer(replied.get("message_id"))
        if replied_id is None:
            # Written in the group, not under a post: still a citizen talking to the agency.
            return EventKind.COMMENT, "", str(group_id), permalink
        thread_root = _integer(message.get("message_thread_id")) or replied_id
        thread_id = f"{group_id}:{thread_root}"
        if not replied.get("is_automatic_forward"):
            return EventKind.REPLY, f"{group_id}:{replied_id}", thread_id, permalink
        # A comment: its parent is the channel post the automatic forward copies, named the
        # way humas named it when publishing ("<channel id>:<post id>").
        origin = _mapping(replied.get("forward_origin"))
        origin_chat = _integer(_mapping(origin.get("chat")).get("id"))
        origin_post = _integer(origin.get("message_id"))
        if origin.get("type") == "channel" and origin_chat is not None and origin_post:
            parent_id = f"{origin_chat}:{origin_post}"
            channel_username = _text(self.config.get("chat_username"))
            if channel_username:
                permalink = f"https://t.me/{channel_username}/{origin_post}?comment={message_id}"
        else:
            parent_id = f"{group_id}:{replied_id}"
        return EventKind.COMMENT, parent_id, thread_id, permalink

    def _announce_start(self, chat_id: int, code: str, language: str) -> None:
        answers = bot_started.send_robust(
            sender=type(self),
            provider=self,
            channel_id=self.channel_id,
            chat_id=chat_id,
            code=code,
            language=language,
        )
        for receiver, answer in answers:
            if isinstance(answer, Exception):
                # Not raised: the rest of the page (citizens' messages) must still be read.
                logger.error("a /start code was not handled by %r", receiver, exc_info=answer)

    # --- writing to one person ----------------------------------------------------------

    def send_private_message(self, chat_id: int, text: str) -> int:
        """Send ``text`` as plain text (no parse_mode: nothing in it is read as markup) to a
        private chat; the new message's id.

        Not retried here (the first attempt may have arrived); a 403 or "chat not found"
        means the person cannot be reached by this bot (see :func:`recipient_unreachable`).
        """
        result = self.call(
            "sendMessage",
            {
                "chat_id": chat_id,
                "text": text[:MAX_TEXT],
                "link_preview_options": {"is_disabled": True},
            },
            about_channel=False,
        )
        return _message_id(result, "sendMessage")

    # --- measuring --------------------------------------------------------------------

    def fetch_account_metrics(self) -> AccountMetrics:
        count = self.call("getChatMemberCount", {"chat_id": self._chat_id()}, read=True)
        if _integer(count) is None:
            raise shape_error("getChatMemberCount", "the count is not a number")
        return AccountMetrics(followers=int(count))


# --- small helpers ------------------------------------------------------------------------


def _final_text(part: PostContent) -> str:
    """The text as sent: a link the editor set separately is added when the text lacks it."""
    if part.link and part.link not in part.text:
        return f"{part.text}\n\n{part.link}" if part.text else part.link
    return part.text


def _form_value(value: Any) -> str:
    """Multipart fields are strings; Telegram reads objects in them as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def _upload(item: Media, index: int) -> tuple[str, bytes, str]:
    extension = {"image/png": "png", "image/webp": "webp", "video/mp4": "mp4"}.get(
        item.mime_type, "jpg"
    )
    return (item.filename or f"media{index}.{extension}", item.data, item.mime_type)


def _message_id(message: Any, method: str) -> int:
    message_id = _integer(message.get("message_id")) if isinstance(message, dict) else None
    if message_id is None:
        raise shape_error(method, "no numeric “message_id”")
    return message_id


CONTENT_KEYS = (
    "text",
    "caption",
    "photo",
    "video",
    "document",
    "voice",
    "audio",
    "video_note",
    "animation",
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
)


def _has_content(message: Mapping[str, Any]) -> bool:
    return any(message.get(key) for key in CONTENT_KEYS)


def _deep_link_start(message: Mapping[str, Any]) -> tuple[int, str, str] | None:
    """(chat id, code, language) of a private ``/start <code>`` from a person, else None."""
    chat = _mapping(message.get("chat"))
    sender = _mapping(message.get("from"))
    chat_id = _integer(chat.get("id"))
    if chat.get("type") != "private" or chat_id is None or sender.get("is_bot"):
        return None
    text = _text(message.get("text"))
    if not _is_start(text):
        return None
    parts = text.split(maxsplit=1)
    code = parts[1].strip() if len(parts) == 2 else ""
    if not code:
        return None
    return chat_id, code[:64], _text(sender.get("language_code"))


def _is_start(text: str) -> bool:
    # "/start" (maybe with a deep-link payload) is what Telegram sends when someone first
    # opens the bot; it is not a message to answer.
    first = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return first == "/start" or first.startswith("/start@")


def _media(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """File ids (and what a person needs to judge them) of what the citizen attached.

    Files stay on Telegram; ``getFile`` with the file_id fetches one when someone opens it.
    """
    found: list[dict[str, Any]] = []
    sizes = message.get("photo")
    if isinstance(sizes, list) and sizes:
        # PhotoSize list: the same photo in several sizes; keep the largest.
        best = max(
            (s for s in sizes if isinstance(s, dict)),
            key=lambda s: (_integer(s.get("width")) or 0) * (_integer(s.get("height")) or 0),
            default=None,
        )
        if best and best.get("file_id"):
            found.append(
                {
                    "type": "photo",
                    "file_id": best["file_id"],
                    "file_unique_id": best.get("file_unique_id", ""),
                    "width": best.get("width"),
                    "height": best.get("height"),
                    "file_size": best.get("file_size"),
                }
            )
    for kind in ("video", "animation", "document", "voice", "audio", "video_note", "sticker"):
        item = message.get(kind)
        if not isinstance(item, dict) or not item.get("file_id"):
            continue
        if kind == "document" and message.get("animation"):
            continue  # Telegram repeats an animation as a document for old clients
        entry = {"type": kind, "file_id": item["file_id"]}
        for key in ("file_unique_id", "file_name", "mime_type", "file_size", "duration", "emoji"):
            if key in item:
                entry[key] = item[key]
        found.append(entry)
    location = message.get("location")
    if isinstance(location, dict):
        found.append(
            {
                "type": "location",
                "latitude": location.get("latitude"),
                "longitude": location.get("longitude"),
            }
        )
    return found
