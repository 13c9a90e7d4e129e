"""Emergency broadcast templates: the texts humas ships, and reading and filling placeholders.

A template's text names its placeholders in braces (``{area}``, ``{time}``, ``{shelter}``,
``{hotline}``, ``{instructions}``; see :data:`humas.crisis.models.PLACEHOLDERS`). Filling is a
regular-expression substitution, never ``str.format``: the values are typed during an
emergency, and a brace in them must come out as a brace, not as another placeholder or an
error. Changes to templates are named actions in :mod:`humas.crisis.template_actions`;
``docs/broadcast-templates.md`` describes the whole feature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from humas.accounts.audit import Actor, record
from humas.accounts.models import Organisation
from humas.crisis.models import PLACEHOLDERS, BroadcastTemplate, HazardType

#: Each text without its placeholders stays within this many characters, so that filled with
#: ordinary values (about 180 characters for all five) it still fits Bluesky's 300.
BUILTIN_MAX_FIXED = 170

#: The texts humas ships, per hazard and language. Short on purpose: the broadcast goes to
#: every connected network at once, and the shortest limit (Bluesky) decides.
BUILTIN: dict[str, dict[str, str]] = {
    HazardType.FLOOD: {
        "id": (
            "PERINGATAN BANJIR — {area}, {time}. {instructions} Pengungsian: {shelter}. "
            "Jangan menerobos genangan atau arus air. Darurat: {hotline}"
        ),
        "en": (
            "FLOOD WARNING — {area}, {time}. {instructions} Shelter: {shelter}. "
            "Do not walk or drive through floodwater. Emergency: {hotline}"
        ),
    },
    HazardType.LANDSLIDE: {
        "id": (
            "WASPADA LONGSOR — {area}, {time}. {instructions} Pengungsian: {shelter}. "
            "Jauhi lereng, tebing dan aliran sungai. Darurat: {hotline}"
        ),
        "en": (
            "LANDSLIDE WARNING — {area}, {time}. {instructions} Shelter: {shelter}. "
            "Keep away from slopes, cliffs and rivers. Emergency: {hotline}"
        ),
    },
    HazardType.EARTHQUAKE: {
        "id": (
            "INFO GEMPA BUMI — {area}, {time}. {instructions} Waspada gempa susulan; "
            "jauhi bangunan retak. Titik kumpul: {shelter}. Darurat: {hotline}"
        ),
        "en": (
            "EARTHQUAKE — {area}, {time}. {instructions} Expect aftershocks; stay out of "
            "damaged buildings. Assembly point: {shelter}. Emergency: {hotline}"
        ),
    },
    HazardType.TSUNAMI: {
        "id": (
            "PERINGATAN TSUNAMI — {area}, {time}. {instructions} Segera jauhi pantai ke "
            "tempat tinggi: {shelter}. Tunggu info resmi. Darurat: {hotline}"
        ),
        "en": (
            "TSUNAMI WARNING — {area}, {time}. {instructions} Leave the coast for high "
            "ground now: {shelter}. Wait for the all-clear. Emergency: {hotline}"
        ),
    },
    HazardType.FIRE: {
        "id": (
            "KEBAKARAN — {area}, {time}. {instructions} Jauhi lokasi dan beri jalan bagi "
            "petugas. Titik kumpul: {shelter}. Darurat: {hotline}"
        ),
        "en": (
            "FIRE — {area}, {time}. {instructions} Keep away and leave the roads clear for "
            "firefighters. Assembly point: {shelter}. Emergency: {hotline}"
        ),
    },
    HazardType.EXTREME_WEATHER: {
        "id": (
            "PERINGATAN CUACA EKSTREM — {area}, {time}. {instructions} Waspada hujan lebat, "
            "angin kencang dan pohon tumbang; tunda perjalanan yang tidak mendesak. "
            "Darurat: {hotline}"
        ),
        "en": (
            "SEVERE WEATHER WARNING — {area}, {time}. {instructions} Expect heavy rain, "
            "strong winds and falling trees; delay travel that is not urgent. "
            "Emergency: {hotline}"
        ),
    },
    HazardType.OUTBREAK: {
        "id": (
            "INFO KESEHATAN: WABAH — {area}, {time}. {instructions} Cuci tangan, pakai "
            "masker bila sakit, dan periksa ke puskesmas bila bergejala. Layanan: {hotline}"
        ),
        "en": (
            "HEALTH ALERT: OUTBREAK — {area}, {time}. {instructions} Wash your hands, wear "
            "a mask if unwell and visit a health centre if you have symptoms. Hotline: {hotline}"
        ),
    },
    HazardType.EVACUATION: {
        "id": (
            "PERINTAH EVAKUASI — {area}, {time}. {instructions} Menuju: {shelter}. Bawa "
            "dokumen penting dan obat; bantu lansia dan anak. Darurat: {hotline}"
        ),
        "en": (
            "EVACUATION ORDER — {area}, {time}. {instructions} Go to: {shelter}. Take "
            "documents and medicines; help older people and children. Emergency: {hotline}"
        ),
    },
}

#: Languages offered by name; any other ISO 639 code matching :data:`LANGUAGE_CODE` works too.
LANGUAGE_NAMES: dict[str, Promise] = {
    "id": gettext_lazy("Indonesian"),
    "en": gettext_lazy("English"),
    "jv": gettext_lazy("Javanese"),
    "su": gettext_lazy("Sundanese"),
    "ban": gettext_lazy("Balinese"),
    "mad": gettext_lazy("Madurese"),
    "min": gettext_lazy("Minangkabau"),
    "bug": gettext_lazy("Buginese"),
    "bjn": gettext_lazy("Banjarese"),
    "ace": gettext_lazy("Acehnese"),
}

#: A template's language: a two- or three-letter ISO 639 code, lower case.
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")

#: Anything written in braces (known or not); fill() only touches the known ones.
_BRACED = re.compile(r"\{([^{}]*)\}")
_KNOWN = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")

SEEDER = Actor.system("humas")


def language_name(code: str) -> str:
    name = LANGUAGE_NAMES.get(code)
    return str(name) if name is not None else code


def placeholders_in(text: str) -> list[str]:
    """Every name written in braces, known or not, once each, in order of appearance."""
    names: list[str] = []
    for match in _BRACED.finditer(text):
        if match.group(1) not in names:
            names.append(match.group(1))
    return names


def _braces_balance(text: str) -> bool:
    # Placeholders do not nest: "{" must be closed by "}" before another "{" opens.
    open_ = False
    for char in text:
        if char == "{":
            if open_:
                return False
            open_ = True
        elif char == "}":
            if not open_:
                return False
            open_ = False
    return not open_


def check_text(text: str) -> list[str]:
    """What is wrong with a template's text, as messages for the person writing it."""
    if not text.strip():
        return [_("The text is empty.")]
    problems: list[str] = []
    if not _braces_balance(text):
        problems.append(
            _("A brace is not closed or not opened: write placeholders as {area}, {time}…")
        )
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    for name in placeholders_in(text):
        if name not in PLACEHOLDERS:
            problems.append(
                _("Unknown placeholder {%(name)s}: use %(known)s.") % {"name": name, "known": known}
            )
    return problems


