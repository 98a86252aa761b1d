"""The columnar fast path against the exact evaluator: identical values, to the cent, always.

- random policies built from every construct of the language, on random populations
  (hypothesis): every column equal, value for value and type for type; and the fast
  path declines (Declined) exactly when the exact evaluator reports a row error;
- the reference policy on populations dense in edge cases (scores of exactly 90, sales
  of exactly 110% of target, zero sales, ties at the top-10% cut-off, remainder ties);
- every policy in policies/ on its sample data, through the CLI: the same table, the
  same CSV bytes, the same Parquet; explanations of the fast results equal the exact ones;
- definitions whose numbers exceed 128 bits are evaluated exactly, that definition only;
- a construct the compiler does not know is a PlanError that names it.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings

pl = pytest.importorskip("polars")

from columnar_strategies import HEAD, policies, populations  # noqa: E402

from pkrules.language import ast  # noqa: E402
from pkrules.engine.results import Declined
from pkrules.engine.columnar import evaluate_columnar, run_file, table_from_rows  # noqa: E402
from pkrules.language.diagnostics import PolicyError  # noqa: E402
from pkrules.language.compile import compile_file, compile_policy  # noqa: E402
from pkrules.engine.exact import evaluate  # noqa: E402
from pkrules.engine.plan import PlanError, compile_plan  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "sales_incentive.pk"
SAMPLE = ROOT / "policies" / "sample" / "employees.csv"


def typed(values) -> list:
    """Values with their type: True == Fraction(1) in Python, but not here."""
    out = []
    for v in values:
        if isinstance(v, bool):
            out.append(("bool", v))
        elif isinstance(v, (int, F)):
            out.append(("num", F(v)))
        else:
            out.append((type(v).__name__, v))
    return out


def assert_same(graph, exact, fast) -> None:
    assert exact.errors == []
    for name in graph.nodes:
        got, want = typed(fast.python_column(name)), typed(exact.columns[name])
        if got != want:
            bad = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
            raise AssertionError(f"{name}, row {bad + 1}: fast {got[bad]!r} != exact {want[bad]!r}")


def both_ways(text: str, rows: list[dict]):
    """Compile and evaluate both ways; returns (graph, exact results, fast results or None)."""
    try:
        graph = compile_policy(text)
    except PolicyError:
        raise
    exact = evaluate(graph, rows)
    try:
        fast = evaluate_columnar(graph, table_from_rows(graph, rows))
    except Declined:
        fast = None
    return graph, exact, fast


def event(text: str) -> None:
    """hypothesis.event, also from the tests that are not hypothesis tests."""
    from hypothesis import event as record
    from hypothesis.errors import InvalidArgument

    try:
        record(text)
    except InvalidArgument:
        pass


def check_policy(text: str, rows: list[dict]) -> None:
    graph, exact, fast = both_ways(text, rows)
    if exact.errors:
        event("a row error: the fast path declines")
        assert fast is None, f"the fast path returned values although row {exact.errors[0].row} fails: {exact.errors[0].message}"
        return
    assert fast is not None, "the fast path declined although no row fails"
    event("no row error: identical columns" + (" (a definition evaluated exactly)" if fast.exact_nodes else ""))
    assert_same(graph, exact, fast)


# ---- random policies ----------------------------------------------------------------------


def _compiles(text: str) -> bool:
    try:
        compile_policy(text)
        return True
    except PolicyError:
        return False
    except Exception:  # noqa: BLE001 - a checker crash is reported by the checker's own tests
        return False


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=policies(), rows=populations())
def test_random_policies_give_identical_columns(text, rows):
    assume(_compiles(text))
    check_policy(text, rows)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=policies(max_definitions=3, depth=2), rows=populations(max_size=8))
def test_random_policies_through_csv_files(text, rows, tmp_path_factory):
    """The same through the file readers: CSV as HR writes it, read by both paths."""
    assume(_compiles(text))
    graph = compile_policy(text)
    path = tmp_path_factory.mktemp("data") / "people.csv"
    write_csv(rows, path)
    from pkrules.io.tables import read_csv

    population = read_csv(graph, path)
    assert population.errors == []
    exact = evaluate(graph, population.rows, population.row_numbers)
    try:
        fast = run_file(graph, path)
    except Declined:
        assert exact.errors
        return
    assert exact.errors == []
    assert_same(graph, exact, fast)
    assert list(fast.row_numbers) == exact.row_numbers


def write_csv(rows: list[dict], path: Path) -> None:
    import csv

    from pkrules.values.numbers import format_exact

    def cell(v):
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, F):
            return format_exact(v)
        return str(v)

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(rows[0]))
        for r in rows:
            writer.writerow([cell(v) for v in r.values()])


# ---- hand-picked policies: each construct, with its edge cases --------------------------------

PEOPLE = [
    dict(id="E9", team="T1", buddy="E10", level="骨干", a=F(400000), b=F(500000), x=F(90), y=F(-1), p=F(9, 10), w=F(30), flag=True),
    dict(id="E10", team="T1", buddy="E9", level="经理", a=F("1666.73"), b=F(1000), x=F(179, 2), y=F(0), p=F(1), w=F(0), flag=False),
    dict(id="E2", team="T1", buddy="E9", level="新人", a=F("1666.73"), b=F(1000), x=F(90), y=F(3), p=F(0), w=F(12), flag=True),
    dict(id="A", team="T2", buddy="E2", level="骨干", a=F(0), b=F("0.01"), x=F(-3), y=F(7, 4), p=F(88, 100), w=F(1), flag=False),
    dict(id="B", team="T2", buddy="A", level="骨干", a=F(1200000), b=F(1000000), x=F(100), y=F(1, 2), p=F(885, 1000), w=F(5), flag=True),
]

CASES = {
    "exact thirds and halves": "d = x / 3 + y / 7\ne = round(d, 0.01)\nf = floor(-x / 8, 0.1)\ng = ceil(x / 8, 0.25)",
    "band edges": "t = if x >= 90 then 1.2 else if x >= 80 then 1.0 else 0\nu = if 80 <= x < 90 then 1 else 0",
    "money rounding half up": "r = round(a * 1.5% + ¥0.005, 0.01)\ns = round(-a / 3, 0.01)",
    "110% edge": "o = if a > b * 110% then 2% * (a - b) else 0",
    "tables": """band (first match)
  IF x >= 90 THEN band 3
  IF x >= 80 THEN band 2
  OTHERWISE band 1
