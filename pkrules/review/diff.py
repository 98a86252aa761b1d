"""The semantic diff of two policies: what changed, in the policy's own terms.

Two surface ASTs are compared by name (spans and literal spellings are not part
of a tree's equality, so layout, comments and `1.0` vs `1` are no change):

- the header (title, version);
- inputs added, removed, or with another type, limits, key, column or values;
- definitions added, removed, renamed (removed + added with an equal body once
  references are renamed too), or changed — rule tables row by row (matched by
  condition text, then by position), scorecards weight by weight, lookups key by
  key, tiers tier by tier, anything else as its formula before and after;
- examples added, removed or changed, field by field.

The result is data (a list of Change records); renderers turn it into terminal
text, JSON and Markdown. Descriptions are in the language the new policy is
written in; formulas are printed canonically (`fmt`'s printer).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import dataclass, field

from pkrules.language import ast
from pkrules.language.fmt import WORDS, Printer, with_previous
from pkrules.language.source import Span
from pkrules.messages import language_for, say
from pkrules.values.text import display_width, pad

# ---- the data ----------------------------------------------------------------------------


@dataclass
class Change:
    """One semantic change.

    kind: header · input-added · input-removed · input-changed · added · removed · renamed ·
    redefined (another kind of statement) · formula · hit-policy · row-changed · row-added ·
    row-removed · row-moved · weight-changed · component-added · component-removed ·
    lookup-key · entry-changed · entry-added · entry-removed · tiers-kind · tiers-base ·
    tier-changed · tier-added · tier-removed · example-added · example-removed · example-changed
    """

    kind: str
    node: str | None  # the input, definition or example it is about (its new name)
    description: str  # in the policy's own terms: "coef: row `IF score >= 90` now pays 1.3 (was 1.2)"
    old_text: str | None = None  # the old statement or row, canonical
    new_text: str | None = None
    old_lines: tuple[int, int] | None = None  # first and last source line in the old file
    new_lines: tuple[int, int] | None = None

    @property
    def sign(self) -> str:
        if self.kind.endswith("-added") or self.kind == "added":
            return "+"
        if self.kind.endswith("-removed") or self.kind == "removed":
            return "-"
        if self.kind in ("renamed", "example-renamed"):
            return "→"
        return "~"

    def to_data(self) -> dict:
        data = dataclasses.asdict(self)
        data["old_lines"] = list(self.old_lines) if self.old_lines else None
        data["new_lines"] = list(self.new_lines) if self.new_lines else None
        return data


@dataclass
class PolicyDiff:
    old_path: str
    new_path: str
    old_policy: ast.Policy
    new_policy: ast.Policy
    changes: list[Change]
    renames: dict[str, str] = field(default_factory=dict)  # old name → new name

    @property
    def lang(self) -> str:
        """The language of the descriptions: the new policy's, unless the user chose one (--lang)."""
        return language_for(self.new_policy.language)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def changed_names(self) -> set[str]:
        """New names of definitions whose declaration changed (or that are new)."""
        names = set()
        for c in self.changes:
            if c.node and not c.kind.startswith(("renamed", "example", "header", "input")):
                names.add(c.node)
        return names


# ---- words: messages/diff.py (say) --------------------------------------------------------


# ---- renaming ------------------------------------------------------------------------------

_NAMED = (ast.Definition, ast.Weighted, ast.Table, ast.Lookup, ast.Rule, ast.Field)


def rename(node, mapping: dict[str, str]):
    """A copy of node with every reference to a name in mapping renamed (declarations too)."""
    if not mapping:
        return node
    if isinstance(node, tuple):
        items = tuple(rename(item, mapping) for item in node)
        return items if any(a is not b for a, b in zip(items, node)) else node
    if isinstance(node, ast.Name):
        return dataclasses.replace(node, name=mapping[node.name]) if node.name in mapping else node
    if isinstance(node, Span) or not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name in ("name", "target") and isinstance(node, _NAMED) and isinstance(value, str):
            if value in mapping:
                changes[f.name] = mapping[value]
        elif isinstance(value, tuple) or (dataclasses.is_dataclass(value) and not isinstance(value, Span)):
            renamed = rename(value, mapping)
            if renamed is not value:
                changes[f.name] = renamed
    return dataclasses.replace(node, **changes) if changes else node


# ---- source lines -------------------------------------------------------------------------


def lines_of(node) -> tuple[int, int] | None:
    """First and last source line of a statement or row (statement spans run on over comments)."""
    span = getattr(node, "span", None)
    if span is None or not span.line:
        return None
    last = span.line
    for sub in ast.walk(node):
        if sub is node or ast.children(sub):
            continue
        if sub.span.line:
            last = max(last, sub.span.end_line if sub.span.end_column > 1 or sub.span.end_line == sub.span.line
                       else sub.span.end_line - 1)
    return span.line, last


# ---- canonical text ------------------------------------------------------------------------


