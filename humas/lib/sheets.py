"""Cells for CSV and spreadsheet files that people will open in a spreadsheet program."""

from __future__ import annotations

#: A cell starting with one of these runs as a formula in spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` made harmless for a spreadsheet: numbers stay numbers, text that would run
    as a formula (titles, labels and citizens' text come from people) gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text[:1] in FORMULA_STARTS:
        # A negative number is a number, not a formula.
        try:
            float(text)
        except ValueError:
            return f"'{text}"
    return text
