"""`pkrules diff`: the semantic diff, the impact on a population, git revisions and git's diff driver.

Golden files live in tests/golden/diff/: base.pk (a frozen copy of the reference policy),
variants of it (X.pk) beside the exact output of `pkrules diff base.pk X.pk` (X.out), and
impacts on a frozen copy of the sample population. Regenerate after an intended change
with  PKRULES_UPDATE_GOLDEN=1 pytest tests/test_diff.py  and review the diff in git.

The impact of raising the top band 1.2 → 1.3 is also checked against the live reference
policy and sample, with the expected employees and deltas computed independently here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings

from columnar_strategies import policies, populations
from pkrules.cli import main
from pkrules.language.diagnostics import PolicyError
from pkrules.review.diff import diff_policies, rename
from pkrules.language.compile import compile_policy
from pkrules.engine.exact import evaluate
from pkrules.engine.population import Population
from pkrules.review.impact import compute_impact, evaluate_both, load_populations, reusable_columns, trace_change_data
from pkrules.language.parse import parse_text

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "diff"
POLICY = ROOT / "policies" / "sales_incentive.pk"
SAMPLE = ROOT / "policies" / "sample" / "employees.csv"
UPDATE = bool(os.environ.get("PKRULES_UPDATE_GOLDEN"))
TOP_BAND = ("IF score >= 90 THEN coef 1.2", "IF score >= 90 THEN coef 1.3")


def _compare(expected_path: Path, actual: str) -> None:
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
        return
    assert expected_path.exists(), f"{expected_path} is missing; run with PKRULES_UPDATE_GOLDEN=1 to create it"
    assert actual == expected_path.read_text(encoding="utf-8")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def diff_text(old: str, new: str):
    return diff_policies(parse_text(old), parse_text(new))


def descriptions(old: str, new: str) -> list[str]:
    return [c.description for c in diff_text(old, new).changes]


# ---- golden semantic diffs and impacts ------------------------------------------------------

VARIANTS = sorted(p for p in GOLDEN.glob("*.pk") if not p.name.startswith("base"))


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.stem)
def test_semantic_diff_golden(path: Path, capsys, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    base = "base.zh.pk" if path.name.endswith(".zh.pk") else "base.pk"
    code, out, err = run_cli(capsys, "diff", base, path.name)
    assert err == ""
    expected_code = 0 if path.stem == "formatted" else 1
    assert code == expected_code
    _compare(path.with_name(path.name.removesuffix(".pk") + ".out"), out)


IMPACT_CASES = [
    # (variant, flags, golden file)
    ("band_1_3.pk", [], "band_1_3.impact.out"),
    ("band_1_3.pk", ["--explain", "--limit", "3"], "band_1_3.explain.out"),
    ("band_1_3.pk", ["--markdown", "--explain", "--limit", "2"], "band_1_3.impact.md"),
    ("band_1_3.pk", ["--json", "--explain", "--limit", "1"], "band_1_3.impact.json"),
    ("weights.pk", [], "weights.impact.out"),
    ("tiers.pk", [], "tiers.impact.out"),
    ("rename.pk", ["--explain", "--limit", "1"], "rename.impact.out"),
    ("many.pk", ["--explain", "--limit", "0"], "many.impact.out"),
    ("zh_change.zh.pk", ["--explain", "--limit", "2"], "zh_change.impact.out"),
]


@pytest.mark.parametrize("engine", ["exact", "fast"])
@pytest.mark.parametrize("variant,flags,golden", IMPACT_CASES, ids=lambda v: str(v))
def test_impact_golden(variant, flags, golden, engine, capsys, monkeypatch):
    """The same output from the exact evaluator and from the fast path (when it is there)."""
    monkeypatch.chdir(GOLDEN)
    chinese = variant.endswith(".zh.pk")
    base = "base.zh.pk" if chinese else "base.pk"
    data = "employees.zh.csv" if chinese else "employees.csv"
    code, out, err = run_cli(capsys, "diff", base, variant, "--data", data, "--engine", engine, *flags)
    assert (code, err) == (1, "")
    _compare(GOLDEN / golden, out)


def test_the_fast_path_gives_the_same_impact_and_explanations():
    pytest.importorskip("polars")
    old = compile_policy((GOLDEN / "base.pk").read_text(encoding="utf-8"), "base.pk")
    new = compile_policy((GOLDEN / "band_1_3.pk").read_text(encoding="utf-8"), "band_1_3.pk")
    population, _ = load_populations(old, new, str(GOLDEN / "employees.csv"))
    pair = evaluate_both(old, new, population, population, backend="fast")
    assert [r.backend for r in pair] == ["fast", "fast"]
    impact = compute_impact(*pair, "employees.csv", renames={}, changed_decls={"coef"}, engine="fast")
    exact = compute_impact(*_exact_pair(old, new), "employees.csv", renames={}, changed_decls={"coef"})
    assert {e.key: e.delta["total"] for e in impact.changed} == {e.key: e.delta["total"] for e in exact.changed}
    # The explanation is read from the fast path's results (their probe), and says the same.
    [root] = impact.explain(impact.changed[0])
    [same] = exact.explain(exact.changed[0])
    assert root.name == "total" and root.children[0].name == "bonus"
    assert trace_change_data(root) == trace_change_data(same)


def _exact_pair(old, new):
    population, _ = load_populations(old, new, str(GOLDEN / "employees.csv"))
    return evaluate_both(old, new, population, population, backend="exact")


def test_markdown_of_the_semantic_diff(capsys, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    code, out, _ = run_cli(capsys, "diff", "base.pk", "many.pk", "--markdown")
    assert code == 1
    _compare(GOLDEN / "many.md", out)


# ---- the acceptance case: 1.2 → 1.3 on the live reference policy and sample -------------------


def _half_up(x: Fraction, step: Fraction = Fraction(1, 100)) -> Fraction:
    """Rounding to the cent, halves away from zero, written out independently of pkrules."""
    q = x / step
    n = abs(q.numerator) * 2 + q.denominator
    whole = n // (2 * q.denominator)
    return (whole if q >= 0 else -whole) * step


def _expected_band_deltas() -> dict[str, Fraction]:
    """Employees with an exact score >= 90, each with the exact change of their pay."""
    graph = compile_policy(POLICY.read_text(encoding="utf-8"), str(POLICY))
    from pkrules.io.tables import read_csv

    population = read_csv(graph, SAMPLE)
    results = evaluate(graph, population.rows, population.row_numbers)
    assert not results.errors
    base = {"新人": Fraction(5000), "骨干": Fraction(8000), "经理": Fraction(12000)}
    expected = {}
    for i, row in enumerate(population.rows):
        score = results.columns["score"][i]
        if score >= 90:
            achievement = min(Fraction(row["sales"]) / Fraction(row["sales_target"]), Fraction(3, 2))
            b = base[row["level"]]
            expected[row["id"]] = _half_up(b * Fraction(13, 10) * achievement) - _half_up(b * Fraction(12, 10) * achievement)
    return expected


def test_band_change_impact_lists_exactly_the_top_band_with_exact_deltas(tmp_path, capsys):
    text = POLICY.read_text(encoding="utf-8")
    assert TOP_BAND[0] in text
    changed = tmp_path / "sales_incentive.pk"
    changed.write_text(text.replace(*TOP_BAND), encoding="utf-8")
    expected = _expected_band_deltas()
    assert expected and all(d > 0 for d in expected.values())

    code, out, err = run_cli(capsys, "diff", str(POLICY), str(changed), "--data", str(SAMPLE), "--json", "--explain")
    assert (code, err) == (1, "")
    data = json.loads(out)
    [change] = data["diff"]["changes"]
    assert change["description"] == "coef: row `IF score >= 90` now pays 1.3 (was 1.2)"
    impact = data["impact"]
    listed = {e["key"]: e for e in impact["changed"]}
    assert set(listed) == set(expected)
    for key, delta in expected.items():
        e = listed[key]
        assert Fraction(e["delta"]["total"]) == delta
        assert Fraction(e["after"]["total"]) - Fraction(e["before"]["total"]) == delta
        assert Fraction(e["pay_delta"]) == delta
        assert e["changed"] == ["coef", "bonus", "total"]
        [root] = e["explanation"]
        assert root["name"] == "total" and root["inputs"][0]["name"] == "bonus"
        assert root["inputs"][0]["inputs"][0]["name"] == "coef"
    summary = impact["summary"]
    assert (summary["gain"], summary["lose"], summary["other"]) == (len(expected), 0, 0)
    assert summary["unchanged"] == 40 - len(expected)
    cost = impact["cost"]
    assert Fraction(cost["after"]) - Fraction(cost["before"]) == sum(expected.values()) == Fraction(cost["delta"])
    assert impact["changing_columns"] == ["total"]  # team_rank does not move


def test_band_change_impact_through_the_api_matches_two_full_runs():
    text = POLICY.read_text(encoding="utf-8")
    old, new = compile_policy(text, "old.pk"), compile_policy(text.replace(*TOP_BAND), "new.pk")
    old_population, new_population = load_populations(old, new, str(SAMPLE))
    assert old_population is new_population  # same inputs: the data is read once
    old_results, new_results = evaluate_both(old, new, old_population, new_population)
    full = evaluate(new, new_population.rows, new_population.row_numbers)
    assert old_results.backend == "exact"  # 40 employees: the exact evaluator, which lends its columns
    for name in full.columns:
        assert new_results.columns[name] == full.columns[name], name
    # Only the change and what depends on it were computed again.
    recomputed = {n for n in new.nodes if new_results.columns[n] is not old_results.columns[n]}
    assert recomputed == {"coef", "bonus", "total"}
    impact = compute_impact(old_results, new_results, str(SAMPLE), renames={}, changed_decls={"coef"})
    expected = _expected_band_deltas()
    assert {e.key: e.delta["total"] for e in impact.changed} == expected
    assert impact.cost_delta == sum(expected.values())


def test_impact_is_the_same_whichever_backend_computes_it():
    pytest.importorskip("polars")
    text = POLICY.read_text(encoding="utf-8")
    old, new = compile_policy(text, "old.pk"), compile_policy(text.replace(*TOP_BAND), "new.pk")
    population, _ = load_populations(old, new, str(SAMPLE))
    fast = evaluate_both(old, new, population, population, backend="fast")
    exact = evaluate_both(old, new, population, population, backend="exact")
    assert [r.backend for r in fast] == ["fast", "fast"] and [r.backend for r in exact] == ["exact", "exact"]
    a, b = compute_impact(*fast, str(SAMPLE)), compute_impact(*exact, str(SAMPLE))
    assert [(e.key, e.delta) for e in a.changed] == [(e.key, e.delta) for e in b.changed]
    assert (a.cost_before, a.cost_after) == (b.cost_before, b.cost_after)


@pytest.mark.parametrize("variant", ["band_1_3.pk", "weights.pk", "tiers.pk", "rename.pk", "formatted.pk"])
def test_reusing_columns_gives_exactly_a_full_run(variant):
    old = compile_policy((GOLDEN / "base.pk").read_text(encoding="utf-8"), "base.pk")
    new = compile_policy((GOLDEN / variant).read_text(encoding="utf-8"), variant)
    d = diff_policies(old.policy, new.policy)
    population, _ = load_populations(old, new, str(GOLDEN / "employees.csv"))
    old_results = evaluate(old, population.rows, population.row_numbers)
    known = reusable_columns(new, old_results, d.renames)
    reused = evaluate(new, population.rows, population.row_numbers, known=known)
    full = evaluate(new, population.rows, population.row_numbers)
    assert reused.columns == full.columns and reused.errors == full.errors
    if variant in ("formatted.pk", "rename.pk"):  # nothing to compute again
        inverse = {b: a for a, b in d.renames.items()}
        assert all(reused.columns[n] is old_results.columns[inverse.get(n, n)] for n in new.nodes)


def test_reusing_reports_the_new_versions_row_errors_as_a_full_run_does():
    old = compile_policy("input\n  id: text key\n  a: number\n  b: number\nr = a + b\n")
    new = compile_policy("input\n  id: text key\n  a: number\n  b: number\nr = a / b\n")
    rows = [{"id": "x", "a": Fraction(1), "b": Fraction(0)}, {"id": "y", "a": Fraction(1), "b": Fraction(2)}]
    population = Population(old, rows)
    _, new_results = evaluate_both(old, new, population, population)
    assert [e.key for e in new_results.errors] == ["x"] and "division by zero" in new_results.errors[0].message
    assert new_results.errors == evaluate(new, rows).errors
    # A run with row errors lends nothing.
    broken = evaluate(new, rows)
    assert reusable_columns(new, broken) == {}


# ---- what the semantic diff says ----------------------------------------------------------------

SMALL = """\
policy "small" version "1"
input
  id: text key
  level: A | B
  sales: money >= 0
  score: number 0 to 100