class _Text:
    """Canonical text of statements, rows, tiers and inputs in one language."""

    def __init__(self, lang: str):
        self.lang = lang
        self.p = Printer(lang)
        self.w = WORDS[lang]

    def expr(self, e, need: int = 0) -> str:
        return self.p.expr(e, need)

    def value(self, e) -> str:
        return self.p.expr(e, 5)

    def cond(self, row: ast.Rule) -> str:
        if row.cond is None:
            return self.w["OTHERWISE"]
        return f"{self.w['IF']} {self.p.expr(row.cond)}"

    def row(self, row: ast.Rule) -> str:
        value = self.p.expr(row.value)
        if row.cond is None:
            return f"{self.w['OTHERWISE']} {row.target} {value}"
        return f"{self.w['IF']} {self.p.expr(row.cond)} {self.w['THEN']} {row.target} {value}"

    def tier(self, tier: ast.Tier, previous: ast.Tier | None) -> str:
        band, rate = self.p.tier(tier, previous)
        return f"{band} {rate}"

    def limits(self, d: ast.InputDecl) -> str:
        parts = []
        if d.low is not None and d.high is not None:
            parts.append(f"{self.value(d.low)} {self.w['to']} {self.value(d.high)}")
        for op, bound in d.compares:
            parts.append(f"{self.w.get(op, op)} {self.value(bound)}")
        return " ".join(parts)

    def type_of(self, d: ast.InputDecl) -> str:
        return " | ".join(d.enum_values) if d.type_name == "enum" else d.type_name

    def input(self, d: ast.InputDecl) -> str:
        parts = [f"{d.name}{self.w[':']}{self.type_of(d)}"]
        limits = self.limits(d)
        if limits:
            parts.append(limits)
        if d.key:
            parts.append(self.w["key"])
        if getattr(d, "default", None) is not None:
            parts.append(f"{self.w['default']} {self.value(d.default)}")
        elif getattr(d, "optional", False):
            parts.append(self.w["optional"])
        if d.column is not None:
            opening, closing = self.w["quote"]
            parts.append(f"{self.w['column']} {opening}{d.column}{closing}")
        return " ".join(parts)

    def statement(self, decl) -> str:
        w = self.w
        if isinstance(decl, ast.Definition):
            if isinstance(decl.body, ast.Tiered):
                rows = [self.p.tier(t, prev) for t, prev in with_previous(decl.body.tiers)]
                return f"{decl.name} = {self.p.tiered_head(decl.body)}\n" + _aligned(rows)
            guard = getattr(decl, "guard", None)
            return f"{decl.name} = {self.p.expr(decl.body)}" + (f" {w['only_if']} {self.p.expr(guard)}" if guard else "")
        if isinstance(decl, ast.Weighted):
            rows = [(r.component.name, self.value(r.weight)) for r in decl.rows]
            return f"{decl.name} = {w['weighted']}\n" + _aligned(rows)
        if isinstance(decl, ast.Table):
            head = decl.name
            if decl.hit != "first":
                head += " " + w["unique" if decl.hit == "unique" else "collect_sum"]
            return head + "\n" + "\n".join("  " + self.row(r) for r in decl.rows)
        if isinstance(decl, ast.Lookup):
            head = f"{decl.name}{' ' + w['matchup'] if getattr(decl, 'matchup', False) else ''} {w['by']} {self.value(decl.key)}"
            if getattr(decl, "file", None) is not None:
                opening, closing = w["quote"]
                column = f" {w['column']} {opening}{decl.column}{closing}" if getattr(decl, "column", None) else ""
                unit = f" {w['as']} {decl.unit}" if getattr(decl, "unit", None) else ""
                return f"{head} {w['from']} {opening}{decl.file}{closing}{column}{unit}"
            entries = w[","].join(f"{self.key(e)} {self.value(e.value)}" for e in decl.entries)
            return f"{head}{w[':']}{entries}"
        return f"{getattr(decl, 'name', '?')} = …"  # a kind of statement this version does not know

    def key(self, entry: ast.LookupEntry) -> str:
        if entry.key is None:
            return self.w["OTHERWISE"]
        if isinstance(entry.key, str):
            return entry.key
        from pkrules.values.numbers import format_exact

        return format_exact(entry.key)

    def field(self, f: ast.Field) -> str:
        return f"{f.name} {self.value(f.value)}"

    def expectation(self, e: ast.Expectation) -> str:
        who = f"{self.w['for']} {self.value(e.employee)} " if e.employee is not None else ""
        return f"{self.w['expect']} {who}{self.field(e.field)}"

    def example(self, ex: ast.Example) -> str:
        """The example block; fields written on one line stay on one line."""
        from pkrules.language.fmt import by_line

        opening, closing = self.w["quote"]
        lines = [f"{self.w['example']} {opening}{ex.title}{closing}"]
        several = len(ex.employees) > 1
        for employee in ex.employees:
            for n, (_, fields) in enumerate(by_line(employee, lambda f: f.span.line)):
                text = self.w[","].join(self.field(f) for f in fields)
                lines.append("  " + (f"{self.w['employee']} " if several and n == 0 else "") + text)
        for _, expectations in by_line(ex.expectations, lambda e: (e.span.line, self.value(e.employee) if e.employee else "")):
            who = expectations[0].employee
            prefix = f"{self.w['for']} {self.value(who)} " if who is not None else ""
            lines.append(f"  {self.w['expect']} {prefix}" + self.w[","].join(self.field(e.field) for e in expectations))
        return "\n".join(lines)


