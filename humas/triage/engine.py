"""The triage engine: what one inbound citizen message is about and how urgent it is.

``classify(text)`` and ``classify_many(texts)`` return a frozen :class:`Triage` per message.
Nothing here raises on odd input: empty text, 100 KB pastes, control bytes, emoji-only or
HTML all come back as a ``Triage`` (usually with ``needs_review`` set).

Three kinds of judgement are combined, each where it is the right tool:

* **rules** for what must not be missed or must be exact: emergency keywords force
  ``emergency``/``critical``; personal data (phone, NIK, email, address) comes back as character
  spans of the original text; links are checked for government look-alikes, APK downloads,
  gambling promotion and shorteners;
* **word lists** for the language (Indonesian, English, Javanese, Sundanese, mixed), with
  Malay-only words kept from turning Indonesian text into "mixed";
* **linear models** for sentiment, category, urgency and abuse, over hashed word and character
  n-grams of the normalised text. Their weights ship with the package as ``.npz`` arrays and a
  JSON description (no pickle), are loaded lazily once per process, and are rebuilt by
  ``humas triage train`` (see :mod:`humas.triage.training`).

Every field has a confidence between 0 and 1; any below :data:`REVIEW_THRESHOLD` sets
``needs_review`` so a person looks before the message is routed automatically.
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import numpy as np

LANGUAGES = ("id", "en", "jv", "su", "mixed", "unknown")
SENTIMENTS = ("positive", "neutral", "negative")
CATEGORIES = (
    "complaint",
    "information_request",
    "aspiration",
    "appreciation",
    "emergency",
    "spam",
    "other",
)
URGENCIES = ("critical", "high", "normal", "low")
FIELDS = ("language", "sentiment", "category", "urgency", "abusive")
MODEL_FIELDS = ("sentiment", "category", "urgency", "abusive")

#: Below this confidence on any field a person should look before the message is routed.
REVIEW_THRESHOLD = 0.6
#: Rules and span detection look at this much of a message (a 100 KB paste is still scanned).
SCAN_CHARS = 100_000
#: The models only see the start of a message: citizens put the point first, and it bounds cost.
VECTORISE_CHARS = 2_000

# --- normalisation --------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_TAG = re.compile(r"<[^>]{0,200}>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()]+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_REPEAT = re.compile(r"([a-z])\1{2,}")
_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*|\d+|[!?]")
_POSITIVE_EMOJI = set("👍🙏😊😁😀😃😄🥰😍❤💕💯👏🤩☺🙂✨🔥💪")
_NEGATIVE_EMOJI = set("😡😠🤬😤😭😢😞😔😩😫👎💔🙄😒🤮😑")


@cache
def _slang() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in _data_text("slang.tsv").splitlines():
        if not line or line.startswith("#") or "\t" not in line:
            continue
        word, standard = line.split("\t", 1)
        table[word.strip()] = standard.strip()
    return table


def clean(text: object) -> str:
    """Text safe to look at: a string, no control characters, no HTML, at most SCAN_CHARS."""
    if not isinstance(text, str):
        if isinstance(text, bytes | bytearray):
            text = bytes(text).decode("utf-8", errors="replace")
        else:
            text = "" if text is None else str(text)
    text = text[:SCAN_CHARS]
    if "<" in text:
        text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    if "&" in text:
        text = html.unescape(text)
    return _CONTROL.sub(" ", text)


def _raw_tokens(lowered: str) -> list[str]:
    return _TOKEN.findall(_REPEAT.sub(r"\1", lowered))


def normalise(text: str) -> str:
    """Lower-cased, de-slanged, tokenised text in the shape the models were trained on.

    SmSA is lower-cased with spaces around punctuation; citizens write "bangeeet", "gak",
    "yg" and emoji. Repeated letters collapse ("bangeeet" → "banget"), slang maps to standard
    Indonesian from ``data/slang.tsv``, links and mentions become placeholder words and a few
    common emoji become ``emojipositif`` / ``emojinegatif``.
    """
    text = clean(text)[:VECTORISE_CHARS]
    text = unicodedata.normalize("NFKC", text).lower()
    text = _URL.sub(" tautan ", text)
    text = _MENTION.sub(" pengguna ", text)
    extra: list[str] = []
    for char in text:
        if char in _POSITIVE_EMOJI:
            extra.append("emojipositif")
        elif char in _NEGATIVE_EMOJI:
            extra.append("emojinegatif")
    slang = _slang()
    words: list[str] = []
    for token in _raw_tokens(text):
        if token.isdigit():
            words.append("angka" if len(token) < 6 else "nomorpanjang")
        else:
            words.append(slang.get(token, token))
    return " ".join(words + extra)


# --- language -------------------------------------------------------------------------------


@cache
def _lexicon() -> tuple[dict[str, dict[str, float]], frozenset[str], tuple[str, ...]]:
    raw = json.loads(_data_text("lang.json"))
    owners: dict[str, list[str]] = {}
    for lang in ("id", "en", "jv", "su"):
        for word in raw[lang]:
            owners.setdefault(word, []).append(lang)
    # A word several languages share is weaker evidence for each of them.
    weights = {word: {lang: 1.0 / len(langs) for lang in langs} for word, langs in owners.items()}
    return weights, frozenset(raw["ms_specific"]), tuple(raw["ms_phrases"])


_ID_AFFIX = re.compile(r"^(?:me[mn]g?|ber|di|ter|pe[mn]g?)[a-z]{3,}|[a-z]{3,}(?:nya|kan|lah)$")
_EN_AFFIX = re.compile(r"^[a-z]{3,}(?:ing|tion|ly|ed)$")


def detect_language(text: str) -> tuple[str, float]:
    """The message's language and a confidence, from word lists and a few affixes.

    Malay shares most of its words with Indonesian; Malay-only words ("kerana", "awak",
    "sila", "percuma", "boleh tak") count as Indonesian unless the text is clearly Malay, in
    which case the answer is "unknown" (the product has no Malay templates).
    """
    lowered = clean(text)[:VECTORISE_CHARS].lower()
    tokens = [t for t in _raw_tokens(lowered) if t.isalpha()]
    if not tokens:
        return "unknown", 1.0
    weights, ms_words, ms_phrases = _lexicon()
    score = {"id": 0.0, "en": 0.0, "jv": 0.0, "su": 0.0}
    malay = sum(1 for t in tokens if t in ms_words) + sum(lowered.count(p) for p in ms_phrases)
    for token in tokens:
        owners = weights.get(token)
        if owners:
            for lang, weight in owners.items():
                score[lang] += weight
        elif token in ms_words or _ID_AFFIX.match(token):
            score["id"] += 0.5
        elif _EN_AFFIX.match(token):
            score["en"] += 0.5
        elif "eu" in token or token.endswith("nna"):  # Sundanese "eu" vowel and "-na" suffix
            score["su"] += 0.5
        elif len(token) > 5 and token.endswith("ne"):  # Javanese "-ne": dalane, adminne
            score["jv"] += 0.5
    if malay >= 3 and malay >= score["id"] * 0.5:
        return "unknown", 0.7
    total = sum(score.values())
    if total == 0:
        # Latin-script words we have no list for: most likely Indonesian, but say so softly.
        return "id", 0.4
    regional = "jv" if score["jv"] >= score["su"] else "su"
    local = max(score["id"], score[regional])
    # Javanese and Sundanese speakers borrow Indonesian words all the time: a message with
    # a fair share of regional words is regional, not "mixed".
    if score[regional] >= 1.5 and score[regional] >= 0.5 * score["id"]:
        top, top_score = regional, score[regional] + score["id"] * 0.5
    elif score["id"] >= score["en"]:
        top, top_score = "id", score["id"]
    else:
        top, top_score = "en", score["en"]
    minor = min(score["en"], local)
    # Code-mixing is English with a local language, each carrying real weight.
    if minor >= 2 and minor >= 0.3 * max(score["en"], local):
        return "mixed", round(min(1.0, (score["en"] + local) / total), 3)
    evidence = min(1.0, 0.6 + 0.2 * top_score)
    return top, round(min(1.0, top_score / total) * evidence, 3)


# --- personal data --------------------------------------------------------------------------

_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "21",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "51",
        "52",
        "53",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "72",
        "73",
        "74",
        "75",
        "76",
        "81",
        "82",
        "91",
        "92",
        "93",
        "94",
        "95",
        "96",
        "97",
    ]
)
_NIK = re.compile(r"(?<![\d])(\d{6})[ .-]?(\d{6})[ .-]?(\d{4})(?![\d])")
_NIK_GROUPED = re.compile(r"(?<![\d])(\d{4})[ .-](\d{4})[ .-](\d{4})[ .-](\d{4})(?![\d])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+62|62|0)[ .-]?(?:\(0\))?8\d{1,2}(?:[ .-]?\d{2,5}){2,3}(?![\d])"
    r"|(?<![\w+])(?:\+62[ .-]?|\(0\d{1,3}\)[ .-]?|0\d{1,3}[ .-])\d{3,4}[ .-]?\d{3,5}(?![\d])"
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+", re.I)
_ADDRESS = re.compile(
    r"\b(?:jl|jln|jalan|gg|gang|komp|komplek|perum)\b\.?\s*[\w .,'/-]{2,60}?"
    r"\bno(?:mor)?\b\.?\s*\d{1,4}[a-z]?\b",
    re.IGNORECASE,
)
_RT_RW = re.compile(r"\brt\.?\s*0*\d{1,3}\s*[/,]?\s*rw\.?\s*0*\d{1,3}\b", re.IGNORECASE)


def _plausible_nik(digits: str) -> bool:
    day, month = int(digits[6:8]), int(digits[8:10])
    return (
        digits[:2] in _PROVINCES
        and (1 <= day <= 31 or 41 <= day <= 71)
        and 1 <= month <= 12
        and digits[12:] != "0000"
    )


def find_personal_data(text: str) -> list[dict[str, Any]]:
    """Spans of phone numbers, NIKs, email addresses and street addresses, in text order.

    Offsets are into ``text`` itself (what a UI highlights and :func:`mask` replaces), not into
    a cleaned copy, so only the first :data:`SCAN_CHARS` characters are looked at.
    """
    if not isinstance(text, str) or not text:
        return []
    text = text[:SCAN_CHARS]
    found: list[dict[str, Any]] = []

    def taken(start: int, end: int) -> bool:
        return any(start < item["end"] and item["start"] < end for item in found)

    for pattern in (_NIK, _NIK_GROUPED):
        for match in pattern.finditer(text):
            digits = re.sub(r"\D", "", match.group(0))
            if _plausible_nik(digits) and not taken(match.start(), match.end()):
                found.append({"kind": "nik", "start": match.start(), "end": match.end()})
    for match in _EMAIL.finditer(text):
        found.append({"kind": "email", "start": match.start(), "end": match.end()})
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 9 <= len(digits) <= 14 and not taken(match.start(), match.end()):
            found.append({"kind": "phone", "start": match.start(), "end": match.end()})
    addresses = [m.span() for m in _ADDRESS.finditer(text)] + [
        m.span() for m in _RT_RW.finditer(text)
    ]
    merged: list[list[int]] = []
    for start, end in sorted(addresses):
        # "Jl. Mawar No. 5, RT 03/RW 04" is one address, not two.
        if (
            merged and start - merged[-1][1] <= 3 and not text[merged[-1][1] : start].strip(" ,")
        ) or (merged and start < merged[-1][1]):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        if not taken(start, end):
            found.append({"kind": "address", "start": start, "end": end})
    found.sort(key=lambda item: item["start"])
    return found


def mask(text: str, found: list[dict[str, Any]]) -> str:
    """``text`` with each personal-data span replaced by its kind, e.g. ``[phone •••]``.

    Spans that overlap or fall outside the text are skipped rather than trusted.
    """
    out: list[str] = []
    cursor = 0
    for item in sorted(found, key=lambda item: (item["start"], item["end"])):
        start, end = int(item["start"]), int(item["end"])
        if start < cursor or end > len(text) or start >= end:
            continue
        out.append(text[cursor:start])
        out.append(f"[{item['kind']} •••]")
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


# --- links ----------------------------------------------------------------------------------

_TLDS = (
    "com|net|org|id|co|io|me|ly|xyz|top|site|online|info|biz|vip|club|live|link|click|shop|"
    "store|app|cc|tk|ml|ga|cf|gq|pw|icu|fun|asia|in|us|my|sg|to|gd|at|gy"
)
_BARE_DOMAIN = re.compile(
    rf"(?<![\w@./-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})\b(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
_APK_NAME = re.compile(r"(?<![\w/.-])[\w-]{2,60}\.apk\b", re.IGNORECASE)
SHORTENERS = frozenset(
    [
        "bit.ly",
        "s.id",
        "tinyurl.com",
        "cutt.ly",
        "shorturl.at",
        "t.ly",
        "rb.gy",
        "is.gd",
        "ow.ly",
        "goo.gl",
        "v.gd",
        "bit.do",
        "lnkd.in",
        "shorturl.asia",
        "tiny.cc",
        "rebrand.ly",
        "bl.ink",
        "s.net.id",
        "linktr.ee",
    ]
)
_GOV_WORDS = (
    "lapor",
    "kemenkes",
    "kemendagri",
    "dukcapil",
    "kemensos",
    "bansos",
    "kominfo",
    "komdigi",
    "bpjs",
    "prakerja",
    "pajak",
    "djp",
    "samsat",
    "kemdikbud",
    "kemendikbud",
    "polri",
    "bkn",
    "pemkot",
    "pemprov",
    "pemkab",
    "kemenkeu",
    "sp4n",
    "bmkg",
    "bpbd",
)
_GOV_LOOKALIKE = re.compile(r"go[-_.]?id\b|g0\.id|go-id|gov[-_.]?id|goid", re.IGNORECASE)
# Words that make a link itself a gambling link ("depo", "jp", "toto" are too common in
# ordinary domains to count here; in the message text they count through _GAMBLING_STRONG).
_GAMBLING = re.compile(
    r"\b(?:slot\w*|gacor\w*|togel\w*|judi\w*|maxwin|casino|kasino|sbobet|poker|jackpot|"
    r"scatter|pragmatic|taruhan)\b",
    re.IGNORECASE,
)
_GAMBLING_STRONG = re.compile(
    r"\b(?:slot\s*gacor|gacor|togel|maxwin|judi\s*online|judol|situs\s*slot|sbobet|"
    r"scatter|rtp\s*live|depo\s*\d+|wd\s*\d+|link\s*alternatif)\b",
    re.IGNORECASE,
)
_APK_WORD = re.compile(r"\bapk\b", re.IGNORECASE)
_LEGIT_HOSTS = ("pln.co.id", "bri.co.id", "bni.co.id", "bankmandiri.co.id", "pertamina.com")


def _host(url: str) -> str:
    target = url if "://" in url else "http://" + url
    try:
        host = urlsplit(target).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".")


def find_links(text: str) -> list[dict[str, Any]]:
    """Links worth a warning, each with the reasons: ``government_lookalike``,
    ``apk_download``, ``gambling``, ``shortener``, ``ip_address``, ``punycode``.

    Links with no reason are left out: a link to a real ``.go.id`` site is not news.
    """
    text = clean(text)
    if "." not in text:
        return []
    candidates: list[str] = []
    spans: list[tuple[int, int]] = []
    for pattern in (_URL, _BARE_DOMAIN, _APK_NAME):
        for match in pattern.finditer(text):
            if any(match.start() < e and s < match.end() for s, e in spans):
                continue
            spans.append(match.span())
            candidates.append(match.group(0).rstrip(".,;:!?"))
    if not candidates:
        return []
    promotes_gambling = bool(_GAMBLING_STRONG.search(text))
    # "download APK-nya di bit.ly/…": the link hides the .apk, the message says it.
    offers_apk = bool(_APK_WORD.search(text))
    flagged: list[dict[str, Any]] = []
    for url in candidates:
        host = _host(url)
        lowered = url.lower()
        reasons: list[str] = []
        official = host.endswith(".go.id") or host.endswith(_LEGIT_HOSTS)
        if not official and (
            _GOV_LOOKALIKE.search(host) or any(word in host for word in _GOV_WORDS)
        ):
            reasons.append("government_lookalike")
        if re.search(r"\.apk(?:$|[?#/])|[/._-]apk\b|\bapk[/._-]", lowered) or (
            offers_apk and not official
        ):
            reasons.append("apk_download")
        if _GAMBLING.search(re.sub(r"[./_-]", " ", lowered)) or (
            promotes_gambling and not official
        ):
            reasons.append("gambling")
        if host in SHORTENERS:
            reasons.append("shortener")
        try:
            ipaddress.ip_address(host)
            reasons.append("ip_address")
        except ValueError:
            pass
        if "xn--" in host:
            reasons.append("punycode")
        if reasons:
            flagged.append({"url": url, "reasons": reasons})
    return flagged


# --- emergency, spam and abuse rules --------------------------------------------------------

_EMERGENCY = re.compile(
    r"\b(?:kebakaran|terbakar|kobaran|banjir(?:\s+bandang)?|tenggelam|hanyut|longsor|"
    r"tertimbun|gempa|tsunami|kecelakaan|tabrakan|ditabrak|pingsan|tidak\s+sadarkan\s+diri|"
    r"darurat|sos|kritis|sekarat|meninggal|tewas|berdarah|terjebak|terseret|"
    r"rumah\s+roboh|ambruk|puting\s+beliung|angin\s+kencang|pohon\s+tumbang|"
    r"kabel\s+(?:listrik\s+)?(?:putus|terjuntai|menjuntai|jatuh)|korsleting|"
    r"kebocoran\s+gas|gas\s+bocor|ledakan|meledak|penusukan|ditusuk|dibacok|perampokan|"
    r"dirampok|begal|dibegal|penculikan|diculik|tawuran|kdrt|dipukuli|"
    r"kahuruan|caah|seuneu|kobong|kebanjiran|banjir\s+bandang|"
    r"kesetrum|tersetrum|keracunan|sesak\s+napas|kejang|terjepit|tertabrak|"
    r"jatuh\s+dari\s+(?:lantai|atap|ketinggian|gedung|pohon|tebing|jembatan|tower)|"
    r"(?:sungai|kali)\s+meluap|ngamuk\s+bawa|bawa\s+(?:parang|golok|celurit|senjata)|"
    r"kacilakaan|gas\s+leak|collapsed|not\s+breathing|isn\W?t\s+breathing|"
    r"kebakar|nabrak|menabrak|runtuh|ketiban|tertimpa|nimpa|menimpa|kejatuhan|bumi\s+goyang|"
    r"kecemplung|tercebur|kelelep|kejebak|lindu|air\s+(?:terus\s+)?naik|"
    r"naik\s+ke\s+(?:genteng|atap|loteng)|"
    r"(?:gak|ga|nggak|tidak|tak)\s+(?:sadarkan\s+diri|gerak|bergerak|napas|bernapas)|"
    r"(?:gak|ga|nggak|tidak|tak)\s+sadar(?=\s*(?:[,.!?]|$|di\b|dari\b|sejak\b|lagi\b))|"
    r"bawa\s+(?:pisau|clurit|pistol)|ngancam\s+warga|on\s+fire|drown\w*|stabbed|shooting|"
    r"ambles|amblas|jebol|erupsi|awan\s+panas|lahar|terperosok|terbalik|kabawa\s+cai|"
    r"fire|flood(?:ing)?|earthquake|landslide|drowning|accident|emergency|unconscious|"
    r"trapped|help\s+us|sos)\b",
    re.IGNORECASE,
)
_CALL_FOR_HELP = re.compile(
    r"\b(?:tolo+ng+|tulung|tulungan|help)\b\s*(?:!|kami\b|kita\b|us\b)"
    r"|\b(?:tolong\s+tolong|tolo{3,}ng+|tolong{3,}|minta\s+tolong\s+cepat)\b",
    re.IGNORECASE,
)
# Words that turn an emergency word into a plan, a report or a memory (a drill, a past flood,
# a question about flood prevention): the model decides those, the rule does not force them.
_NOT_NOW = re.compile(
    r"\b(?:simulasi|sosialisasi|pelatihan|latihan|antisipasi|pencegahan|mitigasi|"
    r"normalisasi|tahun\s+lalu|bulan\s+lalu|dulu|langganan|setiap\s+tahun|"
    r"tiap\s+tahun|tiap\s+hujan|setiap\s+hujan|kalau\s+hujan|kalo\s+hujan|klo\s+hujan|"
    r"rawan|berita|hoaks|hoax|film|game|asuransi|santunan|pencairan|bantuan\s+korban|"
    r"pasca|bekas|sisa|jadwal|trauma|drill|last\s+year|insurance|"
    r"terima\s*kasih|makasih|matur\s+nuwun|hatur\s+nuhun|apresiasi|thank|"
    r"nomor\s+darurat|call\s+center|bisa\s+roboh|bisa\s+ambruk|mau\s+roboh|mau\s+ambruk|"
    r"arep\s+ambruk|kalau\s+angin|kalo\s+angin|kemarin|kemaren|minggu\s+lalu|"
    r"tagihan|tarif|harga|biaya)\b",
    re.IGNORECASE,
)
_ABUSIVE_STRONG = re.compile(
    r"\b(?:bangsat|bajingan|brengsek|keparat|kontol|kntl|memek|ngentot|ngewe|jancok|jancuk|"
    r"janc[ou]k|goblok|goblog|gblk|tolol|idiot|asu|asw|bgst|pukimak|lonte|pelacur|"
    r"fuck\w*|shit|bitch|bastard|asshole|kampret|kamprett|anjing\s+lu|anjing\s+kalian|"
    r"dasar\s+(?:babi|anjing|monyet|bodoh|goblok)|otak\s+udang|cebong|kadrun|kafir|"
    r"tai|taik|babi\s+lu|bodoh\s+semua|dungu|bego\s+banget)\b",
    re.IGNORECASE,
)


# "kejang2", "anak2": the informal "2" for a doubled word hides the word boundary.
_REDUPLICATION = re.compile(r"(?<=[a-z])2\b", re.IGNORECASE)


def _emergency_rule(cleaned: str) -> bool:
    cleaned = _REDUPLICATION.sub("", cleaned)
    if not (_EMERGENCY.search(cleaned) or _CALL_FOR_HELP.search(cleaned)):
        return False
    return not _NOT_NOW.search(cleaned)


# --- models ---------------------------------------------------------------------------------


def _data_path(name: str) -> Any:
    return resources.files("humas.triage").joinpath("data", name)


def _data_text(name: str) -> str:
    return str(_data_path(name).read_text(encoding="utf-8"))


@dataclass
class LinearModel:
    """One field's weights: ``scores = X @ coef + intercept`` over the hashed features."""

    classes: tuple[str, ...]
    coef: Any  # float32 array, (n_features, n_rows): transposed for X @ coef
    intercept: Any

    def probabilities(self, features: Any) -> Any:
        scores = np.asarray(features @ self.coef) + self.intercept
        if len(self.classes) == 2 and scores.shape[1] == 1:
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)


