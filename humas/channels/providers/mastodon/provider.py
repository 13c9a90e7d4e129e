"""Mastodon: publish statuses and threads, hear mentions, replies and direct messages, count
favourites and boosts.

Everything goes through the instance's REST API (docs.joinmastodon.org) and humas's one
HttpClient; no SDK. Each channel lives on its own server, so the server address and the limits
that server sets (characters per status, attachments, file sizes) are kept in the channel's
``config`` when it is connected, and :meth:`MastodonProvider.validate` checks against those.

Two ways to connect:

- OAuth (what the generic "connect" page uses, because ``uses_oauth`` is set): the person
  enters the server address (:class:`ConnectForm`), humas registers an app on that server,
  sends the person to the server's authorisation page and exchanges the returned code.
- A personal access token (:class:`TokenForm` and :meth:`MastodonProvider.connect`), for
  agencies whose server disallows app registration or who prefer to create the token
  themselves under Preferences → Development.

Inbound events come from two endpoints: notifications (mentions, quotes, favourites, boosts)
and conversations (direct messages). A direct message usually appears in both; both use the
status id as the event id, so humas stores it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
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
    PostMetrics,
    Provider,
    ProviderError,
    Published,
    failure_to_error,
    validate_against,
)
from humas.channels.providers.mastodon.answers import (
    Malformed,
    body,
    check,
    count_field,
    mapping_field,
    missing,
    newer_id,
    positive,
    text_field,
    time_field,
)
from humas.channels.providers.mastodon.forms import ConnectForm, TokenForm, normalise_instance
from humas.channels.providers.mastodon.text import html_to_text, status_length, with_mention
from humas.lib.http import HttpClient, HttpFailure

logger = logging.getLogger(__name__)

MB = 1024 * 1024
# Granular scopes (Mastodon 2.4.3+): only what humas uses. read:statuses also covers
# GET /api/v1/conversations; write:conversations is asked for so that a later version can
# mark conversations read without making every channel reconnect.
SCOPES = (
    "read:accounts read:notifications read:statuses write:conversations write:media write:statuses"
)
APP_NAME = "humas"
VISIBILITIES = ("public", "unlisted", "private", "direct")
# "status" notifications (posts by accounts we asked to be told about) are not addressed to
# the agency, so they are not asked for. Servers before 4.5 ignore the unknown "quote" type.
NOTIFICATION_TYPES = ("mention", "quote", "favourite", "reblog")
NOTIFICATIONS_PER_PAGE = 40  # the default since 4.1 (max 80)
CONVERSATIONS_PER_PAGE = 40  # the maximum
# GET /api/v1/statuses?id[]= refuses more ids than this with a 422 (DEFAULT_STATUSES_LIMIT).
STATUSES_PER_LOOKUP = 20
# Pauses between checks of an upload that is still being processed (202 / 206). Bounded:
# about a minute in all, then the publish fails as transient and is retried later.
MEDIA_CHECK_PAUSES = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)
_VISIBILITY_RANK = {name: rank for rank, name in enumerate(VISIBILITIES)}


class MastodonProvider(Provider):
    network = "mastodon"
    label = "Mastodon"
    capabilities = Capabilities(
        publish=True,
        delete=True,
        reply=True,
        threads=True,
        direct_messages=True,
        post_metrics=True,
        account_metrics=True,
        polling=True,
        webhooks=False,
        link_cards=True,  # the server builds a preview card from the first link in the text
        # Mastodon keeps an Idempotency-Key for an hour and answers a repeat with the
        # status it already made.
        idempotent_publish=True,
    )
    #: Mastodon's defaults; each server's own values are read when connecting (see
    #: :meth:`instance_limits`).
    limits = Limits(
        max_text=500,
        max_images=4,
        image_types=("image/jpeg", "image/png", "image/gif", "image/webp"),
        max_image_bytes=16 * MB,
        video_types=("video/mp4", "video/webm"),
        max_video_bytes=99 * MB,
        alt_text_required=True,  # humas policy, not Mastodon's
        max_alt_text=1500,
    )
    connect_form = ConnectForm
    token_form = TokenForm
    uses_oauth = True
    # Mastodon allows 300 requests per 5 minutes per account.
    requests_per_second = 1.0

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def instance(self) -> str:
        instance = str(self.config.get("instance") or "")
        if not instance:
            raise ProviderError(
                "This Mastodon channel has no server address; connect it again.", ErrorKind.AUTH
            )
        return instance

    @property
    def domain(self) -> str:
        """The domain in handles (LOCAL_DOMAIN, which may differ from the web address)."""
        return str(self.config.get("domain") or urlsplit(self.instance).hostname or "")

    def _api(self) -> HttpClient:
        token = str(self.credentials.get("access_token") or "")
        if not token:
            raise ProviderError(
                "This Mastodon channel has no access token; connect it again.", ErrorKind.AUTH
            )
        return self.http(
            self.instance, {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )

    @staticmethod
    def _call(
        http: HttpClient,
        method: str,
        path: str,
        what: str,
        *,
        allow: tuple[int, ...] = (),
        retry: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            response = http.request(method, path, retry=retry, **kwargs)
        except HttpFailure as exc:
            raise failure_to_error(exc, what) from exc
        if response.status_code not in allow:
            check(response, what)
        return response

    def _own_id(self, http: HttpClient) -> str:
        if not self.config.get("account_id"):
            # Channels connected by this provider always have it; this covers a config
            # edited by hand.
            me = self._verify_credentials(http)
            self.config["account_id"] = str(me["id"])
        return str(self.config["account_id"])

    # --- connecting -------------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        data: Mapping[str, Any],
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Connection:
        """Connect with a token created on the server (:class:`TokenForm`)."""
        try:
            instance = normalise_instance(str(data.get("instance") or ""))
        except ValueError as exc:
            raise ProviderError(str(exc), ErrorKind.PERMANENT) from None
        token = str(data.get("access_token") or "").strip()
        if not token:
            raise ProviderError("Enter the access token created on the server.", ErrorKind.AUTH)
        provider = cls(
            credentials={"access_token": token},
            config={"instance": instance},
            transport=transport,
            sleep=sleep,
        )
        return provider._connection(client_id="", client_secret="")

    def oauth_start(self, redirect_uri: str, state: str) -> tuple[str, dict[str, Any]]:
        """Register humas on the server (POST /api/v1/apps) and build the authorisation URL.

        A server keeps one registration per call; registrations are cheap and Mastodon 4.3+
        no longer removes unused ones, so none is reused across connects.
        """
        try:
            instance = normalise_instance(str(self.config.get("instance") or ""))
        except ValueError as exc:
            raise ProviderError(str(exc), ErrorKind.PERMANENT) from None
        what = "Registering humas on the Mastodon server"
        with self.http(instance, {"Accept": "application/json"}) as http:
            response = self._call(
                http,
                "POST",
                "/api/v1/apps",
                what,
                data={"client_name": APP_NAME, "redirect_uris": redirect_uri, "scopes": SCOPES},
            )
            app = body(response, what, dict)
        try:
            client_id, client_secret = (
                text_field(app, "client_id"),
                text_field(app, "client_secret"),
            )
        except Malformed as exc:
            raise missing(what, str(exc)) from None
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": SCOPES,
                "state": state,
            }
        )
        pending = {"instance": instance, "client_id": client_id, "client_secret": client_secret}
        return f"{instance}/oauth/authorize?{query}", pending

    @classmethod
    def oauth_finish(
        cls,
        pending: Mapping[str, Any],
        code: str,
        redirect_uri: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Connection:
        """Exchange the code at POST /oauth/token, then look at the account and the server."""
        try:
            instance = normalise_instance(str(pending.get("instance") or ""))
        except ValueError as exc:
            raise ProviderError(str(exc), ErrorKind.PERMANENT) from None
        client_id = str(pending.get("client_id") or "")
        client_secret = str(pending.get("client_secret") or "")
        provider = cls(
            credentials={}, config={"instance": instance}, transport=transport, sleep=sleep
        )
        what = "Finishing the connection to Mastodon"
        with provider.http(instance, {"Accept": "application/json"}) as http:
            try:
                response = cls._call(
                    http,
                    "POST",
                    "/oauth/token",
                    what,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "client_id": client_id,
                        "client_secret": client_secret,
                        "redirect_uri": redirect_uri,
                        "scope": SCOPES,
                    },
                )
            except ProviderError as exc:
                # invalid_grant (400) and invalid_client (401): the server refused this
                # authorisation; starting again is the fix, not retrying.
                if exc.status in (400, 401):
                    raise ProviderError(exc.message, ErrorKind.AUTH, status=exc.status) from exc
                raise
            token = body(response, what, dict)
        try:
            provider.credentials = {"access_token": text_field(token, "access_token")}
        except Malformed as exc:
            raise missing(what, str(exc)) from None
        return provider._connection(client_id=client_id, client_secret=client_secret)

    def _connection(self, *, client_id: str, client_secret: str) -> Connection:
        with self._api() as http:
            # The token first: a refused one should fail before anything else is asked.
            me = self._verify_credentials(http)
            self.config.update(self._server_limits(http))
        info = self._account_info(me, "Checking the Mastodon account")
        self.config["account_id"] = str(me["id"])
        return Connection(
            account=info,
            credentials={
                "access_token": self.credentials["access_token"],
                # Kept to revoke the token (POST /oauth/revoke) when the channel is
                # disconnected; empty for tokens created by hand.
                "client_id": client_id,
                "client_secret": client_secret,
            },
            config=dict(self.config),
        )

    def _verify_credentials(self, http: HttpClient) -> Mapping[str, Any]:
        """The CredentialAccount; raises unless it has the fields humas relies on."""
        what = "Checking the Mastodon account"
        response = self._call(http, "GET", "/api/v1/accounts/verify_credentials", what)
        account: Mapping[str, Any] = body(response, what, dict)
        self._account_info(account, what)
        return account

    def _account_info(self, account: Mapping[str, Any], what: str) -> AccountInfo:
        try:
            account_id, username = text_field(account, "id"), text_field(account, "username")
        except Malformed as exc:
            raise missing(what, str(exc)) from None
        host = urlsplit(self.instance).hostname or ""
        return AccountInfo(
            # Account ids are only unique per server ("1" is the first account everywhere),
            # and one organisation may have accounts on two servers.
            external_id=f"{account_id}@{host}",
            handle=f"@{username}@{self.domain}",
            display_name=str(account.get("display_name") or ""),
            avatar_url=str(account.get("avatar_static") or account.get("avatar") or ""),
        )

    def _server_limits(self, http: HttpClient) -> dict[str, Any]:
        """The limits this server sets, from GET /api/v2/instance (Mastodon 4.0+), falling
        back to /api/v1/instance; Mastodon's defaults when neither says."""
        what = "Reading the Mastodon server's limits"
        data: Any = None
        for path in ("/api/v2/instance", "/api/v1/instance"):
            response = self._call(http, "GET", path, what, allow=(404, 410))
            if response.status_code in (404, 410):
                continue
            data = body(response, what, dict)
            break
        if data is None:
            logger.warning("%s: no instance endpoint answered; using defaults", self.instance)
            data = {}
        configuration = data.get("configuration")
        configuration = configuration if isinstance(configuration, Mapping) else {}
        statuses = configuration.get("statuses")
        statuses = statuses if isinstance(statuses, Mapping) else {}
        media = configuration.get("media_attachments")
        media = media if isinstance(media, Mapping) else {}
        base = self.limits
        found: dict[str, Any] = {
            "instance": self.instance,
            # v2 says "domain", v1 "uri" (the bare domain there too).
            "domain": str(
                data.get("domain") or data.get("uri") or urlsplit(self.instance).hostname or ""
            ),
            "version": str(data.get("version") or ""),
            "max_characters": positive(
                statuses.get("max_characters", data.get("max_toot_chars")), base.max_text
            ),
            "max_media_attachments": positive(
                statuses.get("max_media_attachments"), base.max_images
            ),
            "characters_reserved_per_url": positive(
                statuses.get("characters_reserved_per_url"), 23
            ),
            "image_size_limit": positive(media.get("image_size_limit"), base.max_image_bytes),
            "video_size_limit": positive(media.get("video_size_limit"), base.max_video_bytes),
        }
        supported = media.get("supported_mime_types")
        if isinstance(supported, list) and supported:
            ours = base.image_types + base.video_types
            found["media_types"] = [t for t in ours if t in supported]
        return found

    def account_info(self) -> AccountInfo:
        with self._api() as http:
            return self._account_info(
                self._verify_credentials(http), "Checking the Mastodon account"
            )

    # --- publishing -------------------------------------------------------------------------

    def instance_limits(self) -> Limits:
        """This channel's limits: the server's values read when connecting, else defaults."""
        base = self.limits
        config = self.config
        types = config.get("media_types")
        allowed = set(types) if isinstance(types, list) and types else None
        return replace(
            base,
            max_text=positive(config.get("max_characters"), base.max_text),
            max_images=positive(config.get("max_media_attachments"), base.max_images),
            image_types=tuple(t for t in base.image_types if allowed is None or t in allowed),
            max_image_bytes=positive(config.get("image_size_limit"), base.max_image_bytes),
            video_types=tuple(t for t in base.video_types if allowed is None or t in allowed),
            max_video_bytes=positive(config.get("video_size_limit"), base.max_video_bytes),
        )

    def text_length(self, text: str) -> int:
        # Every link counts as a fixed number of characters, however long it is.
        url_chars = positive(self.config.get("characters_reserved_per_url"), 23)
        return status_length(text, "", url_chars=url_chars)

    def validate(self, content: PostContent) -> list[str]:
        limits = self.instance_limits()
        url_chars = positive(self.config.get("characters_reserved_per_url"), 23)
        problems: list[str] = []
        visibility = content.options.get("visibility")
        if visibility not in (None, "", *VISIBILITIES):
            problems.append(
                str(_("Visibility on Mastodon is one of: public, unlisted, private, direct."))
            )
        parts = [content, *content.thread]
        for number, part in enumerate(parts, 1):
            found: list[str] = []
            text = self._full_text(part)
            spoiler = self._spoiler(part, content)
            length = status_length(text, spoiler, url_chars=url_chars)
            if length > limits.max_text:
                found.append(
                    str(_("The text is %(n)d characters long; this network takes at most %(max)d."))
                    % {"n": length, "max": limits.max_text}
                )
            if not text.strip() and not part.media:
                found.append(str(_("A Mastodon post needs text or an attachment.")))
            # The length rule above replaces the base one, which counts links in full.
            found += validate_against(replace(limits, max_text=10**9), part)
            videos = [m for m in part.media if m.mime_type.startswith("video/")]
            if videos and (len(part.media) > 1):
                found.append(
                    str(_("A Mastodon post takes either one video or up to %(max)d images."))
                    % {"max": limits.max_images}
                )
            for problem in found:
                problems.append(
                    problem
                    if len(parts) == 1
                    else str(_("Part %(n)d: %(problem)s")) % {"n": number, "problem": problem}
                )
        return problems

    @staticmethod
    def _full_text(part: PostContent) -> str:
        # The server makes the preview card from a link in the text, so a link given apart
        # is added at the end (once).
        if part.link and part.link not in part.text:
            return f"{part.text.rstrip()}\n\n{part.link}" if part.text.strip() else part.link
        return part.text

    @staticmethod
    def _spoiler(part: PostContent, first: PostContent) -> str:
        # A thread keeps the first part's content warning unless a part sets its own, as
        # Mastodon's own composer does for replies.
        own = part.options.get("spoiler_text")
        if own is None:
            own = first.options.get("spoiler_text")
        return str(own or "").strip()

    @staticmethod
    def _visibility(content: PostContent, at_least: str = "public") -> str:
        wanted = content.options.get("visibility") or "public"
        if wanted not in VISIBILITIES:
            raise ProviderError(
                f"“{wanted}” is not a Mastodon visibility (public, unlisted, private, direct).",
                ErrorKind.PERMANENT,
            )
        # Never widen: an answer to a direct message stays direct.
        return max(wanted, at_least, key=lambda v: _VISIBILITY_RANK.get(v, 0))

    def publish(self, content: PostContent) -> Published:
        visibility = self._visibility(content)
        with self._api() as http:
            # A follow-up to an earlier post of ours (an emergency update) threads under it.
            wanted = content.options.get("in_reply_to")
            under = str(wanted.get("id") or "") if isinstance(wanted, Mapping) else ""
            posted = self._post_chain(http, [content, *content.thread], content, visibility, under)
        ids = tuple(status_id for status_id, _url in posted)
        return Published(external_id=ids[0], url=posted[0][1], part_ids=ids)

    def _post_chain(
        self,
        http: HttpClient,
        parts: Sequence[PostContent],
        first: PostContent,
        visibility: str,
        in_reply_to: str,
    ) -> list[tuple[str, str]]:
        """Post each part as a reply to the one before; return (id, url) of each."""
        posted: list[tuple[str, str]] = []
        for number, part in enumerate(parts, 1):
            what = "Publishing to Mastodon" + (f" (part {number})" if len(parts) > 1 else "")
            focus = part.options.get("focus") or []
            media_ids = [
                self._upload(http, item, focus[i] if i < len(focus) else "", number)
                for i, item in enumerate(part.media)
            ]
            text = self._full_text(part)
            spoiler = self._spoiler(part, first)
            language = (part.language or first.language or "").split("-")[0].lower()
            sensitive = part.options.get("sensitive", first.options.get("sensitive"))
            form: dict[str, Any] = {"status": text, "visibility": visibility}
            if media_ids:
                form["media_ids[]"] = media_ids
            if spoiler:
                form["spoiler_text"] = spoiler
            if language:
                form["language"] = language
            if sensitive is not None:
                form["sensitive"] = "true" if sensitive else "false"
            if in_reply_to:
                form["in_reply_to_id"] = in_reply_to
            key = self.idempotency_key(
                text=text,
                spoiler=spoiler,
                visibility=visibility,
                language=language,
                sensitive=sensitive,
                in_reply_to=in_reply_to,
                media=part.media,
                seed=str(first.options.get("idempotency_key") or ""),
            )
            response = self._call(
                http,
                "POST",
                "/api/v1/statuses",
                what,
                data=form,
                headers={"Idempotency-Key": key},
                # Safe to resend after a timeout or a 502/503: the server answers a repeated
                # key with the status it already created.
                retry=True,
            )
            status = body(response, what, dict)
            try:
                status_id = text_field(status, "id")
            except Malformed as exc:
                raise missing(what, str(exc)) from None
            posted.append((status_id, str(status.get("url") or status.get("uri") or "")))
            in_reply_to = status_id
        return posted

    def idempotency_key(
        self,
        *,
        text: str,
        spoiler: str,
        visibility: str,
        language: str,
        sensitive: Any,
        in_reply_to: str,
        media: Sequence[Media],
        seed: str = "",
    ) -> str:
        """The Idempotency-Key for one status, derived from everything that makes it.

        Mastodon remembers a key for an hour per account and answers a repeated one with the
        status it already created. A random key would protect only against the HTTP client's
        own retries; this one also holds when a worker died after sending and another worker
        publishes the same delivery again, because it computes the same key. Media count by
        their bytes and alt text, not by upload id: a retry uploads again and gets new ids.
        The publishing layer may pass ``options["idempotency_key"]`` (its delivery id) so that
        the same text deliberately posted twice within an hour is not merged into one.
        """
        digest = hashlib.sha256()

        def add(piece: str | bytes) -> None:
            data = piece.encode() if isinstance(piece, str) else piece
            # Length-prefixed, so ("ab", "c") and ("a", "bc") never hash alike.
            digest.update(len(data).to_bytes(8, "big") + data)

        for piece in (
            self.config.get("instance", ""),
            self.config.get("account_id", ""),
            seed,
            in_reply_to,
            visibility,
            language,
            spoiler,
            "" if sensitive is None else str(bool(sensitive)),
            text,
        ):
            add(str(piece))
        for item in media:
            add(hashlib.sha256(item.data).digest())
            add(item.alt_text)
        return "humas-" + digest.hexdigest()[:48]

    def _upload(self, http: HttpClient, item: Media, focus: str, part: int) -> str:
        """POST /api/v2/media; wait (bounded) while the server processes it; return its id."""
        kind = "a video" if item.mime_type.startswith("video/") else "an image"
        what = f"Uploading {kind} to Mastodon" + (f" (part {part})" if part > 1 else "")
        extension = item.mime_type.rsplit("/", 1)[-1]
        form = {"description": item.alt_text}
        if focus:
            form["focus"] = str(focus)
        response = self._call(
            http,
            "POST",
            "/api/v2/media",
            what,
            data=form,
            files={"file": (item.filename or f"media.{extension}", item.data, item.mime_type)},
            # A repeated upload only leaves an unattached copy, which the server deletes
            # after a day; better than failing the post.
            retry=True,
        )
        attachment = body(response, what, dict)
        try:
            media_id = text_field(attachment, "id")
        except Malformed as exc:
            raise missing(what, str(exc)) from None
        if response.status_code == 202 or not attachment.get("url"):
            self._wait_until_processed(http, media_id, what)
        return media_id

    def _wait_until_processed(self, http: HttpClient, media_id: str, what: str) -> None:
        # A status cannot take media that is still processing (422 "Cannot attach files that
        # have not finished processing"), so ask GET /api/v1/media/:id until it has a url.
        for pause in MEDIA_CHECK_PAUSES:
            self.sleep(pause)
            response = self._call(http, "GET", f"/api/v1/media/{media_id}", what)
            if response.status_code == 206:
                continue
            if body(response, what, dict).get("url"):
                return
        raise ProviderError(
            f"{what}: the server was still processing the file after "
            f"{int(sum(MEDIA_CHECK_PAUSES))} seconds; humas will try again later.",
            ErrorKind.TRANSIENT,
        )

    def delete(self, external_id: str) -> None:
        with self._api() as http:
            response = self._call(
                http,
                "DELETE",
                f"/api/v1/statuses/{external_id}",
                "Deleting from Mastodon",
                allow=(404,),
            )
        if response.status_code == 404:
            # Gone already: deleted on the server by a person, or by an earlier attempt whose
            # answer was lost (a DELETE is retried after a timeout). Either way the post is no
            # longer visible, which is what was asked.
            logger.info("Mastodon status %s was already deleted", external_id)

    def reply(self, event: InboundEvent, content: PostContent) -> Published:
        """Answer in the event's thread, mentioning its author, never more visibly than it.

        A direct message is answered directly; a followers-only post with followers-only.
        """
        if event.kind in (EventKind.REACTION, EventKind.REPOST):
            raise ProviderError(
                "A favourite or a boost cannot be answered on Mastodon; write to the person "
                "instead.",
                ErrorKind.PERMANENT,
            )
        status = event.raw.get("status") if isinstance(event.raw, Mapping) else None
        seen = status.get("visibility") if isinstance(status, Mapping) else None
        at_least = seen if seen in VISIBILITIES else "public"
        if event.kind == EventKind.DIRECT_MESSAGE:
            at_least = "direct"
        visibility = self._visibility(content, at_least)
        first = replace(content, text=with_mention(content.text, event.author_handle, self.domain))
        with self._api() as http:
            posted = self._post_chain(
                http, [first, *content.thread], first, visibility, event.external_id
            )
        ids = tuple(status_id for status_id, _url in posted)
        return Published(external_id=ids[0], url=posted[0][1], part_ids=ids)

    # --- hearing ----------------------------------------------------------------------------

    def fetch_inbound(self, cursor: str) -> tuple[list[InboundEvent], str]:
        """One page of notifications and one of direct conversations newer than ``cursor``.

        The cursor is a small JSON object holding, for each endpoint, the ``min_id`` of its
        last ``rel="prev"`` link: asking with ``min_id`` returns the items immediately newer,
        so pages come forward in order with no gap. The first poll (empty cursor) reads the
        newest page of each.
        """
        position = _read_cursor(cursor)
        with self._api() as http:
            own_id = self._own_id(http)
            notified, after_notifications = self._notifications(
                http, position.get("notifications", ""), own_id
            )
            direct, after_conversations = self._conversations(
                http, position.get("conversations", ""), own_id
            )
        unique: dict[str, InboundEvent] = {}
        for item in [*notified, *direct]:
            # Seen in both: the notification's version wins (it knows a quote from a mention).
            unique.setdefault(item.external_id, item)
        events = sorted(unique.values(), key=lambda e: (e.created_at, e.external_id))
        next_cursor = json.dumps(
            {"conversations": after_conversations, "notifications": after_notifications},
            separators=(",", ":"),
            sort_keys=True,
        )
        return events, next_cursor

    def _notifications(
        self, http: HttpClient, since: str, own_id: str
    ) -> tuple[list[InboundEvent], str]:
        what = "Reading Mastodon notifications"
        params: list[tuple[str, str]] = [("types[]", t) for t in NOTIFICATION_TYPES]
        params.append(("limit", str(NOTIFICATIONS_PER_PAGE)))
        if since:
            params.append(("min_id", since))
        response = self._call(http, "GET", "/api/v1/notifications", what, params=params)
        items = body(response, what, list)
        events = self._parse_all(items, what, lambda item: self._from_notification(item, own_id))
        ids = [str(i.get("id") or "") for i in items if isinstance(i, Mapping)]
        return events, newer_id(response, ids, since)

    def _conversations(
        self, http: HttpClient, since: str, own_id: str
    ) -> tuple[list[InboundEvent], str]:
        what = "Reading Mastodon direct conversations"
        params: list[tuple[str, str]] = [("limit", str(CONVERSATIONS_PER_PAGE))]
        if since:
            params.append(("min_id", since))
        response = self._call(http, "GET", "/api/v1/conversations", what, params=params)
        items = body(response, what, list)
        events = self._parse_all(items, what, lambda item: self._from_conversation(item, own_id))
        # Conversations page by their last status's id.
        ids = [
            str(i["last_status"].get("id") or "")
            for i in items
            if isinstance(i, Mapping) and isinstance(i.get("last_status"), Mapping)
        ]
        return events, newer_id(response, ids, since)

    @staticmethod
    def _parse_all(
        items: list[Any], what: str, parse: Callable[[Any], InboundEvent | None]
    ) -> list[InboundEvent]:
        """Parse each item; skip (and log) one that lacks fields, but fail if all do.

        One odd item must not stop a channel's inbox for good; every item failing means the
        server speaks a format humas does not know, which someone must look at.
        """
        events: list[InboundEvent] = []
        failures: list[str] = []
        for item in items:
            try:
                event = parse(item)
            except Malformed as exc:
                failures.append(str(exc))
                logger.warning("%s: skipped an item without a usable %r field", what, str(exc))
                continue
            if event is not None:
                events.append(event)
        if items and len(failures) == len(items):
            raise missing(what, failures[0])
        return events

    def _from_notification(self, item: Any, own_id: str) -> InboundEvent | None:
        kind = text_field(item, "type")
        notification_id = text_field(item, "id")
        if kind in ("mention", "quote"):
            status = mapping_field(item, "status")
            if text_field(mapping_field(status, "account"), "id") == own_id:
                return None
            if kind == "quote":
                event_kind = EventKind.QUOTE
            elif status.get("visibility") == "direct":
                event_kind = EventKind.DIRECT_MESSAGE
            elif str(status.get("in_reply_to_account_id") or "") == own_id:
                event_kind = EventKind.REPLY
            else:
                event_kind = EventKind.MENTION
            return self._from_status(
                status,
                event_kind,
                {"source": "notification", "notification_id": notification_id, "type": kind},
            )
        if kind in ("favourite", "reblog"):
            account = mapping_field(item, "account")
            ours = mapping_field(item, "status")
            status_id = text_field(ours, "id")
            return InboundEvent(
                kind=EventKind.REACTION if kind == "favourite" else EventKind.REPOST,
                # One event per notification: a person may favourite, undo and favourite again.
                external_id=f"{kind}:{notification_id}",
                created_at=time_field(item, "created_at"),
                author_id=text_field(account, "id"),
                author_handle=self._handle(account),
                author_name=str(account.get("display_name") or ""),
                thread_id=status_id,
                parent_id=status_id,
                permalink=str(ours.get("url") or ours.get("uri") or ""),
                raw={
                    "source": "notification",
                    "notification_id": notification_id,
                    "type": kind,
                    "status": {"id": status_id, "visibility": ours.get("visibility")},
                },
            )
        return None

    def _from_conversation(self, item: Any, own_id: str) -> InboundEvent | None:
        conversation_id = text_field(item, "id")
        status = item.get("last_status") if isinstance(item, Mapping) else None
        if not isinstance(status, Mapping):
            return None  # nullable: a conversation whose statuses were all deleted
        if text_field(mapping_field(status, "account"), "id") == own_id:
            return None  # our own answer is the latest in this conversation
        return self._from_status(
            status,
            EventKind.DIRECT_MESSAGE,
            {"source": "conversation", "conversation_id": conversation_id},
        )

    def _from_status(
        self, status: Mapping[str, Any], kind: EventKind, raw: dict[str, Any]
    ) -> InboundEvent:
        status_id = text_field(status, "id")
        account = mapping_field(status, "account")
        text = html_to_text(str(status.get("content") or ""))
        spoiler = str(status.get("spoiler_text") or "").strip()
        if spoiler:
            # The author's content warning often says what the message is about.
            text = f"{spoiler}\n\n{text}" if text else spoiler
        parent = str(status.get("in_reply_to_id") or "")
        mentions = status.get("mentions")
        attachments = status.get("media_attachments")
        return InboundEvent(
            kind=kind,
            # The status id, whichever endpoint it came from: a direct message seen in both
            # notifications and conversations is stored once.
            external_id=status_id,
            created_at=time_field(status, "created_at"),
            author_id=text_field(account, "id"),
            author_handle=self._handle(account),
            author_name=str(account.get("display_name") or ""),
            text=text,
            thread_id=parent or status_id,
            parent_id=parent,
            permalink=str(status.get("url") or status.get("uri") or ""),
            language=str(status.get("language") or ""),
            media=[
                {
                    "type": str(m.get("type") or ""),
                    "url": str(m.get("url") or m.get("remote_url") or ""),
                    "preview_url": str(m.get("preview_url") or ""),
                    "description": str(m.get("description") or ""),
                }
                for m in (attachments if isinstance(attachments, list) else [])
                if isinstance(m, Mapping)
            ],
            raw={
                **raw,
                "status": {
                    "id": status_id,
                    "visibility": status.get("visibility"),
                    "in_reply_to_id": status.get("in_reply_to_id"),
                    "in_reply_to_account_id": status.get("in_reply_to_account_id"),
                    "spoiler_text": spoiler,
                    "sensitive": bool(status.get("sensitive")),
                    "mentions": [
                        str(m.get("acct") or "")
                        for m in (mentions if isinstance(mentions, list) else [])
                        if isinstance(m, Mapping)
                    ],
                },
            },
        )

    def _handle(self, account: Mapping[str, Any]) -> str:
        acct = text_field(account, "acct")
        # Local accounts have a bare username as acct; add the domain so the handle means the
        # same from every server (and a mention of it reaches the right person).
        return "@" + (acct if "@" in acct else f"{acct}@{self.domain}")

    # --- measuring --------------------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """Counts for each status still there (deleted ones are left out).

        GET /api/v1/statuses?id[]= (Mastodon 4.3+) answers 20 at a time; older servers do not
        have it (404), and each status is then read on its own.
        """
        ids = list(dict.fromkeys(str(i) for i in external_ids if i))
        found: dict[str, PostMetrics] = {}
        what = "Reading Mastodon post counts"
        with self._api() as http:
            batched = True
            for start in range(0, len(ids), STATUSES_PER_LOOKUP):
                chunk = ids[start : start + STATUSES_PER_LOOKUP]
                if batched:
                    response = self._call(
                        http,
                        "GET",
                        "/api/v1/statuses",
                        what,
                        params=[("id[]", i) for i in chunk],
                        allow=(404, 405, 501),
                    )
                    if response.status_code == 200:
                        for status in body(response, what, list):
                            metrics = _metrics(status, what)
                            found[metrics.external_id] = metrics
                        continue
                    batched = False
                for status_id in chunk:
                    response = self._call(
                        http, "GET", f"/api/v1/statuses/{status_id}", what, allow=(404,)
                    )
                    if response.status_code == 404:
                        continue  # deleted on the server
                    metrics = _metrics(body(response, what, dict), what)
                    found[metrics.external_id] = metrics
        return found

    def fetch_account_metrics(self) -> AccountMetrics:
        what = "Reading Mastodon follower counts"
        with self._api() as http:
            response = self._call(http, "GET", "/api/v1/accounts/verify_credentials", what)
            account = body(response, what, dict)
        try:
            return AccountMetrics(
                followers=count_field(account, "followers_count"),
                following=count_field(account, "following_count"),
                posts=count_field(account, "statuses_count"),
            )
        except Malformed as exc:
            raise missing(what, str(exc)) from None


def _metrics(status: Any, what: str) -> PostMetrics:
    try:
        quotes = status.get("quotes_count") if isinstance(status, Mapping) else None
        return PostMetrics(
            external_id=text_field(status, "id"),
            likes=count_field(status, "favourites_count"),
            reposts=count_field(status, "reblogs_count"),
            replies=count_field(status, "replies_count"),
            # quotes_count arrived with quote posts (4.5); a server before that has no such
            # count, which is not the same as nobody quoting.
            quotes=quotes if isinstance(quotes, int) and not isinstance(quotes, bool) else None,
        )
    except Malformed as exc:
        raise missing(what, str(exc)) from None


def _read_cursor(cursor: str) -> dict[str, str]:
    if not cursor:
        return {}
    if not cursor.startswith("{"):
        return {"notifications": cursor}  # a bare notification id
    try:
        data = json.loads(cursor)
    except ValueError:
        logger.warning("unreadable Mastodon cursor %r; starting from the newest page", cursor)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int)}
