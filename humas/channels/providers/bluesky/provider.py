"""Bluesky (AT Protocol), through the ``atproto`` SDK with humas's HTTP rules underneath.

What the SDK does here: sessions (create, import, refresh before the access token expires),
building XRPC requests, the record models (validated by pydantic before anything is sent)
and facet detection. What humas adds: every request goes through :class:`HttpClient`
(timeouts, retries, per-channel rate limit, size cap, the test ``transport``) by way of a
small subclass of the SDK's request class; answers are read as plain dicts with checks that
name a missing field, so a change in Bluesky's API becomes a clear :class:`ProviderError`,
never a ``KeyError``.

Reference: the lexicons of ``app.bsky.*`` and ``com.atproto.*`` (docs.bsky.app).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from atproto_client import Client, models
from atproto_client import exceptions as sdk
from atproto_client.client.session import Session, SessionEvent
from atproto_client.models.blob_ref import BlobRef
from atproto_client.request import Response
from atproto_client.utils import facet_detection
from atproto_core.exceptions import AtProtocolError
from django import forms
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

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
    image_size,
)
from humas.channels.providers.bluesky.richtext import grapheme_count, webp_size
from humas.channels.providers.bluesky.transport import HumasRequest, error_name, to_provider_error

DEFAULT_SERVICE = "https://bsky.social"
MAX_GRAPHEMES = 300
# app.bsky.feed.post limits the text to 3000 UTF-8 bytes as well as 300 graphemes.
MAX_TEXT_BYTES = 3000
MAX_IMAGE_BYTES = 1_000_000
GET_POSTS_CHUNK = 25  # app.bsky.feed.getPosts takes at most 25 URIs
NOTIFICATION_PAGE = 100  # the lexicon's maximum
# Notification reasons humas handles; the others (follow, starterpack-joined, verified…)
# are filtered out by the AppView itself.
REASONS: dict[str, EventKind] = {
    "mention": EventKind.MENTION,
    "reply": EventKind.REPLY,
    "quote": EventKind.QUOTE,
    "like": EventKind.REACTION,
    "repost": EventKind.REPOST,
}
# How far back behind the newest notification already seen each poll looks again; see
# _InboundCursor for why.
CURSOR_OVERLAP = timedelta(minutes=10)
# Pages of already-seen notifications one call reads through at most (5,000 notifications
# inside the overlap window); past that it hands back a moved cursor and goes on next call.
MAX_QUIET_PAGES = 50
POST_COLLECTION = "app.bsky.feed.post"

T = TypeVar("T")


# --- the connect form ----------------------------------------------------------------------


class ConnectForm(forms.Form):
    service = forms.URLField(
        label=_("Server"),
        initial=DEFAULT_SERVICE,
        assume_scheme="https",
        help_text=_("Leave as it is for accounts on bsky.social; change it for your own PDS."),
    )
    handle = forms.CharField(
        label=_("Handle"),
        max_length=253,
        help_text=_("The account's handle, such as humas.jakarta.go.id or kominfo.bsky.social."),
    )
    app_password = forms.CharField(
        label=_("App password"),
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Create one in Bluesky: Settings → Privacy and security → App passwords → Add App "
            "Password. Use it here instead of the account's own password; you can revoke it "
            "at any time without changing the password."
        ),
    )

    def clean_handle(self) -> str:
        handle: str = self.cleaned_data["handle"].strip().lstrip("@").lower()
        return handle


# --- sessions shared within a process ----------------------------------------------------------

# Bluesky rotates the refresh token at every refresh and allows only ~300 createSession calls
# a day per account, so a session must outlive one provider instance (one poll). Providers
# cannot write to the database; until humas persists refreshed credentials, the newest
# session of each channel is kept here for the life of the worker process. A restarted
# process starts again from the stored tokens (refresh) or the app password (createSession).
_sessions: dict[str, Session] = {}
_sessions_lock = threading.Lock()


def _session_key(channel_key: str, service: str, identifier: str, password: str) -> str:
    digest = hashlib.sha256(password.encode()).hexdigest()[:16]
    return f"{channel_key}|{service}|{identifier}|{digest}"


# --- the provider -----------------------------------------------------------------------------


class BlueskyProvider(Provider):
    network = "bluesky"
    label = "Bluesky"
    capabilities = Capabilities(
        publish=True,
        delete=True,
        reply=True,
        threads=True,
        direct_messages=False,
        post_metrics=True,
        account_metrics=True,
        polling=True,
        webhooks=False,
        link_cards=True,
        find_by_key=True,
    )
    limits = Limits(
        max_text=MAX_GRAPHEMES,
        max_images=4,
        image_types=("image/jpeg", "image/png", "image/webp"),
        max_image_bytes=MAX_IMAGE_BYTES,
        alt_text_required=True,
        max_alt_text=2000,
    )
    connect_form = ConnectForm
    # Bluesky allows 3,000 API requests per 5 minutes from one address: 10 a second.
    requests_per_second = 10.0

    def __init__(
        self,
        *,
        credentials: Mapping[str, Any],
        config: Mapping[str, Any] | None = None,
        channel_key: str = "new",
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(
            credentials=credentials,
            config=config,
            channel_key=channel_key,
            transport=transport,
            sleep=sleep,
        )
        self._client: Client | None = None

    # --- connecting ---------------------------------------------------------------------

    @classmethod
    def connect(
        cls, data: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None
    ) -> Connection:
        service = str(data.get("service") or DEFAULT_SERVICE).rstrip("/")
        handle = str(data.get("handle") or "").strip().lstrip("@").lower()
        password = str(data.get("app_password") or data.get("password") or "")
        if not handle or not password:
            raise ProviderError(
                str(_("Enter the account's handle and an app password.")), ErrorKind.AUTH
            )
        if "." not in handle and urlsplit(service).hostname == "bsky.social":
            handle = f"{handle}.bsky.social"
        provider = cls(
            credentials={"service": service, "identifier": handle, "app_password": password},
            transport=transport,
        )
        info = provider.account_info()
        return Connection(
            account=info, credentials=provider.credentials, config={"service": service}
        )

    def account_info(self) -> AccountInfo:
        did, handle = self._did(), self.credentials.get("handle", "")
        try:
            profile = self._get(
                "app.bsky.actor.getProfile", models.AppBskyActorGetProfile.Params(actor=did)
            )
        except ProviderError as exc:
            # A brand-new account is unknown to the AppView for a moment ("Profile not
            # found"); who the credentials belong to is already known from the session.
            if exc.kind != ErrorKind.PERMANENT:
                raise
            return AccountInfo(external_id=did, handle=handle)
        return AccountInfo(
            external_id=_text(profile, "did", "getProfile") or did,
            handle=_text(profile, "handle", "getProfile") or handle,
            display_name=str(profile.get("displayName") or ""),
            avatar_url=str(profile.get("avatar") or ""),
        )

    # --- publishing ---------------------------------------------------------------------

    def text_length(self, text: str) -> int:
        return grapheme_count(text)

    def validate(self, content: PostContent) -> list[str]:
        # The base check counts code points; Bluesky counts graphemes (an emoji with a skin
        # tone is one), so the length is checked here instead, for every part of a thread.
        problems: list[str] = []
        for part in [content, *content.thread]:
            for problem in super().validate(
                PostContent(text="", media=part.media, language=part.language)
            ):
                if problem not in problems:
                    problems.append(problem)
            count = grapheme_count(part.text)
            if count > MAX_GRAPHEMES:
                problems.append(
                    str(
                        _(
                            "The text is %(n)d characters long; Bluesky takes at most "
                            "%(max)d (an emoji counts as one)."
                        )
                    )
                    % {"n": count, "max": MAX_GRAPHEMES}
                )
            elif len(part.text.encode()) > MAX_TEXT_BYTES:
                problems.append(str(_("The text is too long for Bluesky.")))
            if not part.text.strip() and not part.media and not part.link:
                problems.append(str(_("A Bluesky post needs text, an image or a link.")))
        return problems

    def publish(self, content: PostContent) -> Published:
        """Post ``content``; its ``thread`` parts follow as replies, each to the one before.

        If a later part fails, the parts already posted are deleted again (best effort)
        before the error is raised, so that trying again does not leave half a thread twice.
        """
        self._require_valid(content)
        refs: list[dict[str, str]] = []
        # A follow-up to an earlier post of ours (an emergency update): the whole thread goes
        # under it, keeping the earlier post's thread root.
        under = _follow_up_of(content)
        above: dict[str, Mapping[str, str]] | None = None
        if under is not None:
            parent_ref = self._strong_ref(under[0])
            root_ref = self._strong_ref(under[1]) if under[1] != under[0] else parent_ref
            above = {"root": root_ref, "parent": parent_ref}
        try:
            for part in [content, *content.thread]:
                reply = above
                if refs:
                    reply = {"root": (above or {}).get("root") or refs[0], "parent": refs[-1]}
                # The first part's record key is the caller's idempotency key (a TID), so
                # a repeated send meets the post it already made instead of a second one.
                rkey = "" if refs else str(content.options.get("idempotency_key") or "")
                try:
                    refs.append(self._create_post(part, reply, rkey=rkey))
                except ProviderError:
                    # A record with this key already exists (the PDS answers HTTP 500 to a
                    # second create): it is the post an earlier attempt made.
                    earlier = self.find_published(rkey) if rkey else None
                    if earlier is None or content.thread:
                        raise
                    return earlier
        except ProviderError:
            for ref in reversed(refs):
                with contextlib.suppress(ProviderError):
                    self.delete(ref["uri"])
            raise
        return Published(
            external_id=refs[0]["uri"],
            url=self.post_url(refs[0]["uri"]),
            part_ids=tuple(ref["uri"] for ref in refs),
            extra={"cid": refs[0]["cid"]},
        )

    def delete(self, external_id: str) -> None:
        repo, collection, rkey = _split_at_uri(external_id)
        if repo != self._did():
            raise ProviderError(
                f"{external_id} is not a post of this account, so humas cannot delete it.",
                ErrorKind.PERMANENT,
            )
        self._post(
            "com.atproto.repo.deleteRecord",
            models.ComAtprotoRepoDeleteRecord.Data(repo=repo, collection=collection, rkey=rkey),
        )

    def reply(self, event: InboundEvent, content: PostContent) -> Published:
        """Answer in the event's thread: the parent is the event's post, the root is its root."""
        if event.kind in (EventKind.REACTION, EventKind.REPOST):
            raise ProviderError(
                "A like or a repost on Bluesky cannot be answered; reply to a post instead.",
                ErrorKind.PERMANENT,
            )
        self._require_valid(content)
        parent = {"uri": event.external_id, "cid": str(event.raw.get("cid") or "")}
        if not parent["cid"]:
            parent = self._strong_ref(event.external_id)
        record = event.raw.get("record")
        root_ref = (record or {}).get("reply", {}).get("root") if isinstance(record, dict) else None
        if isinstance(root_ref, dict) and root_ref.get("uri") and root_ref.get("cid"):
            root = {"uri": str(root_ref["uri"]), "cid": str(root_ref["cid"])}
        else:
            root = parent
        first = self._create_post(content, {"root": root, "parent": parent})
        refs = [first]
        for part in content.thread:
            refs.append(self._create_post(part, {"root": root, "parent": refs[-1]}))
        return Published(
            external_id=first["uri"],
            url=self.post_url(first["uri"]),
            part_ids=tuple(r["uri"] for r in refs),
            extra={"cid": first["cid"]},
        )

    def post_url(self, uri: str) -> str:
        repo, _collection, rkey = _split_at_uri(uri)
        who = self.credentials.get("handle") if repo == self.credentials.get("did") else repo
        return f"https://bsky.app/profile/{who or repo}/post/{rkey}"

    def _require_valid(self, content: PostContent) -> None:
        problems = self.validate(content)
        if problems:
            raise ProviderError(" ".join(problems), ErrorKind.PERMANENT)

    def find_published(self, key: str) -> Published | None:
        uri = f"at://{self._did()}/{POST_COLLECTION}/{key}"
        try:
            answer = self._get(
                "com.atproto.repo.getRecord",
                models.ComAtprotoRepoGetRecord.Params(
                    repo=self._did(), collection=POST_COLLECTION, rkey=key
                ),
            )
        except ProviderError as exc:
            if exc.status == 400 and "RecordNotFound" in str(exc):
                return None
            raise
        return Published(
            external_id=uri,
            url=self.post_url(uri),
            part_ids=(uri,),
            extra={"cid": str(answer.get("cid") or "")},
        )

    def _create_post(
        self, part: PostContent, reply: Mapping[str, Mapping[str, str]] | None, rkey: str = ""
    ) -> dict[str, str]:
        embed: Any = None
        if part.media:
            embed = models.AppBskyEmbedImages.Main(
                images=[self._upload_image(item) for item in part.media]
            )
        elif part.link:
            # Bluesky shows one embed per post: images win over a link card (the link
            # itself stays clickable in the text when it is written there).
            embed = models.AppBskyEmbedExternal.Main(
                external=models.AppBskyEmbedExternal.External(
                    uri=part.link,
                    title=str(part.options.get("link_title") or ""),
                    description=str(part.options.get("link_description") or ""),
                )
            )
        try:
            record = models.AppBskyFeedPost.Record(
                created_at=_now_iso(),
                text=part.text,
                facets=self._facets(part.text) or None,
                embed=embed,
                langs=[part.language] if part.language else None,
                reply=(
                    models.AppBskyFeedPost.ReplyRef(
                        root=_strong_ref_model(reply["root"]),
                        parent=_strong_ref_model(reply["parent"]),
                    )
                    if reply
                    else None
                ),
            )
        except ValidationError as exc:
            raise ProviderError(
                f"Bluesky would refuse this post: {_first_error(exc)}", ErrorKind.PERMANENT
            ) from exc
        answer = self._post(
            "com.atproto.repo.createRecord",
            models.ComAtprotoRepoCreateRecord.Data(
                repo=self._did(), collection=POST_COLLECTION, record=record, rkey=rkey or None
            ),
        )
        return {
            "uri": _text(answer, "uri", "createRecord"),
            "cid": _text(answer, "cid", "createRecord"),
        }

    def _upload_image(self, item: Media) -> models.AppBskyEmbedImages.Image:
        answer = self._post(
            "com.atproto.repo.uploadBlob", item.data, headers={"Content-Type": item.mime_type}
        )
        blob = answer.get("blob")
        if not isinstance(blob, dict) or not isinstance(blob.get("ref"), dict):
            raise ProviderError(
                "uploadBlob: Bluesky's answer has no 'blob' reference; humas may need an "
                "update for a change in Bluesky's API.",
                ErrorKind.PERMANENT,
            )
        width, height = item.width, item.height
        if not (width and height):
            width, height = image_size(item.data)
            if not (width and height):
                width, height = webp_size(item.data)
        try:
            return models.AppBskyEmbedImages.Image(
                alt=item.alt_text,
                image=BlobRef.model_validate(blob),
                aspect_ratio=(
                    models.AppBskyEmbedDefs.AspectRatio(width=width, height=height)
                    if width and height
                    else None
                ),
            )
        except ValidationError as exc:
            raise ProviderError(
                f"uploadBlob: Bluesky's blob reference is not what humas expects "
                f"({_first_error(exc)}).",
                ErrorKind.PERMANENT,
            ) from exc

    def _facets(self, text: str) -> list[models.AppBskyRichtextFacet.Main]:
        """Links, hashtags and mentions with UTF-8 byte offsets, as the lexicon requires.

        The SDK's detector finds them by code point and converts each index by encoding the
        text before it, so emoji and other multi-byte characters before a link are counted
        right. A mention whose handle does not resolve is left as plain text (Bluesky does
        the same).
        """
        facets = facet_detection.detect_facets(text)
        resolved: dict[str, str | None] = {}
        for mention in facet_detection.detect_mentions(text):
            handle = mention.handle.lower()
            if handle not in resolved:
                try:
                    answer = self._get(
                        "com.atproto.identity.resolveHandle",
                        models.ComAtprotoIdentityResolveHandle.Params(handle=handle),
                    )
                    resolved[handle] = str(answer.get("did") or "") or None
                except ProviderError as exc:
                    if exc.kind != ErrorKind.PERMANENT:
                        raise
                    resolved[handle] = None
            did = resolved[handle]
            if did:
                facets.append(
                    models.AppBskyRichtextFacet.Main(
                        features=[models.AppBskyRichtextFacet.Mention(did=did)],
                        index=models.AppBskyRichtextFacet.ByteSlice(
                            byte_start=mention.byte_start, byte_end=mention.byte_end
                        ),
                    )
                )
        return sorted(facets, key=lambda facet: facet.index.byte_start)

    def _strong_ref(self, uri: str) -> dict[str, str]:
        posts = self._get_posts([uri])
        if not posts:
            raise ProviderError(
                "The post to answer no longer exists on Bluesky.", ErrorKind.PERMANENT
            )
        return {"uri": uri, "cid": _text(posts[0], "cid", "getPosts")}

    # --- hearing ------------------------------------------------------------------------

    def fetch_inbound(self, cursor: str) -> tuple[list[InboundEvent], str]:
        """New notifications since ``cursor`` (see :class:`_InboundCursor` for how).

        Each call either hands over new events or reads on until its sweep is done, so a
        call that finds nothing new returns the cursor it was given: the caller stops
        when the cursor stops moving.
        """
        state = _InboundCursor.load(cursor)
        events: list[InboundEvent] = []
        for _page in range(MAX_QUIET_PAGES):
            events, finished = self._sweep_page(state)
            if events or finished:
                break
        return events, state.dump()

    def _sweep_page(self, state: _InboundCursor) -> tuple[list[InboundEvent], bool]:
        """Read one page of the current sweep into ``state``; True when the sweep is done."""
        answer = self._get(
            "app.bsky.notification.listNotifications",
            models.AppBskyNotificationListNotifications.Params(
                limit=NOTIFICATION_PAGE, cursor=state.page or None, reasons=list(REASONS)
            ),
        )
        items = answer.get("notifications")
        if not isinstance(items, list):
            raise _shape_error("listNotifications", "notifications")
        floor = state.mark - CURSOR_OVERLAP if state.mark else None
        newest = state.top or state.mark
        events: list[InboundEvent] = []
        reached_known = False
        for item in items:
            if not isinstance(item, dict):
                raise _shape_error("listNotifications", "notifications[]")
            uri = _text(item, "uri", "listNotifications")
            at = _time(item, "indexedAt", "listNotifications")
            if floor is not None and at < floor:
                reached_known = True
                break
            key = _short_id(uri)
            if key in state.seen:
                continue
            state.seen[key] = at
            newest = max(newest, at) if newest else at
            event = self._event(item, at)
            if event is not None:
                events.append(event)
        next_page = str(answer.get("cursor") or "")
        # The first poll of a channel takes one page (its most recent notifications), not
        # the account's whole history.
        finished = reached_known or not items or not next_page or state.mark is None
        if finished:
            # An account without notifications yet starts from now: otherwise its next poll
            # would be a "first" one again and take only one page of a busy first minute.
            state.mark = newest or state.mark or datetime.now(UTC)
            keep = state.mark - CURSOR_OVERLAP if state.mark else None
            state.seen = {k: v for k, v in state.seen.items() if keep is None or v >= keep}
            state.page, state.top = "", None
        else:
            state.page, state.top = next_page, newest
        return events, finished

    def _event(self, item: dict[str, Any], at: datetime) -> InboundEvent | None:
        kind = REASONS.get(str(item.get("reason") or ""))
        if kind is None:
            return None
        what = "listNotifications"
        uri = _text(item, "uri", what)
        author = item.get("author")
        if not isinstance(author, dict):
            raise _shape_error(what, "author")
        record = item.get("record")
        if not isinstance(record, dict):
            raise _shape_error(what, "record")
        handle = str(author.get("handle") or "")
        did = _text(author, "did", what)
        subject = str(item.get("reasonSubject") or "")
        langs = record.get("langs")
        event = InboundEvent(
            kind=kind,
            external_id=uri,
            created_at=at,
            author_id=did,
            author_handle=handle,
            author_name=str(author.get("displayName") or ""),
            language=str(langs[0]) if isinstance(langs, list) and langs else "",
            raw=item,
        )
        if kind in (EventKind.REACTION, EventKind.REPOST):
            # A like or repost is a record of its own; what it points at is our post.
            if not subject:
                subject = str((record.get("subject") or {}).get("uri") or "")
            event.thread_id = event.parent_id = subject
            if subject:
                event.permalink = _public_url(subject)
            return event
        event.text = str(record.get("text") or "")
        event.permalink = _public_url(uri, handle)
        reply = record.get("reply")
        if isinstance(reply, dict):
            event.thread_id = str((reply.get("root") or {}).get("uri") or uri)
            event.parent_id = str((reply.get("parent") or {}).get("uri") or "")
        else:
            event.thread_id = uri
            event.parent_id = subject if kind == EventKind.QUOTE else ""
        event.media = _images_of(record)
        return event

    # --- measuring ----------------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        found: dict[str, PostMetrics] = {}
        for start in range(0, len(external_ids), GET_POSTS_CHUNK):
            for post in self._get_posts(list(external_ids[start : start + GET_POSTS_CHUNK])):
                uri = _text(post, "uri", "getPosts")
                found[uri] = PostMetrics(
                    external_id=uri,
                    likes=_count(post, "likeCount"),
                    reposts=_count(post, "repostCount"),
                    replies=_count(post, "replyCount"),
                    quotes=_count(post, "quoteCount", required=False),
                )
        return found

    def fetch_account_metrics(self) -> AccountMetrics:
        profile = self._get(
            "app.bsky.actor.getProfile", models.AppBskyActorGetProfile.Params(actor=self._did())
        )
        return AccountMetrics(
            followers=_count(profile, "followersCount", "getProfile"),
            following=_count(profile, "followsCount", "getProfile"),
            posts=_count(profile, "postsCount", "getProfile"),
        )

    def _get_posts(self, uris: list[str]) -> list[dict[str, Any]]:
        answer = self._get("app.bsky.feed.getPosts", models.AppBskyFeedGetPosts.Params(uris=uris))
        posts = answer.get("posts")
        if not isinstance(posts, list) or not all(isinstance(p, dict) for p in posts):
            raise _shape_error("getPosts", "posts")
        return posts

    # --- calls, sessions and errors -----------------------------------------------------

    def _get(self, nsid: str, params: Any) -> dict[str, Any]:
        return self._call(nsid, lambda client: client.invoke_query(nsid, params=params))

    def _post(
        self, nsid: str, data: Any, *, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        # The SDK sets Content-Type only when told the input encoding; the PDS refuses a
        # body without one.
        headers = headers or {"Content-Type": "application/json"}
        return self._call(
            nsid, lambda client: client.invoke_procedure(nsid, data=data, headers=headers)
        )

    def _call(self, nsid: str, send: Callable[[Client], Response]) -> dict[str, Any]:
        """Send with a live session; an expired or refused token is renewed once, then retried."""
        client = self._session_client()
        try:
            response = self._mapped(nsid, lambda: send(client))
        except _StaleSession:
            self._renew_session(client)
            try:
                response = self._mapped(nsid, lambda: send(client))
            except _StaleSession as exc:
                raise exc.error from None
        content = response.content
        if not isinstance(content, dict):
            raise ProviderError(
                f"{nsid}: Bluesky did not answer with a JSON object.", ErrorKind.TRANSIENT
            )
        return content

    def _mapped(self, nsid: str, send: Callable[[], T]) -> T:
        try:
            return send()
        except ProviderError:
            raise
        except sdk.RequestErrorBase as exc:
            error = to_provider_error(exc, nsid)
            if error_name(exc) in ("ExpiredToken", "InvalidToken"):
                raise _StaleSession(error) from exc
            raise error from exc
        except (sdk.ModelError, ValidationError) as exc:
            raise ProviderError(
                f"{nsid}: Bluesky's answer is not what humas expects ({exc}); humas may "
                "need an update for a change in Bluesky's API.",
                ErrorKind.PERMANENT,
            ) from exc
        except (AtProtocolError, ValueError) as exc:
            # The SDK refused a token it could not decode, or similar: start a new session.
            raise _StaleSession(
                ProviderError(f"{nsid}: the stored Bluesky session is unusable.", ErrorKind.AUTH)
            ) from exc

    def _session_client(self) -> Client:
        if self._client is not None:
            return self._client
        http = self.http()
        client = Client(base_url=self._service(), request=HumasRequest(http))
        client.on_session_change(self._remember_session)
        cached = self._cached_session()
        access = self.credentials.get("access_jwt")
        refresh = self.credentials.get("refresh_jwt")
        if cached is not None:
            self._mapped(
                "session",
                lambda: client.login(session_string=cached.encode(), fetch_bsky_profile=False),
            )
        elif access and refresh and self.credentials.get("did"):
            stored = Session(
                handle=str(self.credentials.get("handle") or ""),
                did=str(self.credentials["did"]),
                access_jwt=str(access),
                refresh_jwt=str(refresh),
                pds_endpoint=str(self.credentials.get("pds") or self._service()),
            )
            try:
                self._mapped(
                    "session",
                    lambda: client.login(session_string=stored.encode(), fetch_bsky_profile=False),
                )
            except _StaleSession:
                self._create_session(client)
        else:
            self._create_session(client)
        self._client = client
        return client

    def _renew_session(self, client: Client) -> None:
        """Refresh the access token; if the refresh token is refused too, log in again."""
        refresh = client._session.refresh_jwt if client._session else ""
        if refresh:
            try:
                answer = self._mapped(
                    "com.atproto.server.refreshSession",
                    lambda: client.invoke_procedure(
                        "com.atproto.server.refreshSession",
                        headers={"Authorization": f"Bearer {refresh}"},
                        ignore_session_check=True,
                    ),
                )
            except _StaleSession:
                pass
            except ProviderError as exc:
                if exc.kind != ErrorKind.AUTH:
                    raise
            else:
                if isinstance(answer.content, dict):
                    self._adopt(client, answer.content, "refreshSession")
                    return
        self._create_session(client)

    def _create_session(self, client: Client) -> None:
        identifier = str(
            self.credentials.get("identifier")
            or self.credentials.get("handle")
            or self.credentials.get("did")
            or ""
        )
        password = str(self.credentials.get("app_password") or "")
        if not identifier or not password:
            raise ProviderError(
                "No Bluesky app password is stored for this channel; connect it again.",
                ErrorKind.AUTH,
            )
        try:
            answer = self._mapped(
                "com.atproto.server.createSession",
                lambda: client.invoke_procedure(
                    "com.atproto.server.createSession",
                    data=models.ComAtprotoServerCreateSession.Data(
                        identifier=identifier, password=password
                    ),
                    headers={"Content-Type": "application/json"},
                    ignore_session_check=True,
                ),
            )
        except _StaleSession as exc:
            raise exc.error from None
        except ProviderError as exc:
            if exc.kind == ErrorKind.AUTH or exc.status == 401:
                raise ProviderError(
                    "Bluesky refused the handle or app password "
                    f"({exc.message}). Create a new app password and connect the channel again.",
                    ErrorKind.AUTH,
                    status=exc.status,
                ) from exc
            raise
        if not isinstance(answer.content, dict):
            raise _shape_error("createSession", "accessJwt")
        self._adopt(client, answer.content, "createSession")

    def _adopt(self, client: Client, answer: dict[str, Any], what: str) -> None:
        session = Session(
            handle=_text(answer, "handle", what),
            did=_text(answer, "did", what),
            access_jwt=_text(answer, "accessJwt", what),
            refresh_jwt=_text(answer, "refreshJwt", what),
            pds_endpoint=_pds_endpoint(answer)
            or str(self.credentials.get("pds") or "")
            or self._service(),
        )
        try:
            client.login(session_string=session.encode(), fetch_bsky_profile=False)
        except (AtProtocolError, ValueError) as exc:
            raise ProviderError(
                f"{what}: Bluesky's session token could not be read.", ErrorKind.PERMANENT
            ) from exc

    def _remember_session(self, event: SessionEvent, session: Session) -> None:
        """Keep the newest tokens on ``credentials`` (for whoever persists them) and in memory."""
        self.credentials.update(
            {
                "did": session.did,
                "handle": session.handle,
                "access_jwt": session.access_jwt,
                "refresh_jwt": session.refresh_jwt,
                "pds": (session.pds_endpoint or "").removesuffix("/xrpc"),
            }
        )
        self.credentials.setdefault("service", self._service())
        key = self._cache_key()
        if key:
            with _sessions_lock:
                _sessions[key] = session.copy()

    def _cached_session(self) -> Session | None:
        key = self._cache_key()
        if not key:
            return None
        with _sessions_lock:
            found = _sessions.get(key)
        return found.copy() if found else None

    def _cache_key(self) -> str:
        if self.channel_key == "new":
            return ""
        return _session_key(
            self.channel_key,
            self._service(),
            str(self.credentials.get("identifier") or self.credentials.get("did") or ""),
            str(self.credentials.get("app_password") or ""),
        )

    def _service(self) -> str:
        return str(
            self.credentials.get("service") or self.config.get("service") or DEFAULT_SERVICE
        ).rstrip("/")

    def _did(self) -> str:
        self._session_client()
        did = self.credentials.get("did")
        if not did:
            raise ProviderError("Bluesky did not say which account this is.", ErrorKind.AUTH)
        return str(did)


# --- the inbound cursor ------------------------------------------------------------------------


@dataclass
class _InboundCursor:
    """Where the last poll stopped, so that each notification reaches humas exactly once.

    ``listNotifications`` pages from newest to oldest and has no "since" parameter, so a
    poll pages backwards from the top until it meets what an earlier poll already saw:

    - ``mark`` is the newest ``indexedAt`` of the last finished sweep. A sweep ends at the
      first notification older than ``mark`` minus :data:`CURSOR_OVERLAP`.
    - Why the overlap: the AppView sorts (and dates) a notification by the earlier of its
      record's ``createdAt`` and the time it indexed it, and ``createdAt`` is written by the
      citizen's app. A phone whose clock runs a few minutes slow creates a notification that
      lands *below* the newest one already seen; a plain "stop at mark" would miss it.
    - ``seen`` holds short hashes of the notifications inside that overlap window (with
      their time), so those already handed over are not handed over again: every
      notification comes out exactly once, also when two notifications share a timestamp.
    - ``page``/``top``: a sweep longer than one page goes on at ``page`` (the AppView's own
      cursor) at the next call; ``top`` is the newest time of that sweep, which becomes
      ``mark`` once the sweep reaches known ground. Notifications arriving meanwhile are
      newer than ``top`` and are found by the next sweep.

    Limit: a notification dated more than :data:`CURSOR_OVERLAP` before the newest one seen
    is missed (humas's store would deduplicate a repeat anyway: unique per channel and id).
    """

    mark: datetime | None = None
    seen: dict[str, datetime] = field(default_factory=dict)
    page: str = ""
    top: datetime | None = None

    @classmethod
    def load(cls, text: str) -> _InboundCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(
                mark=_parse_time(data["m"]) if data.get("m") else None,
                seen={
                    str(k): datetime.fromtimestamp(int(v) / 1000, UTC)
                    for k, v in (data.get("s") or {}).items()
                },
                page=str(data.get("p") or ""),
                top=_parse_time(data["t"]) if data.get("t") else None,
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            # An unreadable cursor (from an older humas) starts afresh like a new channel;
            # the store's uniqueness keeps any repeat out.
            return cls()

    def dump(self) -> str:
        data: dict[str, Any] = {"v": 1}
        if self.mark:
            data["m"] = _iso(self.mark)
        if self.seen:
            # Milliseconds since the epoch: a busy window holds thousands of entries.
            data["s"] = {
                k: int(v.timestamp() * 1000)
                for k, v in sorted(self.seen.items(), key=lambda kv: kv[1])
            }
        if self.page:
            data["p"] = self.page
        if self.top:
            data["t"] = _iso(self.top)
        return json.dumps(data, separators=(",", ":"))


class _StaleSession(Exception):
    """The session's token was refused as expired or invalid: renew it, then retry once."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(error.message)
        self.error = error


# --- helpers ---------------------------------------------------------------------------------


def _shape_error(what: str, name: str) -> ProviderError:
    return ProviderError(
        f"{what}: Bluesky's answer has no usable '{name}'; humas may need an update for a "
        "change in Bluesky's API.",
        ErrorKind.PERMANENT,
    )


def _text(data: Mapping[str, Any], name: str, what: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise _shape_error(what, name)
    return value


def _count(
    data: Mapping[str, Any], name: str, what: str = "getPosts", *, required: bool = True
) -> Any:
    value = data.get(name)
    if value is None and not required:
        return None  # not given: not provided, which is not 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _shape_error(what, name)
    return value


def _time(data: Mapping[str, Any], name: str, what: str) -> datetime:
    try:
        return _parse_time(_text(data, name, what))
    except ValueError as exc:
        raise _shape_error(what, name) from exc


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _follow_up_of(content: PostContent) -> tuple[str, str] | None:
    """(parent, root) ids from ``options["in_reply_to"]``, the shape publishing gives."""
    wanted = content.options.get("in_reply_to")
    if not isinstance(wanted, Mapping) or not wanted.get("id"):
        return None
    parent = str(wanted["id"])
    return parent, str(wanted.get("root") or parent)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _short_id(uri: str) -> str:
    # 48 bits: a collision among the few thousand notifications of one window is
    # vanishingly unlikely, and would only hide one notification, not corrupt anything.
    return hashlib.blake2b(uri.encode(), digest_size=6).hexdigest()


def _split_at_uri(uri: str) -> tuple[str, str, str]:
    """``at://<did>/<collection>/<rkey>`` → its three parts (a permanent error otherwise)."""
    if uri.startswith("at://"):
        parts = uri[5:].split("/")
        if len(parts) == 3 and all(parts):
            return parts[0], parts[1], parts[2]
    raise ProviderError(f"“{uri}” is not a Bluesky post address (at://…).", ErrorKind.PERMANENT)


def _public_url(uri: str, handle: str = "") -> str:
    try:
        repo, collection, rkey = _split_at_uri(uri)
    except ProviderError:
        return ""
    if collection != POST_COLLECTION:
        return ""
    return f"https://bsky.app/profile/{handle or repo}/post/{rkey}"


def _strong_ref_model(ref: Mapping[str, str]) -> models.ComAtprotoRepoStrongRef.Main:
    return models.ComAtprotoRepoStrongRef.Main(uri=ref["uri"], cid=ref["cid"])


def _pds_endpoint(answer: Mapping[str, Any]) -> str:
    """The account's PDS from the DID document a session may carry (bsky.social's entryway
    hands out sessions for accounts that live on other hosts)."""
    doc = answer.get("didDoc")
    if not isinstance(doc, dict):
        return ""
    for service in doc.get("service") or []:
        if isinstance(service, dict) and str(service.get("id", "")).endswith("#atproto_pds"):
            return str(service.get("serviceEndpoint") or "")
    return ""


def _images_of(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    embed = record.get("embed")
    if not isinstance(embed, dict):
        return []
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        media = embed.get("media")
        embed = media if isinstance(media, dict) else {}
    images = embed.get("images")
    found = []
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict):
            blob = image.get("image")
            if not isinstance(blob, dict):
                blob = {}
            found.append(
                {
                    "type": "image",
                    "alt": str(image.get("alt") or ""),
                    "mime_type": str(blob.get("mimeType") or ""),
                    "cid": str((blob.get("ref") or {}).get("$link") or ""),
                }
            )
    return found


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
