"""Forms for the planning pages, the production board and the calendar."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation, User
from humas.channels.models import ChannelAccount
from humas.publishing.models import BrandSnippet, Campaign, Card, Pillar, Stage

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _limit(form: forms.BaseForm, name: str, queryset: Any) -> None:
    cast(forms.ModelChoiceField, form.fields[name]).queryset = queryset


class PillarForm(forms.ModelForm):
    class Meta:
        model = Pillar
        fields = ["name", "colour", "target_share", "description", "is_active"]
        widgets = {
            # A colour picker sends #rrggbb; clean_colour still checks what a script might send.
            "colour": forms.TextInput(attrs={"type": "color"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        # The unique constraint includes the organisation, which is not a form field, so
        # ModelForm does not check it: a duplicate would otherwise be a database error.
        taken = Pillar.objects.filter(organisation=self.organisation, name__iexact=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("There is already a pillar with this name."))
        return name

    def clean_colour(self) -> str:
        colour = self.cleaned_data["colour"].strip()
        if not _COLOUR.match(colour):
            raise forms.ValidationError(_("Enter a colour as #rrggbb, for example #2563eb."))
        return colour.lower()

    def clean_target_share(self) -> int:
        share = self.cleaned_data["target_share"]
        if share > 100:
            raise forms.ValidationError(_("A share cannot be more than 100%."))
        return share


class CampaignForm(forms.ModelForm):
    link = forms.URLField(
        label=_("campaign link"), max_length=1000, required=False, assume_scheme="https"
    )

    class Meta:
        model = Campaign
        fields = ["name", "goal", "starts_on", "ends_on", "hashtags", "link", "pillar"]
        widgets = {
            "goal": forms.Textarea(attrs={"rows": 3}),
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "ends_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {"hashtags": _("Separated by spaces, e.g. #KotaSehat #CegahDBD")}

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit(self, "pillar", Pillar.objects.filter(organisation=organisation, is_active=True))


class SnippetForm(forms.ModelForm):
    class Meta:
        model = BrandSnippet
        fields = ["kind", "name", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 4})}


class CardForm(forms.ModelForm):
    class Meta:
        model = Card
        fields = ["title", "notes", "stage", "assignee", "due_on", "pillar", "campaign"]
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 6}),
            "due_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only active members of this organisation can be given a card.
        _limit(
            self,
            "assignee",
            User.objects.filter(
                memberships__organisation=organisation, memberships__is_active=True
            ).order_by("full_name", "email"),
        )
        _limit(self, "pillar", Pillar.objects.filter(organisation=organisation, is_active=True))
        _limit(self, "campaign", Campaign.objects.filter(organisation=organisation))


class CommentForm(forms.Form):
    text = forms.CharField(
        label=_("Comment"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class MoveCardForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), choices=Stage.choices)


class CalendarForm(forms.Form):
    """The calendar's query string; anything invalid falls back to the default."""

    view = forms.ChoiceField(choices=[("month", _("Month")), ("week", _("Week"))], required=False)
    date = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    channel = forms.ModelChoiceField(
        queryset=ChannelAccount.objects.none(), required=False, label=_("Channel")
    )

    def __init__(self, *args: Any, channels: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _limit(self, "channel", channels)


class CalendarMoveForm(forms.Form):
    post = forms.IntegerField(min_value=1)
    to = forms.DateField(input_formats=["%Y-%m-%d"])