def _aligned(rows: list[tuple[str, str]]) -> str:

    width = max((display_width(a) for a, _ in rows), default=0)
    return "\n".join(f"  {pad(a, width)}  {b}" for a, b in rows)


def _bound_key(tier: ast.Tier) -> object:
    """What tiers are matched by: the value of the upper bound (None for the open top)."""
    from pkrules.language.builtins import constant_value

    if tier.upper is None:
        return None
    value = constant_value(tier.upper)
    return value if value is not None else tier.upper


def _kind(decl) -> str:
    if isinstance(decl, ast.Definition):
        return "tiered" if isinstance(decl.body, ast.Tiered) else "definition"
    return {ast.Weighted: "weighted", ast.Table: "table", ast.Lookup: "lookup"}.get(type(decl), "definition")


# ---- the comparison ------------------------------------------------------------------------


class _Differ:
    def __init__(self, old: ast.Policy, new: ast.Policy, old_tables: dict | None = None, new_tables: dict | None = None):
        self.old, self.new = old, new
        self.old_tables = old_tables or {}  # lookups read from files: name → (key → value, key → line)
        self.new_tables = new_tables or {}
        self.lang = language_for(new.language)
        self.ot = _Text(old.language)
        self.nt = _Text(new.language)
        self.changes: list[Change] = []
        self.mapping: dict[str, str] = {}

    def say(self, key: str, /, **values: object) -> str:
        return say(self.lang, key, **values)

    def add(self, kind: str, node: str | None, description: str, old=None, new=None,
            old_text: str | None = None, new_text: str | None = None) -> None:
        self.changes.append(Change(kind, node, description, old_text, new_text,
                                   lines_of(old) if old is not None else None,
                                   lines_of(new) if new is not None else None))

    # -- header and inputs
    def header(self) -> None:
        o, n = self.old, self.new
        for key in ("title", "version"):
            a, b = getattr(o, key), getattr(n, key)
            if a != b:
                if a is None:
                    text = self.say(f"{key}_set", new=b)
                elif b is None:
                    text = self.say(f"{key}_dropped", old=a)
                else:
                    text = self.say(key, new=b, old=a)
                self.add("header", None, text, old_text=a, new_text=b)

    def inputs(self) -> None:
        old = {d.name: d for d in self.old.inputs}
        new = {d.name: d for d in self.new.inputs}
        old_key = next((d.name for d in self.old.inputs if d.key), None)
        for name, d in new.items():
            if name not in old:
                self.add("input-added", name, self.say("input_added", name=name), new=d, new_text=self.nt.input(d))
                continue
            o = old[name]
            if o == d:
                continue
            before, after = self.ot.input(o), self.nt.input(d)
            found = False
            if (o.type_name, o.enum_values) != (d.type_name, d.enum_values):
                self.add("input-changed", name, self.say("input_values" if o.type_name == d.type_name == "enum" else "input_type", name=name, new=self.nt.type_of(d), old=self.ot.type_of(o)),
                         o, d, before, after)
                found = True
            if (o.low, o.high, o.compares) != (d.low, d.high, d.compares):
                self.add("input-changed", name, self.say("input_limits", name=name, new=self.nt.limits(d) or self.say("none"),
                                                         old=self.ot.limits(o) or self.say("none")), o, d, before, after)
                found = True
            if o.key != d.key:
                text = (self.say("input_key", name=name, old=old_key or self.say("none")) if d.key
                        else self.say("input_not_key", name=name))
                self.add("input-changed", name, text, o, d, before, after)
                found = True
            if getattr(o, "period", False) != getattr(d, "period", False):
                self.add("input-changed", name, self.say("input_period" if getattr(d, "period", False) else "input_not_period",
                                                         name=name), o, d, before, after)
                found = True
            if (getattr(o, "optional", False), getattr(o, "default", None)) != (getattr(d, "optional", False),
                                                                               getattr(d, "default", None)):
                self.add("input-changed", name, self.say("input_blank", name=name, new=self._blank(d, self.nt),
                                                         old=self._blank(o, self.ot)), o, d, before, after)
                found = True
            if o.column != d.column:
                self.add("input-changed", name, self.say("input_column", name=name, new=d.column or name, old=o.column or name),
                         o, d, before, after)
                found = True
            if not found:  # defensive: some other difference
                self.add("input-changed", name, f"{name}: {after} (was {before})", o, d, before, after)
        for name, o in old.items():
            if name not in new:
                self.add("input-removed", name, self.say("input_removed", name=name), old=o, old_text=self.ot.input(o))

    def parameters(self) -> None:
        old = {d.name: d for d in getattr(self.old, "parameters", ())}
        new = {d.name: d for d in getattr(self.new, "parameters", ())}
        for name, d in new.items():
            if name not in old:
                self.add("input-added", name, self.say("param_added", name=name), new=d, new_text=self.nt.input(d))
            elif old[name] != d:
                before, after = self.ot.input(old[name]), self.nt.input(d)
                self.add("input-changed", name, self.say("param_changed", name=name, new=after, old=before),
                         old[name], d, before, after)
        for name, o in old.items():
            if name not in new:
                self.add("input-removed", name, self.say("param_removed", name=name), old=o, old_text=self.ot.input(o))

    def appraisal(self) -> None:
        """The appraisal process block: stages added, removed or changed; the calendar."""
        from pkrules.language.appraisal import calendar_text, stage_text

        o, n = getattr(self.old, "appraisal", None), getattr(self.new, "appraisal", None)
        if o == n:
            return
        if o is None or n is None:
            self.add("appraisal", None, self.say("process_declared" if o is None else "process_dropped"), o, n)
            if n is None:
                return
        old_stages = {s.kind: s for s in (o.stages if o is not None else ())}
        new_stages = {s.kind: s for s in n.stages}
        for kind, stage in new_stages.items():
            before = old_stages.get(kind)
            if before is None and o is not None:
                self.add("appraisal-added", kind, self.say("stage_added", new=stage_text(stage, self.lang)), new=stage)
            elif before is not None and before != stage:
                self.add("appraisal", kind, self.say("stage_changed", new=stage_text(stage, self.lang),
                                                     old=stage_text(before, self.lang)), before, stage)
        for kind, stage in old_stages.items():
            if kind not in new_stages:
                self.add("appraisal-removed", kind, self.say("stage_removed", old=stage_text(stage, self.lang)), old=stage)
        if o is not None and (o.calendar, o.days_off) != (n.calendar, n.days_off):
            self.add("appraisal", None, self.say("calendar_changed", new=calendar_text(n, self.lang) or "—",
                                                 old=calendar_text(o, self.lang) or "—"))

    def _blank(self, d: ast.InputDecl, text) -> str:
        if getattr(d, "default", None) is not None:
            return self.say("blank_default", value=text.value(d.default))
        return self.say("blank_none" if getattr(d, "optional", False) else "blank_error")

    # -- definitions
    def find_renames(self, old: dict[str, object], new: dict[str, object]) -> None:
        removed = [n for n in old if n not in new]
        added = [n for n in new if n not in old]
        progress = True
        while progress and removed and added:
            progress = False
            for r in list(removed):
                for a in added:
                    trial = dict(self.mapping)
                    trial[r] = a
                    if rename(old[r], trial) == new[a]:
                        self.mapping[r] = a
                        removed.remove(r)
                        added.remove(a)
                        progress = True
                        break

    def declarations(self) -> None:
        old = {d.name: d for d in self.old.declarations}
        new = {d.name: d for d in self.new.declarations}
        self.find_renames(old, new)
        for r, a in self.mapping.items():
            self.add("renamed", a, self.say("renamed", old=r, new=a), old[r], new[a],
                     self.ot.statement(old[r]), self.nt.statement(new[a]))
        reverse = {a: r for r, a in self.mapping.items()}
        for name, d in new.items():
            if name in reverse:
                continue
            if name not in old:
                self.add("added", name, self.say("added", what=self.say("kind_" + _kind(d)), name=name), new=d,
                         new_text=self.nt.statement(d))
                continue
            o = rename(old[name], self.mapping)
            if o != d or self._file_table(self.old_tables, name) != self._file_table(self.new_tables, name):
                self.declaration(name, old[name], o, d)
        for name, o in old.items():
            if name not in new and name not in self.mapping:
                self.add("removed", name, self.say("removed", what=self.say("kind_" + _kind(o)), name=name), old=o,
                         old_text=self.ot.statement(o))

    def declaration(self, name: str, original, o, d) -> None:
        """o is the old declaration with renames applied; original keeps its source lines."""
        before, after = self.ot.statement(o), self.nt.statement(d)
        if _kind(o) != _kind(d):
            self.add("redefined", name, self.say("redefined", name=name, new=self.say("kind_" + _kind(d)), old=self.say("kind_" + _kind(o))),
                     original, d, before, after)
            return
        if isinstance(d, ast.Table):
            self.table(name, original, o, d)
        elif isinstance(d, ast.Weighted):
            self.weighted(name, original, o, d)
        elif isinstance(d, ast.Lookup):
            self.lookup(name, original, o, d)
        elif isinstance(d.body, ast.Tiered):
            self.tiers(name, original, o, d)
        else:
            if getattr(o, "guard", None) != getattr(d, "guard", None):
                self.add("formula", name, self.say("guard", name=name,
                                                   new=self.nt.expr(d.guard) if d.guard is not None else self.say("always"),
                                                   old=self.ot.expr(o.guard) if o.guard is not None else self.say("always")),
                         original, d, before, after)
                if o.body == d.body:
                    return
            old_formula, new_formula = self.ot.expr(o.body), self.nt.expr(d.body)
            self.add("formula", name, self.say("formula", name=name, new=new_formula, old=old_formula),
                     original, d, before, after)

    def table(self, name: str, original: ast.Table, o: ast.Table, d: ast.Table) -> None:
        if o.hit != d.hit:
            self.add("hit-policy", name, self.say("hit", name=name, new=self.say(d.hit), old=self.say(o.hit)),
                     original, d, f"{name} ({self.say(o.hit)})", f"{name} ({self.say(d.hit)})")
        old_keys = [r.cond for r in o.rows]  # conditions compare by meaning (spans and spellings aside)
        new_keys = [r.cond for r in d.rows]
        removed: list[int] = []
        added: list[int] = []
        pairs: list[tuple[int, int]] = []
        matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                pairs.extend(zip(range(i1, i2), range(j1, j2)))
            elif tag == "replace":
                n = min(i2 - i1, j2 - j1)
                pairs.extend((i1 + k, j1 + k) for k in range(n))
                removed.extend(range(i1 + n, i2))
                added.extend(range(j1 + n, j2))
            elif tag == "delete":
                removed.extend(range(i1, i2))
            else:
                added.extend(range(j1, j2))
        # A row taken out and put back elsewhere is a move (it matters under first match only).
        moves: list[tuple[int, int]] = []
        for i in list(removed):
            j = next((j for j in added if o.rows[i] == d.rows[j]), None)
            if j is not None:
                removed.remove(i)
                added.remove(j)
                moves.append((i, j))
        events: list[tuple[int, int, Change]] = []

        def event(position: int, order: int, kind: str, description: str, i: int | None, j: int | None) -> None:
            # Source lines of old rows come from the original (renamed copies keep their spans).
            events.append((position, order, Change(
                kind, name, description,
                self.ot.row(o.rows[i]) if i is not None else None,
                self.nt.row(d.rows[j]) if j is not None else None,
                lines_of(original.rows[i]) if i is not None else None,
                lines_of(d.rows[j]) if j is not None else None)))

        for i, j in pairs:
            a, b = o.rows[i], d.rows[j]
            if a == b:
                continue
            if a.cond == b.cond:
                event(j, 1, "row-changed", self.say("row_value", name=name, row=self.nt.cond(b),
                                                     new=self.nt.value(b.value), old=self.ot.value(a.value)), i, j)
            elif a.value == b.value:
                event(j, 1, "row-changed", self.say("row_cond", name=name, n=j + 1, new=self.nt.cond(b), old=self.ot.cond(a),
                                                     value=self.nt.value(b.value)), i, j)
            else:
                event(j, 1, "row-changed", self.say("row_both", name=name, n=j + 1, new=self.nt.row(b), old=self.ot.row(a)), i, j)
        if o.hit == "first" and d.hit == "first":
            for i, j in moves:
                event(j, 1, "row-moved", self.say("row_moved", name=name, row=self.nt.cond(d.rows[j]), new=j + 1, old=i + 1),
                      i, j)
        for j in added:
            event(j, 2, "row-added", self.say("row_added", name=name, n=j + 1, row=self.nt.row(d.rows[j])), None, j)
        for i in removed:
            position = next((b for a, b in pairs if a > i), len(d.rows))
            event(position, 0, "row-removed", self.say("row_removed", name=name, n=i + 1, row=self.ot.row(o.rows[i])),
                  i, None)
        for _, _, change in sorted(events, key=lambda e: (e[0], e[1])):
            self.changes.append(change)

    def weighted(self, name: str, original: ast.Weighted, o: ast.Weighted, d: ast.Weighted) -> None:
        old_rows = {r.component.name: (r, k) for k, r in enumerate(o.rows)}
        new_rows = {r.component.name: r for r in d.rows}
        for component, row in new_rows.items():
            if component not in old_rows:
                self.add("component-added", name, self.say("component_added", name=name, component=component,
                                                           weight=self.nt.value(row.weight)),
                         new=row, new_text=f"{component} {self.nt.value(row.weight)}")
                continue
            before, k = old_rows[component]
            if before.weight != row.weight:
                self.add("weight-changed", name, self.say("weight", name=name, component=component,
                                                          new=self.nt.value(row.weight), old=self.ot.value(before.weight)),
                         original.rows[k], row, f"{component} {self.ot.value(before.weight)}",
                         f"{component} {self.nt.value(row.weight)}")
        for component, (row, k) in old_rows.items():
            if component not in new_rows:
                self.add("component-removed", name, self.say("component_removed", name=name, component=component,
                                                             weight=self.ot.value(row.weight)),
                         old=original.rows[k], old_text=f"{component} {self.ot.value(row.weight)}")

    @staticmethod
    def _file_table(tables: dict, name: str) -> dict | None:
        return tables[name][0] if name in tables else None

    def _source_of(self, lookup: ast.Lookup, text: _Text) -> str:
        file = getattr(lookup, "file", None)
        if file is None:
            return self.say("inline")
        opening, closing = text.w["quote"]
        column = getattr(lookup, "column", None)
        return f"{opening}{file}{closing}" + (f" {text.w['column']} {opening}{column}{closing}" if column else "")

    def lookup(self, name: str, original: ast.Lookup, o: ast.Lookup, d: ast.Lookup) -> None:
        old_file, new_file = getattr(o, "file", None), getattr(d, "file", None)
        if (old_file, getattr(o, "column", None)) != (new_file, getattr(d, "column", None)):
            self.add("lookup-file", name, self.say("lookup_source", name=name, new=self._source_of(d, self.nt),
                                                   old=self._source_of(o, self.ot)), original, d)
        if new_file is not None or old_file is not None:
            self.file_entries(name, original, o, d)
            if o.key != d.key:
                self.add("lookup-key", name, self.say("lookup_key", name=name, new=self.nt.value(d.key), old=self.ot.value(o.key)),
                         original, d)
            return
        if o.key != d.key:
            self.add("lookup-key", name, self.say("lookup_key", name=name, new=self.nt.value(d.key), old=self.ot.value(o.key)),
                     original, d, self.ot.statement(o), self.nt.statement(d))
        old_entries = {e.key: (e, k) for k, e in enumerate(o.entries)}
        new_entries = {e.key: e for e in d.entries}
        for key, entry in new_entries.items():
            label = self.nt.key(entry)
            if key not in old_entries:
                self.add("entry-added", name, self.say("entry_added", name=name, key=label, value=self.nt.value(entry.value)),
                         new=entry, new_text=f"{label} {self.nt.value(entry.value)}")
                continue
            before, k = old_entries[key]
            if before.value != entry.value:
                self.add("entry-changed", name, self.say("entry", name=name, key=label, new=self.nt.value(entry.value),
                                                         old=self.ot.value(before.value)),
                         original.entries[k], entry, f"{self.ot.key(before)} {self.ot.value(before.value)}",
                         f"{label} {self.nt.value(entry.value)}")
        for key, (entry, k) in old_entries.items():
            if key not in new_entries:
                label = self.ot.key(entry)
                self.add("entry-removed", name, self.say("entry_removed", name=name, key=label, value=self.ot.value(entry.value)),
                         old=original.entries[k], old_text=f"{label} {self.ot.value(entry.value)}")

    def file_entries(self, name: str, original: ast.Lookup, o: ast.Lookup, d: ast.Lookup) -> None:
        """Entries of lookups read from files (or moved to or from a file), compared key by key."""
        from pkrules.values.numbers import format_exact

        def entries(lookup: ast.Lookup, tables: dict, text: _Text) -> dict | None:
            if getattr(lookup, "file", None) is None:
                return {e.key: text.value(e.value) for e in lookup.entries}
            table = self._file_table(tables, lookup.name if lookup is not o else original.name)
            if table is None:
                return None  # not read (the policy was not checked): nothing to compare
            return {k: format_exact(v) if not isinstance(v, (str, bool)) and hasattr(v, "denominator") else str(v)
                    for k, v in table.items()}

        before, after = entries(o, self.old_tables, self.ot), entries(d, self.new_tables, self.nt)
        if before is None or after is None:
            return
        file = getattr(d, "file", None) or getattr(o, "file", None)

        def label(key) -> str:
            if key is None:
                return self.nt.w["OTHERWISE"]
            return key if isinstance(key, str) else format_exact(key)

        for key, value in after.items():
            if key not in before:
                self.add("entry-added", name, self.say("file_entry_added", name=name, file=file, key=label(key), value=value),
                         new=d, new_text=f"{label(key)} {value}")
            elif before[key] != value:
                self.add("entry-changed", name, self.say("file_entry", name=name, file=file, key=label(key), new=value,
                                                         old=before[key]),
                         original, d, f"{label(key)} {before[key]}", f"{label(key)} {value}")
        for key, value in before.items():
            if key not in after:
                self.add("entry-removed", name, self.say("file_entry_removed", name=name, file=file, key=label(key), value=value),
                         old=original, old_text=f"{label(key)} {value}")

    def outputs(self, line: str = "outputs") -> None:
        """The output line (or, with line="published", the publish line): which names it lists."""
        def names(policy: ast.Policy, mapping: dict) -> list[str]:
            declared = getattr(policy, line, None)
            return [mapping.get(n.name, n.name) for n in declared.names] if declared is not None else []

        before, after = names(self.old, self.mapping), names(self.new, {})
        if before == after:
            return
        if not before:
            text = self.say(f"{line}_set", new=", ".join(after))
        elif not after:
            text = self.say(f"{line}_dropped", old=", ".join(before))
        else:
            text = self.say(line, new=", ".join(after), old=", ".join(before))
        self.add(line, None, text, getattr(self.old, line, None), getattr(self.new, line, None),
                 ", ".join(names(self.old, {})) or None, ", ".join(after) or None)

    def tiers(self, name: str, original: ast.Definition, o: ast.Definition, d: ast.Definition) -> None:
        a, b = o.body, d.body
        if a.kind != b.kind:
            self.add("tiers-kind", name, self.say("tiers_kind", name=name, new=self.say(b.kind), old=self.say(a.kind)),
                     original, d, self.ot.p.tiered_head(a), self.nt.p.tiered_head(b))
        if a.base != b.base:
            self.add("tiers-base", name, self.say("tiers_base", name=name, new=self.nt.value(b.base), old=self.ot.value(a.base)),
                     original, d, self.ot.p.tiered_head(a), self.nt.p.tiered_head(b))
        old_tiers, new_tiers = a.tiers, b.tiers
        old_prev = {id(t): p for t, p in with_previous(old_tiers)}
        new_prev = {id(t): p for t, p in with_previous(new_tiers)}
        old_keys = [_bound_key(t) for t in old_tiers]
        new_keys = [_bound_key(t) for t in new_tiers]
        original_tiers = original.body.tiers

        def otext(k: int) -> str:
            return self.ot.tier(old_tiers[k], old_prev[id(old_tiers[k])])

        def ntext(k: int) -> str:
            return self.nt.tier(new_tiers[k], new_prev[id(new_tiers[k])])

        def bound(t: ast.Tier, text: _Text) -> str:
            return text.value(t.upper) if t.upper is not None else self.say("open")

        events: list[tuple[int, int, Change]] = []
        matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
        removed, added, pairs = [], [], []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                pairs.extend(zip(range(i1, i2), range(j1, j2)))
            elif tag == "replace":
                n = min(i2 - i1, j2 - j1)
                pairs.extend((i1 + k, j1 + k) for k in range(n))
                removed.extend(range(i1 + n, i2))
                added.extend(range(j1 + n, j2))
            elif tag == "delete":
                removed.extend(range(i1, i2))
            else:
                added.extend(range(j1, j2))
        for i, j in pairs:
            t, u = old_tiers[i], new_tiers[j]
            same_bound = t.upper == u.upper
            same_rate = t.rate == u.rate
            if same_bound and same_rate:
                continue
            if not same_bound and same_rate:
                text = self.say("tier_bound", name=name, n=j + 1, new=bound(u, self.nt), old=bound(t, self.ot))
            elif same_bound:
                text = self.say("tier_rate", name=name, n=j + 1, new=self.nt.value(u.rate), old=self.ot.value(t.rate))
            else:
                text = self.say("tier_both", name=name, n=j + 1, new=ntext(j), old=otext(i))
            events.append((j, 1, Change("tier-changed", name, text, otext(i), ntext(j),
                                        lines_of(original_tiers[i]), lines_of(u))))
        for j in added:
            events.append((j, 2, Change("tier-added", name, self.say("tier_added", name=name, n=j + 1, tier=ntext(j)),
                                        None, ntext(j), None, lines_of(new_tiers[j]))))
        for i in removed:
            position = next((b for a, b in pairs if a > i), len(new_tiers))
            events.append((position, 0, Change("tier-removed", name, self.say("tier_removed", name=name, n=i + 1, tier=otext(i)),
                                               otext(i), None, lines_of(original_tiers[i]), None)))
        for _, _, change in sorted(events, key=lambda e: (e[0], e[1])):
            self.changes.append(change)

    # -- examples
    def examples(self) -> None:
        old = {e.title: e for e in self.old.examples}
        new = {e.title: e for e in self.new.examples}
        retitled: dict[str, str] = {}  # new title → old title: the same example under another title
        # First the same example under another title, then one with the same employees (changed expectations).
        for same in (lambda o, ex: dataclasses.replace(o, title=ex.title) == ex, lambda o, ex: o.employees == ex.employees):
            for title, ex in new.items():
                if title in old or title in retitled:
                    continue
                for old_title, o in old.items():
                    if old_title not in new and old_title not in retitled.values() and same(rename(o, self.mapping), ex):
                        retitled[title] = old_title
                        break
        oq, nq = self.ot.w["quote"], self.nt.w["quote"]
        for title, ex in new.items():
            if title in retitled:
                original = old[retitled[title]]
                self.add("example-renamed", title, self.say("example_renamed", old=retitled[title], new=title),
                         original, ex, f"{self.ot.w['example']} {oq[0]}{retitled[title]}{oq[1]}",
                         f"{self.nt.w['example']} {nq[0]}{title}{nq[1]}")
                renamed = rename(original, self.mapping)
                if dataclasses.replace(renamed, title=title) != ex:
                    self.example(title, original, renamed, ex)
                continue
            if title not in old:
                self.add("example-added", title, self.say("example_added", title=title), new=ex, new_text=self.nt.example(ex))
                continue
            original = old[title]
            o = rename(original, self.mapping)
            if o != ex:
                self.example(title, original, o, ex)
        for title, ex in old.items():
            if title not in new and title not in retitled.values():
                self.add("example-removed", title, self.say("example_removed", title=title), old=ex,
                         old_text=self.ot.example(ex))

    def example(self, title: str, original: ast.Example, o: ast.Example, d: ast.Example) -> None:
        """o is the old example with renames applied (for matching); texts and lines come from original."""
        if len(o.employees) != len(d.employees):
            self.add("example-changed", title, self.say("example_people", title=title, new=len(d.employees), old=len(o.employees)),
                     original, d, self.ot.example(original), self.nt.example(d))
        else:
            several = len(d.employees) > 1
            for n, (before, written, after) in enumerate(zip(o.employees, original.employees, d.employees)):
                who = self.say("employee", n=n + 1) if several else ""
                self._fields(title, who, {f.name: (f, w) for f, w in zip(before, written)}, {f.name: f for f in after},
                             "example_field", "example_field_added", "example_field_removed")
        old_expect = {(self._who(e), e.field.name): (e, w) for e, w in zip(o.expectations, original.expectations)}
        new_expect = {(self._who(e), e.field.name): e for e in d.expectations}
        for (who, fname), e in new_expect.items():
            prefix = self.say("for_employee", who=who) if who else ""
            if (who, fname) not in old_expect:
                self.add("example-changed", title, self.say("example_expect_added", title=title, who=prefix, field=fname,
                                                            value=self.nt.value(e.field.value)),
                         new=e, new_text=self.nt.expectation(e))
                continue
            before, written = old_expect[(who, fname)]
            if before.field.value != e.field.value:
                self.add("example-changed", title, self.say("example_expect", title=title, who=prefix, field=fname,
                                                            new=self.nt.value(e.field.value), old=self.ot.value(before.field.value)),
                         written, e, self.ot.expectation(written), self.nt.expectation(e))
        for (who, fname), (e, written) in old_expect.items():
            if (who, fname) not in new_expect:
                prefix = self.say("for_employee", who=who) if who else ""
                self.add("example-changed", title, self.say("example_expect_removed", title=title, who=prefix,
                                                            field=written.field.name, value=self.ot.value(e.field.value)),
                         old=written, old_text=self.ot.expectation(written))

    def _who(self, e: ast.Expectation) -> str:
        return self.nt.value(e.employee) if e.employee is not None else ""

    def _fields(self, title, who, before, after, changed, added, removed) -> None:
        for fname, f in after.items():
            if fname not in before:
                self.add("example-changed", title, self.say(added, title=title, who=who, field=fname, value=self.nt.value(f.value)),
                         new=f, new_text=self.nt.field(f))
                continue
            old, written = before[fname]
            if old.value != f.value:
                self.add("example-changed", title, self.say(changed, title=title, who=who, field=fname,
                                                            new=self.nt.value(f.value), old=self.ot.value(old.value)),
                         written, f, self.ot.field(written), self.nt.field(f))
        for fname, (old, written) in before.items():
            if fname not in after:
                self.add("example-changed", title, self.say(removed, title=title, who=who, field=written.name,
                                                            value=self.ot.value(old.value)),
                         old=written, old_text=self.ot.field(written))


