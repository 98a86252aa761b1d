"""China's monthly wage tax withholding (policies/iit_withholding.pk, .zh.pk) against the published worked
example and against an independent implementation of the 2019 rules on generated data.

The oracle below follows the rules as the State Taxation Administration states them: the
cumulative taxable income of the year (income − 5,000 per month − 专项扣除 − 专项附加扣除),
taxed by the annual table as rate × income − quick deduction (速算扣除数), minus the tax already
withheld this year, never negative, rounded to the cent. It shares no code with the engine.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from fractions import Fraction as F
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkrules.engine.backend import evaluate
from pkrules.engine.population import open_population
from pkrules.language.compile import compile_file

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "iit_withholding.pk"
POLICY_ZH = ROOT / "policies" / "iit_withholding.zh.pk"

# 个人所得税税率表一（综合所得适用）: up to (annual), rate, quick deduction
TABLE = [(F(36000), F(3, 100), F(0)), (F(144000), F(10, 100), F(2520)), (F(300000), F(20, 100), F(16920)),
         (F(420000), F(25, 100), F(31920)), (F(660000), F(30, 100), F(52920)), (F(960000), F(35, 100), F(85920)),
         (None, F(45, 100), F(181920))]


def cents(x: F) -> F:
    """Half up to the cent (四舍五入)."""
    n = x * 100
    whole = (n.numerator * 2 + n.denominator) // (2 * n.denominator) if n >= 0 else -((-n.numerator * 2 + n.denominator) // (2 * n.denominator))
    return F(whole, 100)


def annual_tax(taxable: F) -> F:
    for upper, rate, quick in TABLE:
        if upper is None or taxable <= upper:
            return taxable * rate - quick
    raise AssertionError


def withholding(months: list[tuple[int, int, F, F, F]]) -> dict[tuple[int, int], F]:
    """(year, month, income, social insurance, special deductions) of one employee → tax of each month."""
    out: dict[tuple[int, int], F] = {}
    totals: dict[int, list] = defaultdict(lambda: [0, F(0), F(0), F(0), F(0)])  # year → months, income, si, sd, withheld
    for year, month, income, si, sd in sorted(months):
        t = totals[year]
        t[0] += 1
        t[1] += income
        t[2] += si
        t[3] += sd
        taxable = max(F(0), t[1] - 5000 * t[0] - t[2] - t[3])
        tax = max(F(0), cents(annual_tax(taxable) - t[4]))
        t[4] += tax
        out[(year, month)] = tax
    return out


def decimal(x: F) -> str:
    """An amount to the cent as a CSV cell: 12345.67."""
    n = int(x * 100)
    return f"{n // 100}.{n % 100:02d}"


def write_rows(path: Path, rows: list[tuple]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "month", "income", "social_insurance", "special_deductions"])
        writer.writerows(rows)


def engine_taxes(policy: Path, data: Path, name: str, engine: str = "auto") -> dict[tuple[str, str], F]:
    graph = compile_file(policy)
    population = open_population(graph, data)
    results = evaluate(graph, population, engine)
    assert results.errors == [] and population.cell_errors == []
    key, month = graph.key, graph.period
    return {(k, m): v for k, m, v in zip(results.columns[key], results.columns[month], results.columns[name])}


@pytest.mark.parametrize("policy, name", [(POLICY, "tax"), (POLICY_ZH, "本月应预扣税额")])
def test_the_published_worked_example(tmp_path, policy, name):
    # 30,000 a month, 专项扣除 4,500, 专项附加扣除 2,000: 555.00, 625.00, 1,850.00; rows out of order
    data = tmp_path / "example.csv"
    write_rows(data, [("Z", "2025年3月", 30000, 4500, 2000), ("Z", "2025年1月", 30000, 4500, 2000),
                      ("Z", "2025年2月", 30000, 4500, 2000)])
    taxes = engine_taxes(policy, data, name)
    assert [taxes[("Z", f"2025年{m}月")] for m in (1, 2, 3)] == [F("555.00"), F("625.00"), F("1850.00")]


SPELLINGS = [lambda y, m: f"{y}年{m}月", lambda y, m: f"{y}-{m:02d}", lambda y, m: f"{y}-{m}", lambda y, m: f"{y}/{m:02d}"]


@st.composite
def payrolls(draw):
    """A few employees, each with some months of one or two years, in any order, months spelled one way per file."""
    spelling = draw(st.sampled_from(SPELLINGS))
    rows = []
    for person in range(draw(st.integers(1, 4))):
        months = draw(st.lists(st.tuples(st.sampled_from([2024, 2025]), st.integers(1, 12)), min_size=1, max_size=14,
                               unique=True))
        for year, month in months:
            income = F(draw(st.one_of(st.integers(0, 6_000_000), st.integers(0, 300_000_000))), 100)  # to the cent
            si = draw(st.integers(0, 8000))
            sd = draw(st.sampled_from([0, 1000, 2000, 3000, 4500]))
            rows.append((f"E{person}", year, month, income, F(si), F(sd)))
    order = draw(st.permutations(range(len(rows))))
    return spelling, [rows[k] for k in order]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(payrolls())
def test_the_policies_agree_with_an_independent_implementation(tmp_path_factory, payroll):
    spelling, rows = payroll
    data = tmp_path_factory.mktemp("iit") / "payroll.csv"
    write_rows(data, [(who, spelling(y, m), decimal(income), decimal(si), decimal(sd)) for who, y, m, income, si, sd in rows])
    by_person: dict[str, list] = defaultdict(list)
    for who, y, m, income, si, sd in rows:
        by_person[who].append((y, m, income, si, sd))
    expected = {(who, spelling(y, m)): tax for who, months in by_person.items()
                for (y, m), tax in withholding(months).items()}
    assert engine_taxes(POLICY, data, "tax", "exact") == expected
    assert engine_taxes(POLICY_ZH, data, "本月应预扣税额", "exact") == expected


def test_the_sample_agrees_with_the_independent_implementation():
    data = ROOT / "policies" / "sample" / "iit_withholding.csv"
    by_person: dict[str, list] = defaultdict(list)
    with open(data, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            year, month = row["month"].rstrip("月").split("年")
            by_person[row["id"]].append((int(year), int(month), F(row["income"]), F(row["social_insurance"]),
                                         F(row["special_deductions"])))
    expected = {(who, f"{y}年{m}月"): tax for who, months in by_person.items() for (y, m), tax in withholding(months).items()}
    assert engine_taxes(POLICY, data, "tax") == expected