@dataclass
class Models:
    """The vectoriser and the per-field linear models. Read-only once built, so one instance
    is shared by every thread of the process."""

    vectorizer: dict[str, Any]
    fields: dict[str, LinearModel] = field(default_factory=dict)
    hashers: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.hashers = make_hashers(self.vectorizer)

    def features(self, normalised: Sequence[str]) -> Any:
        """L2-normalised hashed word and character n-grams, one row per text."""
        from scipy import sparse
        from sklearn.preprocessing import normalize

        word, char = self.hashers
        matrix = sparse.hstack([word.transform(normalised), char.transform(normalised)]).tocsr()
        return normalize(matrix, copy=False)


def make_hashers(params: dict[str, Any]) -> tuple[Any, Any]:
    """The two stateless hashing vectorisers (words, characters) described by ``params``.

    Training and prediction both build them here, so they cannot drift apart.
    """
    from sklearn.feature_extraction.text import HashingVectorizer

    common = {"alternate_sign": False, "norm": None, "lowercase": False, "dtype": np.float32}
    word = HashingVectorizer(
        analyzer="word",
        token_pattern=params["token_pattern"],
        ngram_range=tuple(params["word_ngrams"]),
        n_features=params["n_features"],
        **common,
    )
    char = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=tuple(params["char_ngrams"]),
        n_features=params["n_features"],
        **common,
    )
    return word, char


