"""Static analysis of rule tables: every finding's witness is real, and no finding means no gap.

The golden files in tests/golden/{bad,good}/ show the messages; here hypothesis
checks the analysis against the evaluator on random ladders of bands.
"""

from __future__ import annotations

from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st

from pkrules.language.analysis import Interval, complement, intersect, union, witness
from pkrules.language.compile import check_source
from pkrules.engine.exact import evaluate
from pkrules.language.source import SourceFile

OPS = [">=", ">", "<=", "<", "="]


@st.composite
def band_tables(draw):
    whole = draw(st.booleans())
    lo, hi = 0, 100
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["cmp", "between", "and"]))
        a = draw(st.integers(lo - 5, hi + 5))
        b = draw(st.integers(lo - 5, hi + 5))
        if kind == "cmp":
            rows.append(f"x {draw(st.sampled_from(OPS))} {a}")
        elif kind == "between":
            rows.append(f"x between {min(a, b)} and {max(a, b)}")
        else:
            rows.append(f"x >= {min(a, b)} and x < {max(a, b)}")
    hit = draw(st.sampled_from(["", " (unique)"]))
    otherwise = draw(st.booleans()) and hit == ""
    text = "input\n  id: text key\n" + f"  x: {'whole' if whole else 'number'} {lo} to {hi}\n" + f"t{hit}\n"
    text += "".join(f"  IF {cond} THEN t {n}\n" for n, cond in enumerate(rows, start=1))
    if otherwise:
        text += "  OTHERWISE t 0\n"
    return text, rows, whole, hit.strip(), otherwise


def holds(cond: str, x: F) -> bool:
    parts = cond.split()
    if parts[1] == "between":
        return F(parts[2]) <= x <= F(parts[4])
    if len(parts) > 3 and parts[3] == "and":
        return x >= F(parts[2]) and x < F(parts[6])
    value = F(parts[2])
    return {">=": x >= value, ">": x > value, "<=": x <= value, "<": x < value, "=": x == value}[parts[1]]


@settings(max_examples=300, deadline=None)
@given(band_tables(), st.lists(st.fractions(min_value=0, max_value=100, max_denominator=8), max_size=20))
def test_findings_agree_with_evaluation(table, samples):
    text, rows, whole, hit, otherwise = table
    graph, diagnostics = check_source(SourceFile("t.pk", text))
    codes = {d.code for d in diagnostics}
    values = sorted({F(round(v)) if whole else v for v in samples} | {F(0), F(100)})
    matches = {v: [n for n, cond in enumerate(rows) if holds(cond, v)] for v in values}
    if "table-gap" in codes:
        gap = next(d for d in diagnostics if d.code == "table-gap")
        x = F(gap.message.split(" = ")[1].split(" ")[0])
        assert 0 <= x <= 100 and (not whole or x.denominator == 1)
        assert not any(holds(cond, x) for cond in rows), "the witness of a gap matches a row"
    elif not otherwise:
        # No gap reported: every value in range must match a row.
        assert all(matches[v] for v in values), "a gap the analysis missed"
    if hit == "unique":
        if "table-overlap" in codes:
            overlap = next(d for d in diagnostics if d.code == "table-overlap")
            x = F(overlap.message.split(" = ")[1].split(" ")[0])
            assert sum(holds(cond, x) for cond in rows) >= 2
        else:
            assert all(len(m) <= 1 for m in matches.values()), "an overlap the analysis missed"
    if graph is not None:
        results = evaluate(graph, [{"id": str(n), "x": v} for n, v in enumerate(values)])
        for index, v in enumerate(values):
            if results.columns["t"][index] is None:
                assert not matches[v] or hit == "unique"


def test_interval_algebra():
    a = (Interval(F(0), True, F(10), False),)
    b = (Interval(F(5), True, None, False),)
    assert intersect(a, b) == (Interval(F(5), True, F(10), False),)
    assert union(a, b) == (Interval(F(0), True, None, False),)
    assert complement(union(a, b)) == (Interval(None, False, F(0), False),)
    assert witness((Interval(F(89), False, F(90), False),), None) == F(179, 2)
    assert witness((Interval(F(89), False, F(90), False),), F(1)) is None
    assert witness((Interval(F(89), False, F(90), True),), F(1)) == F(90)


def test_an_unbounded_value_times_zero_is_zero():
    # found by the columnar property test: x * 0 with x unbounded crashed the range analysis
    graph, diagnostics = check_source(SourceFile("z.pk", "input\n  id: text key\n  x: number\nd = x * 0\ne = 0 * x\n"))
    assert graph is not None and diagnostics == []
