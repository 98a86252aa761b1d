"""Hypothesis strategies for the columnar tests: random well-typed policies and populations.

A policy is drawn as text over a fixed set of inputs, then checked by the real
checker; definitions are drawn in order, each from the language's constructs
(arithmetic, min/max, round/floor/ceil, abs, if, comparisons and chains,
between, in, and/or/not, rule tables with each hit policy, lookups by a one-of
value and by text, scorecards, tiers marginal and whole, sum/avg/count/min/max
with where and within, rank, top/bottom N% and N, pools split to the cent, and
values of another employee or group; named constants standing for tier limits,
weights and top N%; scorecards inside a formula, weighted(…); lookups keyed by a
percentage) and may use the definitions before it.
Divisions by values that can be zero, lookups without a default and pools that
are not whole cents are drawn too: the fast path must then decline exactly when
the exact evaluator reports a row error.
"""

from __future__ import annotations

from fractions import Fraction as F

from hypothesis import strategies as st

HEAD = """input
  id: text key
  team: text
  buddy: text
  level: 新人 | 骨干 | 经理
  a: money >= 0
  b: money > 0
  x: number
  y: number
  p: percent
  w: whole >= 0
  flag: yesno
"""

TEAMS = ["T1", "T2", "T3"]
LEVELS = ["新人", "骨干", "经理"]

N_LITS = ["0", "1", "2", "3", "0.5", "1.5", "90", "100", "10%", "88%", "7", "0.25", "-1"]
M_LITS = ["¥0", "¥100", "¥0.01", "¥5000", "50万", "¥33.33", "¥1,000"]
STEPS = ["0.01", "1", "0.5", "0.05", "10", "0.25"]


