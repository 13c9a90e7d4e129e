"""Forms of the post pages: the list's filters, the composer and the post page's buttons."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from humas.channels.models import ChannelAccount, ChannelStatus
from humas.channels.providers import UnknownNetwork
from humas.publishing.compose import Draft
from humas.publishing.models import (
    Campaign,
    Decision,
    MediaAsset,
    Pillar,
    Post,
    PostStatus,
    Recurrence,
    Variant,
)

#: A line with only three dashes separates the parts of a thread.
THREAD_SEPARATOR = re.compile(r"^[ \t]*---[ \t]*$", re.MULTILINE)


def split_thread(text: str) -> list[str]:
    return [part.strip() for part in THREAD_SEPARATOR.split(text) if part.strip()]


def join_thread(parts: Iterable[str]) -> str:
    return "\n---\n".join(parts)


def _ids(values: Iterable[str]) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


def publishable_channels(channels: QuerySet[ChannelAccount]) -> list[ChannelAccount]:
    """The active channels whose network can publish (an RSS feed only reads)."""
    found = []
    for channel in channels.filter(status=ChannelStatus.ACTIVE).order_by("network", "handle"):
        try:
            if channel.provider_class.capabilities.publish:
                found.append(channel)
        except (UnknownNetwork, ImportError):
            continue
    return found


class PostFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *PostStatus.choices]
    )
    pillar = forms.ModelChoiceField(
        label=_("Pillar"), required=False, queryset=Pillar.objects.none(), empty_label=_("All")
    )
    campaign = forms.ModelChoiceField(
        label=_("Campaign"),
        required=False,
        queryset=Campaign.objects.none(),
        empty_label=_("All"),
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        required=False,
        queryset=ChannelAccount.objects.none(),
        empty_label=_("All"),
    )

    def __init__(
        self,
        *args: Any,
        pillars: QuerySet[Pillar],
        campaigns: QuerySet[Campaign],
        channels: QuerySet[ChannelAccount],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pillar"].queryset = pillars  # type: ignore[attr-defined]
        self.fields["campaign"].queryset = campaigns  # type: ignore[attr-defined]
        self.fields["channel"].queryset = channels  # type: ignore[attr-defined]

    def filter(self, posts: QuerySet[Post]) -> QuerySet[Post]:
        if not self.is_valid():
            return posts
        data = self.cleaned_data
        if data["status"]:
            posts = posts.filter(status=data["status"])
        if data["pillar"]:
            posts = posts.filter(pillar=data["pillar"])
        if data["campaign"]:
            posts = posts.filter(campaign=data["campaign"])
        if data["channel"]:
            posts = posts.filter(variants__channel=data["channel"]).distinct()
        return posts


class ChannelChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name or obj.handle} · {obj.network_label}"


class MediaChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj)


class PostForm(forms.Form):
    """The post itself; the per-channel variants are :class:`VariantForm` instances."""

    title = forms.CharField(label=_("Title"), max_length=200)
    text = forms.CharField(
        label=_("Main text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "data-compose-main": ""}),
        help_text=_("Each channel starts from this text; change it per channel below."),
    )
    link = forms.URLField(label=_("Link"), required=False, max_length=1000, assume_scheme="https")
    pillar = forms.ModelChoiceField(
        label=_("Pillar"), required=False, queryset=Pillar.objects.none()
    )
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), required=False, queryset=Campaign.objects.none()
    )
    channels = ChannelChoiceField(
        label=_("Publish on"),
        required=False,
        queryset=ChannelAccount.objects.none(),
        widget=forms.CheckboxSelectMultiple(attrs={"data-compose-channel": ""}),
    )
    # Not ``media``: a form's ``media`` is its CSS and JS.
    assets = MediaChoiceField(
        label=_("Media"),
        required=False,
        queryset=MediaAsset.objects.none(),
        widget=forms.CheckboxSelectMultiple(attrs={"data-compose-media": ""}),
    )
    # The order the media goes out in: ids separated by commas, kept by compose.js in the
    # order they were ticked. Without JS the order of the library is used.
    media_order = forms.CharField(required=False, widget=forms.HiddenInput)
    recurrence = forms.ChoiceField(label=_("Repeat"), required=False, choices=Recurrence.choices)
    recurrence_until = forms.DateField(
        label=_("Repeat until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(
        self,
        *args: Any,
        channels: Sequence[ChannelAccount],
        pillars: QuerySet[Pillar],
        campaigns: QuerySet[Campaign],
        media: QuerySet[MediaAsset],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.channel_rows = list(channels)
        channel_field: Any = self.fields["channels"]
        channel_field.queryset = ChannelAccount.objects.filter(
            pk__in=[c.pk for c in self.channel_rows]
        ).order_by("network", "handle")
        pillar_field: Any = self.fields["pillar"]
        pillar_field.queryset = pillars.filter(is_active=True)
        campaign_field: Any = self.fields["campaign"]
        campaign_field.queryset = campaigns
        assets_field: Any = self.fields["assets"]
        assets_field.queryset = media

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("recurrence_until") and not data.get("recurrence"):
            self.add_error("recurrence_until", _("Choose how the post repeats first."))
        return data

    # The composer's live check runs on every keystroke, with a form that may not be valid
    # yet (no title, a half-typed link): these read the raw choices, limited to the org's.

    def chosen_channels(self) -> list[ChannelAccount]:
        data: Any = self.data
        ids = set(_ids(data.getlist(self.add_prefix("channels"))))
        return [c for c in self.channel_rows if c.pk in ids]

    def chosen_media(self) -> list[MediaAsset]:
        data: Any = self.data
        ids = _ids(data.getlist(self.add_prefix("assets")))
        assets_field: Any = self.fields["assets"]
        found = {a.pk: a for a in assets_field.queryset.filter(pk__in=ids)}
        order = _ids(self.data.get(self.add_prefix("media_order"), "").split(","))
        ranked = [i for i in order if i in found] + [i for i in ids if i not in order]
        return [found[i] for i in dict.fromkeys(ranked) if i in found]

    def raw(self, name: str) -> str:
        return str(self.data.get(self.add_prefix(name), ""))


class VariantForm(forms.Form):
    """One channel's version of the post."""

    text = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "data-compose-variant": ""}),
        help_text=_("Left empty, the main text is used."),
    )
    thread = forms.CharField(
        label=_("Thread"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Follow-up posts, each a reply to the one before. Separate them with a line "
            "containing only ---"
        ),
    )
    content_warning = forms.CharField(label=_("Content warning"), required=False, max_length=200)
    first_comment = forms.CharField(
        label=_("First comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    with_media = forms.BooleanField(label=_("Attach the post's media"), required=False)

    def __init__(self, *args: Any, channel: ChannelAccount, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"v{channel.pk}")
        super().__init__(*args, **kwargs)
        self.channel = channel
        if not channel.provider_class.capabilities.threads:
            del self.fields["thread"]
            del self.fields["first_comment"]

    @classmethod
    def initial_for(cls, variant: Variant | None) -> dict[str, Any]:
        if variant is None:
            return {"with_media": True}
        return {
            "text": variant.text,
            "thread": join_thread(variant.thread),
            "content_warning": variant.content_warning,
            "first_comment": variant.first_comment,
            "with_media": variant.with_media,
        }

    def _value(self, name: str) -> str:
        if name not in self.fields:
            return ""
        return str(self.data.get(self.add_prefix(name), "")) if self.is_bound else ""

    def draft(self, main_text: str) -> Draft:
        """The variant as typed (an empty text stands for the main text)."""
        return Draft(
            channel=self.channel,
            text=self._value("text").strip() or main_text,
            thread=split_thread(self._value("thread")),
            content_warning=self._value("content_warning").strip()[:200],
            first_comment=self._value("first_comment").strip(),
            with_media=bool(self.data.get(self.add_prefix("with_media"))),
        )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when asking for changes or rejecting."),
    )


class ZonedDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` value read as a time in the organisation's zone."""

    zone: tzinfo | None = None

    def to_python(self, value: Any) -> datetime | None:
        if self.zone is None:
            return super().to_python(value)
        # DateTimeField makes a naive value aware in the current zone; make that the org's.
        with timezone.override(self.zone):
            return super().to_python(value)


class ScheduleForm(forms.Form):
    when = ZonedDateTimeField(
        label=_("Publish at"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, zone: tzinfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["when"]
        field.zone = zone

    def clean_when(self) -> datetime:
        when: datetime = self.cleaned_data["when"]
        # A minute's grace for the time it took to click; older would go out at once,
        # which is what "Publish now" is for.
        if when < timezone.now() - timedelta(minutes=1):
            raise forms.ValidationError(
                _("That time has passed; choose a later time, or use “Publish now”.")
            )
        return when


class ConfirmArrivedForm(forms.Form):
    url = forms.URLField(
        label=_("Address of the post on the channel"),
        required=False,
        max_length=1000,
        assume_scheme="https",
    )
