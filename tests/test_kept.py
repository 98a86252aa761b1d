"""Kept runs: an explanation read from a kept run is the explanation of the evaluation it kept, byte for byte,
and it reads only the explained employee's rows and their groups' statistics.

- every shipped policy on its sample, kept from the exact evaluator's results and from the fast
  path's, held in memory and in a kept-run file: every explanation equals the exact evaluator's;
- generated policies (every construct, row errors too), several periods (previous, consecutive,
  across periods) and related tables, the same;
- the exact text of the fast path's numbers (engine/columnar/exact_text.py) against values/stored.py;
- `pkrules run … --keep RUN` and `pkrules explain --run RUN ID [NAME]`, with their mistakes.
"""

from __future__ import annotations

import shutil
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from columnar_strategies import policies, populations
from test_backends import SHIPPED, period_cases, related_cases
from pkrules.cli import main
from pkrules.engine.backend import backend_named
from pkrules.engine.exact import evaluate as exact_evaluate
from pkrules.engine.explain import explain
from pkrules.engine.kept import KeptResults, KeptRunError, MemorySource, keep
from pkrules.engine.kept_file import kept_results, write_kept_file
from pkrules.engine.population import Population, open_population
from pkrules.engine.render import render_json
from pkrules.engine.results import Declined, RowError, Upstream
from pkrules.language.compile import compile_file, compile_policy
from pkrules.language import ast
from pkrules.language.diagnostics import PolicyError
from pkrules.values.stored import fraction_text

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "sales_incentive.pk"
SAMPLE = ROOT / "policies" / "sample" / "employees.csv"


class Counting(MemorySource):
    """A kept run in memory that remembers which rows were read."""

    def __init__(self, kept):
        super().__init__(kept)
        self.read: set[int] = set()

    def record(self, pos):
        self.read.add(pos)
        return super().record(pos)


def said(results, index: int, name: str) -> str:
    """The explanation as JSON, or the error an explanation stops with."""
    try:
        return render_json(explain(results, index, name))
    except (RowError, Upstream, ArithmeticError) as e:
        return f"{type(e).__name__}: {e}"


def same_explanations(graph, reference, kept_results_, rows=None, names=None) -> None:
    """Every explanation (of the rows and names asked for) from the kept run equals the reference's,
    and reads only that employee's rows (one per period)."""
    source = kept_results_.source
    periods = reference.columns[graph.period] if graph.period else None
    for i in rows if rows is not None else range(reference.size):
        key = reference.keys[i]
        own = set(reference.rows_of(key)) if hasattr(reference, "rows_of") else {i}
        index = kept_results_.index_of(key, periods[i] if periods is not None else None)
        assert index == i
        for name in names or [n.name for n in graph.definitions]:
            if isinstance(source, Counting):
                source.read.clear()
            if not _reads(graph, name, _related_sum):
                # (a known gap: the rows of a related table a sum counted are not kept, so an explanation from a
                # kept run gives the count without listing them; the workflow explains such policies whole)
                assert said(kept_results_, index, name) == said(reference, i, name), (key, name)
            if isinstance(source, Counting) and not _reads(graph, name, _other_rows):
                assert source.read <= own, f"explaining {name} of {key} read rows {sorted(source.read - own)}"


def _related_sum(e) -> bool:
    return isinstance(e, ast.Aggregate) and e.source is not None


def _other_rows(e) -> bool:
    """A year-to-date sum is not kept (engine/kept.py): computed from the kept values of every row; a value of
    another employee is explained at that employee's row, and previous() at the period right before in the
    whole data, found from every row's period (issue 11's explanations)."""
    from pkrules.language.builtins import function_of

    return ((isinstance(e, ast.Aggregate) and getattr(e, "to_date", None) is not None) or isinstance(e, ast.ValueOf)
            or (isinstance(e, ast.Call) and function_of(e.func) in ("previous", "consecutive")))


