"""The forms for creating a campaign's tracked links and for goals."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation, User
from humas.analytics.goals import REACH, problems
from humas.analytics.models import GoalMetric
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


class GoalForm(forms.Form):
    """A goal's metric, scope, target and period; the rules are :func:`goals.problems`."""

    metric = forms.ChoiceField(label=_("Measure"))
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=ChannelAccount.objects.none(),
        required=False,
        help_text=_("Leave empty for the whole organisation."),
    )
    campaign = forms.ModelChoiceField(
        label=_("Campaign"),
        queryset=Campaign.objects.none(),
        required=False,
        help_text=_("A channel or a campaign, not both."),
    )
    target = forms.DecimalField(
        label=_("Target"),
        max_digits=12,
        decimal_places=2,
        help_text=_(
            "In the measure's unit: percent, followers, conversions or minutes. For the "
            "response time, lower is better: the target is the longest acceptable median."
        ),
    )
    starts_on = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(
        label=_("Until (inclusive)"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.fields["metric"].choices = [  # type: ignore[attr-defined]
            *GoalMetric.choices,
            (REACH, _("Reach or impressions")),
        ]
        self.fields["channel"].queryset = ChannelAccount.objects.filter(  # type: ignore[attr-defined]
            organisation=organisation
        ).order_by("network", "handle")
        self.fields["campaign"].queryset = Campaign.objects.filter(  # type: ignore[attr-defined]
            organisation=organisation
        ).order_by("-starts_on", "name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for field, message in problems(
            self.organisation,
            metric=data.get("metric", ""),
            channel=data.get("channel"),
            campaign=data.get("campaign"),
            target=data.get("target"),
            starts_on=data.get("starts_on"),
            ends_on=data.get("ends_on"),
        ):
            # A field that failed its own check (empty, not a date) already says so.
            if field is None or (field in self.fields and field not in self.errors):
                self.add_error(field, message)
        return data


class TransparencyForm(forms.Form):
    """Publish (``enabled=1``) or withdraw (``enabled=`` empty) the public transparency page."""

    enabled = forms.BooleanField(label=_("Published"), required=False)


class RubricForm(forms.Form):
    """A rubric's name and values, one per line (the rules are in ``actions.save_rubric``).

    For the built-in hook rubric ``values`` holds only the values people added: the
    built-in ones are listed beside the field and always kept.
    """

    name = forms.CharField(label=_("Name"), max_length=120)
    values = forms.CharField(
        label=_("Values"),
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        help_text=_(
            "One per line, short: the answers a person can choose for a post, such as "
            "“video”, “photo”, “text only”."
        ),
    )

    def value_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["values"].splitlines() if line.strip()]


class ReportScheduleForm(forms.Form):
    """Who receives the monthly report, in which language; the rules are in the actions."""

    recipients = forms.ModelMultipleChoiceField(
        label=_("Recipients"),
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Active members whose role may see reports in humas."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    enabled = forms.BooleanField(label=_("Send every month"), required=False, initial=True)

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        from humas.analytics.actions import report_recipients_allowed

        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = report_recipients_allowed(  # type: ignore[attr-defined]
            organisation
        ).order_by("full_name", "email")
        self.fields["recipients"].label_from_instance = (  # type: ignore[attr-defined]
            lambda user: f"{user.full_name} <{user.email}>" if user.full_name else user.email
        )