def diff_policies(old: ast.Policy, new: ast.Policy, old_path: str = "OLD", new_path: str = "NEW",
                  old_tables: dict | None = None, new_tables: dict | None = None) -> PolicyDiff:
    """Every semantic change from old to new, in order: header, inputs, definitions, outputs, examples.

    old_tables/new_tables: the lookups read from files (RuleGraph.lookup_tables), when the
    policies were checked; their entries are compared too.
    """
    differ = _Differ(old, new, old_tables, new_tables)
    differ.header()
    differ.inputs()
    differ.declarations()
    differ.outputs()
    differ.parameters()
    differ.appraisal()
    differ.outputs("published")
    differ.examples()
    return PolicyDiff(old_path, new_path, old, new, differ.changes, dict(differ.mapping))


# ---- rendering -------------------------------------------------------------------------------


def _where(change: Change, lang: str) -> str:
    def span(lines: tuple[int, int]) -> str:
        a, b = lines
        return say(lang, "line", n=a) if a == b else say(lang, "lines", a=a, b=b)

    if change.new_lines and change.old_lines:
        if change.new_lines == change.old_lines:
            return span(change.new_lines)
        return f"{span(change.new_lines)}, {say(lang, 'was_line', where=span(change.old_lines))}"
    if change.new_lines:
        return span(change.new_lines)
    if change.old_lines:
        return say(lang, "old_line", where=span(change.old_lines))
    return ""


