"""Values as people and files read them: 9,216.00 · 88% · ≈96.5556 (= 869/9) · 是; exact decimals for CSV; JSON."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from pkrules.messages import current_language, say
from pkrules.values.numbers import decimal_places, format_exact, format_human, round_half_up, terminates
from pkrules.values.types import CONST, ENUM, MONEY, PERCENT, TEXT, Type


def format_value(value: object, type_: Type | None = None, compact: bool = False, lang: str | None = None) -> str:
    """A value for people: 9,216.00 · 88% · ≈96.5556 (= 869/9) · yes (是); compact drops the fraction.

    lang: the language of yes/no; by default the current one (messages/__init__.py).
    """
    if type(value) is Fraction:  # (nearly every value; the text of a number does not depend on the language)
        key = (value.numerator, value.denominator, type_.kind if type_ is not None else CONST, compact)
        found = _VALUES.get(key)
        if found is None:
            if len(_VALUES) >= _PEOPLE_MAX:
                _VALUES.clear()
            found = _VALUES[key] = _format_value(value, type_, compact, lang)
        return found
    return _format_value(value, type_, compact, lang)


_VALUES: dict[tuple, str] = {}  # format_value's text of a Fraction, by its numerator, denominator, kind and compact


def _format_value(value: object, type_: Type | None, compact: bool, lang: str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return say(lang or current_language(), "yes" if value else "no")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, Fraction)):
        if type(value) is not Fraction:
            value = Fraction(value)
        kind = type_.kind if type_ is not None else CONST
        if kind == PERCENT:
            shown = value * 100
            text = format_human(shown, 4)
            return (text if terminates(shown) and text == format_exact(shown) else "≈" + text) + "%"
        if kind == MONEY:
            if 100 % value.denominator == 0:  # whole cents (nearly every amount): integer arithmetic only
                cents = value.numerator * (100 // value.denominator)
                whole, part = divmod(abs(cents), 100)
                return f"{'-' if cents < 0 else ''}{whole:,}.{part:02d}"
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


def format_people(value: object, unit: str, lang: str = "en", exact: bool = False, places: int = 2) -> str:
    """A value in an explanation: ¥9,216.00 · 96% · ≈96.56 · 是; `unit` is money, percent, number, whole or other.

    A value whose decimals do not end (869/9), or have more than `places` (four for plain
    numbers), is shown rounded with ≈; exact adds the fraction (= 869/9) or every decimal.
    """
    formatted = _FORMATTERS.get((lang, exact))
    if formatted is None:
        formatted = _FORMATTERS[(lang, exact)] = people_formatter(lang, exact)
    return formatted(value, unit, places)


_FORMATTERS: dict[tuple[str, bool], object] = {}  # format_people's formatter for each language and exactness


def people_formatter(lang: str = "en", exact: bool = False):
    """format_people(value, unit, lang, exact, places) with the language and exactness fixed, as a function of
    (value, unit, places=2): what an explanation calls for each of its values, some twenty per employee."""
    people = _PEOPLE

    def formatted(value: object, unit: str, places: int = 2) -> str:
        # A fraction is looked up by its numerator and denominator: hashing a Fraction itself costs a modular power.
        key = (value.numerator, value.denominator, unit, lang, exact, places) if type(value) is Fraction else \
            (type(value), value, unit, lang, exact, places)
        try:
            found = people.get(key)
        except TypeError:  # a value that cannot be a dictionary key (none is expected): formatted as it is
            return _format_people(value, unit, lang, exact, places)
        if found is None:
            if len(people) >= _PEOPLE_MAX:
                people.clear()
            found = people[key] = _format_people(value, unit, lang, exact, places)
        return found

    return formatted


# Statements and workbooks format the same values again and again (a rule's 90 and 1.2 for every employee,
# an employee's score once in the formula and once compared with each threshold): the text is kept.
# The type is part of the key: True and 1 (or 1 and Fraction(1)) read differently.
_PEOPLE: dict[tuple, str] = {}
_PEOPLE_MAX = 1 << 16


def _format_people(value: object, unit: str, lang: str, exact: bool, places: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return say(lang, "yes" if value else "no")
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, (int, Fraction)):
        return str(value)
    if type(value) is not Fraction:
        value = Fraction(value)
    whole = _whole_text(value, unit)
    if whole is not None:
        return whole
    if unit == "money":
        shown, limit, prefix, suffix = value, max(places, 2), "¥", ""
    elif unit == "percent":
        shown, limit, prefix, suffix = value * 100, places, "", "%"
    else:
        shown, limit, prefix, suffix = value, max(places, 4), "", ""
    sign = "-" if shown < 0 else ""
    magnitude = abs(shown)
    fits = terminates(magnitude) and decimal_places(magnitude) <= limit
    min_places = 2 if unit == "money" else 0
    if fits:
        group = unit != "number" or magnitude >= 10000
        return f"{sign}{prefix}{format_human(magnitude, limit, group=group, min_places=min_places)}{suffix}"
    rounded_places = max(places, 2) if unit == "money" else places
    text = format_human(magnitude, rounded_places, group=unit != "number" or magnitude >= 10000, min_places=min_places)
    approx = f"≈{sign}{prefix}{text}{suffix}"
    if not exact:
        return approx
    if terminates(magnitude):
        return f"{sign}{prefix}{format_human(magnitude, decimal_places(magnitude), min_places=min_places)}{suffix}"
    return f"{approx} (= {value.numerator}/{value.denominator})"


def _whole_text(value: Fraction, unit: str) -> str | None:
    """The text of an amount in whole cents, or of a whole number (percentage), in integer arithmetic: nearly
    every value of an explanation, and each a different one (the general path below, through format_human, gives
    the same text some five times slower). None for any other value."""
    d = value.denominator
    if unit == "money":
        if 100 % d:
            return None
        cents = value.numerator * (100 // d)
        whole, part = divmod(abs(cents), 100)
        return f"{'-' if cents < 0 else ''}¥{whole:,}.{part:02d}"
    if unit == "percent":
        if 100 % d:
            return None
        n = value.numerator * (100 // d)
        return f"{'-' if n < 0 else ''}{abs(n):,}%"
    if d != 1:
        return None
    n = value.numerator
    # grouped in thousands, except plain numbers below 10,000 (a score of 1200 reads 1200)
    return f"{'-' if n < 0 else ''}{abs(n):,}" if unit != "number" or abs(n) >= 10000 else str(n)


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


def percent_text(exact: str) -> str:
    """A fraction's exact decimal text as a percentage: '0.96' → '96%', '1.098' → '109.8%', '-0.05' → '-5%'.

    The decimal point moves two places; nothing is rounded (the text is format_exact's).
    """
    sign = "-" if exact.startswith("-") else ""
    whole, _, frac = exact.lstrip("-").partition(".")
    frac = frac.ljust(2, "0")
    digits = (whole + frac[:2]).lstrip("0") or "0"
    rest = frac[2:].rstrip("0")
    return f"{sign}{digits}{'.' + rest if rest else ''}%"


def format_cell(value: object, unit: str, lang: str = "en") -> str:
    """A value in a results file people open (CSV, the default): money with two decimals (half-up),
    rates and ratios as 96%, yes/no in the policy's language; other numbers exact, as format_csv."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return say(lang, "yes" if value else "no")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Fraction):
        if unit == "money":
            return format_exact(round_half_up(value, Fraction(1, 100)), min_places=2)
        if unit == "percent":
            return percent_text(format_exact(value))
        return format_exact(value)
    return str(value)


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
