"""The keywords of the policy language in English and Chinese, and which language a policy is written in.

Apart from the parser (language/grammar.py), so that a command can tell a policy's language, and speak it,
without loading the parser.
"""

from __future__ import annotations

import re

# English keywords match in any case; Chinese keywords as written. Words are
# turned into keyword tokens here rather than in the grammar so that both
# languages share one grammar and a Chinese name such as 如果金额 stays a name.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "POLICY": ("policy", "政策", "方案"),
    "VERSION": ("version", "版本"),
    "INPUT": ("input", "inputs", "输入"),
    "KEY": ("key", "主键"),
    "COLUMN": ("column", "列名"),
    "TO": ("to", "至", "到"),
    "BETWEEN": ("between", "介于"),
    "AND": ("and", "且", "并且", "而且"),
    "OR": ("or", "或", "或者"),
    "NOT": ("not", "非", "不"),
    "IN": ("in", "属于", "在"),
    "IF": ("if", "如果", "若"),
    "THEN": ("then", "则", "那么"),
    "ELSE": ("else",),
    "OTHERWISE": ("otherwise", "否则", "其他"),
    "WEIGHTED": ("weighted", "加权"),
    "TIERED": ("tiered", "分段", "阶梯"),
    "ON": ("on", "基于"),
    "UP": ("up",),
    "UPTO": ("以内", "以下"),
    "ABOVE": ("above", "以上"),
    "BY": ("by", "按"),
    "EXAMPLE": ("example", "示例"),
    "EMPLOYEE": ("employee", "员工"),
    "EXPECT": ("expect", "期望", "预期"),
    "FOR": ("for", "对于"),
    "TOP": ("top", "前"),
    "BOTTOM": ("bottom", "后"),
    "MIN": ("min", "最小"),
    "MAX": ("max", "最大"),
    "AGG": ("sum", "avg", "average", "count", "合计", "求和", "总和", "平均", "人数", "计数"),
    "WHERE": ("where", "其中"),
    "WITHIN": ("within", "组内"),
    "RANK": ("rank", "排名"),
    "ASCENDING": ("ascending", "升序"),
    "SPLIT": ("split", "分配"),
    "OUTPUT": ("output", "输出"),
    "PUBLISH": ("publish", "公布"),
    "LOOKUP": ("lookup", "查表"),
    "FROM": ("from", "来自"),
    "ACROSS": ("across", "跨期"),
    "PERIOD": ("period", "期间"),
    "WITH": ("with", "附"),
    # sums over earlier periods (year to date, 累计): English spells them in several words, joined below
    "TODATE": ("本年累计", "本季累计", "本月累计", "累计至今"),
    "EARLIER": ("earlier", "此前", "本年此前", "本季此前", "本月此前"),
    "SINCE": ("since", "始于"),
    # blanks: an input that may be left empty, with or without a value to take then
    "OPTIONAL": ("optional", "可选", "可空"),
    "DEFAULT": ("default", "默认", "缺省"),
    # a definition that applies only to some employees (English `only if`, joined below)
    "ONLYIF": ("仅当", "只当"),
    # the unit of a lookup file's values (from "rates.csv" as money)
    "AS": ("as", "作为"),
    # values given when the policy runs (--param profit=1200万), the same for everyone
    "PARAMETER": ("parameter", "parameters", "参数"),
    # the appraisal process: stages, deadlines, who acts (language/appraisal.py)
    "APPRAISAL": ("appraisal", "考核流程", "考核程序"),
}

KEYWORD_OF: dict[str, str] = {
    word: kind for kind, words in KEYWORDS.items() for word in words
}


def keyword_kind(word: str) -> str | None:
    """The keyword a word stands for (`如果` → IF, `If` → IF), or None for a name."""
    return KEYWORD_OF.get(word) or KEYWORD_OF.get(word.lower()) if word.isascii() else KEYWORD_OF.get(word)


_WORD = re.compile(r"[^\W\d]\w*")


def _english_keywords(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if w.isascii() and keyword_kind(w))


def _chinese_keywords(text: str) -> int:
    return sum(1 for w in _WORD.findall(text) if not w.isascii() and keyword_kind(w))


def policy_language(text: str) -> str:
    """The language a policy is written in: 'zh' when it has more Chinese keywords than English ones.

    It does not need the policy to parse, so that even a policy full of syntax
    errors is told about them in its own language.
    """
    return "zh" if _chinese_keywords(text) > _english_keywords(text) else "en"