class _Gen:
    """Draws expressions of three sorts: money (M), number (N) and yes/no (B)."""

    def __init__(self, draw):
        self.draw = draw
        self.names = {"M": ["a", "b"], "N": ["x", "y", "p", "w"], "B": ["flag"], "T": []}
        self.constants: dict[object, str] = {}  # value → the name of a constant definition with that value
        self.shares: list[str] = []  # named percentages, for top N%

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def leaf(self, sort: str) -> str:
        if sort == "M":
            return self.pick(self.names["M"] + M_LITS[:3])
        if sort == "N":
            return self.pick(self.names["N"] + N_LITS)
        if sort == "B":
            options = list(self.names["B"]) + ["level = 骨干", "level in (新人, 经理)", "team = \"T1\"", "team != buddy"]
            options += [f'{t} = "A"' for t in self.names["T"]]
            return self.pick(options)
        raise AssertionError(sort)

    def nonconst(self, sort: str, depth: int) -> str:
        """An expression that uses at least one input or definition (population terms need one)."""
        base = self.pick(self.names[sort] if sort != "B" else self.names["B"] + ["flag"])
        if depth <= 0 or self.draw(st.booleans()):
            return base
        other = self.expr(sort, depth - 1)
        if sort == "M":
            return f"({base} + {other})" if self.draw(st.booleans()) else f"max({base}, {other})"
        if sort == "N":
            return f"({base} * {other})" if self.draw(st.booleans()) else f"min({base}, {other})"
        return f"({base} or {other})"

    def scope(self) -> str:
        return self.pick(["", " within team", " within level", " within flag"])

    def expr(self, sort: str, depth: int) -> str:
        if depth <= 0 or self.draw(st.integers(0, 4)) == 0:
            return self.leaf(sort)
        d = depth - 1
        e = self.expr
        if sort == "M":
            kind = self.draw(st.integers(0, 17))
            if kind == 0:
                return f"({e('M', d)} + {e('M', d)})"
            if kind == 1:
                return f"({e('M', d)} - {e('M', d)})"
            if kind == 2:
                return f"({e('M', d)} * {e('N', d)})"
            if kind == 3:
                return f"({e('M', d)} / {e('N', d)})"
            if kind == 4:
                return f"{self.pick(['min', 'max'])}({e('M', d)}, {e('M', d)})"
            if kind == 5:
                return f"{self.pick(['round', 'floor', 'ceil'])}({e('M', d)}, {self.pick(STEPS)})"
            if kind == 6:
                return f"abs({e('M', d)})"
            if kind == 7:
                return f"(if {e('B', d)} then {e('M', d)} else {e('M', d)})"
            if kind == 8:
                where = f" where {e('B', d)}" if self.draw(st.booleans()) else ""
                return f"(sum ({self.nonconst('M', d)}){where}{self.scope()})"
            if kind == 9:
                func = self.pick(["min", "max", "avg"])
                return f"({func} ({self.nonconst('M', d)}){self.scope()})"
            if kind == 10:
                return f"(tiered {self.pick(['marginal', 'whole'])} on {e('M', d)}: up to 50万 1%, up to 100万 2%, above 3%)"
            if kind == 11:
                return self.split(d)
            if kind == 12:
                return f"(-{e('M', d)})"
            if kind == 13 and self.names["M"]:
                return f"{self.pick(self.names['M'])}[buddy]"
            if kind == 14:
                return f"({e('N', d)} * {e('M', d)})"
            return self.leaf("M")
        if sort == "N":
            kind = self.draw(st.integers(0, 19))
            if kind == 0:
                return f"({e('N', d)} + {e('N', d)})"
            if kind == 1:
                return f"({e('N', d)} - {e('N', d)})"
            if kind == 2:
                return f"({e('N', d)} * {e('N', d)})"
            if kind == 3:
                return f"({e('N', d)} / {e('N', d)})"
            if kind == 4:
                return f"({e('M', d)} / {e('M', d)})"
            if kind == 5:
                return f"{self.pick(['min', 'max'])}({e('N', d)}, {e('N', d)})"
            if kind == 6:
                return f"{self.pick(['round', 'floor', 'ceil'])}({e('N', d)}, {self.pick(STEPS)})"
            if kind == 7:
                return f"(if {e('B', d)} then {e('N', d)} else {e('N', d)})"
            if kind == 8:
                where = f" where {e('B', d)}" if self.draw(st.booleans()) else ""
                return f"(count{where}{self.scope()})"
            if kind == 9:
                asc = " ascending" if self.draw(st.booleans()) else ""
                return f"(rank ({self.nonconst(self.pick(['N', 'M']), d)}){asc}{self.scope()})"
            if kind == 10:
                func = self.pick(["sum", "avg", "min", "max"])
                return f"({func} ({self.nonconst('N', d)}){self.scope()})"
            if kind == 11:
                return f"abs({e('N', d)})"
            if kind == 12:
                return f"(-{e('N', d)})"
            if kind == 13:
                return f"(min({e('M', d)} / b, 150%) * 100)"
            if kind == 14:
                return f"{self.pick(self.names['N'])}[buddy]"
            if kind == 15 and len(self.names["N"]) >= 2:  # a scorecard inside a formula
                first, second = self.draw(st.lists(st.sampled_from(self.names["N"]), min_size=2, max_size=2, unique=True))
                weight = self.pick(["60%", "50%", "25%"])
                rest = f"{100 - int(weight[:-1])}%"
                return f"weighted({first} {weight}, {second} {rest})"
            return self.leaf("N")
        # B
        kind = self.draw(st.integers(0, 13))
        if kind == 0:
            return f"({e('N', d)} {self.pick(['>=', '<=', '>', '<', '=', '!='])} {e('N', d)})"
        if kind == 1:
            return f"({e('M', d)} {self.pick(['>=', '<=', '>', '<', '=', '!='])} {e('M', d)})"
        if kind == 2:
            return f"({e('N', d)} <= {e('N', d)} < {e('N', d)})"
        if kind == 3:
            return f"({e('N', d)} between {e('N', d)} and {e('N', d)})"
        if kind == 4:
            return f"({e('B', d)} and {e('B', d)})"
        if kind == 5:
            return f"({e('B', d)} or {e('B', d)})"
        if kind == 6:
            return f"(not {e('B', d)})"
        if kind == 7:
            return f"({e('N', d)} {self.pick(['in', 'not in'])} ({self.pick(N_LITS)}, {e('N', d)}))"
        if kind == 8:
            amount = self.pick(self.shares) if self.shares and self.draw(st.booleans()) else \
                self.pick(["10%", "50%", "0%", "100%", "1", "3", "0"])
            return f"({self.nonconst(self.pick(['N', 'M']), d)} in {self.pick(['top', 'bottom'])} {amount}{self.scope()})"
        if kind == 9:
            return f"({e('M', d)} > {e('M', d)} * 110%)"
        return self.leaf("B")

    def split(self, depth: int) -> str:
        scope = self.pick(["", " within team", " within level"])
        pool = self.pick([
            "¥100", "¥0.05", "¥0", f"round(5% * max(0, sum a{scope} - sum b{scope}), 0.01)",
            f"round(sum a{scope} * 1%, 0.01)", f"round({self.expr('M', depth)}, 0.01)",  # the last may differ: an error
        ])
        weight = self.pick(["a", "w", "(a + b)", "abs(x)", self.expr("M", depth)])  # the last may be negative
        return f"(split {pool} by {weight}{scope})"