rate
  IF score >= 90 THEN rate 3%
  IF score >= 80 THEN rate 2%
  OTHERWISE rate 0
base by level: A ¥100, B ¥200
pay = round(base + sales * rate, 0.01)
"""


def test_formatting_only_is_no_change():
    messy = SMALL.replace("rate 3%", "rate  3%").replace("¥200", "¥200.00").replace(">= 80", "≥ 80") \
        .replace("pay = round(base + sales * rate, 0.01)", "# the pay\npay=round( base+sales*rate ,0.01)  # cents")
    assert diff_text(SMALL, messy).changes == []


def test_row_changes_are_named_by_their_condition():
    new = SMALL.replace("IF score >= 80 THEN rate 2%", "IF score >= 85 THEN rate 2%")
    assert descriptions(SMALL, new) == ["rate: row 2 now `IF score >= 85` (was `IF score >= 80`), still paying 2%"]
    new = SMALL.replace("  OTHERWISE rate 0", "  IF score >= 60 THEN rate 1%\n  OTHERWISE rate 0")
    assert descriptions(SMALL, new) == ["rate: new row 3 `IF score >= 60 THEN rate 1%`"]
    new = SMALL.replace("  IF score >= 80 THEN rate 2%\n", "")
    assert descriptions(SMALL, new) == ["rate: row removed `IF score >= 80 THEN rate 2%` (was row 2)"]
    new = SMALL.replace("OTHERWISE rate 0", "OTHERWISE rate 1%")
    assert descriptions(SMALL, new) == ["rate: row `OTHERWISE` now pays 1% (was 0)"]


def test_rows_moved_and_hit_policy():
    swapped = SMALL.replace("  IF score >= 90 THEN rate 3%\n  IF score >= 80 THEN rate 2%",
                            "  IF score >= 80 THEN rate 2%\n  IF score >= 90 THEN rate 3%")
    assert descriptions(SMALL, swapped) == ["rate: row `IF score >= 80` moved to row 1 (was row 2)"]
    unique = SMALL.replace("rate\n  IF score >= 90", "rate (unique)\n  IF score >= 90") \
        .replace("IF score >= 80 THEN rate 2%", "IF 80 <= score < 90 THEN rate 2%")
    changes = diff_text(SMALL, unique).changes
    assert [c.kind for c in changes] == ["hit-policy", "row-changed"]
    assert changes[0].description == "rate: hit policy unique (was first match)"


def test_weights_lookups_tiers_inputs_header():
    weighted = "input\n  id: text key\n  a: number\n  b: number\n  c: number\ns = weighted\n  a 50%\n  b 30%\n  c 20%\n"
    assert descriptions(weighted, weighted.replace("b 30%\n  c 20%", "b 25%\n  c 25%")) == [
        "s: weight of b 25% (was 30%)", "s: weight of c 25% (was 20%)"]
    assert descriptions(weighted, weighted.replace("  c 20%\n", "").replace("b 30%", "b 50%")) == [
        "s: weight of b 50% (was 30%)", "s: component c removed (was 20%)"]
    assert descriptions(weighted, weighted.replace("  a 50%\n  b 30%", "  b 30%\n  a 50%")) == []  # order: no change
    assert descriptions(SMALL, SMALL.replace("B ¥200", "B ¥250, OTHERWISE ¥50")) == [
        "base: B ¥250 (was ¥200)", "base: new entry OTHERWISE ¥50"]
    assert descriptions(SMALL, SMALL.replace("base by level", "base by id")) == ["base: now by id (was by level)"]
    tiers = "input\n  id: text key\n  sales: money\nc = tiered marginal on sales\n  up to 50万 1%\n  up to 100万 2%\n  above 3%\n"
    assert descriptions(tiers, tiers.replace("100万 2%", "120万 2%")) == ["c: tier 2 upper bound 120万 (was 100万)"]
    assert descriptions(tiers, tiers.replace("100万 2%", "100万 2.5%")) == ["c: tier 2 rate 2.5% (was 2%)"]
    assert descriptions(tiers, tiers.replace("marginal", "whole")) == [
        "c: now whole-amount (全额累进) (was marginal (超额累进))"]
    assert descriptions(tiers, tiers.replace("  above 3%", "  up to 200万 3%\n  above 4%")) == [
        "c: new tier 3 `up to 200万 3%`", "c: tier 4 rate 4% (was 3%)"]
    assert descriptions(SMALL, SMALL.replace("  level: A | B", "  level: A | B | C").replace("score: number 0 to 100",
                                                                                          "score: number 0 to 120")) == [
        "level: values A | B | C (was A | B)", "score: limits 0 to 120 (was 0 to 100)"]
    assert descriptions(SMALL, SMALL.replace("  level: A | B\n", "  level: A | B\n  region: text\n")) == ["new input region"]
    assert descriptions(SMALL, SMALL.replace('version "1"', 'version "2"')) == ['version "2" (was "1")']


def test_formula_changes_in_canonical_form():
    changes = diff_text(SMALL, SMALL.replace("round(base + sales * rate, 0.01)", "round(base*2 + sales*rate, 0.01)")).changes
    assert [c.description for c in changes] == [
        "pay: formula now `round(base * 2 + sales * rate, 0.01)` (was `round(base + sales * rate, 0.01)`)"]
    assert changes[0].old_lines == (12, 12) and changes[0].new_lines == (12, 12)


def test_renames_are_recognised_through_references():
    renamed = SMALL.replace("rate", "commission_rate")
    d = diff_text(SMALL, renamed)
    assert d.renames == {"rate": "commission_rate"}
    assert [c.description for c in d.changes] == ["rate renamed to commission_rate"]
    # A chain: both a definition and the one that uses it are renamed.
    chain = SMALL.replace("pay =", "payout =").replace("base", "base_pay")
    assert diff_text(SMALL, chain).renames == {"base": "base_pay", "pay": "payout"}
    # A removed definition and an added one with a different body is not a rename.
    other = SMALL.replace("pay = round(base + sales * rate, 0.01)", "payout = round(base + sales * rate * 2, 0.01)")
    assert [c.kind for c in diff_text(SMALL, other).changes] == ["added", "removed"]


def test_rename_helper_renames_every_reference():
    policy = parse_text(SMALL)
    renamed = rename(policy.declarations, {"rate": "r"})
    assert renamed[0].name == "r" and renamed[0].rows[0].target == "r"
    assert parse_text(SMALL.replace("rate", "r")).declarations == renamed


def test_examples():
    with_example = SMALL + 'example "one"\n  id x, level A, sales 1000, score 95\n  expect pay 130.00\n'
    assert descriptions(SMALL, with_example) == ['new example "one"']
    assert descriptions(with_example, with_example.replace("expect pay 130.00", "expect pay 131.00")) == [
        'example "one": expect pay 131.00 (was 130.00)']
    assert descriptions(with_example, with_example.replace("sales 1000", "sales 2000")) == [
        'example "one": sales 2000 (was 1000)']
    assert descriptions(with_example, with_example.replace('"one"', '"first"')) == ['example "one" renamed to "first"']


def test_every_shipped_policy_equals_itself_and_its_formatted_text():
    from pkrules.language.fmt import format_text

    paths = sorted((ROOT / "policies").glob("*.pk")) + sorted((ROOT / "tests" / "golden" / "good").glob("*.pk"))
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert diff_text(text, text).changes == [], path
        assert diff_text(text, format_text(text)).changes == [], path


def test_english_and_chinese_descriptions(capsys, monkeypatch):
    monkeypatch.chdir(GOLDEN)
    code, out, _ = run_cli(capsys, "diff", "base.zh.pk", "zh_change.zh.pk")
    assert code == 1
    assert "绩效系数：规则 `如果 综合得分 ≥ 90` 改为 1.3（原为 1.2）" in out
    assert "累进提成：第 2 档上限改为 120万（原为 100万）" in out
    assert "绩效奖金 更名为 绩效奖金额" in out


# ---- errors, in the user's words -------------------------------------------------------------------


def test_missing_file_and_syntax_errors(tmp_path, capsys):
    code, _, err = run_cli(capsys, "diff", str(tmp_path / "nope.pk"), str(POLICY))
    assert code == 2 and "nope.pk: no such file" in err
    broken = tmp_path / "broken.pk"
    broken.write_text(POLICY.read_text(encoding="utf-8").replace("coef 1.2", "coef 1.2 +"), encoding="utf-8")
    code, out, err = run_cli(capsys, "diff", str(POLICY), str(broken))
    assert code == 2 and out == ""
    assert f"{broken}:34:" in err and "syntax errors (above)" in err and "Traceback" not in err


def test_a_side_that_does_not_check_still_gets_the_diff_but_exit_2(tmp_path, capsys):
    wrong = tmp_path / "wrong.pk"
    wrong.write_text(POLICY.read_text(encoding="utf-8").replace("bonus = round(base * coef", "bonus = round(base * cof"),
                     encoding="utf-8")
    code, out, err = run_cli(capsys, "diff", str(POLICY), str(wrong))
    assert code == 2
    assert "'cof' is not defined" in err and "the diff compares the text as written" in err
    assert "bonus: formula now `round(base * cof * achievement, 0.01)`" in out
    code, out, err = run_cli(capsys, "diff", str(POLICY), str(wrong), "--data", str(SAMPLE))
    assert code == 2 and "the impact needs both versions to compile" in err


def test_data_lacking_a_new_input(capsys, monkeypatch, tmp_path):
    new = tmp_path / "region.pk"
    new.write_text(POLICY.read_text(encoding="utf-8").replace("  first_order: yesno", "  region: text\n  first_order: yesno")
                   .replace("team_rank = rank score within team", "team_rank = rank score within region"), encoding="utf-8")
    code, out, err = run_cli(capsys, "diff", str(POLICY), str(new), "--data", str(SAMPLE))
    assert code == 2
    assert f"{new} needs column region (input region, new in this version), which the data does not have" in err
    assert "Traceback" not in err


def test_bad_data_and_bad_columns(tmp_path, capsys):
    changed = tmp_path / "new.pk"
    changed.write_text(POLICY.read_text(encoding="utf-8").replace(*TOP_BAND), encoding="utf-8")
    code, _, err = run_cli(capsys, "diff", str(POLICY), str(changed), "--data", str(tmp_path / "none.csv"))
    assert code == 2 and "none.csv: no such file" in err
    bad = tmp_path / "bad.csv"
    bad.write_text(SAMPLE.read_text(encoding="utf-8").replace("E001,任艳,华东一组,经理,926000", "E001,任艳,华东一组,经理,lots"),
                   encoding="utf-8")
    code, _, err = run_cli(capsys, "diff", str(POLICY), str(changed), "--data", str(bad))
    assert code == 2 and "Excel row 2, column sales: 'lots'" in err and "--keep-going" in err
    code, out, err = run_cli(capsys, "diff", str(POLICY), str(changed), "--data", str(bad), "--keep-going")
    assert code == 1 and "Impact on" in out and "39 employees" in out
    code, _, err = run_cli(capsys, "diff", str(POLICY), str(changed), "--data", str(SAMPLE), "--columns", "bonsu")
    assert code == 2 and "'bonsu' is in neither version of the policy (did you mean 'bonus'?)" in err


def test_columns_option(capsys, tmp_path):
    changed = tmp_path / "new.pk"
    changed.write_text(POLICY.read_text(encoding="utf-8").replace(*TOP_BAND), encoding="utf-8")
    code, out, _ = run_cli(capsys, "diff", str(POLICY), str(changed), "--data", str(SAMPLE), "--columns", "coef,bonus")
    assert code == 1
    header = next(line for line in out.splitlines() if line.startswith("id "))
    assert header.split() == ["id", "name", "coef", "before", "coef", "after", "Δ", "coef", "bonus", "before",
                              "bonus", "after", "Δ", "bonus", "changed"]


def test_no_changes_means_no_impact(capsys):
    code, out, _ = run_cli(capsys, "diff", str(POLICY), str(POLICY), "--data", str(SAMPLE))
    assert code == 0 and out.endswith("no semantic changes\n")


# ---- git ---------------------------------------------------------------------------------------------


def _git_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", XDG_CONFIG_HOME=str(home / ".config"),
               GIT_AUTHOR_DATE="2024-07-01T09:00:00+08:00", GIT_COMMITTER_DATE="2024-07-01T09:00:00+08:00",
               LC_ALL="C", PAGER="cat", GIT_PAGER="cat")
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "repo"
    (work / "policies" / "sample").mkdir(parents=True)
    env = _git_env(home)

    def git(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=work, env=env, capture_output=True, text=True, check=check)

    git("init", "-q", "-b", "main")
    git("config", "user.name", "HR Analyst")
    git("config", "user.email", "hr@example.com")
    shutil.copy(GOLDEN / "base.pk", work / "policies" / "sales_incentive.pk")
    shutil.copy(GOLDEN / "employees.csv", work / "policies" / "sample" / "employees.csv")
    git("add", ".")
    git("commit", "-q", "-m", "the reference policy")
    shutil.copy(GOLDEN / "band_1_3.pk", work / "policies" / "sales_incentive.pk")
    git("commit", "-q", "-am", "top band pays 1.3")

    def pkrules(*args: str, cwd: Path = work) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pkrules.cli", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, check=False)

    class Repo:
        path = work

    Repo.git, Repo.pkrules, Repo.env = staticmethod(git), staticmethod(pkrules), env
    return Repo


def test_diff_of_a_git_revision_against_the_working_file(repo):
    result = repo.pkrules("diff", "HEAD~1:policies/sales_incentive.pk", "policies/sales_incentive.pk")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("HEAD~1:policies/sales_incentive.pk → policies/sales_incentive.pk")
    assert "~ coef: row `IF score >= 90` now pays 1.3 (was 1.2)   [line 34]" in result.stdout
    # Revisions on both sides, and the data from a revision too.
    result = repo.pkrules("diff", "main~1:policies/sales_incentive.pk", "main:policies/sales_incentive.pk",
                          "--data", "HEAD:policies/sample/employees.csv")
    assert result.returncode == 1, result.stderr
    assert "Impact on HEAD:policies/sample/employees.csv: 40 employees" in result.stdout
    assert "26 gain, 0 lose, 14 unchanged" in result.stdout
    # The same revision on both sides: nothing changed.
    result = repo.pkrules("diff", "HEAD:policies/sales_incentive.pk", "policies/sales_incentive.pk")
    assert (result.returncode, result.stdout.splitlines()[-1]) == (0, "no semantic changes")


def test_git_errors_are_clear(repo, tmp_path):
    result = repo.pkrules("diff", "HEAD~5:policies/sales_incentive.pk", "policies/sales_incentive.pk")
    assert result.returncode == 2
    assert "HEAD~5:policies/sales_incentive.pk: unknown revision 'HEAD~5'" in result.stderr
    result = repo.pkrules("diff", "HEAD~1:policies/nope.pk", "policies/sales_incentive.pk")
    assert result.returncode == 2 and "policies/nope.pk is not in revision HEAD~1" in result.stderr
    result = repo.pkrules("diff", "HEAD:policies", "policies/sales_incentive.pk")
    assert result.returncode == 2 and "policies is a folder in revision HEAD" in result.stderr
    # From a sub-folder, a path relative to it gets a hint.
    result = repo.pkrules("diff", "HEAD~1:sales_incentive.pk", "sales_incentive.pk", cwd=repo.path / "policies")
    assert result.returncode == 2
    assert "did you mean HEAD~1:policies/sales_incentive.pk (or HEAD~1:./sales_incentive.pk)?" in result.stderr
    assert repo.pkrules("diff", "HEAD~1:./sales_incentive.pk", "sales_incentive.pk", cwd=repo.path / "policies").returncode == 1
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(GOLDEN / "base.pk", outside / "p.pk")
    result = repo.pkrules("diff", "HEAD:p.pk", "p.pk", cwd=outside)
    assert result.returncode == 2 and "is not inside a git repository" in result.stderr
    for r in (result,):
        assert "Traceback" not in r.stderr


def test_git_setup_makes_git_diff_and_log_show_the_semantic_diff(repo):
    result = repo.pkrules("git-setup")
    assert result.returncode == 0, result.stderr
    assert (repo.path / ".gitattributes").read_text() == "*.pk diff=pkrules\n"
    config = repo.git("config", "--get", "diff.pkrules.command").stdout.strip()
    assert config.endswith("git-diff-driver")
    assert repo.pkrules("git-setup").returncode == 0  # running it again changes nothing
    assert (repo.path / ".gitattributes").read_text() == "*.pk diff=pkrules\n"

    diff = repo.git("diff", "HEAD~1", "--", "policies/sales_incentive.pk").stdout
    assert diff.splitlines()[:3] == ["diff --pkrules a/policies/sales_incentive.pk b/policies/sales_incentive.pk",
                                     "1 semantic change:", ""]
    assert "~ coef: row `IF score >= 90` now pays 1.3 (was 1.2)   [line 34]" in diff
    log = repo.git("log", "-p", "--ext-diff", "-1").stdout
    assert "top band pays 1.3" in log and "now pays 1.3 (was 1.2)" in log
    # Plain `git log -p` uses the textconv: the canonical text, so the comment edited in that commit is left out.
    plain = repo.git("log", "-p", "-1").stdout
    assert "-  IF score >= 90 THEN coef 1.2\n+  IF score >= 90 THEN coef 1.3" in plain
    assert "reaches 1.3" not in plain
    # A formatting-only commit shows as such.
    from pkrules.language.fmt import format_text

    path = repo.path / "policies" / "sales_incentive.pk"
    path.write_text("# reformatted\n" + format_text(path.read_text(encoding="utf-8")).replace("  sales_score       50%", "  sales_score 50%"),
                    encoding="utf-8")
    assert repo.git("diff").stdout.splitlines()[1] == "no semantic changes"


def test_git_diff_driver_falls_back_to_a_text_diff(repo):
    assert repo.pkrules("git-setup").returncode == 0
    path = repo.path / "policies" / "sales_incentive.pk"
    path.write_text(path.read_text(encoding="utf-8") + "IF broken(\n", encoding="utf-8")
    diff = repo.git("diff").stdout
    assert re.search(r"pkrules: b/policies/sales_incentive.pk does not parse \(line \d+: .*\); showing a text diff", diff)
    assert "+IF broken(" in diff
    # A new policy file: everything in it is new.
    shutil.copy(GOLDEN / "tiers.pk", repo.path / "policies" / "other.pk")
    repo.git("add", "policies/other.pk")
    staged = repo.git("diff", "--cached").stdout
    assert "diff --pkrules a/policies/other.pk b/policies/other.pk\nnew policy file" in staged
    assert '~ title "华东区销售激励"' in staged and "+ new input id" in staged


def test_git_setup_global(repo):
    result = repo.pkrules("git-setup", "--global", "--command", "pkrules")
    assert result.returncode == 0, result.stderr
    home = Path(repo.env["HOME"])
    assert (home / ".config" / "git" / "attributes").read_text() == "*.pk diff=pkrules\n"
    assert repo.git("config", "--global", "--get", "diff.pkrules.command").stdout.strip() == "pkrules git-diff-driver"
    assert not (repo.path / ".gitattributes").exists()


def test_git_setup_outside_a_repository(tmp_path):
    env = _git_env(tmp_path)
    result = subprocess.run([sys.executable, "-m", "pkrules.cli", "git-setup"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "not inside a git repository" in result.stderr and "--global" in result.stderr


def test_driver_called_by_hand(tmp_path, capsys):
    code, _, err = run_cli(capsys, "git-diff-driver", "only", "three", "args")
    assert code == 2 and "7 arguments" in err
    code, out, _ = run_cli(capsys, "git-diff-driver", "p.pk", str(GOLDEN / "base.pk"), "0" * 40, "100644",
                           str(GOLDEN / "weights.pk"), "1" * 40, "100644")
    assert code == 0
    assert out.splitlines()[:2] == ["diff --pkrules a/p.pk b/p.pk", "2 semantic changes:"]


def test_textconv_prints_the_canonical_text_without_comments(capsys):
    code, out, _ = run_cli(capsys, "git-textconv", str(GOLDEN / "formatted.pk"))
    assert code == 0
    code, base, _ = run_cli(capsys, "git-textconv", str(GOLDEN / "base.pk"))
    assert "#" not in re.sub(r'"[^"]*"', "", base)
    assert out.replace("\n\n", "\n") != "" and "policy \"华东区销售激励\"" in out


# ---- lookups from files, declared outputs, several periods, Parquet --------------------------------

REGIONS = """\
policy "regions" version "1"
input
  id: text key
  region: text
  sales: money >= 0
