"""The form for creating a campaign's tracked links."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from humas.channels.models import ChannelAccount
from humas.publishing.models import Campaign, Post


class LinkForm(forms.Form):
    destination = forms.URLField(
        label=_("Destination"),
        max_length=2000,
        assume_scheme="https",
        help_text=_(
            "Where the link leads: an http or https address (the campaign link by default)."
        ),
    )
    channels = forms.ModelMultipleChoiceField(
        label=_("Channels"),
        queryset=ChannelAccount.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "One link per channel, so clicks are counted by channel. None chosen: one link "
            "for use elsewhere (a poster, an e-mail)."
        ),
    )
    post = forms.ModelChoiceField(
        label=_("Post"),
        queryset=Post.objects.none(),
        required=False,
        help_text=_("Only to count clicks for one post of this campaign."),
    )
    label = forms.CharField(label=_("Label"), max_length=100, required=False)

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["destination"].initial = campaign.link
        channels = ChannelAccount.objects.filter(organisation=campaign.organisation).order_by(
            "network", "handle"
        )
        posts = Post.objects.filter(organisation=campaign.organisation, campaign=campaign).order_by(
            "-created_at"
        )
        self.fields["channels"].queryset = channels  # type: ignore[attr-defined]
        self.fields["post"].queryset = posts  # type: ignore[attr-defined]

    def clean_destination(self) -> str:
        value: str = self.cleaned_data["destination"]
        if not value.lower().startswith(("http://", "https://")):
            raise forms.ValidationError(_("The destination must be an http or https address."))
        return value
