"""One cell of data → a value of an input's type: the parser every reader uses (CSV, Excel, Parquet, SQLite).

A cell is text as a person typed it: `480,000`, `48万`, `¥5000`, `88%`, `是`,
`2024-07-01`. parse_cell returns the exact value or raises ValueError saying
what was expected; the columnar reader parses the common shapes of the same
cells with column expressions and hands any other cell to parse_cell.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pkrules.messages import tr
from pkrules.values.numbers import parse_literal
from pkrules.values.types import BOOL, DATE, ENUM, MONEY, PERCENT, TEXT, WHOLE, Type

YES = {"yes", "y", "true", "t", "1", "是", "有", "对"}
NO = {"no", "n", "false", "f", "0", "否", "无", "不是"}
YES_LIST, NO_LIST = sorted(YES), sorted(NO)  # for column expressions (is_in)


def parse_date(text: str) -> dt.date | None:
    m = re.fullmatch(r"\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*", text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def leading_zeros(text: str) -> bool:
    """A number written with leading zeros (007, -0042): as a key, it would lose them (007 is 7)."""
    return re.match(r"^\s*[-+－]?\s*0[0-9]", text) is not None


def parse_cell(type_: Type, text: str) -> Any:
    """Turn one cell into a value of the input's type, or raise ValueError with what was expected."""
    raw = text.strip()
    if raw == "":
        raise ValueError(tr("a value is required"))
    kind = type_.kind
    if kind == TEXT:
        return raw
    if kind == ENUM:
        if raw in type_.values:
            return raw
        raise ValueError(tr("expected one of {values}", values=tr(", ").join(type_.values)))
    if kind == BOOL:
        lowered = raw.lower()
        if lowered in YES:
            return True
        if lowered in NO:
            return False
        raise ValueError(tr("expected yes or no (also true/false, 1/0, 是/否)"))
    if kind == DATE:
        value = parse_date(raw)
        if value is None:
            raise ValueError(tr("expected a date such as 2024-07-01"))
        return value
    parsed = parse_literal(raw)
    if parsed is None:
        if kind == MONEY:
            raise ValueError(tr("expected an amount such as 480000, 480,000.00 or 48万"))
        if kind == PERCENT:
            raise ValueError(tr("expected a percentage such as 88% or 0.88"))
        if kind == WHOLE:
            raise ValueError(tr("expected a whole number"))
        raise ValueError(tr("expected a number"))
    value, is_money, is_percent = parsed
    if is_percent and kind != PERCENT:
        raise ValueError(tr("expected {what}, not a percentage", what=type_.describe()))
    if is_money and kind != MONEY:
        # ¥0.5 in a percent column is not 50%, and 5000元 is not a plain number: the unit says it is money.
        raise ValueError(tr("expected {what}, not an amount of money", what=type_.describe()))
    if kind == WHOLE and value.denominator != 1:
        raise ValueError(tr("expected a whole number"))
    return value
