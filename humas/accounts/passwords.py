"""Password rules beyond Django's: Indonesian-common words and an overall strength score."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from zxcvbn import zxcvbn

_LEET = str.maketrans(
    {"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "0": "o", "5": "s", "$": "s", "7": "t"}
)
_TRAILING = re.compile(r"[\d\W_]+$")
_NON_LETTER = re.compile(r"[^a-z]")


@cache
def indonesian_words() -> frozenset[str]:
    text = (
        resources.files("humas.accounts")
        .joinpath("data/indonesian-passwords.txt")
        .read_text(encoding="utf-8")
    )
    words = set()
    for line in text.splitlines():
        line = line.strip().lower()
        if line and not line.startswith("#"):
            words.add(line.replace(" ", ""))
    return frozenset(words)


def _variants(password: str) -> set[str]:
    lowered = password.lower()
    stripped = _TRAILING.sub("", lowered)
    candidates = {lowered, stripped, lowered.translate(_LEET), stripped.translate(_LEET)}
    return {_NON_LETTER.sub("", c) for c in candidates} | candidates


class IndonesianCommonPasswordValidator:
    """Refuses passwords built on words Indonesian users pick most often."""

    def validate(self, password: str, user: Any = None) -> None:
        common = indonesian_words()
        if any(v in common for v in _variants(password)):
            raise ValidationError(
                _("This password is too common in Indonesia (for example “katasandi”)."),
                code="password_too_common_id",
            )

    def get_help_text(self) -> str:
        return _("Do not use common words such as “rahasia”, “sayang” or your institution’s name.")


class StrengthValidator:
    """Requires a zxcvbn score of at least ``min_score`` (0–4).

    zxcvbn only knows English dictionaries, so the Indonesian list and the person's own
    e-mail and name are passed as extra words it must not lean on.
    """

    def __init__(self, min_score: int = 3) -> None:
        self.min_score = min_score

    def validate(self, password: str, user: Any = None) -> None:
        extra = [*indonesian_words(), "humas"]
        if user is not None:
            email = getattr(user, "email", "") or ""
            name = getattr(user, "full_name", "") or ""
            # Whole strings and their pieces: "ratna.humas@…" should also rule out "ratna".
            extra += [email, name, *re.split(r"[\W_]+", email.split("@")[0] + " " + name)]
        result = zxcvbn(password[:100], user_inputs=[e for e in extra if e])
        if result["score"] < self.min_score or self._mostly_personal(password, user):
            raise ValidationError(
                _("This password is too easy to guess. Use a longer phrase of unrelated words."),
                code="password_too_weak",
            )

    @staticmethod
    def _mostly_personal(password: str, user: Any) -> bool:
        """True when little is left once the person's name and address pieces are removed."""
        if user is None:
            return False
        source = (
            (getattr(user, "email", "") or "").split("@")[0]
            + " "
            + (getattr(user, "full_name", "") or "")
        )
        rest = password.lower()
        for piece in re.split(r"[\W_]+", source.lower()):
            if len(piece) >= 3:
                rest = rest.replace(piece, "")
        return len(_NON_LETTER.sub("", rest)) < 6

    def get_help_text(self) -> str:
        return _(
            "Use a long passphrase: several unrelated words are easier to remember "
            "and harder to guess."
        )
