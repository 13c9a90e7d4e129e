"""Forms of the CAP pages: a feed, and the organisation's area."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from humas.crisis.models import CapFeed

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