grade (unique)
  IF x >= 90 THEN grade "A"
  IF x < 90 THEN grade "B"
points (collect sum)
  IF x >= 80 THEN points 5
  IF a > 100 THEN points 3
  IF flag THEN points -2
  OTHERWISE points 1""",
    "lookups": "base by level: 新人 ¥5000, 骨干 ¥8000, 经理 ¥12000\ncoef by team: \"T1\" 1.1, OTHERWISE 0.9",
    "scorecard": "s1 = min(a / b, 1) * 100\ns2 = min(p / 90%, 1) * 100\nscore = weighted\n  s1  50%\n  s2  50%\nc = if score >= 90 then 1 else 0",
    "tiers": "m = tiered marginal on a: up to 50万 1%, up to 100万 2%, above 3%\nwh = tiered whole on a: up to 50万 1%, above 2%",
    "aggregates": "s = sum a within team\nv = avg x within team\nc = count where flag\nlo = min (a / b) within team\nhi = max x within level\nav = avg (a / b)",
    "ranks and tops": "r = rank x within team\nra = rank (a / b) ascending\nt = x in top 40%\nbt = (a / b) in bottom 2 within team",
    "splits": "pool = round(5% * max(0, sum a within team - sum b within team), 0.01)\nfund = split pool by a within team\nall = split ¥0.05 by w",
    "values of others": "o = x[buddy] + 1\nbs = (sum a within team)\nq = bs[team = team]",
    "long lookups": ("code by w: " + ", ".join(f"{k} {k * 7 / 4}" for k in range(0, 40, 2)) + "\n"
                     "named by team: " + ", ".join(f'"T{k}" ¥{k}' for k in range(20)) + ", OTHERWISE ¥0.5\n"
                     "label by team: " + ", ".join(f'"T{k}" {k}' for k in range(1, 21)) + "\n"),
    # a column times 0 is still a column: as a literal, "in top" counted the whole team as one row (CI found it)
    "terms over a column times zero": ("t = (x * 0) in top 10%\nbt = (x * 0) in bottom 1 within team\n"
                                       "r = rank (a * 0) within team\ns = sum (x * 0) within team\n"
                                       "c = count where (x * 0) = 0\nsp = split ¥1 by (w * 0 + 1) within team"),
    "logic": "l = if (flag and x > 0) or not (level in (新人, 经理)) then 1 else 0\nbe = if x between 0 and 90 then 1 else 0",
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_construct(name):
    check_policy(HEAD + CASES[name] + "\n", PEOPLE)


@pytest.mark.parametrize("body", [
    "d = x / y",  # y is 0 for one row
    "d = if y = 0 then 0 else x / y",  # guarded: no error, must not decline
    "d = if y != 0 then x / y else 0",
    "d = y != 0 and x / y > 1",
    "d by team: \"T1\" 1",  # no value for T2
    "d (unique)\n  IF x >= 90 THEN d 1\n  IF a >= 100 THEN d 2",  # overlaps (two values: the checker leaves it)
    "d\n  IF x > 1000 and a >= 0 THEN d 1\n  IF x < 0 and a >= 0 THEN d 2",  # no row applies
    "d = min (x) where x > 1000",  # min of nobody
    "d = avg (x) where x > 100 within team",
    "d = split round(a, 0.01) by w within team",  # the pool differs
    "d = split ¥1 by y",  # a negative weight
    "d = split ¥0.005 by w",  # not whole cents
    "d = x[team]",  # no employee has that key
    "d = rank (x / y) within team",  # a member's value fails
    "e = x / y\nd = sum e within team",
    # only what applies is computed: a definition's error matters only where an output needs it
    "e = x / y\nd = if y != 0 then e else 0",  # e fails where y is 0, but d does not read it there
    "e = x / y\nd = if y = 0 then e else 0",  # d reads e exactly where it fails
    "e = x / y\nd\n  IF y = 0 THEN d 0\n  OTHERWISE d e",
    "e = x / y\nd by level: 新人 0, 骨干 e, 经理 1",  # the 新人 row with y = 0 … and the 骨干 rows
    "e = x / y\nf = e + 1\nd = if flag then f else 0",  # through a chain of definitions
    "e = x / y\nd = if flag then sum e within team else 0",  # a group term reads every member
    "e = x / y\nd = if y != 0 then e[buddy] else 0",  # another employee's value
])
def test_row_errors_make_the_fast_path_decline_exactly_when_the_exact_path_fails(body):
    check_policy(HEAD + body + "\n", PEOPLE)


# ---- the reference policy ---------------------------------------------------------------------


def _reference_graph():
    return compile_file(POLICY)


from test_reference_oracle import (  # noqa: E402
    _remainder_ties, _team_all_zero, _tied_at_cut_off, make_row, populations as reference_populations,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(reference_populations())
@example(_tied_at_cut_off())
@example(_team_all_zero())
@example(_remainder_ties())
@example([make_row("E090", "骨干", 400000, 500000, F(90, 100), 30, F(95, 100))])
def test_reference_policy_on_edge_populations(rows):
    graph = _reference_graph()
    exact = evaluate(graph, rows)
    fast = evaluate_columnar(graph, table_from_rows(graph, rows))
    assert_same(graph, exact, fast)
    assert fast.exact_nodes == []  # all of it in columns


def test_reference_policy_golden_cases_and_examples():
    from pkrules.engine.examples import example_rows

    graph = _reference_graph()
    for ex in graph.policy.examples:
        rows = example_rows(graph, ex)
        exact = evaluate(graph, rows)
        fast = evaluate_columnar(graph, table_from_rows(graph, rows))
        assert_same(graph, exact, fast)


# ---- every policy in policies/ on its sample, through the CLI -------------------------------------

POLICIES = sorted((ROOT / "policies").glob("*.pk"))


def _columnar_or_skip(graph) -> None:
    """Policies with a feature the compiler does not do yet run on the exact evaluator (the CLI says so)."""
    try:
        compile_plan(graph)
    except PlanError as e:
        pytest.skip(f"not on the fast path yet: {e}")


def _samples_for(policy: Path) -> list[Path]:
    """The sample files under policies/ that this policy can read (its own columns)."""
    from pkrules.io.tables import read_csv
    from pkrules.errors import DataError

    graph = compile_file(policy)
    found = []
    for data in sorted((ROOT / "policies").rglob("*.csv")):
        try:
            read_csv(graph, data)
        except DataError:
            continue
        found.append(data)
    return found


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_policy_on_its_examples(policy):
    from pkrules.engine.examples import example_rows

    graph = compile_file(policy)
    _columnar_or_skip(graph)
    for ex in graph.policy.examples:
        rows = example_rows(graph, ex)
        graph_, exact = graph, evaluate(graph, rows)
        try:
            fast = evaluate_columnar(graph, table_from_rows(graph, rows))
        except Declined:
            assert exact.errors, ex.title
            continue
        assert_same(graph_, exact, fast)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_policy_on_its_sample(policy, tmp_path, capsys):
    from pkrules.cli import main
    from pkrules.io.tables import read_csv

    samples = _samples_for(policy)
    if not samples:
        pytest.skip(f"no sample data under policies/ for {policy.name} (its examples are tested above)")
    _columnar_or_skip(compile_file(policy))
    for data in samples:
        graph = compile_file(policy)
        population = read_csv(graph, data)
        exact = evaluate(graph, population.rows, population.row_numbers)
        fast = run_file(graph, data)
        assert_same(graph, exact, fast)

        outputs = {}
        for engine in ("fast", "exact"):
            code = main(["run", str(policy), str(data), "--engine", engine])
            table = capsys.readouterr()
            csv_out, pq_out = tmp_path / f"{engine}.csv", tmp_path / f"{engine}.parquet"
            assert main(["run", str(policy), str(data), "--engine", engine, "--out", str(csv_out)]) == code
            assert main(["run", str(policy), str(data), "--engine", engine, "--out", str(pq_out)]) == code
            capsys.readouterr()
            outputs[engine] = (code, table.out, table.err, csv_out.read_bytes(), pl.read_parquet(pq_out))
        assert outputs["fast"][:4] == outputs["exact"][:4]
        assert outputs["fast"][4].equals(outputs["exact"][4])


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_explanations_of_fast_results_equal_the_exact_ones(policy):
    from pkrules.io.tables import read_csv
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_json, render_tree

    samples = _samples_for(policy)
    if not samples:
        pytest.skip(f"no sample data under policies/ for {policy.name}")
    graph = compile_file(policy)
    _columnar_or_skip(graph)
    population = read_csv(graph, samples[0])
    exact = evaluate(graph, population.rows, population.row_numbers)
    fast = run_file(graph, samples[0])
    for i in range(0, exact.size, 3):
        for node in graph.definitions:
            want, got = explain(exact, i, node.name), explain(fast, i, node.name)
            assert render_json(got) == render_json(want), (i, node.name)
            assert render_tree(got) == render_tree(want)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_group_of_a_fast_run_at_once_explains_as_the_exact_evaluator(policy, monkeypatch):
    # Statements and workbooks explain everyone: after a few groups of a term, every group's members are found at
    # once (columnar/results.py: _Bulk) and sums, counts and splits read from values of every row. Here from the
    # second group on, for every row and every definition.
    import pkrules.engine.columnar.results as columnar_results
    from pkrules.io.tables import read_csv
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_json

    samples = _samples_for(policy)
    if not samples:
        pytest.skip(f"no sample data under policies/ for {policy.name}")
    monkeypatch.setattr(columnar_results, "_GROUPS_BEFORE_BULK", 2)
    used = []
    at_once = columnar_results._group_stat_of
    monkeypatch.setattr(columnar_results, "_group_stat_of", lambda *args: used.append(args[1]) or at_once(*args))
    graph = compile_file(policy)
    _columnar_or_skip(graph)
    population = read_csv(graph, samples[0])
    exact = evaluate(graph, population.rows, population.row_numbers)
    fast = run_file(graph, samples[0])
    for node in graph.definitions:
        for i in range(exact.size):
            assert render_json(explain(fast, i, node.name, 1)) == render_json(explain(exact, i, node.name, 1)), \
                (i, node.name)
    if policy.name in ("sales_incentive.pk", "pools.pk", "team_pk.pk"):  # (sums and splits within a team)
        assert used, "every group at once was not used"


# ---- exactness beyond 128 bits; the limits of the compiler ------------------------------------------


def test_a_definition_too_large_for_128_bits_is_evaluated_exactly_that_definition_only():
    # x^6 · y needs ~250 bits on the way; the quotient is y again, and fits.
    text = HEAD + ("big = round(x * x * x * x * x * x * y / (x * x * x * x * x * x), 0.01)\nsmall = w + 1\n"
                   "after = big + small + sum big within team\n")
    rows = [dict(r, x=F(10**12) + r["x"], y=F(10**9) + r["y"]) for r in PEOPLE]
    graph, exact, fast = both_ways(text, rows)
    assert fast is not None
    assert fast.exact_nodes == ["big"]
    assert_same(graph, exact, fast)


def test_values_too_large_for_128_bits_make_the_fast_path_decline():
    text = HEAD + "big = x * x * x * x * x * x * y * y\n"
    rows = [dict(r, x=F(10**12) + r["x"], y=F(10**9) + r["y"]) for r in PEOPLE]
    graph, exact, fast = both_ways(text, rows)
    assert fast is None and exact.errors == []


def test_an_unknown_expression_is_a_plan_error_that_names_it():
    graph = compile_policy(HEAD + "d = x + 1\n")

    class Mystery:  # a construct added to the language later
        span = None

    body = graph.nodes["d"].decl.body
    object.__setattr__(body, "right", Mystery())
    with pytest.raises(PlanError, match="Mystery"):
        compile_plan(graph)


def test_an_unknown_field_of_a_known_construct_is_a_plan_error(monkeypatch):
    """A field added to a construct later (here: pretend `across` were new) stops the compiler when it is set."""
    from pkrules.engine import plan as plan_module

    graph = compile_policy(HEAD + "d = sum a within team\n")
    monkeypatch.setitem(plan_module._KNOWN_FIELDS, ast.Aggregate, plan_module._KNOWN_FIELDS[ast.Aggregate] - {"across"})
    compile_plan(graph)  # at its default value the field changes nothing
    object.__setattr__(graph.nodes["d"].decl.body, "across", True)
    with pytest.raises(PlanError, match="Aggregate.across"):
        compile_plan(graph)


def test_the_plan_is_readable_and_backend_neutral():
    plan = compile_plan(_reference_graph())
    text = plan.describe()
    assert "score : num [number] = Arith('+'" in text
    assert "team_fund : num [money] = Split(team_pool, sales, team, id)" in text
    import pkrules.engine.plan as plan_module

    assert "polars" not in Path(plan_module.__file__).read_text(encoding="utf-8").split('"""', 2)[2]


# ---- importing ----------------------------------------------------------------------------------


def test_help_check_and_import_do_not_load_polars():
    code = ("import sys; import pkrules; from pkrules.cli import build_parser, main; build_parser();"
            "main(['check', '-q', %r]); print('polars' in sys.modules)" % str(POLICY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr
    out = subprocess.run([sys.executable, "-m", "pkrules.cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0
    code = "import sys; import pkrules.engine.columnar, pkrules.engine.plan; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