VECTORIZER = {
    "n_features": 2**18,
    "word_ngrams": [1, 2],
    "char_ngrams": [2, 5],
    "token_pattern": r"(?u)\b\w+\b|[!?]",
}

_lock = threading.Lock()
_models: Models | None = None


def load_models(directory: Any = None) -> Models:
    """Read the shipped weights (``models.json`` and one ``.npz`` per field) without pickle.

    A field whose file is missing is left out; its predictions fall back to defaults with
    confidence 0, so the message goes to review instead of the engine failing.
    """
    if directory is None:
        base: Any = resources.files("humas.triage").joinpath("data")
    else:
        from pathlib import Path

        base = Path(directory)
    meta_file = base.joinpath("models.json")
    if not meta_file.is_file():
        return Models(vectorizer=dict(VECTORIZER))
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    models = Models(vectorizer=meta["vectorizer"])
    n_features = 2 * int(meta["vectorizer"]["n_features"])
    for name, info in meta["fields"].items():
        weights = base.joinpath(info["file"])
        if not weights.is_file():
            continue
        with weights.open("rb") as handle, np.load(handle, allow_pickle=False) as arrays:
            index = arrays["index"].astype(np.int64)
            values = arrays["coef"].astype(np.float32)
            intercept = arrays["intercept"].astype(np.float32)
        coef = np.zeros((n_features, values.shape[0]), dtype=np.float32)
        coef[index, :] = values.T
        models.fields[name] = LinearModel(tuple(info["classes"]), coef, intercept)
    return models