def _reads(graph, name: str, test) -> bool:
    """Whether a definition, or one it reads, has a term that passes test."""
    seen, todo = set(), [name]
    while todo:
        node = graph.nodes[todo.pop()]
        if node.name in seen or node.is_given:
            continue
        seen.add(node.name)
        if any(test(e) for e in ast.walk(node.decl)):
            return True
        todo.extend(node.deps)
    return False


def kept_in_memory(graph, results) -> KeptResults:
    kept = keep(results)
    return KeptResults(graph, kept.spec, Counting(kept))


# ---- every shipped policy --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["exact", "fast"])
@pytest.mark.parametrize("policy,data,related", SHIPPED, ids=[Path(p).name for p, _, _ in SHIPPED])
def test_shipped_policies_explained_from_a_kept_run(backend, policy, data, related, tmp_path):
    graph = compile_file(policy)
    population = open_population(graph, data, related)
    exact = exact_evaluate(graph, population.rows, population.row_numbers, related=population.related)
    try:
        results = backend_named(backend).evaluate(graph, population)
    except Declined:
        pytest.skip(f"the {backend} backend declines {Path(policy).name}")
    some = range(min(exact.size, 8))
    main_output = [graph.main_output()]
    # in memory: every definition of the first rows, the main output of everyone
    memory = kept_in_memory(graph, results)
    same_explanations(graph, exact, memory, some)
    same_explanations(graph, exact, memory, names=main_output)
    # in a file, with the policy read back from the file
    write_kept_file(keep(results), graph, tmp_path / "run.pkrun")
    from_file = kept_results(tmp_path / "run.pkrun")
    same_explanations(from_file.graph, exact, from_file, some)


# ---- generated policies ----------------------------------------------------------------------------


def _compiles(text: str):
    try:
        return compile_policy(text)
    except PolicyError:
        return None


def _check_generated(graph, population: Population) -> None:
    exact = exact_evaluate(graph, population.rows, population.row_numbers, related=population.related)
    same_explanations(graph, exact, kept_in_memory(graph, exact))
    try:
        fast = backend_named("fast").evaluate(graph, population)
    except Declined:
        return
    same_explanations(graph, exact, kept_in_memory(graph, fast))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=policies(max_definitions=5), rows=populations(max_size=12))
def test_generated_policies_explained_from_a_kept_run(text, rows):
    graph = _compiles(text)
    assume(graph is not None)
    _check_generated(graph, Population(graph, rows))


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=period_cases())
def test_several_periods_explained_from_a_kept_run(case):
    text, rows = case
    graph = compile_policy(text)
    _check_generated(graph, Population(graph, rows))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=related_cases())
def test_related_tables_explained_from_a_kept_run(case):
    text, rows, ratings = case
    graph = compile_policy(text)
    _check_generated(graph, Population(graph, rows, related={"ratings": ratings}))


# ---- the fast path's exact text --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(numerators=st.lists(st.integers(-10**18, 10**18), min_size=1, max_size=30),
       denominator=st.one_of(st.sampled_from([1, 2, 3, 5, 7, 9, 10, 12, 90, 95, 100, 17100, 2**40, 5**20, 3 * 2**30]),
                             st.integers(1, 10**12)),
       per_row=st.booleans(), data=st.data())
def test_exact_text_of_columns_is_value_text(numerators, denominator, per_row, data):
    import polars as pl

    from pkrules.engine.columnar.exact_text import number_text
    from pkrules.engine.columnar.numeric import Overflow

    if per_row:
        dens = data.draw(st.lists(st.integers(1, 10**12), min_size=len(numerators), max_size=len(numerators)))
        want = [fraction_text(F(n, d)) for n, d in zip(numerators, dens)]
        d_col: object = pl.Series(dens, dtype=pl.Int128)
    else:
        want = [fraction_text(F(n, denominator)) for n in numerators]
        d_col = denominator
    try:
        got = number_text(pl.Series(numerators, dtype=pl.Int128), d_col).to_list()
    except Overflow:  # (too many digits for 128 bits: the caller makes that column's text value by value)
        return
    assert got == want


