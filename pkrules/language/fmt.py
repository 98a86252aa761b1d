"""The canonical layout of a policy (`pkrules fmt`): the printer of the surface AST.

One layout per language, comments kept, meaning never changed: parsing the
output gives a tree equal to the input's (spans and literal spellings aside).
Blank lines between statements and rows are kept (several collapse into one);
full-line comments stay above what follows them, end-of-line comments stay on
their line, aligned within a block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pkrules.language import ast
from pkrules.language.diagnostics import PolicyError
from pkrules.language.grammar import SOFT_KEYWORDS
from pkrules.language.keywords import keyword_kind
from pkrules.values.numbers import format_exact
from pkrules.values.text import display_width, pad
from pkrules.language.parse import parse_policy
from pkrules.language.source import SourceFile, find_comments  # (in source.py: explanations read comments without the parser)

INDENT = "  "
_LABEL = re.compile(r"\d{4}(-(0?[1-9]|1[0-2])|Q[1-4]|H[12]|-?W\d{2})|\d{4}年(\d{1,2}月份?|第?[1-4一二三四]季度|第\d{1,2}周|[上下]半年)")

WORDS = {
    "en": {
        "policy": "policy", "version": "version", "input": "input", "key": "key", "column": "column", "to": "to",
        "IF": "IF", "THEN": "THEN", "OTHERWISE": "OTHERWISE", "if": "if", "then": "then", "else": "else",
        "and": "and", "or": "or", "not": "not", "in": "in", "top": "top", "bottom": "bottom", "between": "between",
        "within": "within", "where": "where", "rank": "rank", "ascending": "ascending", "split": "split", "by": "by",
        "tiered": "tiered", "marginal": "marginal", "whole": "whole", "on": "on", "upto": "up to", "above": "above",
        "weighted": "weighted", "output": "output", "publish": "publish", "from": "from", "across": "across periods", "period": "period", "with": "with", "example": "example", "employee": "employee", "expect": "expect", "for": "for",
        "sum": "sum", "avg": "avg", "count": "count", "min": "min", "max": "max",
        "unique": "(unique)", "collect_sum": "(collect sum)",
        ",": ", ", ":": ": ", "(": "(", ")": ")", "*": "*", "/": "/", ">=": ">=", "<=": "<=", "!=": "!=",
        "quote": ('"', '"'),
        "to_date": {"year": "year to date", "quarter": "quarter to date", "month": "month to date", "all": "to date"},
        "earlier": {"year": "earlier this year", "quarter": "earlier this quarter", "month": "earlier this month",
                    "all": "earlier"},
        "since": "since",
        "optional": "optional", "default": "default", "only_if": "only if", "as": "as", "parameter": "parameter",
        "matchup": "(matchup)",
    },
    "zh": {
        "policy": "方案", "version": "版本", "input": "输入", "key": "主键", "column": "列名", "to": "至",
        "IF": "如果", "THEN": "则", "OTHERWISE": "否则", "if": "如果", "then": "则", "else": "否则",
        "and": "且", "or": "或", "not": "非", "in": "在", "top": "前", "bottom": "后", "between": "介于",
        "within": "组内", "where": "其中", "rank": "排名", "ascending": "升序", "split": "分配", "by": "按",
        "tiered": "分段", "marginal": "超额累进", "whole": "全额累进", "on": "基于", "upto": "以内", "above": "以上",
        "weighted": "加权", "output": "输出", "publish": "公布", "from": "来自", "across": "跨期", "period": "期间", "with": "附", "example": "示例", "employee": "员工", "expect": "期望", "for": "对于",
        "sum": "合计", "avg": "平均", "count": "人数", "min": "最小", "max": "最大",
        "unique": "（唯一）", "collect_sum": "（累加）",
        ",": "，", ":": "：", "(": "（", ")": "）", "*": "×", "/": "/", ">=": "≥", "<=": "≤", "!=": "≠",
        "quote": ("“", "”"),
        "to_date": {"year": "本年累计", "quarter": "本季累计", "month": "本月累计", "all": "累计至今"},
        "earlier": {"year": "本年此前", "quarter": "本季此前", "month": "本月此前", "all": "此前"},
        "since": "始于",
        "optional": "可选", "default": "默认", "only_if": "仅当", "as": "作为", "parameter": "参数",
        "matchup": "（对阵）",
    },
}


# ---- expressions ---------------------------------------------------------------------------

_PREC_ATOM = 8


class Printer:
    def __init__(self, lang: str):
        self.lang = lang
        self.w = WORDS[lang]

    def word(self, key: str) -> str:
        return self.w[key]

    def prec(self, e) -> int:
        if isinstance(e, ast.IfExpr):
            return 0
        if isinstance(e, ast.Logic):
            return 1 if e.op == "or" else 2
        if isinstance(e, ast.Not):
            return 3
        if isinstance(e, (ast.Compare, ast.Between, ast.InList, ast.Top, ast.Split, ast.Tiered)):
            return 4
        if isinstance(e, ast.Aggregate) and e.where is not None and e.within is None:
            return 4
        if isinstance(e, ast.Binary):
            return 5 if e.op in "+-" else 6
        if isinstance(e, ast.Neg):
            return 7
        if isinstance(e, (ast.Number, ast.Percent)) and (e.text or "").startswith("-"):
            return 7
        return _PREC_ATOM

    def expr(self, e, need: int = 0) -> str:
        text = self._expr(e)
        if self.prec(e) < need:
            return f"{self.w['(']}{text}{self.w[')']}"
        return text

    def group(self, e) -> str:
        """An operand that the grammar takes as a name or a bracketed expression."""
        if isinstance(e, ast.Name) and keyword_kind(e.name) in SOFT_KEYWORDS:  # `sum (earlier)`: bare, a scope
            return f"{self.w['(']}{self._expr(e)}{self.w[')']}"
        if isinstance(e, (ast.Name, ast.Call)):
            return self._expr(e)
        if isinstance(e, ast.Group):
            return f"{self.w['(']}{self.w[','].join(self._expr(item) for item in e.items)}{self.w[')']}"
        return f"{self.w['(']}{self._expr(e)}{self.w[')']}"

    def scope(self, e) -> list[str]:
        parts = [self.w["within"], self.group(e.within)] if e.within is not None else []
        if e.across:
            parts.append(self.w["across"])
        to_date = getattr(e, "to_date", None)
        if to_date == "since":
            parts += [self.w["since"], self.expr(e.since, 5)]
        elif to_date is not None:
            parts.append(self.w["earlier" if e.earlier else "to_date"][to_date])
        return parts

    def _expr(self, e) -> str:
        w = self.w
        if isinstance(e, ast.Number):
            return e.text or format_exact(e.value)
        if isinstance(e, ast.Percent):
            return e.text or f"{format_exact(e.value * 100)}%"
        if isinstance(e, ast.Date):
            return e.value.isoformat()
        if isinstance(e, ast.Text):
            if _LABEL.fullmatch(e.value):
                return e.value  # 2024-06 reads as the same text without quotes
            opening, closing = w["quote"] if '"' not in e.value else ("“", "”")
            return f"{opening}{e.value}{closing}"
        if isinstance(e, ast.Name):
            return e.name
        if isinstance(e, ast.Neg):
            return "-" + self.expr(e.operand, 7)
        if isinstance(e, ast.Binary):
            high = 5 if e.op in "+-" else 6
            op = w.get(e.op, e.op)
            if e.op == "/" and isinstance(e.left, ast.Number) and isinstance(e.right, ast.Number):
                return f"{self.expr(e.left, high)}/{self.expr(e.right, high + 1)}"  # a fraction: 869/9
            return f"{self.expr(e.left, high)} {op} {self.expr(e.right, high + 1)}"
        if isinstance(e, ast.Compare):
            parts = [self.expr(e.operands[0], 5)]
            for op, operand in zip(e.ops, e.operands[1:]):
                parts += [w.get(op, op), self.expr(operand, 5)]
            return " ".join(parts)
        if isinstance(e, ast.Between):
            return f"{self.expr(e.value, 5)} {w['between']} {self.expr(e.low, 5)} {w['and']} {self.expr(e.high, 5)}"
        if isinstance(e, ast.InList):
            options = w[","].join(self.expr(o, 5) for o in e.options)
            negation = f"{w['not']} " if e.negated else ""
            return f"{self.expr(e.value, 5)} {negation}{w['in']} {w['(']}{options}{w[')']}"
        if isinstance(e, ast.Logic):
            level = 1 if e.op == "or" else 2
            return f"{self.expr(e.left, level)} {w[e.op]} {self.expr(e.right, level + 1)}"
        if isinstance(e, ast.Not):
            # `not (a = b)` keeps its brackets: `not a = b` means the same but reads ambiguously.
            return f"{w['not']} {self.expr(e.operand, 5)}"
        if isinstance(e, ast.IfExpr):
            return f"{w['if']} {self.expr(e.cond)} {w['then']} {self.expr(e.then)} {w['else']} {self.expr(e.else_)}"
        if isinstance(e, ast.Call):
            return f"{e.func}{w['(']}{w[','].join(self.expr(a) for a in e.args)}{w[')']}"
        if isinstance(e, ast.ValueOf):
            inside = self.expr(e.key) if e.group is None else f"{e.group} = {self.expr(e.key, 5)}"
            return f"{e.name}[{inside}]"
        if isinstance(e, ast.Aggregate):
            parts = [w[e.func]]
            if e.operand is not None:
                parts.append(self.group(e.operand))
            if e.source is not None:
                parts += [w["from"], e.source]
            if e.where is not None:
                parts += [w["where"], self.expr(e.where, 1)]
            return " ".join(parts + self.scope(e))
        if isinstance(e, ast.Rank):
            parts = [w["rank"], self.group(e.operand)]
            if e.ascending:
                parts.append(w["ascending"])
            return " ".join(parts + self.scope(e))
        if isinstance(e, ast.Top):
            parts = [self.expr(e.operand, 5), w["in"], w["bottom" if e.bottom else "top"], self.expr(e.amount, 5)]
            return " ".join(parts + self.scope(e))
        if isinstance(e, ast.Split):
            parts = [w["split"], self.expr(e.pool, 5), w["by"], self.expr(e.weight, 5)]
            return " ".join(parts + self.scope(e))
        if isinstance(e, ast.Group):
            return self.group(e)
        if isinstance(e, ast.Tiered):
            tiers = w[","].join(" ".join(self.tier(t, previous)) for t, previous in with_previous(e.tiers))
            return f"{self.tiered_head(e)}{w[':']}{tiers}"
        if isinstance(e, ast.WeightedSum):
            rows = w[","].join(f"{r.component.name} {self.expr(r.weight, 5)}" for r in e.rows)
            return f"{w['weighted']}{w['(']}{rows}{w[')']}"
        raise AssertionError(f"fmt: no layout for {type(e).__name__}")

    def tiered_head(self, e: ast.Tiered) -> str:
        w = self.w
        kind = w.get(e.kind, e.kind)
        return f"{w['tiered']} {kind} {w['on']} {self.expr(e.base, 5)}"

    def tier(self, tier: ast.Tier, previous: ast.Tier | None) -> tuple[str, str]:
        """(the band, the rate) of one tier row."""
        w = self.w
        rate = self.expr(tier.rate, _PREC_ATOM)
        if tier.upper is not None:
            bound = self.expr(tier.upper, 5)
            return (f"{w['upto']} {bound}" if self.lang == "en" else f"{bound} {w['upto']}"), rate
        lower = tier.lower if tier.lower is not None else (previous.upper if previous is not None else None)
        if self.lang == "zh" and lower is not None:
            return f"{self.expr(lower, 5)} {w['above']}", rate
        if tier.lower is not None:
            return f"{w['above']} {self.expr(tier.lower, 5)}", rate
        return w["above"], rate


def with_previous(items):
    previous = None
    for item in items:
        yield item, previous
        previous = item


# ---- statements ------------------------------------------------------------------------------


@dataclass
class Line:
    text: str
    indent: int
    lines: tuple[int, int]  # the source lines it stands for (end-of-line comments)
    align: str | None = None  # rows of a block: text after the aligned column


@dataclass
class Slot:
    """A statement or a block row: where comments and blank lines attach."""

    first: int
    last: int
    lines: list[Line]
    rows: list["Slot"] = field(default_factory=list)


def _last_line(node) -> int:
    last = node.span.line
    for sub in ast.walk(node) if hasattr(node, "span") else []:
        if hasattr(sub, "span") and sub.span.line and sub is not node:
            last = max(last, sub.span.end_line)
    if isinstance(node, (ast.Number, ast.Percent, ast.Text, ast.Name)):
        last = max(last, node.span.end_line)
    return last


class Formatter:
    def __init__(self, source: SourceFile, policy: ast.Policy):
        self.source = source
        self.policy = policy
        self.p = Printer(policy.language)
        self.w = self.p.w
        self.comments = find_comments(source.text.replace("\r\n", "\n"))
        self.lines = source.text.replace("\r\n", "\n").split("\n")

    def format(self) -> str:
        slots = self._statement_slots()
        self.out: list[tuple[str, str | None, int]] = []  # (code, end-of-line comment, depth); depth -1: blank
        self.used: set[int] = set()
        self.full = [c for c in self.comments if c.full_line]
        self.eol = {c.line: c for c in self.comments if not c.full_line}
        last = self._emit(slots, 0, previous_last=0)
        for comment in self.full:  # comments after the last statement
            if comment.line not in self.used:
                self._blank_if(last, comment.line)
                self.out.append((comment.text, None, 0))
                self.used.add(comment.line)
                last = comment.line
        return self._render()

    def _blank_if(self, after: int, before: int) -> None:
        if not self.out or self.out[-1][2] == -1:
            return
        if any(not self.lines[n - 1].strip() for n in range(after + 1, before) if 0 < n <= len(self.lines)):
            self.out.append(("", None, -1))

    def _emit(self, slots: list["Slot"], depth: int, previous_last: int) -> int:
        heads = [ln.text for slot in slots for ln in slot.lines if ln.align is not None]
        width = max((display_width(h) for h in heads), default=0)
        for slot in slots:
            leading = [c for c in self.full if c.line < slot.first and c.line not in self.used]
            for comment in leading:
                if depth > 0 or self.out:
                    self._blank_if(previous_last, comment.line)
                self.out.append((INDENT * depth + comment.text, None, depth))
                self.used.add(comment.line)
                previous_last = comment.line
            self._blank_if(previous_last, slot.first)
            for ln in slot.lines:
                text = ln.text if ln.align is None else pad(ln.text, width) + "  " + ln.align
                comments = [self.eol[n].text for n in range(ln.lines[0], ln.lines[1] + 1) if n in self.eol]
                self.out.append((INDENT * (depth + ln.indent) + text, " ".join(comments) or None, depth))
            previous_last = slot.last
            if slot.rows:
                previous_last = self._emit(slot.rows, depth + 1, previous_last=slot.first)
                previous_last = max(previous_last, slot.last)
        return previous_last

    def _render(self) -> str:
        # End-of-line comments line up within a run of consecutive lines at one depth (as gofmt does).
        lines: list[str] = []
        i = 0
        while i < len(self.out):
            j = i
            while j < len(self.out) and self.out[j][2] == self.out[i][2] and self.out[j][2] != -1:
                j += 1
            run = self.out[i:max(j, i + 1)]
            width = max((display_width(code) for code, comment, _ in run if comment), default=0)
            for code, comment, _ in run:
                lines.append(pad(code, width) + "  " + comment if comment else code)
            i = max(j, i + 1)
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(line.rstrip() for line in lines) + "\n"

    # -- building slots
    def _statement_slots(self) -> list[Slot]:
        items: list[tuple[int, object]] = []
        if self.policy.title is not None:
            header_line = next((n for n, text in enumerate(self.lines, start=1)
                                if text.strip() and not text.lstrip().startswith("#")), 1)
            items.append((header_line, ("header",)))
        if self.policy.inputs:
            items.append((self._input_block_line(), ("inputs",)))
        items += [(t.span.line, t) for t in self.policy.related]
        if self.policy.outputs is not None:
            items.append((self.policy.outputs.span.line, self.policy.outputs))
        if getattr(self.policy, "published", None) is not None:
            items.append((self.policy.published.span.line, self.policy.published))
        items += [(d.span.line, d) for d in self.policy.declarations]
        items += [(e.span.line, e) for e in self.policy.examples]
        if self.policy.appraisal is not None:
            items.append((self.policy.appraisal.span.line, self.policy.appraisal))
        items.sort(key=lambda item: item[0])
        return [self._slot(line, item) for line, item in items]

    def _input_block_line(self) -> int:
        first = self.policy.inputs[0].span.line
        for n in range(first - 1, 0, -1):
            text = self.lines[n - 1].strip()
            if text and not text.startswith("#"):
                return n
        return first

    def _slot(self, line: int, item) -> Slot:
        w = self.w
        if isinstance(item, tuple) and item[0] == "header":
            opening, closing = w["quote"]
            text = f"{w['policy']} {opening}{self.policy.title}{closing}"
            if self.policy.version is not None:
                text += f" {w['version']} {opening}{self.policy.version}{closing}"
            return Slot(line, line, [Line(text, 0, (line, line))])
        if isinstance(item, tuple) and item[0] == "inputs":
            rows = [self._input_row(d) for d in self.policy.inputs]
            return Slot(line, line, [Line(w["input"], 0, (line, line))], rows)
        if isinstance(item, ast.RelatedTable):
            rows = [self._input_row(d) for d in item.inputs]
            return Slot(line, line, [Line(f"{w['input']} {item.name} {w['by']} {item.link}", 0, (line, line))], rows)
        if isinstance(item, (ast.Output, ast.Published)):
            names = w[","].join(n.name for n in item.names)
            keyword = w["output"] if isinstance(item, ast.Output) else w["publish"]
            return Slot(line, line, [Line(f"{keyword} {names}", 0, (line, line))])
        if isinstance(item, ast.Definition):
            return self._definition(item)
        if isinstance(item, ast.Weighted):
            rows = [Slot(r.span.line, _last_line(r), [Line(r.component.name, 0, (r.span.line, r.span.line),
                                                             align=self.p.expr(r.weight, 5))]) for r in item.rows]
            return Slot(item.span.line, item.span.line, [Line(f"{item.name} = {w['weighted']}", 0, (item.span.line, item.span.line))], rows)
        if isinstance(item, ast.Table):
            head = item.name
            if item.hit != "first":
                head += " " + w["unique" if item.hit == "unique" else "collect_sum"]
            rows = []
            for r in item.rows:
                value = self.p.expr(r.value)
                if r.cond is None:
                    text = f"{w['OTHERWISE']} {r.target} {value}"
                else:
                    text = f"{w['IF']} {self.p.expr(r.cond)} {w['THEN']} {r.target} {value}"
                rows.append(Slot(r.span.line, _last_line(r), [Line(text, 0, (r.span.line, _last_line(r)))]))
            return Slot(item.span.line, item.span.line, [Line(head, 0, (item.span.line, item.span.line))], rows)
        if isinstance(item, ast.Lookup):
            return self._lookup(item)
        if isinstance(item, ast.Example):
            return self._example(item)
        if type(item).__name__ == "Appraisal":
            return self._appraisal(item)
        raise AssertionError(f"fmt: no layout for {type(item).__name__}")

    def _appraisal(self, block) -> Slot:
        from pkrules.language.appraisal import CANONICAL, calendar_text, stage_text

        lang = self.policy.language
        rows = [Slot(s.span.line, s.span.line, [Line(stage_text(s, lang), 0, (s.span.line, s.span.line))])
                for s in block.stages]
        calendar = calendar_text(block, lang)
        if calendar is not None:
            n = block.calendar_span.line
            rows.append(Slot(n, n, [Line(calendar, 0, (n, n))]))
        rows.sort(key=lambda slot: slot.first)
        line = block.span.line
        return Slot(line, line, [Line(CANONICAL[lang]["block"], 0, (line, line))], rows)

    def _input_row(self, d: ast.InputDecl) -> Slot:
        w, p = self.w, self.p
        type_text = " | ".join(d.enum_values) if d.type_name == "enum" else d.type_name
        parts = [f"{d.name}{w[':']}{type_text}"]
        if d.low is not None and d.high is not None:
            parts.append(f"{p.expr(d.low, 5)} {w['to']} {p.expr(d.high, 5)}")
        for op, bound in d.compares:
            parts.append(f"{w.get(op, op)} {p.expr(bound, 5)}")
        if d.key:
            parts.append(w["key"])
        if d.period:
            parts.append(w["period"])
        if d.default is not None:
            parts.append(f"{w['default']} {p.expr(d.default, 5)}")
        elif d.optional:
            parts.append(w["optional"])
        if d.column is not None:
            opening, closing = w["quote"]
            parts.append(f"{w['column']} {opening}{d.column}{closing}")
        return Slot(d.span.line, d.span.line, [Line(" ".join(parts), 0, (d.span.line, d.span.line))])

    def _definition(self, d: ast.Definition) -> Slot:
        body = d.body
        line = d.span.line
        if isinstance(body, ast.Tiered) and body.tiers and body.tiers[0].span.line != line:
            rows = []
            for tier, previous in with_previous(body.tiers):
                band, rate = self.p.tier(tier, previous)
                rows.append(Slot(tier.span.line, tier.span.line, [Line(band, 0, (tier.span.line, tier.span.line), align=rate)]))
            return Slot(line, line, [Line(f"{d.name} = {self.p.tiered_head(body)}", 0, (line, line))], rows)
        last = _last_line(body)
        text = f"{d.name} = {self.p.expr(body)}"
        if d.guard is not None:
            last = max(last, _last_line(d.guard))
            text += f" {self.w['only_if']} {self.p.expr(d.guard)}"
        return Slot(line, last, [Line(text, 0, (line, last))])

    def _lookup(self, item: ast.Lookup) -> Slot:
        w, p = self.w, self.p
        line = item.span.line
        head = f"{item.name}{' ' + w['matchup'] if item.matchup else ''} {w['by']} {p.expr(item.key, 5)}"

        def key_text(entry: ast.LookupEntry) -> str:
            if entry.key is None:
                return w["OTHERWISE"]
            if isinstance(entry.key, str):
                source_key = self.source.snippet(entry.key_span)
                return source_key if source_key.startswith(("\"", "“", "「")) or source_key == entry.key else entry.key
            return self.source.snippet(entry.key_span) or format_exact(entry.key)

        if item.file is not None:
            opening, closing = w["quote"]
            text = f"{head} {w['from']} {opening}{item.file}{closing}"
            if item.column is not None:
                text += f" {w['column']} {opening}{item.column}{closing}"
            if item.unit is not None:
                text += f" {w['as']} {item.unit}"
            return Slot(line, line, [Line(text, 0, (line, line))])
        inline = all(e.span.line == line for e in item.entries)
        if inline:
            entries = w[","].join(f"{key_text(e)} {p.expr(e.value, 5)}" for e in item.entries)
            return Slot(line, line, [Line(f"{head}{w[':']}{entries}", 0, (line, line))])
        rows = [Slot(e.span.line, e.span.line, [Line(key_text(e), 0, (e.span.line, e.span.line), align=p.expr(e.value, 5))])
                for e in item.entries]
        return Slot(line, line, [Line(head, 0, (line, line))], rows)

    def _example(self, item: ast.Example) -> Slot:
        w, p = self.w, self.p
        opening, closing = w["quote"]
        line = item.span.line
        rows: list[Slot] = []
        several = len(item.employees) > 1
        for employee in item.employees:
            for n, (source_line, fields) in enumerate(by_line(employee, lambda f: f.span.line)):
                text = w[","].join(f"{f.name} {p.expr(f.value, 5)}" for f in fields)
                if several and n == 0:
                    text = f"{w['employee']} {text}"
                rows.append(Slot(source_line, source_line, [Line(text, 0, (source_line, source_line))]))
        for related in item.related:
            fields = w[","].join(f"{f.name} {p.expr(f.value, 5)}" for f in related.fields)
            n = related.span.line
            rows.append(Slot(n, n, [Line(f"{w['with']} {related.table} {fields}", 0, (n, n))]))
        for source_line, expectations in by_line(item.expectations, lambda e: e.span.line):
            groups: list[list[ast.Expectation]] = []
            for e in expectations:  # one line may hold expectations for one employee only
                if groups and groups[-1][0].employee == e.employee:
                    groups[-1].append(e)
                else:
                    groups.append([e])
            for group in groups:
                who = f"{w['for']} {p.expr(group[0].employee, 5)} " if group[0].employee is not None else ""
                fields = w[","].join(f"{e.field.name} {p.expr(e.field.value, 5)}" for e in group)
                rows.append(Slot(source_line, source_line, [Line(f"{w['expect']} {who}{fields}", 0, (source_line, source_line))]))
        rows.sort(key=lambda s: s.first)
        return Slot(line, line, [Line(f"{w['example']} {opening}{item.title}{closing}", 0, (line, line))], rows)


def by_line(items, line_of):
    groups: list[tuple[int, list]] = []
    for item in items:
        n = line_of(item)
        if groups and groups[-1][0] == n:
            groups[-1][1].append(item)
        else:
            groups.append((n, [item]))
    return groups


def format_source(source: SourceFile) -> str:
    """The canonical text of a policy; raises PolicyError if it does not parse."""
    policy, diagnostics = parse_policy(source)
    if policy is None:
        raise PolicyError(source, diagnostics)
    return Formatter(source, policy).format()


def format_text(text: str, path: str = "<policy>") -> str:
    return format_source(SourceFile(path, text))