coef by region from "regions.csv"
pay = round(sales * 1% * coef, 0.01)
"""


def test_a_lookup_file_changed_in_git_is_read_from_each_revision(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = _git_env(tmp_path / "home")
    work = tmp_path / "repo"
    (work / "policies").mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.name", "HR")
    git("config", "user.email", "hr@example.com")
    (work / "policies" / "p.pk").write_text(REGIONS, encoding="utf-8")
    (work / "policies" / "regions.csv").write_text("region,coef\n华东,1.0\n华南,1.2\n", encoding="utf-8")
    (work / "data.csv").write_text("id,region,sales\nA,华东,100000\nB,华南,200000\nC,华东,50000\n", encoding="utf-8")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    (work / "policies" / "regions.csv").write_text("region,coef\n华东,1.1\n华南,1.2\n西北,0.9\n", encoding="utf-8")
    git("commit", "-q", "-am", "two")
    result = subprocess.run([sys.executable, "-m", "pkrules.cli", "diff", "HEAD~1:policies/p.pk", "policies/p.pk",
                             "--data", "data.csv", "--engine", "exact"], cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "~ coef (regions.csv): 华东 1.1 (was 1)   [line 6]" in out
    assert "+ coef (regions.csv): new entry 西北 0.9   [line 6]" in out
    assert "2 gain, 0 lose, 1 unchanged" in out and "cost (pay): 3,900.00 → 4,050.00  (+150.00, +3.85%)" in out
    # The text of the policy is the same in both revisions: only the file moved the values.
    same = subprocess.run([sys.executable, "-m", "pkrules.cli", "diff", "HEAD~1:policies/p.pk", "HEAD~1:policies/p.pk"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert same.returncode == 0


def test_lookup_file_changes_are_not_reused_as_unchanged(tmp_path):
    from pkrules.language.compile import compile_file
    from pkrules.review.impact import unchanged_nodes

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder, coef in (("a", "1.0"), ("b", "1.5")):
        (tmp_path / folder / "p.pk").write_text(REGIONS, encoding="utf-8")
        (tmp_path / folder / "regions.csv").write_text(f"region,coef\n华东,{coef}\n", encoding="utf-8")
    old, new = compile_file(tmp_path / "a" / "p.pk"), compile_file(tmp_path / "b" / "p.pk")
    assert "coef" not in unchanged_nodes(old, new) and "pay" not in unchanged_nodes(old, new)
    d = diff_policies(old.policy, new.policy, old_tables=old.lookup_tables, new_tables=new.lookup_tables)
    assert [c.description for c in d.changes] == ["coef (regions.csv): 华东 1.5 (was 1)"]


def test_declared_outputs():
    base = SMALL + "output pay\n"
    assert descriptions(SMALL, base) == ["outputs declared: pay"]
    assert descriptions(base, base.replace("output pay", "output pay, rate")) == ["outputs now pay, rate (was pay)"]
    assert descriptions(base, base.replace("pay", "payout")) == ["pay renamed to payout"]


PERIODS = """\
input
  id: text key
  month: whole period
  achievement: percent