def summary(d: PolicyDiff) -> str:
    n = len(d.changes)
    if not n:
        return say(d.lang, "no_changes")
    return say(d.lang, "n_changes", n=n, s="" if n == 1 else "s")


def _title(policy: ast.Policy) -> str:
    return " ".join(x for x in (policy.title, policy.version) if x)


def render_text(d: PolicyDiff, header: bool = True) -> str:
    lines: list[str] = []
    if header:
        title = _title(d.new_policy)
        lines.append(f"{d.old_path} → {d.new_path}" + (f"   ({title})" if title else ""))
    lines.append(summary(d) + (("：" if d.lang == "zh" else ":") if d.changes else ""))
    for c in d.changes:
        where = _where(c, d.lang)
        lines.append("")
        lines.append(f"{c.sign} {c.description}" + (f"   [{where}]" if where else ""))
        for text, mark in ((c.old_text, "-"), (c.new_text, "+")):
            if text is not None and not (c.kind == "header"):
                lines.extend(f"    {mark} {line}" for line in text.split("\n"))
    return "\n".join(lines) + "\n"


def render_markdown(d: PolicyDiff) -> str:
    title = _title(d.new_policy)
    out = [f"### {say(d.lang, 'changes_heading')}" + (f": {title}" if title else ""), "",
           f"`{d.old_path}` → `{d.new_path}` — {summary(d)}", ""]
    if not d.changes:
        return "\n".join(out)
    for c in d.changes:
        where = _where(c, d.lang)
        out.append(f"- {c.description}" + (f" <sub>{where}</sub>" if where else ""))
    body = []
    for c in d.changes:
        if c.kind == "header" or (c.old_text is None and c.new_text is None):
            continue
        body.append(f"@@ {c.description.replace('`', '')} @@")
        for text, mark in ((c.old_text, "-"), (c.new_text, "+")):
            if text is not None:
                body.extend(f"{mark} {line}" for line in text.split("\n"))
    if body:
        out += ["", f"<details><summary>{say(d.lang, 'old_new')}</summary>", "", "```diff", *body, "```", "", "</details>"]
    return "\n".join(out) + "\n"


def to_data(d: PolicyDiff) -> dict:
    return {
        "old": d.old_path,
        "new": d.new_path,
        "policy": d.new_policy.title,
        "version": {"old": d.old_policy.version, "new": d.new_policy.version},
        "summary": summary(d),
        "renames": d.renames,
        "changes": [c.to_data() for c in d.changes],
    }


def render_json(d: PolicyDiff) -> str:
    return json.dumps(to_data(d), ensure_ascii=False, indent=2) + "\n"