def get_models() -> Models:
    """The process-wide models, loaded on first use (thread-safe)."""
    global _models
    if _models is None:
        with _lock:
            if _models is None:
                _models = load_models()
    return _models


def reset_models() -> None:
    """Forget the loaded models (after ``humas triage train`` rewrote them)."""
    global _models
    with _lock:
        _models = None


# --- the result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Triage:
    """What the engine understood of one message. ``as_dict()`` is the JSON shape."""

    language: str
    sentiment: str
    category: str
    urgency: str
    abusive: bool
    personal_data: list[dict[str, Any]]
    links: list[dict[str, Any]]
    confidence: dict[str, float]
    needs_review: bool

    def as_dict(self) -> dict[str, Any]:
        # What dataclasses.asdict() gives, without its recursive deep copy, which cost a
        # tenth of a millisecond per message at ingest: the nested values are plain dicts of
        # plain values and lists (a test compares the two).
        return {
            "language": self.language,
            "sentiment": self.sentiment,
            "category": self.category,
            "urgency": self.urgency,
            "abusive": self.abusive,
            "personal_data": [_plain(item) for item in self.personal_data],
            "links": [_plain(item) for item in self.links],
            "confidence": dict(self.confidence),
            "needs_review": self.needs_review,
        }


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, list) else v for k, v in item.items()}