@settings(max_examples=300, deadline=None)
@given(value=st.fractions(), text=st.one_of(
    st.from_regex(r"\A[-+ ]?[0-9.]{0,8}(/[0-9]{1,4})?[eE]?[0-9]?\Z"), st.text(alphabet="0123456789.-/ e٣", max_size=8)))
def test_stored_number_text_reads_back_as_fraction_reads_it(value, text):
    """values/stored.py reads a stored number faster than Fraction(text), never differently."""
    from pkrules.values.stored import fraction_from_text

    assert fraction_from_text(fraction_text(value)) == value
    try:
        want = F(text)
    except (ValueError, ZeroDivisionError) as e:
        with pytest.raises(type(e)):
            fraction_from_text(text)
    else:
        assert fraction_from_text(text) == want


def test_exact_text_never_wraps_past_128_bits():
    # a hypothesis find: 999983520588929013 / 2**35 ends after 35 decimals; scaled by 5**35 it passed 128 bits
    # and wrapped around to -999.99… (now: Overflow, and the caller makes that column's text value by value)
    import polars as pl

    from pkrules.engine.columnar.exact_text import number_text
    from pkrules.engine.columnar.numeric import Overflow

    with pytest.raises(Overflow):
        number_text(pl.Series([999_983_520_588_929_013], dtype=pl.Int128), 2**35)


# ---- the command line ------------------------------------------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_run_keep_then_explain_from_the_kept_run(engine, tmp_path, capsys):
    run = str(tmp_path / "march.pkrun")
    code, out, err = run_cli(capsys, "run", str(POLICY), str(SAMPLE), "--engine", engine, "--keep", run, "--out",
                             str(tmp_path / "r.csv"))
    assert code == 0 and not err
    assert f"kept the run in {run} (40 rows)" in out
    for args in (["E013", "coef"], ["E001"], ["E022", "team_fund", "--json"], ["E003", "elite", "--markdown"]):
        code, direct, _ = run_cli(capsys, "explain", str(POLICY), str(SAMPLE), *args)
        assert code == 0
        code, kept, err = run_cli(capsys, "explain", "--run", run, *args)
        assert (code, kept, err) == (0, direct, "")


def test_a_kept_run_keeps_its_policy(tmp_path, capsys):
    policy = tmp_path / "p.pk"
    shutil.copy(POLICY, policy)
    run = str(tmp_path / "run.pkrun")
    assert run_cli(capsys, "run", str(policy), str(SAMPLE), "--keep", run)[0] == 0
    _, before, _ = run_cli(capsys, "explain", "--run", run, "E013", "coef")
    policy.write_text(POLICY.read_text(encoding="utf-8").replace("THEN coef 1.2", "THEN coef 1.3"), encoding="utf-8")
    code, after, err = run_cli(capsys, "explain", "--run", run, "E013", "coef")
    assert (code, after) == (0, before), err  # the figure is explained with the policy it was computed with


