"""Content audit: past posts answered against a rubric, and which answers go with higher
engagement for this organisation (docs/content-audit.md).

A rubric is a question with a short list of answers (``AuditRubric.values``). The built-in
one asks for the *opening hook* and can be answered automatically by :func:`hook_of`; every
rubric can be answered by a person, and a person's answer is never replaced by the machine.

:func:`results` compares the answers by engagement rate, through the same definitions as the
KPIs (:mod:`humas.analytics.metrics`, each post's latest snapshot, its channel's followers on
the local day it was published). A post without a rate is counted, never read as 0.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from humas.accounts.models import Organisation
from humas.analytics import kpis, metrics
from humas.analytics.models import AuditRubric, AuditScore, PostSnapshot, ScoreSource
from humas.analytics.periods import Period
from humas.channels.models import ChannelPost
from humas.publishing.models import Delivery

HOOK = "hook"

#: The built-in hook rubric's answers, in the order the tie-break uses (see :func:`hook_of`).
HOOK_LABELS = {
    "visual": _("Visual"),
    "problem_solution": _("Problem and solution"),
    "question": _("Question"),
    "number": _("Number"),
    "curiosity": _("Curiosity"),
    "story": _("Story"),
    "bold_claim": _("Bold claim"),
}
#: The keys as they are listed to people (the order the issue names them in).
HOOK_KEYS = [
    "question",
    "number",
    "story",
    "bold_claim",
    "problem_solution",
    "curiosity",
    "visual",
]

#: Fewer measured posts than this and a value's figures are a hint, not a finding.
SMALL_SAMPLE = 10

#: How much of a post counts as its opening: what shows before "see more" on most networks.
OPENING_CHARS = 140

# Before any post humas can have published: the start of "all past posts".
_BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
CENT = Decimal("0.01")


def is_hook(rubric: AuditRubric) -> bool:
    return rubric.builtin == HOOK


def value_label(rubric: AuditRubric, value: str) -> str:
    """What a value is called on screen: the translated label of a built-in hook key, the
    value itself otherwise (people type their own rubric's values in their language)."""
    if is_hook(rubric) and value in HOOK_LABELS:
        return str(HOOK_LABELS[value])
    return value


def value_choices(rubric: AuditRubric) -> list[tuple[str, str]]:
    return [(value, value_label(rubric, value)) for value in rubric.values]


def ensure_hook_rubric(org: Organisation) -> AuditRubric:
    """The organisation's hook rubric, made on first use with the built-in keys."""
    rubric = AuditRubric.objects.filter(organisation=org, builtin=HOOK).first()
    if rubric is not None:
        return rubric
    name = gettext("Opening hook")
    if AuditRubric.objects.filter(organisation=org, name=name).exists():
        # Someone named their own rubric so; the built-in one must not take it over.
        name = f"{name} (humas)"
    try:
        # A savepoint: two first visits at once race to create it; the loser reads it.
        with transaction.atomic():
            return AuditRubric.objects.create(
                organisation=org, name=name, values=list(HOOK_KEYS), builtin=HOOK
            )
    except IntegrityError:
        return AuditRubric.objects.get(organisation=org, builtin=HOOK)


# --- the automatic hook scorer ---------------------------------------------------------------
#
# Each rule looks at the opening (the first OPENING_CHARS characters, lower-cased) and at its
# first sentence, and says *where* its cue starts, or None. The cue nearest the start of the
# post wins: "Ternyata 70% warga…" is a curiosity opening, "5 cara mengatasi banjir" a number
# one. Cues at the same place are settled by TIE_ORDER. No cue at all: None, left for a person.


def _words(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


# Emoji and punctuation that often lead a post ("🔴 JANGAN…", "#InfoPublik: …") are skipped
# before looking at its first word; the camera emoji are looked for before that.
_LEAD = re.compile(r"^[^\w#@]*(?:#\w+\s*[:\-–—|]?\s*)*[^\w]*")
_SENTENCE_END = re.compile(r"(?:[.!?…]+|\.{3})(?=\s|$)|\n")
_URL_TAG = re.compile(r"https?://\S+|www\.\S+|[#@][\w.]+")
_WORD = re.compile(r"[^\W\d_]{2,}")

_VISUAL_EMOJI = ("📸", "📷", "🎥", "🎬", "📹", "🖼", "▶️", "📽")
_VISUAL_START = re.compile(
    r"^(?:"
    + _words("lihat", "intip", "cek", "yuk lihat", "yuk intip")
    + r"\s+(?:\w+\s+){0,2}?"
    + _words(
        "foto",
        "video",
        "gambar",
        "galeri",
        "potret",
        "dokumentasi",
        "infografis",
        "keseruan",
        "suasana",
        "momen",
        "cuplikan",
        "reels?",
    )
    + r"|"
    + _words("tonton", "saksikan", "potret", "foto", "video", "galeri", "dokumentasi")
    + r"\b"
    + r"|"
    + _words("watch", "in pictures", "photos?", "videos?")
    + r"|"
    + _words("see", "look at", "check out")
    + r"\s+(?:\w+\s+){0,2}?"
    + _words("photos?", "pictures?", "videos?", "gallery", "footage", "clip")
    + r")\b"
)
_QUESTION_START = re.compile(
    r"^(?:"
    + _words(
        "apa",
        "bagaimana",
        "gimana",
        "kenapa",
        "mengapa",
        "siapa",
        "kapan",
        "di ?mana",
        "ke ?mana",
        "dari mana",
        "berapa",
        # apakah, tahukah, sudahkah, pernahkah…: not every word ending in -kah (langkah).
        "(?:apa|siapa|bagaimana|mengapa|kapan|di ?mana|berapa|tahu|sudah|pernah|bisa|mau"
        "|siap|perlu|boleh|harus|benar|ada|masih|kenal|ingat)kah",
        "how",
        "why",
        r"what(?!\s+an?\b)",  # "What a day!" exclaims, it does not ask
        "which",
        "ever wondered",
        r"(?:did|do|does|have|has|are|is|can|could|would|should|will) (?:you|we|your)",
    )
    + r")\b"
)
_NUMBER_WORDS = _words(
    "satu(?!-)",  # not "satu-satunya", a bold claim
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
    "sepuluh",
    "sebelas",
    r"\w+ puluh",
    "seratus",
    "seribu",
    "puluhan",
    "ratusan",
    "ribuan",
    "jutaan",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "dozens",
    "hundreds",
    "thousands",
    "millions",
)
_NUMBER_START = re.compile(r"^(?:\d|" + _NUMBER_WORDS + r"\b)")
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s?(?:%|persen\b|percent\b)")
_COUNTED_LIST = re.compile(
    r"\b\d+\s+"
    + _words(
        "cara",
        "tips?",
        "langkah",
        "alasan",
        "fakta",
        "hal",
        "syarat",
        "ways",
        "things",
        "reasons",
        "steps",
        "facts",
        "tips",
    )
    + r"\b"
)
_STORY_START = re.compile(
    r"^"
    + _words(
        r"(?:pagi|siang|sore|malam|hari|minggu|tahun) itu",
        "kemarin",
        "suatu (?:hari|pagi|siang|sore|malam|ketika)",
        "beberapa (?:hari|minggu|bulan|tahun|waktu) (?:lalu|silam|yang lalu)",
        r"(?:minggu|bulan|tahun) lalu",
        "tadi (?:pagi|siang|sore|malam)",
        "dulu",
        "dahulu",
        "berawal dari",
        "kisah",
        "cerita",
        "waktu itu",
        "saat itu",
        "yesterday",
        "last (?:week|month|year|night)",
        "one (?:day|morning|evening|night)",
        "this morning",
        "years ago",
        "back in",
        "once upon",
        "it was",
        "i remember",
    )
    + r"\b"
)
_FIRST_PERSON = re.compile(r"^" + _words("saya", "aku", "kami", "kita", "i", "we") + r"\b")
_PAST = re.compile(
    r"\b"
    + _words(
        "kemarin",
        "dulu",
        "pernah",
        "sejak",
        "waktu itu",
        "saat itu",
        "lalu",
        "silam",
        "masih ingat",
        "teringat",
        "yesterday",
        "ago",
        "last",
        "used to",
        "remember",
        "was",
        "were",
    )
    + r"\b"
)
_BOLD = re.compile(
    r"(?<!\w)"
    + _words(
        "pertama di",
        "pertama dan satu-satunya",
        "satu-satunya",
        r"ter(?:besar|baik|cepat|murah|lengkap|luas|tinggi|penting|bersih|aman|dekat)",
        "paling",
        "wajib",
        "jangan",
        "harus",
        "pasti",
        "dijamin",
        "mutlak",
        "first ever",
        "the first",
        "biggest",
        "largest",
        "best",
        "fastest",
        "the only",
        "must",
        "never",
        "always",
        "guaranteed",
        "don't",
        "do not",
    )
    + r"(?!\w)"
)
_PROBLEM_START = re.compile(
    r"^"
    + _words(
        "susah",
        "sulit",
        "repot",
        "ribet",
        "bingung",
        "kesulitan",
        "masalah",
        "keluhan",
        "capek",
        "lelah",
        "kesal",
        "takut",
        "khawatir",
        "masih (?:susah|sulit|bingung|antre|antri|repot)",
        "antre",
        "antri",
        "struggling",
        "tired of",
        "trouble",
        "problems?",
        "worried",
        "stuck",
        "confused",
        "hard to",
        "can't",
    )
    + r"\b"
)
_SOLUTION = re.compile(
    r"\b"
    + _words(
        "solusi(?:nya)?",
        "atasi",
        "mengatasi",
        "teratasi",
        "jalan keluar(?:nya)?",
        "solutions?",
        "solve",
        "tackle",
        "fix",
    )
    + r"\b"
)
_TURN = re.compile(
    r"^"
    + _words(
        "kini",
        "sekarang",
        "tenang",
        "jangan khawatir",
        "tak perlu",
        "tidak perlu",
        "now",
        "don't worry",
        "no need",
        "here's how",
        "here is how",
    )
    + r"\b"
)
_CURIOSITY_START = re.compile(
    r"^"
    + _words(
        "ternyata",
        "rahasia",
        "inilah",
        "ini dia",
        "ini (?:loh|lho|lo)",
        "(?:yuk )?simak",
        "mau tahu",
        "penasaran",
        "bocoran",
        "fakta menarik",
        "siapa sangka",
        "tak disangka",
        "tidak disangka",
        "it turns out",
        "turns out",
        "the secret",
        "here's",
        "here is",
        "this is why",
        "you won't believe",
        "guess what",
        "find out",
        "revealed",
    )
    + r"\b"
)
_CURIOSITY_ANYWHERE = re.compile(
    r"\b" + _words("ternyata", "rahasia", "siapa sangka", "turns out", "the secret") + r"\b"
)
_ELLIPSIS = re.compile(r"(?:…|\.{3})")

#: Which hook wins when two cues start at the same place, most specific first: a picture
#: pointed at beats the words around it; a question answered at once by a solution is a
#: problem/solution opening, not a question; an exclamation mark is the weakest cue.
TIE_ORDER = ["visual", "problem_solution", "question", "number", "curiosity", "story", "bold_claim"]

#: Fewer letters-words than this (links, hashtags and mentions left out) and a post with a
#: picture or video is carried by the picture.
NEARLY_EMPTY_WORDS = 4


@dataclass(frozen=True)
class _Opening:
    raw: str  # the opening as written, lower-cased
    start: int  # where its first word starts (emoji, hashtags skipped)
    first: str  # the first sentence, from its first word, terminator included
    rest: str  # what follows the first sentence, within the opening
    has_media: bool
    words: int  # letter-words in the whole text, links and tags left out


def _opening(text: str, has_media: bool) -> _Opening:
    raw = text.strip()[:OPENING_CHARS].lower()
    start = _LEAD.match(raw)
    offset = start.end() if start else 0
    body = raw[offset:]
    end = _SENTENCE_END.search(body)
    cut = end.end() if end else len(body)
    return _Opening(
        raw=raw,
        start=offset,
        first=body[:cut].strip(),
        rest=body[cut:].strip(),
        has_media=has_media,
        words=len(_WORD.findall(_URL_TAG.sub(" ", text))),
    )


def _visual(o: _Opening) -> int | None:
    if o.has_media and o.words < NEARLY_EMPTY_WORDS:
        return 0
    if o.raw.startswith(_VISUAL_EMOJI) or _VISUAL_START.search(o.first):
        return 0
    return None


def _question(o: _Opening) -> int | None:
    if _QUESTION_START.search(o.first):
        return 0
    # The first sentence asks when it ends with a question mark; its cue is that mark.
    if o.first.rstrip("!").endswith("?"):
        return len(o.first.rstrip("!")) - 1
    return None


def _number(o: _Opening) -> int | None:
    if _NUMBER_START.search(o.first):
        return 0
    found = [m.start() for m in (_PERCENT.search(o.first), _COUNTED_LIST.search(o.first)) if m]
    return min(found) if found else None


def _story(o: _Opening) -> int | None:
    if _STORY_START.search(o.first):
        return 0
    # First-person narrative: "Kami masih ingat…", "I was…", not "Kami mengundang…".
    if _FIRST_PERSON.search(o.first) and _PAST.search(o.first):
        return 0
    return None


def _bold_claim(o: _Opening) -> int | None:
    places = [m.start() for m in (_BOLD.search(o.first),) if m]
    if "!" in o.first:
        places.append(o.first.index("!"))
    return min(places) if places else None


def _problem_solution(o: _Opening) -> int | None:
    if _PROBLEM_START.search(o.first):
        return 0
    # "Antre lama di puskesmas? Kini bisa daftar dari rumah.": a question turned at once.
    if o.first.endswith("?") and _TURN.search(o.rest):
        return 0
    found = _SOLUTION.search(o.first)
    return found.start() if found else None


def _curiosity(o: _Opening) -> int | None:
    if _CURIOSITY_START.search(o.first):
        return 0
    found = [
        m.start() for m in (_CURIOSITY_ANYWHERE.search(o.first), _ELLIPSIS.search(o.first)) if m
    ]
    return min(found) if found else None


_RULES: dict[str, Callable[[_Opening], int | None]] = {
    "visual": _visual,
    "problem_solution": _problem_solution,
    "question": _question,
    "number": _number,
    "curiosity": _curiosity,
    "story": _story,
    "bold_claim": _bold_claim,
}


def hook_cues(text: str, *, has_media: bool = False) -> dict[str, int]:
    """Every hook whose cue is in the opening, with where the cue starts in the first
    sentence (0: it opens with it). For tests and for explaining a score."""
    opening = _opening(text, has_media)
    if not opening.first and not has_media:
        return {}
    cues = {}
    for key, rule in _RULES.items():
        place = rule(opening)
        if place is not None:
            cues[key] = place
    return cues


def hook_of(text: str, *, has_media: bool = False) -> str | None:
    """The opening hook of a post's text (Indonesian or English), or None when no rule
    fits. ``has_media``: the post went out with a picture or a video."""
    cues = hook_cues(text, has_media=has_media)
    if not cues:
        return None
    return min(cues, key=lambda key: (cues[key], TIE_ORDER.index(key)))


# --- scoring ---------------------------------------------------------------------------------


def past_posts(org: Organisation) -> QuerySet[ChannelPost]:
    """Every post the organisation published, replies to citizens left out (as the KPIs
    leave them out: see :func:`kpis.published_posts`)."""
    return kpis.published_posts(org, _BEGINNING, timezone.now())


def _with_media(post_ids: Iterable[int]) -> set[int]:
    """The posts among ``post_ids`` that went out with the post's media attached."""
    return set(
        Delivery.objects.filter(
            channel_post_id__in=list(post_ids),
            variant__with_media=True,
            post__attachments__isnull=False,
        ).values_list("channel_post_id", flat=True)
    )


def automatic_scores(org: Organisation, rubric: AuditRubric) -> list[AuditScore]:
    """Unsaved automatic scores for the past posts the rubric has no answer for yet."""
    if not is_hook(rubric):
        return []
    posts = list(
        past_posts(org).exclude(audit_scores__rubric=rubric).values_list("pk", "text").order_by()
    )
    media = _with_media(pk for pk, _text in posts)
    scores = []
    for pk, text in posts:
        value = hook_of(text, has_media=pk in media)
        if value is not None and value in rubric.values:
            scores.append(
                AuditScore(rubric=rubric, post_id=pk, value=value, source=ScoreSource.AUTO)
            )
    return scores


# --- results ---------------------------------------------------------------------------------


def _quantize(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def _median(values: list[Decimal]) -> Decimal | None:
    return _quantize(Decimal(statistics.median(values))) if values else None


def _mean(values: list[Decimal]) -> Decimal | None:
    return _quantize(sum(values, Decimal(0)) / len(values)) if values else None


@dataclass(frozen=True)
class ValueResult:
    """One answer's figures. ``measured``: posts with an engagement rate (a snapshot and a
    follower count); the medians and the mean are over those only."""

    value: str
    label: str
    posts: int
    measured: int
    median_rate: Decimal | None
    mean_rate: Decimal | None
    median_engagement: Decimal | None
    in_rubric: bool = True

    @property
    def unmeasured(self) -> int:
        return self.posts - self.measured

    @property
    def small_sample(self) -> bool:
        return self.measured < SMALL_SAMPLE


@dataclass(frozen=True)
class Results:
    rows: list[ValueResult]
    posts: int  # published in the period
    scored: int
    measured: int  # of all posts in the period, those with a rate
    median_rate: Decimal | None  # organisation-wide, all posts of the period

    @property
    def unscored(self) -> int:
        return self.posts - self.scored


def _rates(
    org: Organisation, posts: QuerySet[ChannelPost]
) -> dict[int, tuple[Decimal | None, int | None]]:
    """Per post: its engagement rate and engagement, each ``None`` when it cannot be had.

    The same reading as :func:`kpis.engagement_rate`: the latest snapshot, the followers on
    the local day the post was published (or the latest count before it).
    """
    latest = (
        PostSnapshot.objects.filter(post=OuterRef("pk")).order_by("-age_hours").values("pk")[:1]
    )
    rows = list(
        posts.annotate(latest_snapshot=Subquery(latest))
        .order_by()
        .values_list("pk", "channel_id", "published_at", "latest_snapshot")
    )
    found: dict[int, tuple[Decimal | None, int | None]] = {pk: (None, None) for pk, *_r in rows}
    rows = [row for row in rows if row[3] is not None]
    if not rows:
        return found
    snapshots = PostSnapshot.objects.in_bulk([row[3] for row in rows])
    days = [kpis.local_day(published_at, org) for _p, _c, published_at, _s in rows]
    followers = kpis._followers_on({row[1] for row in rows}, max(days))
    for (pk, channel_id, _published_at, snapshot_id), day in zip(rows, days, strict=True):
        snapshot = snapshots[snapshot_id]
        rate = metrics.engagement_rate(snapshot, kpis._followers_at(followers.get(channel_id), day))
        found[pk] = (rate, metrics.engagement(snapshot))
    return found


def results(org: Organisation, rubric: AuditRubric, period: Period | None) -> Results:
    """Per answer of ``rubric``: how many posts of the period have it, and their median and
    mean engagement rate and median engagement, best median rate first (answers without a
    rate last). ``period`` None: every past post."""
    if period is None:
        posts = past_posts(org)
    else:
        start, end = period.bounds(org)
        posts = kpis.published_posts(org, start, end)
    figures = _rates(org, posts)
    values = dict(
        AuditScore.objects.filter(rubric=rubric, post__in=posts).values_list("post_id", "value")
    )
    by_value: dict[str, list[int]] = {value: [] for value in rubric.values}
    for post_id, value in values.items():
        by_value.setdefault(value, []).append(post_id)
    rows = []
    for value, post_ids in by_value.items():
        measured = [figures[pk] for pk in post_ids if figures[pk][0] is not None]
        rates = [rate for rate, _engagement in measured if rate is not None]
        # A post with a rate has an engagement count: the rate is made from it.
        engagements = [Decimal(e) for _rate, e in measured if e is not None]
        rows.append(
            ValueResult(
                value=value,
                label=value_label(rubric, value),
                posts=len(post_ids),
                measured=len(rates),
                median_rate=_median(rates),
                mean_rate=_mean(rates),
                median_engagement=_median(engagements),
                in_rubric=value in rubric.values,
            )
        )
    # Best median first; answers without a rate after, the most used of them first.
    rows.sort(
        key=lambda row: (
            row.median_rate is None,
            -(row.median_rate or 0),
            -row.posts,
            row.label.lower(),
        )
    )
    all_rates = [rate for rate, _e in figures.values() if rate is not None]
    return Results(
        rows=rows,
        posts=len(figures),
        scored=len(values),
        measured=len(all_rates),
        median_rate=_median(all_rates),
    )