def classify(text: str, organisation: Any = None) -> Triage:
    """Triage one message. Never raises on odd input."""
    return classify_many([text], organisation=organisation)[0]


#: A link with one of these reasons makes the message spam: citizens do not send look-alike
#: government sites, APKs or gambling links to an agency in good faith.
SPAM_LINK_REASONS = ("gambling", "apk_download", "government_lookalike")
#: The abuse model learned from few examples; it says "abusive" only when quite sure (the
#: word list catches the plain insults), and in between it leaves the message to review.
ABUSIVE_MODEL_MIN = 0.75
#: "Emergency" from the model alone (no emergency words matched) must be this likely,
#: otherwise the next category is taken: a pothole report that says "tolong" is a complaint.
EMERGENCY_MODEL_MIN = 0.6


def _pick(model: LinearModel | None, row: Any, default: str) -> tuple[str, float]:
    if model is None:
        return default, 0.0
    best = int(np.argmax(row))
    return model.classes[best], float(row[best])


def _second(model: LinearModel, row: Any) -> tuple[str, float]:
    order = np.argsort(row)[::-1]
    return model.classes[int(order[1])], float(row[order[1]])


def classify_many(texts: Sequence[str], organisation: Any = None) -> list[Triage]:
    """Triage many messages at once: one vectorisation and one matrix product per field.

    With an ``organisation`` (or its id), that organisation's active model version is used
    when it has one (see :mod:`humas.triage.weights`); otherwise the shipped models.
    """
    if organisation is None or not texts:
        return classify_with(texts, get_models())
    from humas.triage.weights import models_for

    return classify_with(texts, models_for(organisation))