def fill(text: str, values: Mapping[str, str]) -> str:
    """The text with each known placeholder replaced by its value, stripped. A placeholder
    without a value stays as it is (``{area}``), visible to the person checking the draft;
    :func:`missing` lists them."""

    def value(match: re.Match[str]) -> str:
        # Returned from a function, the value is inserted as it is: re.sub does not read
        # backslashes or group references in it, and nothing formats it again.
        given = (values.get(match.group(1)) or "").strip()
        return given or match.group(0)

    return _KNOWN.sub(value, text)


def missing(text: str, values: Mapping[str, str]) -> list[str]:
    """The known placeholders of ``text`` without a value in ``values``."""
    return [
        name
        for name in placeholders_in(text)
        if name in PLACEHOLDERS and not (values.get(name) or "").strip()
    ]


def fixed_length(text: str) -> int:
    """The length of the text without its placeholders (what the values add to)."""
    return len(_KNOWN.sub("", text))


def seed_templates(org: Organisation) -> int:
    """Create the built-in templates the organisation does not have yet; return how many.

    They arrive approved by humas (``approved_by`` empty): usable at once, and waiting for
    the organisation to review and confirm them. Safe to call on every visit and from two
    requests at once: the database's one-template-per-language rule decides, and the
    request that loses the race simply finds the row.
    """
    existing = set(
        BroadcastTemplate.objects.filter(organisation=org).values_list("hazard", "language")
    )
    wanted = [
        (hazard, language, text)
        for hazard, texts in BUILTIN.items()
        for language, text in texts.items()
        if (hazard, language) not in existing
    ]
    if not wanted:
        return 0
    created: list[str] = []
    with transaction.atomic():
        now = timezone.now()
        for hazard, language, text in wanted:
            _template, made = BroadcastTemplate.objects.get_or_create(
                organisation=org,
                hazard=hazard,
                language=language,
                defaults={"text": text, "builtin": True, "approved_at": now},
            )
            if made:
                created.append(f"{hazard}/{language}")
        if created:
            record(
                "crisis.template.seeded",
                actor=SEEDER,
                organisation=org,
                payload={"templates": created},
            )
    return len(created)