score = achievement * 100
bonus = if score >= 90 then ¥1000 else 0
"""


def test_several_periods_are_matched_by_key_and_period(tmp_path, capsys):
    old, new = tmp_path / "old.pk", tmp_path / "new.pk"
    old.write_text(PERIODS, encoding="utf-8")
    new.write_text(PERIODS.replace("score >= 90", "score >= 80"), encoding="utf-8")
    data = tmp_path / "data.csv"
    data.write_text("id,month,achievement\nA,1,85%\nA,2,95%\nB,1,70%\nB,2,82%\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "diff", str(old), str(new), "--data", str(data), "--json")
    assert (code, err) == (1, "")
    changed = json.loads(out)["impact"]["changed"]
    assert [(e["key"], e["period"], e["delta"]["bonus"]) for e in changed] == [("A", "1", "1000.00"), ("B", "2", "1000.00")]
    code, out, _ = run_cli(capsys, "diff", str(old), str(new), "--data", str(data))
    assert "id  month  bonus before  bonus after    Δ bonus  changed" in out


def test_parquet_data(tmp_path, capsys):
    polars = pytest.importorskip("polars")
    changed = tmp_path / "new.pk"
    changed.write_text(POLICY.read_text(encoding="utf-8").replace(*TOP_BAND), encoding="utf-8")
    parquet = tmp_path / "employees.parquet"
    polars.read_csv(SAMPLE, infer_schema_length=0).write_parquet(parquet)
    for engine in ("exact", "fast"):
        code, out, err = run_cli(capsys, "diff", str(POLICY), str(changed), "--data", str(parquet), "--engine", engine)
        assert (code, err) == (1, ""), err
        assert f"{len(_expected_band_deltas())} gain, 0 lose" in out


# ---- the impact on the fast path: whole columns, the same report ---------------------------------------


def _impact_reports(old_text: str, new_text: str, rows) -> tuple[str, str] | None:
    """The impact (text with explanations, and JSON) of two versions on rows, from exact runs and from
    fast-path runs compared by columns; None when the fast path declines either version."""
    from pkrules.engine.backend import backend_named
    from pkrules.engine.exact import evaluate as exact_evaluate
    from pkrules.engine.results import Declined
    from pkrules.review.impact import blank_definitions, render_json as impact_json, render_text as impact_text

    try:
        old, new = compile_policy(old_text, "old.pk"), compile_policy(new_text, "new.pk")
    except PolicyError:
        return None
    population = Population(old, rows)
    exact = [exact_evaluate(g, population.rows) for g in (old, new)]
    try:
        fast = [backend_named("fast").evaluate(g, Population(g, rows)) for g in (old, new)]
    except Declined:
        return None
    if any(blank_definitions(r) for r in fast):  # diff itself takes the exact runs then (evaluate_both)
        return None
    reports = []
    for pair in (exact, fast):
        impact = compute_impact(*pair, "data.csv", renames={}, changed_decls=set())
        reports.append(impact_text(impact, limit=5, with_explanations=True) + impact_json(impact, with_explanations=True))
    return reports[0], reports[1]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(old=policies(max_definitions=4), new=policies(max_definitions=4), rows=populations(max_size=12))
def test_the_columnar_impact_equals_the_row_by_row_one(old, new, rows):
    pytest.importorskip("polars")
    found = _impact_reports(old, new, rows)
    assume(found is not None)
    assert found[0] == found[1]


def test_the_columnar_impact_of_the_reference_policy_changes():
    pytest.importorskip("polars")
    from pkrules.io.tables import read_csv

    text = POLICY.read_text(encoding="utf-8")
    rows = read_csv(compile_policy(text), SAMPLE).rows
    for variant in ("band_1_3.pk", "weights.pk", "tiers.pk", "rename.pk"):
        new_text = (GOLDEN / variant).read_text(encoding="utf-8")
        base = (GOLDEN / "base.pk").read_text(encoding="utf-8")
        exact, fast = _impact_reports(base, new_text, rows)
        assert exact == fast, variant
    exact, fast = _impact_reports(text, text.replace(*TOP_BAND) + "\nnew_award = if score >= 95 then ¥100 else ¥0\n", rows)
    assert exact == fast


def test_a_blank_value_on_the_fast_path_is_explained_as_the_exact_evaluator_does(tmp_path, capsys):
    # d0 fails (no employee 'nobody') where nothing needs it: the run leaves it blank. The impact of
    # changing d0 must name the failure, as the exact evaluator does, on either engine (a hypothesis find:
    # the fast run's columns compared a blank as equal, and explaining it raised a TypeError).
    inputs = "input\n  id: text key\n  buddy: text\n  level: 新人 | 经理\n  a: money >= 0\n"
    old = tmp_path / "old.pk"
    old.write_text(inputs + "d0 = a[buddy] + a\nd1 by level: 新人 a, 经理 d0\n", encoding="utf-8")
    new = tmp_path / "new.pk"
    new.write_text(inputs + "d0 = a\n", encoding="utf-8")  # d0 now an output: E1's blank is compared
    data = tmp_path / "data.csv"
    data.write_text("id,buddy,level,a\nE1,nobody,新人,100\nE2,E1,经理,50\n", encoding="utf-8")
    outputs = {}
    for engine in ("exact", "fast"):
        code, out, err = run_cli(capsys, "diff", str(old), str(new), "--data", str(data), "--engine", engine, "--explain")
        assert (code, err) == (1, ""), err
        outputs[engine] = out
    assert outputs["fast"] == outputs["exact"]
    assert "E1          —    100.00  +100.00" in outputs["exact"]
    assert "no employee with id 'nobody'" in outputs["exact"]