def test_a_kept_run_refuses_a_changed_lookup_file(tmp_path, capsys):
    folder = tmp_path / "p"
    folder.mkdir()
    for name in ("region_product.pk", "regions.csv", "products.csv"):
        shutil.copy(ROOT / "policies" / name, folder / name)
    run = str(tmp_path / "run.pkrun")
    data = str(ROOT / "policies" / "sample" / "region_product.csv")
    assert run_cli(capsys, "run", str(folder / "region_product.pk"), data, "--keep", run)[0] == 0
    key = open(data, encoding="utf-8").read().splitlines()[1].split(",")[0]
    assert run_cli(capsys, "explain", "--run", run, key)[0] == 0
    regions = folder / "regions.csv"
    lines = regions.read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    first[-1] = "9.99"
    regions.write_text("\n".join([lines[0], ",".join(first)] + lines[2:]) + "\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "explain", "--run", run, key)
    assert code == 1 and "changed since this run was kept" in err and "Traceback" not in err


def test_explain_from_a_kept_run_mistakes(tmp_path, capsys):
    run = str(tmp_path / "run.pkrun")
    assert run_cli(capsys, "run", str(POLICY), str(SAMPLE), "--keep", run)[0] == 0
    code, _, err = run_cli(capsys, "explain", "--run", run, "E0133")
    assert code == 1 and "no employee with id 'E0133'" in err and "did you mean" in err
    code, _, err = run_cli(capsys, "explain", "--run", run, "E013", "scor")
    assert code == 2 and "did you mean 'score'" in err
    code, _, err = run_cli(capsys, "explain", "--run", str(tmp_path / "nothing.pkrun"), "E013")
    assert code == 1 and "no such kept run" in err
    code, _, err = run_cli(capsys, "explain", "--run", str(SAMPLE), "E013")
    assert code == 1 and "not a kept run" in err
    code, _, err = run_cli(capsys, "explain", "--run", run)
    assert code == 2 and "explain --run RUN ID" in err
    # checked before evaluating, as --out is: a missing folder is made, a file in the way is said
    assert run_cli(capsys, "run", str(POLICY), str(SAMPLE), "--keep", str(tmp_path / "new" / "dir" / "r.pkrun"))[0] == 0
    assert (tmp_path / "new" / "dir" / "r.pkrun").is_file()
    code, _, err = run_cli(capsys, "run", str(POLICY), str(SAMPLE), "--keep", str(tmp_path / "run.pkrun" / "r.pkrun"))
    assert code == 2 and "cannot write" in err and "is a file, not a folder" in err and "Traceback" not in err


def test_a_kept_run_with_bad_rows_explains_the_good_ones_and_names_the_errors(tmp_path, capsys):
    policy = tmp_path / "p.pk"
    policy.write_text('policy "small"\ninput\n  id: text key\n  sales: money >= 0\n  target: money >= 0\n'
                      "attainment = sales / target\npay = round(attainment * ¥1000, 0.01)\nall_sales = sum sales\n"
                      "share = sales / all_sales\n", encoding="utf-8")
    data = tmp_path / "d.csv"
    data.write_text("id,sales,target\nA1,100,200\nA2,50,0\nA3,70,70\n", encoding="utf-8")
    run = str(tmp_path / "run.pkrun")
    code, out, err = run_cli(capsys, "run", str(policy), str(data), "--keep", run, "--keep-going")
    assert code == 1 and "kept the run" in out and "division by zero" in err
    for key, name in (("A1", "pay"), ("A3", "pay"), ("A2", "share"), ("A2", "all_sales")):
        code, kept, _ = run_cli(capsys, "explain", "--run", run, key, name)
        assert code == 0
        assert kept == run_cli(capsys, "explain", str(policy), str(data), key, name, "--keep-going")[1]
    code, _, err = run_cli(capsys, "explain", "--run", run, "A2", "pay")
    assert code == 1 and "could not be computed" in err and "division by zero" in err


def test_a_run_kept_for_another_policy_is_refused():
    graph = compile_file(POLICY)
    results = exact_evaluate(graph, open_population(graph, SAMPLE).rows)
    kept = keep(results)
    other = compile_policy(POLICY.read_text(encoding="utf-8").replace("IF score >= 90", "IF score >= 91"))
    with pytest.raises(KeptRunError, match="another version of the policy"):
        KeptResults(other, kept.spec, MemorySource(kept))


def test_a_split_whose_pool_sums_within_another_group_keeps_its_own_groups():
    # (the pool's own population term, evaluated between the split's group and its record, once gave the
    # split the meta of the pool's group: a yes/no group for a team of text)
    text = ("input\n  id: text key\n  team: text\n  a: money >= 0\n  flag: yesno\n"
            "d0 = (split round((a + (sum (a) within flag)), 0.01) by a within team)\n")
    graph = compile_policy(text)
    for rows in ([{"id": "0", "team": "T1", "a": F(0), "flag": False}],
                 [{"id": str(k), "team": f"T{k % 2}", "a": F(k * 150, 100), "flag": k % 3 == 0} for k in range(7)]):
        _check_generated(graph, Population(graph, rows))
