"""Value types and the unit rules: money + percent is an error, money / money is a ratio."""

from __future__ import annotations

from dataclasses import dataclass

from pkrules.messages import tr

# Numeric kinds. CONST is a bare literal such as 100 or 0: it takes the unit of
# whatever it meets (sales - 500000 is money; min(x, 1) * 100 is a number).
MONEY, NUMBER, PERCENT, WHOLE, CONST = "money", "number", "percent", "whole", "const"
BOOL, ENUM, TEXT, DATE = "yesno", "enum", "text", "date"

NUMERIC = frozenset({MONEY, NUMBER, PERCENT, WHOLE, CONST})

# Type names an author can declare, in English and Chinese.
TYPE_NAMES = {
    "money": MONEY, "金额": MONEY, "amount": MONEY,
    "percent": PERCENT, "百分比": PERCENT, "比率": PERCENT,
    "number": NUMBER, "数值": NUMBER, "数字": NUMBER, "score": NUMBER,
    "whole": WHOLE, "integer": WHOLE, "整数": WHOLE,
    "yesno": BOOL, "bool": BOOL, "boolean": BOOL, "是否": BOOL,
    "text": TEXT, "文本": TEXT,
    "date": DATE, "日期": DATE,
}


@dataclass(frozen=True)
class Type:
    kind: str
    enum_name: str | None = None  # for ENUM: the input whose values these are
    values: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    def describe(self) -> str:
        """The type in the current language: 'money', 'a percentage', 'one of 新人, 骨干'."""
        if self.kind == ENUM:
            return tr("one of {values}", values=", ".join(self.values))
        if self.kind == MONEY:
            return tr("money")
        if self.kind == PERCENT:
            return tr("a percentage")
        if self.kind == WHOLE:
            return tr("a whole number")
        if self.kind == BOOL:
            return tr("yes/no")
        if self.kind == TEXT:
            return tr("text")
        if self.kind == DATE:
            return tr("a date")
        if self.kind in (NUMBER, CONST):
            return tr("a number")
        raise KeyError(self.kind)

    @property
    def output_kind(self) -> str:
        """The kind shown to users: a bare constant is a number."""
        return NUMBER if self.kind == CONST else self.kind


T_MONEY, T_NUMBER, T_PERCENT, T_WHOLE, T_CONST = (Type(k) for k in (MONEY, NUMBER, PERCENT, WHOLE, CONST))
T_BOOL, T_TEXT, T_DATE = Type(BOOL), Type(TEXT), Type(DATE)


class UnitError(Exception):
    """Two units that cannot meet; the message is in the author's words."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def money_hint() -> str:
    return tr("amounts of money come from money inputs or are written with ¥ or 元 (¥5000, 5000元)")


def _dimless(t: Type) -> bool:
    return t.kind in (NUMBER, PERCENT, WHOLE)


def unify(a: Type, b: Type, what: str) -> Type:
    """The common type of two values that are added, compared, or chosen between."""
    if not (a.numeric and b.numeric):
        if a == b:
            return a
        if a.kind == b.kind == ENUM and a.values == b.values:
            return a
        raise UnitError(tr("{what}: {a} and {b} do not go together", what=what, a=a.describe(), b=b.describe()))
    if a.kind == CONST:
        return b
    if b.kind == CONST:
        return a
    if a.kind == MONEY and b.kind == MONEY:
        return a
    if MONEY in (a.kind, b.kind):
        other = b if a.kind == MONEY else a
        raise UnitError(tr("{what}: money and {other} do not go together", what=what, other=other.describe()), money_hint())
    return a if a.kind == b.kind else T_NUMBER


def multiply(a: Type, b: Type) -> Type:
    if a.kind == MONEY and b.kind == MONEY:
        raise UnitError(tr("money × money has no meaning"), tr("multiply an amount by a rate, a percentage or a count"))
    if MONEY in (a.kind, b.kind):
        return T_MONEY
    if a.kind == CONST and b.kind == CONST:
        return T_CONST
    if a.kind == WHOLE and b.kind in (WHOLE, CONST) or b.kind == WHOLE and a.kind == CONST:
        return T_NUMBER if CONST in (a.kind, b.kind) else T_WHOLE
    return T_NUMBER


def divide(a: Type, b: Type) -> Type:
    if a.kind == MONEY and b.kind == MONEY:
        return T_NUMBER  # a ratio
    if b.kind == MONEY:
        raise UnitError(tr("{a} ÷ money has no meaning", a=a.describe()), tr("divide an amount by an amount (a ratio) or by a number"))
    if a.kind == MONEY:
        return T_MONEY
    if a.kind == CONST and b.kind == CONST:
        return T_CONST
    return T_NUMBER


def input_type(type_name: str, enum_name: str, enum_values: tuple[str, ...]) -> Type:
    if type_name == ENUM:
        return Type(ENUM, enum_name, enum_values)
    return Type(TYPE_NAMES[type_name])