def classify_with(texts: Sequence[str], models: Models) -> list[Triage]:
    """:func:`classify_many` with the given models (training scores folds through this)."""
    if not texts:
        return []
    cleaned = [clean(text) for text in texts]
    probabilities: dict[str, Any] = {}
    if models.fields:
        features = models.features([normalise(text) for text in cleaned])
        for name, model in models.fields.items():
            probabilities[name] = model.probabilities(features)
    results: list[Triage] = []
    for i, text in enumerate(cleaned):
        original = texts[i] if isinstance(texts[i], str) else text
        picks: dict[str, tuple[str, float]] = {}
        defaults = {"sentiment": "neutral", "category": "other", "urgency": "normal"}
        for name in ("sentiment", "category", "urgency"):
            field_model = models.fields.get(name)
            row = probabilities[name][i] if field_model is not None else None
            picks[name] = _pick(field_model, row, defaults[name])
        abusive_model = models.fields.get("abusive")
        if abusive_model is not None:
            row = probabilities["abusive"][i]
            p_true = float(row[list(abusive_model.classes).index("true")])
            abusive = p_true >= ABUSIVE_MODEL_MIN
            abusive_conf = p_true if abusive else 1.0 - p_true
        else:
            abusive, abusive_conf = False, 0.0
        language, language_conf = detect_language(text)
        links = find_links(text)
        personal = find_personal_data(original)
        category, category_conf = picks["category"]
        urgency, urgency_conf = picks["urgency"]
        sentiment, sentiment_conf = picks["sentiment"]

        if not any(ch.isalnum() for ch in text):
            # Empty or emoji-only: nothing to route. Emoji still carry a mood.
            category, category_conf = "other", 0.9
            urgency, urgency_conf = "low", 0.9
            abusive, abusive_conf = False, 0.9
            if sentiment_conf == 0.0 or not text.strip():
                sentiment, sentiment_conf = "neutral", 0.9
        elif _emergency_rule(text):
            category, category_conf = "emergency", max(category_conf, 0.95)
            urgency, urgency_conf = "critical", max(urgency_conf, 0.95)
        elif _GAMBLING_STRONG.search(text) or any(
            set(SPAM_LINK_REASONS) & set(link["reasons"]) for link in links
        ):
            category, category_conf = "spam", max(category_conf if category == "spam" else 0, 0.9)
            urgency, urgency_conf = "low", max(urgency_conf if urgency == "low" else 0, 0.9)
        elif category == "emergency" and category_conf < EMERGENCY_MODEL_MIN:
            category, category_conf = _second(
                models.fields["category"], probabilities["category"][i]
            )
            category_conf = min(category_conf, 0.5)
            if urgency == "critical":
                urgency, urgency_conf = "high", min(urgency_conf, 0.5)
        elif category == "emergency" and urgency not in ("critical", "high"):
            urgency, urgency_conf = "high", min(urgency_conf, category_conf)
        if _ABUSIVE_STRONG.search(text):
            abusive, abusive_conf = True, max(abusive_conf if abusive else 0.0, 0.9)
        if category in ("spam", "appreciation") and urgency == "critical":
            urgency, urgency_conf = "low", min(urgency_conf, 0.5)

        confidence = {
            "language": round(float(language_conf), 3),
            "sentiment": round(float(sentiment_conf), 3),
            "category": round(float(category_conf), 3),
            "urgency": round(float(urgency_conf), 3),
            "abusive": round(float(abusive_conf), 3),
        }
        results.append(
            Triage(
                language=language,
                sentiment=sentiment,
                category=category,
                urgency=urgency,
                abusive=bool(abusive),
                personal_data=personal,
                links=links,
                confidence=confidence,
                needs_review=any(value < REVIEW_THRESHOLD for value in confidence.values()),
            )
        )
    return results