@st.composite
def policies(draw, max_definitions: int = 7, depth: int = 3):
    gen = _Gen(draw)
    lines = [HEAD]
    count = draw(st.integers(1, max_definitions))
    for k in range(count):
        name = f"d{k}"
        kind = draw(st.integers(0, 11))
        if kind <= 4:
            sort = draw(st.sampled_from(["M", "M", "N", "N", "B"]))
            lines.append(f"{name} = {gen.expr(sort, depth)}\n")
        elif kind == 5:  # a rule table
            hit = draw(st.sampled_from(["", " (first match)", " (unique)", " (collect sum)"]))
            sort = draw(st.sampled_from(["M", "N", "T"])) if "sum" not in hit else draw(st.sampled_from(["M", "N"]))
            rows = [f"{name}{hit}\n"]
            for _ in range(draw(st.integers(1, 4))):
                value = f'"{draw(st.sampled_from(["A", "B", "C"]))}"' if sort == "T" else gen.expr(sort, 1)
                rows.append(f"  IF {gen.expr('B', 2)} THEN {name} {value}\n")
            if draw(st.booleans()):
                value = '"C"' if sort == "T" else gen.expr(sort, 1)
                rows.append(f"  OTHERWISE {name} {value}\n")
            lines.append("".join(rows))
        elif kind == 6:  # a lookup
            sort = draw(st.sampled_from(["M", "N"]))
            if draw(st.booleans()):
                entries = ", ".join(f"{lv} {gen.expr(sort, 1)}" for lv in LEVELS)
                lines.append(f"{name} by level: {entries}\n")
            else:
                chosen = draw(st.lists(st.sampled_from(TEAMS), min_size=1, max_size=3, unique=True))
                entries = ", ".join(f'"{t}" {gen.leaf(sort)}' for t in chosen)
                default = f", OTHERWISE {gen.leaf(sort)}" if draw(st.booleans()) else ""
                lines.append(f"{name} by team: {entries}{default}\n")
        elif kind == 7 and len(gen.names["N"]) >= 2:  # a scorecard of number definitions and inputs
            parts = draw(st.lists(st.sampled_from(gen.names["N"]), min_size=2, max_size=3, unique=True))
            weights = {2: ["40%", "60%"], 3: ["50%", "30%", "20%"]}[len(parts)]
            rows = "".join(f"  {c}  {wt}\n" for c, wt in zip(parts, weights))
            lines.append(f"{name} = weighted\n{rows}")
            sort = "N"
        elif kind == 8:  # tiers (a limit may be a named constant of the same value)
            mode = draw(st.sampled_from(["marginal", "whole"]))
            base = draw(st.sampled_from(["a", "b"] + gen.names["M"]))
            limits = sorted(draw(st.lists(st.sampled_from([1, 100, 5000, 500000, 1000000]), min_size=1, max_size=3, unique=True)))
            rates = draw(st.lists(st.sampled_from(["1%", "2%", "3%", "0.5%", "10%"]), min_size=len(limits) + 1,
                                  max_size=len(limits) + 1))
            shown = [gen.constants.get(lim, str(lim)) if draw(st.booleans()) else str(lim) for lim in limits]
            rows = "".join(f"  up to {lim}  {r}\n" for lim, r in zip(shown, rates)) + f"  above  {rates[-1]}\n"
            lines.append(f"{name} = tiered {mode} on {base}\n{rows}")
            sort = "M"
        elif kind == 9:
            sort = "M"
            lines.append(f"{name} = {gen.split(2)}\n")
        elif kind == 10:  # a named constant: a tier limit, or a share for top N%
            value = draw(st.sampled_from([100, 5000, 500000, "10%", "50%"]))
            if isinstance(value, int):
                gen.constants[value] = name
                lines.append(f"{name} = {value}\n")
                sort = "N"
            else:
                gen.shares.append(name)
                lines.append(f"{name} = {value}\n")
                sort = "N"
        else:  # a lookup keyed by a percentage
            sort = draw(st.sampled_from(["M", "N"]))
            entries = ", ".join(f"{key} {gen.leaf(sort)}" for key in draw(st.lists(
                st.sampled_from(["0%", "88%", "90%", "100%", "88.5%"]), min_size=1, max_size=3, unique=True)))
            lines.append(f"{name} by p: {entries}, OTHERWISE {gen.leaf(sort)}\n")
        gen.names[sort].append(name)
    return "".join(lines)


def _money():
    return st.one_of(
        st.sampled_from([F(0), F(1, 100), F(100), F(500_000), F(1_000_000), F(33333, 100), F(5000)]),
        st.integers(0, 200_000_000).map(lambda c: F(c, 100)),
    )


def _number():
    return st.one_of(
        st.sampled_from([F(0), F(1), F(-1), F(1, 2), F(90), F(179, 2), F(100), F(3), F(7, 4)]),
        st.integers(-100_000, 100_000).map(lambda c: F(c, 100)),
    )


def _percent():
    return st.one_of(st.sampled_from([F(0), F(1), F(9, 10), F(88, 100), F(885, 1000), F(1, 10)]),
                     st.integers(0, 10_000).map(lambda k: F(k, 10_000)))


@st.composite
def profile(draw):
    return dict(level=draw(st.sampled_from(LEVELS)), a=draw(_money()),
                b=draw(_money().filter(lambda v: v > 0)), x=draw(_number()), y=draw(_number()),
                p=draw(_percent()), w=F(draw(st.integers(0, 40))), flag=draw(st.booleans()))


@st.composite
def populations(draw, max_size: int = 25):
    n = draw(st.integers(1, max_size))
    ids = draw(st.lists(st.text("ABE019", min_size=1, max_size=3), min_size=n, max_size=n, unique=True))
    shared = draw(st.lists(profile(), min_size=1, max_size=3))
    rows = []
    for i in range(n):
        p = dict(draw(st.sampled_from(shared))) if draw(st.integers(0, 2)) == 0 else draw(profile())
        buddy = ids[draw(st.integers(0, n - 1))] if draw(st.integers(0, 9)) else "nobody"
        rows.append(dict(id=ids[i], team=draw(st.sampled_from(TEAMS)), buddy=buddy, **p))
    return rows
