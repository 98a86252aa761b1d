"""Values as people and files read them: 9,216.00 · 88% · ≈96.5556 (= 869/9) · 是; exact decimals for CSV; JSON."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from pkrules.messages import current_language, say
from pkrules.values.numbers import format_exact, format_human, terminates
from pkrules.values.types import CONST, ENUM, MONEY, PERCENT, TEXT, Type


def format_value(value: object, type_: Type | None = None, compact: bool = False, lang: str | None = None) -> str:
    """A value for people: 9,216.00 · 88% · ≈96.5556 (= 869/9) · yes (是); compact drops the fraction.

    lang: the language of yes/no; by default the current one (messages/__init__.py).
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return say(lang or current_language(), "yes" if value else "no")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, Fraction)):
        value = Fraction(value)
        kind = type_.kind if type_ is not None else CONST
        if kind == PERCENT:
            shown = value * 100
            text = format_human(shown, 4)
            return (text if terminates(shown) and format_human(shown, 4) == format_exact(shown) else "≈" + text) + "%"
        if kind == MONEY:
            if terminates(value) and value * 100 == int(value * 100):
                return format_human(value, 2, min_places=2)
            if compact or terminates(value):
                return ("" if terminates(value) else "≈") + format_human(value, 2, min_places=2)
            return f"≈{format_human(value, 4, min_places=2)} (= {value.numerator}/{value.denominator})"
        if terminates(value):
            return format_exact(value) if abs(value) < 10000 or value.denominator != 1 else format_human(value, 0)
        if compact:
            return f"≈{format_human(value, 2, group=False)}"
        return f"≈{format_human(value, 4, group=False)} (= {value.numerator}/{value.denominator})"
    return str(value)


def format_csv(value: object, type_: Type) -> str:
    """A value for a data file: exact plain notation; money with at least two decimals."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Fraction):
        return format_exact(value, min_places=2 if type_.kind == MONEY else 0)
    return str(value)


# OWASP's CSV injection guidance: a spreadsheet runs a cell that begins with one of these as a formula
# (=HYPERLINK(…), +cmd|…). Text cells that begin so get a leading apostrophe, which spreadsheets show
# as text; numbers (a negative amount -100.00) are data and are written as they are.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_text_type(type_: Type) -> bool:
    """Columns whose cells are words (a key, a name, a one-of value), which a file writer must keep from being formulas."""
    return type_.kind in (TEXT, ENUM)


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet will show, not run: a leading ' before = + - @ tab or CR."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def json_value(value: object, type_: Type | None = None) -> object:
    """Exact values in JSON: decimals as strings when they end, else the fraction and an approximation."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Fraction):
        if terminates(value):
            return format_exact(value, min_places=2 if type_ is not None and type_.kind == MONEY else 0)
        return {"fraction": f"{value.numerator}/{value.denominator}", "approx": format_exact(value)}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
