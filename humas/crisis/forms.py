"""Forms of the CAP pages: a feed, and the organisation's area."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation, User
from humas.crisis.models import CapFeed, HazardType, IncidentSeverity

#: Polling faster than once a minute would break BMKG's request (under 60 a minute).
MIN_INTERVAL = 60
MAX_PLACES = 500
MAX_POLYGON_POINTS = 2000


class CapFeedForm(forms.ModelForm):
    url = forms.URLField(
        label=_("Address"),
        max_length=500,
        assume_scheme="https",
        help_text=_("BMKG's nowcast RSS, another RSS or Atom list of CAP alerts, or one alert."),
    )

    class Meta:
        model = CapFeed
        fields = ["name", "url", "kind", "enabled", "min_interval"]
        help_texts = {
            "min_interval": _("At least 60: publishers such as BMKG ask for fewer requests."),
        }

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if not url.lower().startswith(("https://", "http://")):
            raise forms.ValidationError(_("Only http and https addresses can be read."))
        return url

    def clean_min_interval(self) -> int:
        value: int = self.cleaned_data["min_interval"]
        if value < MIN_INTERVAL:
            raise forms.ValidationError(
                _("Poll at most once every %(seconds)s seconds.") % {"seconds": MIN_INTERVAL}
            )
        return value


class CrisisAreaForm(forms.Form):
    place_names = forms.CharField(
        label=_("Place names"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("One kecamatan, kabupaten or kota per line, e.g. “Kec. Cicalengka”."),
    )
    polygon = forms.CharField(
        label=_("Polygon"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Optional: one “latitude,longitude” point per line, at least three."),
    )

    def clean_place_names(self) -> list[str]:
        names: list[str] = []
        for line in self.cleaned_data["place_names"].splitlines():
            name = " ".join(line.split())[:100]
            if name and name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
        if len(names) > MAX_PLACES:
            raise forms.ValidationError(_("At most %(count)s place names.") % {"count": MAX_PLACES})
        return names

    def clean_polygon(self) -> list[tuple[float, float]]:
        points: list[tuple[float, float]] = []
        for number, line in enumerate(self.cleaned_data["polygon"].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                lat_text, lon_text = line.split(",")
                lat, lon = float(lat_text), float(lon_text)
            except ValueError:
                raise forms.ValidationError(
                    _("Line %(line)s is not “latitude,longitude”.") % {"line": number}
                ) from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise forms.ValidationError(
                    _("Line %(line)s is not a point on the globe.") % {"line": number}
                )
            points.append((lat, lon))
        if len(points) > 1 and points[0] == points[-1]:
            points.pop()
        if points and len(points) < 3:
            raise forms.ValidationError(_("A polygon needs at least three points."))
        if len(points) > MAX_POLYGON_POINTS:
            raise forms.ValidationError(
                _("At most %(count)s points.") % {"count": MAX_POLYGON_POINTS}
            )
        return points


class IncidentForm(forms.Form):
    """Declaring an incident by hand."""

    hazard = forms.ChoiceField(label=_("Hazard"), choices=HazardType.choices)
    title = forms.CharField(label=_("Title"), max_length=200)
    area = forms.CharField(label=_("Area"), max_length=500, required=False)
    severity = forms.ChoiceField(
        label=_("Severity"), choices=IncidentSeverity.choices, initial=IncidentSeverity.UNKNOWN
    )
    started_at = forms.DateTimeField(
        label=_("Started"),
        required=False,
        help_text=_("Empty: now. In the organisation's time zone, e.g. 2026-11-29 14:30."),
    )


class LeadForm(forms.Form):
    lead: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        label=_("Incident lead"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args: object, organisation: Organisation, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["lead"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            memberships__organisation=organisation, memberships__is_active=True, is_active=True
        ).order_by("email")


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class BroadcastForm(forms.Form):
    """A new broadcast: which templates, what goes into their placeholders, which channels."""

    hazard = forms.ChoiceField(label=_("Template"), choices=HazardType.choices)
    languages = forms.MultipleChoiceField(
        label=_("Languages"), widget=forms.CheckboxSelectMultiple, choices=()
    )
    area = forms.CharField(label=_("Area"), max_length=300, required=False)
    time = forms.CharField(label=_("Time"), max_length=200, required=False)
    shelter = forms.CharField(label=_("Shelter"), max_length=300, required=False)
    hotline = forms.CharField(label=_("Hotline"), max_length=100, required=False)
    instructions = forms.CharField(
        label=_("Instructions"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    channels = forms.TypedMultipleChoiceField(
        label=_("Channels"), widget=forms.CheckboxSelectMultiple, coerce=int, choices=()
    )

    def __init__(
        self,
        *args: object,
        languages: list[tuple[str, str]],
        channels: list[tuple[int, str]],
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["languages"].choices = languages  # type: ignore[attr-defined]
        self.fields["channels"].choices = channels  # type: ignore[attr-defined]
