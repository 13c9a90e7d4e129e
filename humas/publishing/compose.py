"""Turning a post's variants into what each provider publishes, and checking them first.

Validation runs on every keystroke in the composer (through htmx), so it works from the
media library's records (size, dimensions, duration) and never reads a file or decrypts a
channel's credentials: one provider instance without credentials per network is enough to
ask for its limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.utils.translation import gettext as _

from humas.channels.models import ChannelAccount
from humas.channels.providers import provider_class
from humas.channels.providers.base import Media, PostContent, Provider
from humas.publishing.models import Campaign, MediaAsset, MediaKind, Variant


@dataclass
class Check:
    """The outcome of validating one variant: problems block publishing, warnings do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    length: int = 0
    max_length: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Draft:
    """One variant as the composer holds it (saved or not yet)."""

    channel: ChannelAccount
    text: str
    thread: Sequence[str] = ()
    content_warning: str = ""
    first_comment: str = ""
    with_media: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, variant: Variant) -> Draft:
        """The saved variant as the composer and the worker see it."""
        return cls(
            channel=variant.channel,
            text=variant.text,
            thread=variant.thread,
            content_warning=variant.content_warning,
            first_comment=variant.first_comment,
            with_media=variant.with_media,
            options=variant.options,
        )


def provider_for_limits(channel: ChannelAccount) -> Provider:
    """A provider that knows the channel's limits (from its config) but holds no secrets."""
    return provider_class(channel.network)(
        credentials={}, config=channel.config, channel_key=f"{channel.network}:{channel.pk}"
    )


def media_for(asset: MediaAsset, *, with_data: bool) -> Media:
    data = b""
    if with_data:
        with asset.file.open("rb") as handle:
            data = handle.read()
    return Media(
        data=data,
        mime_type=asset.mime_type,
        alt_text=asset.alt_text,
        filename=asset.original_name or str(asset.file.name).rsplit("/", 1)[-1],
        width=asset.width,
        height=asset.height,
        size=asset.size,
        duration=asset.duration,
    )


def tracked_link(link: str, campaign: Campaign | None, network: str) -> str:
    """The campaign link tagged with where the click came from (UTM parameters)."""
    if not link or campaign is None:
        return link
    parts = urlsplit(link)
    query = [(k, v) for k, v in parse_qsl(parts.query) if not k.startswith("utm_")]
    query += [("utm_source", network), ("utm_medium", "social"), ("utm_campaign", campaign.slug)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def content_for(
    draft: Draft,
    *,
    media: Sequence[Media],
    link: str = "",
    key: str = "",
) -> PostContent:
    options = dict(draft.options)
    if draft.content_warning:
        options["spoiler_text"] = draft.content_warning
    if key:
        options["idempotency_key"] = key
    return PostContent(
        text=draft.text,
        media=list(media) if draft.with_media else [],
        link=link,
        thread=[PostContent(text=part) for part in draft.thread if part.strip()],
        options=options,
    )


def check_draft(
    draft: Draft,
    assets: Sequence[MediaAsset],
    *,
    provider: Provider | None = None,
    link: str = "",
) -> Check:
    provider = provider or provider_for_limits(draft.channel)
    check = Check(max_length=provider.limits.max_text)
    if not provider.capabilities.publish:
        check.problems.append(_("This channel only reads; it cannot publish."))
        return check
    used = list(assets) if draft.with_media else []
    content = content_for(draft, media=[media_for(a, with_data=False) for a in used], link=link)
    check.length = provider.text_length(content.text)
    check.problems.extend(provider.validate(content))
    if draft.thread and not provider.capabilities.threads:
        check.problems.append(_("This network has no threads; put everything in one post."))
    for asset in used:
        name = str(asset)
        # Alt text is required by humas on every network, not only where the network asks:
        # a government post must be readable by everyone.
        if asset.kind == MediaKind.IMAGE and not asset.alt_text.strip():
            problem = _("“%(name)s” has no alt text; describe the image before publishing.") % {
                "name": name
            }
            if problem not in check.problems:
                check.problems.append(problem)
        if asset.kind == MediaKind.VIDEO and not asset.captions.strip():
            check.warnings.append(
                _("“%(name)s” has no captions; many people watch without sound.") % {"name": name}
            )
    if not (draft.text.strip() or used):
        check.problems.append(_("Write something or attach media."))
    # The network's own messages and humas's can say the same thing in other words; keep
    # each sentence once.
    check.problems = list(dict.fromkeys(check.problems))
    return check


def check_all(
    drafts: Iterable[Draft], assets: Sequence[MediaAsset], link: str = ""
) -> dict[int, Check]:
    """Validate every variant; one provider per network, built once."""
    providers: dict[tuple[str, int], Provider] = {}
    results: dict[int, Check] = {}
    for draft in drafts:
        channel = draft.channel
        provider = providers.get((channel.network, channel.pk))
        if provider is None:
            provider = providers[(channel.network, channel.pk)] = provider_for_limits(channel)
        results[channel.pk] = check_draft(draft, assets, provider=provider, link=link)
    return results
