"""Every scheme of the HR documents as a shipped policy (policies/*.pk).

Each policy's examples pass, it checks cleanly with --strict and is formatted; each
sample data set runs; and for each scheme a few results of the sample are recomputed
here, independently of the engine, with exact fractions (no float tolerances), from
the rules as the policies' comments state them. The negative tests show that a
missing partner, a broken lookup file and a cycle across employees each give one
clear message and a non-zero exit.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import shutil
from collections import defaultdict
from fractions import Fraction as F
from pathlib import Path

import pytest

from pkrules.cli import main

ROOT = Path(__file__).parent.parent
POLICIES = ROOT / "policies"
SAMPLE = POLICIES / "sample"

# policy → (sample data, extra arguments of `run`)
SAMPLES: dict[str, tuple[str, list[str]]] = {
    "sales_incentive.pk": ("employees.csv", []),
    "sales_incentive.zh.pk": ("employees.zh.csv", []),
    "points.pk": ("points.csv", []),
    "points.zh.pk": ("points.zh.csv", []),
    "scorecard_by_grade.pk": ("scorecard_by_grade.csv", []),
    "region_product.pk": ("region_product.csv", []),
    "team_pk.pk": ("team_pk.csv", []),
    "team_pk.zh.pk": ("team_pk.zh.csv", []),
    "ranking.pk": ("ranking.csv", []),
    "warning_lights.pk": ("warning_lights.csv", []),
    "warning_lights.zh.pk": ("warning_lights.zh.csv", []),
    "daily_pk.pk": ("daily_pk.csv", []),
    "partners.pk": ("partners.csv", []),
    "feedback_360.pk": ("feedback_360.csv", ["--with", f"ratings={SAMPLE / 'ratings.csv'}"]),
    "pools.pk": ("pools.csv", []),
    # issue 10: periods as time, running totals, dates, blanks
    "iit_withholding.pk": ("iit_withholding.csv", []),
    "iit_withholding.zh.pk": ("iit_withholding.csv", []),
    "warning_ytd.zh.pk": ("warning_ytd.zh.csv", []),
    "prorated_bonus.pk": ("prorated_bonus.csv", []),
}

# The nine schemes and the policies that implement them.
SCHEMES = {
    "1 plus/minus points": ["points.pk", "points.zh.pk"],
    "2 scorecards per grade": ["scorecard_by_grade.pk"],
    "3 region and product coefficients": ["region_product.pk"],
    "4 team PK": ["team_pk.pk", "team_pk.zh.pk"],
    "5 ranking tiers and progress award": ["ranking.pk"],
    "6 several periods": ["warning_lights.pk", "warning_lights.zh.pk", "daily_pk.pk"],
    "7 partners": ["partners.pk"],
    "8 360° ratings": ["feedback_360.pk"],
    "9 pools": ["pools.pk"],
}

ALL_POLICIES = sorted(p.name for p in POLICIES.glob("*.pk"))


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- exact helpers -----------------------------------------------------------------------


def num(text: str) -> F:
    """A CSV cell as an exact number: 480000, 88%, 0.5%."""
    text = text.strip()
    if text.endswith("%"):
        return F(text[:-1]) / 100
    return F(text)


def yes(text: str) -> bool:
    return text.strip().lower() in ("yes", "是", "true", "1")


def round_half_up(x: F, step: F = F(1, 100)) -> F:
    units = x / step
    whole = math.floor(abs(units) + F(1, 2))
    return (whole if units >= 0 else -whole) * step


def largest_remainder(pool: F, weights: list[F], keys: list[str]) -> list[F]:
    """The pool split by weight to the cent; the cents left go to the largest remainders, ties by key."""
    total = sum(weights, F(0))
    if total == 0:
        return [F(0)] * len(weights)
    exact = [pool * 100 * w / total for w in weights]
    cents = [math.floor(e) for e in exact]
    left = int(pool * 100 - sum(cents))
    for i in sorted(range(len(weights)), key=lambda i: (-(exact[i] - cents[i]), keys[i]))[:left]:
        cents[i] += 1
    return [F(c, 100) for c in cents]


def shown(cell: str, value: F) -> bool:
    """A cell of `run --out` against an exact value: equal where the decimals end, else to 10 places."""
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1:
        return num(cell) == value
    return cell == _ten_places(value)


def _ten_places(value: F) -> str:
    r = round_half_up(value, F(1, 10**10))
    sign = "-" if r < 0 else ""
    r = abs(r)
    whole = math.floor(r)
    frac = (r - whole) * 10**10
    return f"{sign}{whole}.{int(frac):010d}"


def read_rows(name: str) -> list[dict[str, str]]:
    with open(SAMPLE / name, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def run_out(capsys, tmp_path: Path, policy: str) -> list[dict[str, str]]:
    """Run a policy on its sample and read back `--out` (one row per data row, in the data's order)."""
    data, extra = SAMPLES[policy]
    out = tmp_path / (policy + ".out.csv")
    code, _, err = run_cli(capsys, "run", POLICIES / policy, SAMPLE / data, *extra, "--out", out)
    assert code == 0, err
    with open(out, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def coef_of(score: F) -> F:
    """绩效系数: ≥90 → 1.2; 80–89 → 1.0; 70–79 → 0.8; below 70 nothing."""
    if score >= 90:
        return F(6, 5)
    if score >= 80:
        return F(1)
    if score >= 70:
        return F(4, 5)
    return F(0)


BASE = {"新人": F(5000), "骨干": F(8000), "经理": F(12000)}


# ---- every policy: examples, check --strict, fmt --check, its sample ------------------------------


def test_every_policy_has_a_sample_and_every_scheme_a_policy():
    assert sorted(SAMPLES) == ALL_POLICIES
    for scheme, policies in SCHEMES.items():
        for policy in policies:
            assert policy in ALL_POLICIES, scheme


def test_pkrules_test_passes_on_the_whole_folder(capsys):
    code, out, err = run_cli(capsys, "test", "--brief", POLICIES)
    assert code == 0, out + err
    assert " 0 failed" in out  # the folder mixes English and Chinese policies: the summary is in English
    assert "FAIL" not in out and "失败  " not in out


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_each_policy_has_passing_examples(policy, capsys):
    code, out, err = run_cli(capsys, "test", "--brief", POLICIES / policy)
    assert code == 0, out + err
    # A Chinese policy is tested in Chinese.
    found = re.search(r"(\d+) 个通过，0 个失败" if ".zh." in policy else r"(\d+) passed, 0 failed", out)
    assert found and int(found.group(1)) >= 1, out


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_each_policy_checks_strictly_and_is_formatted(policy, capsys):
    code, out, err = run_cli(capsys, "check", "--strict", POLICIES / policy)
    assert (code, err) == (0, ""), out + err
    assert "warning:" not in out and out.rstrip().endswith("个示例" if ".zh." in policy else "examples"), out
    code, out, err = run_cli(capsys, "fmt", "--check", POLICIES / policy)
    assert code == 0, out + err


@pytest.mark.parametrize("policy", ALL_POLICIES)
def test_each_sample_runs(policy, capsys):
    data, extra = SAMPLES[policy]
    rows = read_rows(data)
    assert 10 <= len(rows) <= 40
    code, out, err = run_cli(capsys, "run", POLICIES / policy, SAMPLE / data, *extra)
    assert code == 0, err
    assert re.search(r"已按 .* 计算 \d+ (名员工|行)" if ".zh." in policy else "evaluated with", out), out


@pytest.mark.parametrize("policy", [p for p in ALL_POLICIES if not p.startswith("sales_incentive")])
def test_fast_and_exact_engines_agree_on_the_samples(policy, tmp_path, capsys):
    data, extra = SAMPLES[policy]
    outs = []
    for engine in ("fast", "exact"):
        out = tmp_path / f"{engine}.csv"
        code, _, err = run_cli(capsys, "run", POLICIES / policy, SAMPLE / data, *extra, "--engine", engine, "--out", out)
        assert code == 0, err
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1]


# ---- 1. plus and minus points -----------------------------------------------------------------


def points_expected(row: dict[str, str]) -> tuple[F, F, F, F, F]:
    attainment = num(row["sales"]) / num(row["sales_target"])
    teamwork = num(row["teamwork_score"])
    plus = (5 if attainment >= F(6, 5) else 3 if 1 < attainment < F(6, 5) else 0) \
        + 2 * num(row["large_contracts"]) + num(row["new_customers"]) + (2 if teamwork >= 90 else 0) \
        + (3 if yes(row["innovation"]) else 0) + num(row["praises"])
    minus = (5 if attainment < F(4, 5) else 0) + 3 * num(row["complaints"]) + (3 if teamwork < 60 else 0) \
        + 10 * num(row["violations"])
    final = max(F(0), min(F(100), num(row["base_score"]) + min(plus, F(10)) - min(minus, F(20))))
    coef = coef_of(final)
    bonus = round_half_up(BASE[row["level"]] * coef * min(attainment, F(3, 2)))
    return F(plus), F(minus), final, coef, bonus


def test_points_sample(capsys, tmp_path):
    rows = read_rows("points.csv")
    out = run_out(capsys, tmp_path, "points.pk")
    for row, result in zip(rows, out, strict=True):
        plus, minus, final, coef, bonus = points_expected(row)
        assert result["id"] == row["id"]
        assert num(result["plus_points"]) == plus and num(result["minus_points"]) == minus, row["id"]
        assert num(result["final_score"]) == final and num(result["coef"]) == coef, row["id"]
        assert num(result["bonus"]) == bonus, row["id"]
    # the sample reaches both caps
    expected = [points_expected(r) for r in rows]
    assert any(p > 10 for p, *_ in expected) and any(m > 20 for _, m, *_ in expected)
    # the Chinese policy on the Chinese sample pays the same
    zh = run_out(capsys, tmp_path, "points.zh.pk")
    assert [r["绩效奖金"] for r in zh] == [r["bonus"] for r in out]


# ---- 2. a scorecard per grade -----------------------------------------------------------------


def grade_scores(rows: list[dict[str, str]]) -> dict[str, F]:
    def capped(x: F) -> F:
        return min(x, F(1)) * 100

    own: dict[str, dict[str, F]] = {}
    for r in rows:
        sales, baseline = num(r["sales"]), num(r["baseline_target"])
        s = capped(sales / baseline)
        visits = capped(num(r["visits"]) / 30)
        if r["level"] == "新人":
            result = s * F(7, 10) + capped(num(r["first_order_amount"]) / 50000) * F(3, 10)
            process = visits / 2 + num(r["product_test"]) / 2
            score = result * F(7, 10) + process * F(3, 10)
        elif r["level"] == "骨干":
            last = num(r["last_sales"])
            growth = sales / last - 1 if last > 0 else F(0)
            rate = num(r["complaint_rate"])
            complaint = 100 if rate <= F(1, 100) else 80 if rate <= F(3, 100) else 60 if rate <= F(5, 100) else 0
            result = s * F(2, 5) + max(F(0), min(growth / F(1, 5), F(1))) * 100 / 5 \
                + capped(num(r["high_value_customers"]) / 3) * F(3, 20) \
                + capped(num(r["gross_margin"]) / F(3, 10)) * F(3, 20) + F(complaint) / 10
            process = capped(num(r["lead_follow_up"]) / F(95, 100)) / 2 + visits / 2
            score = result * F(4, 5) + process / 5
        else:
            score = None  # a manager's score needs the team's
        own[r["id"]] = {"score": score}
    scores: dict[str, F] = {}
    for r in rows:
        if r["level"] != "经理":
            scores[r["id"]] = own[r["id"]]["score"]
    for r in rows:
        if r["level"] == "经理":
            members = [m for m in rows if m["team"] == r["team"] and m["level"] != "经理"]
            team_avg = sum((scores[m["id"]] for m in members), F(0)) / len(members)
            development = F(sum(1 for m in members if num(m["sales"]) >= num(m["baseline_target"])), len(members)) * 100
            result = capped(num(r["sales"]) / num(r["baseline_target"])) * F(45, 100) + team_avg * F(35, 100) \
                + capped(num(r["collection_rate"]) / F(9, 10)) / 5
            process = development * F(3, 5) + capped(num(r["visits"]) / 30) * F(2, 5)
            scores[r["id"]] = result * F(3, 4) + process / 4
    return scores


def test_scorecard_by_grade_sample(capsys, tmp_path):
    rows = read_rows("scorecard_by_grade.csv")
    out = run_out(capsys, tmp_path, "scorecard_by_grade.pk")
    scores = grade_scores(rows)
    assert {r["level"] for r in rows} == {"新人", "骨干", "经理"}
    for row, result in zip(rows, out, strict=True):
        score = scores[row["id"]]
        assert shown(result["score"], score), (row["id"], result["score"], score)
        sales, baseline, challenge = num(row["sales"]), num(row["baseline_target"]), num(row["challenge_target"])
        if sales >= challenge:
            target_coef = min(F(6, 5) * sales / challenge, F(3, 2))
        elif sales >= baseline:
            target_coef = F(1)
        else:
            target_coef = sales / baseline
        assert shown(result["target_coef"], target_coef), row["id"]
        assert num(result["bonus"]) == round_half_up(BASE[row["level"]] * coef_of(score) * target_coef), row["id"]


# ---- 3. region and product coefficients from CSV files ------------------------------------------


def test_region_product_sample(capsys, tmp_path):
    def table(name: str) -> dict[str, F]:
        with open(POLICIES / name, encoding="utf-8") as f:
            reader = csv.reader(f)
            next(reader)
            return {k: F(v) for k, v in reader}

    regions, products = table("regions.csv"), table("products.csv")
    rows = read_rows("region_product.csv")
    out = run_out(capsys, tmp_path, "region_product.pk")
    for row, result in zip(rows, out, strict=True):
        target = num(row["sales_target"]) * regions[row["region"]]
        credited = num(row["sales"]) * products[row["product_line"]]
        achievement = min(credited / target, F(3, 2))
        assert num(result["adjusted_target"]) == target and num(result["credited_sales"]) == credited
        assert num(result["bonus"]) == round_half_up(BASE[row["level"]] * achievement), row["id"]
    assert len({r["region"] for r in rows}) == 5  # every region of regions.csv is used


# ---- 4. team PK -----------------------------------------------------------------------------------


OPPONENT = {"华东一组": "华东二组", "华东二组": "华东一组", "华南组": "华北组", "华北组": "华南组"}


def test_team_pk_sample(capsys, tmp_path):
    rows = read_rows("team_pk.csv")
    out = run_out(capsys, tmp_path, "team_pk.pk")
    teams: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        teams[r["team"]].append(r)
    completion = {t: sum(num(r["sales"]) for r in m) / sum(num(r["sales_target"]) for r in m) for t, m in teams.items()}
    growth = {t: sum(num(r["sales"]) for r in m) / sum(num(r["last_sales"]) for r in m) - 1 for t, m in teams.items()}
    pk = {t: completion[t] * 70 + growth[t] * 30 for t in teams}
    outcome = {}
    for t in teams:
        o = OPPONENT[t]
        key, other = (pk[t], completion[t]), (pk[o], completion[o])
        outcome[t] = "胜" if key > other else "负" if key < other else "平"
    by_id = {r["id"]: r for r in out}
    stakes_paid: dict[str, F] = defaultdict(F)
    stakes_won: dict[str, F] = defaultdict(F)
    for t, members in teams.items():
        o = OPPONENT[t]
        # a team's rank is its place among the teams' PK scores
        assert {by_id[m["id"]]["team_rank"] for m in members} == {str(1 + sum(1 for s in set(pk.values()) if s > pk[t]))}
        shares = largest_remainder(200 * F(len(teams[o])), [F(1)] * len(members), [m["id"] for m in members]) \
            if outcome[t] == "胜" else [F(0)] * len(members)
        for m, share in zip(members, shares):
            r = by_id[m["id"]]
            assert r["pk_result"] == outcome[t]
            award = {"胜": F(1000), "平": F(500), "负": F(0)}[outcome[t]]
            paid = F(200) if outcome[t] == "负" else F(0)
            assert (num(r["pk_award"]), num(r["stake_income"]), num(r["stake_paid"])) == (award, share, paid), m["id"]
            assert num(r["pk_total"]) == award + share - paid
            stakes_paid[min(t, o)] += paid
            stakes_won[min(t, o)] += share
    # in every matchup the losers' stakes are exactly the winners' pool
    assert stakes_paid == stakes_won
    assert sorted(outcome.values()) == ["胜", "胜", "负", "负"]
    zh = run_out(capsys, tmp_path, "team_pk.zh.pk")
    assert [r["PK奖金合计"] for r in zh] == [r["pk_total"] for r in out]


# ---- 5. ranking tiers and the progress award ---------------------------------------------------------


def ranking_scores(rows: list[dict[str, str]]) -> list[F]:
    scores = []
    for r in rows:
        days = num(r["collection_days"])
        cycle = 100 if days <= 30 else 80 if days <= 45 else 60 if days <= 60 else 40
        scores.append(min(num(r["sales"]) / num(r["sales_target"]), F(6, 5)) * 100 * F(2, 5)
                      + min(num(r["conversion_rate"]) / F(3, 10), F(1)) * 100 / 5
                      + min(num(r["new_customers"]) / 5, F(1)) * 100 / 5 + F(cycle) / 5)
    return scores


def test_ranking_sample(capsys, tmp_path):
    rows = read_rows("ranking.csv")
    out = run_out(capsys, tmp_path, "ranking.pk")
    scores = ranking_scores(rows)
    months = sorted({r["month"] for r in rows})
    assert len(months) == 2
    previous: dict[str, F] = {}
    for month in months:
        here = [i for i, r in enumerate(rows) if r["month"] == month]
        n = len(here)
        tiers = {}
        for i in here:
            higher = sum(1 for j in here if scores[j] > scores[i])
            lower = sum(1 for j in here if scores[j] < scores[i])
            tiers[i] = "精英" if higher < math.ceil(F(n, 10)) else "后段" if lower < math.ceil(F(n, 5)) else "中段"
            assert out[i]["tier"] == tiers[i], rows[i]["id"]
            assert num(out[i]["elite_award"]) == (2000 if tiers[i] == "精英" else 0)
        improvement = {i: scores[i] - previous.get(rows[i]["id"], scores[i]) for i in here}
        eligible = [i for i in here if tiers[i] != "精英"]
        best = max(improvement[i] for i in eligible)
        winners = [i for i in eligible if improvement[i] == best and best > 0]
        awards = {i: F(0) for i in here}
        for i, share in zip(winners, largest_remainder(F(1000), [F(1)] * len(winners), [rows[i]["id"] for i in winners])):
            awards[i] = share
        for i in here:
            assert num(out[i]["progress_award"]) == awards[i], (month, rows[i]["id"])
        if month == months[0]:
            assert winners == []  # nobody has a previous month
        else:
            assert winners and sum(awards.values()) == 1000
            # the progress award goes to the largest improvement outside the elite
            assert all(improvement[w] >= improvement[i] for w in winners for i in eligible)
        previous = {rows[i]["id"]: scores[i] for i in here}


# ---- 6. several periods: warning lights; daily, weekly and monthly PK ----------------------------


def test_warning_lights_follow_the_consecutive_count(capsys, tmp_path):
    rows = read_rows("warning_lights.csv")
    out = run_out(capsys, tmp_path, "warning_lights.pk")
    zh = run_out(capsys, tmp_path, "warning_lights.zh.pk")
    streak: dict[str, int] = defaultdict(int)
    lights = set()
    for month in sorted({r["month"] for r in rows}):
        for i, r in enumerate(rows):
            if r["month"] != month:
                continue
            below = num(r["sales"]) < num(r["baseline_target"])
            streak[r["id"]] = streak[r["id"]] + 1 if below else 0
            light = "红灯" if streak[r["id"]] >= 3 else "黄灯" if streak[r["id"]] >= 2 else "绿灯"
            assert (out[i]["months_below"], out[i]["light"]) == (str(streak[r["id"]]), light), (r["id"], month)
            assert (zh[i]["连续未达标月数"], zh[i]["预警等级"]) == (str(streak[r["id"]]), light)
            lights.add(light)
    assert lights == {"红灯", "黄灯", "绿灯"}


def test_daily_weekly_and_monthly_pk_prizes(capsys, tmp_path):
    rows = read_rows("daily_pk.csv")
    out = run_out(capsys, tmp_path, "daily_pk.pk")
    days = [dt.date.fromisoformat(r["day"]) for r in rows]

    def check_prize(label, value, column: str, pool: int) -> None:
        """Per day, week or month: the prize goes to the best total, shared equally by ties, and is paid
        across each champion's rows of that period (each champion's rows weigh 1 in all)."""
        groups: dict[object, list[int]] = defaultdict(list)
        for i in range(len(rows)):
            groups[label(i)].append(i)
        for members in groups.values():
            totals: dict[str, F] = defaultdict(F)
            days_worked: dict[str, int] = defaultdict(int)
            for i in members:
                totals[rows[i]["id"]] += value(i)
                days_worked[rows[i]["id"]] += 1
            best = max(totals.values())
            weights = [F(1, days_worked[rows[i]["id"]]) if totals[rows[i]["id"]] == best else F(0) for i in members]
            expected = largest_remainder(F(pool), weights, [rows[i]["id"] for i in members])
            assert [num(out[i][column]) for i in members] == expected, column
            assert sum(expected) == pool

    check_prize(lambda i: days[i], lambda i: num(rows[i]["visits"]), "daily_prize", 100)
    check_prize(lambda i: days[i].isocalendar()[:2], lambda i: num(rows[i]["leads_followed"]), "weekly_prize", 300)
    check_prize(lambda i: (days[i].year, days[i].month), lambda i: num(rows[i]["net_profit"]), "monthly_prize", 1000)
    assert len({d.isocalendar()[:2] for d in days}) == 3 and len({d.month for d in days}) == 2


# ---- 7. partners -------------------------------------------------------------------------------------


def test_partners_sample(capsys, tmp_path):
    rows = read_rows("partners.csv")
    out = run_out(capsys, tmp_path, "partners.pk")
    by_id = {r["id"]: r for r in rows}
    own = {r["id"]: num(r["own_score"]) for r in rows}
    pairs = 0
    for row, result in zip(rows, out, strict=True):
        if row["role"] == "销售":
            partner_result = own[row["partner"]]
        else:
            sellers = [r["id"] for r in rows if r["partner"] == row["id"]]
            partner_result = sum((own[s] for s in sellers), F(0)) / len(sellers)
        kpi = own[row["id"]] * F(7, 10) + partner_result * F(3, 10)
        appraisal = kpi
        if row["pair_with"] != "-":
            other = by_id[row["pair_with"]]
            assert other["pair_with"] == row["id"]  # pairs are written both ways
            completion = (num(row["sales"]) + num(other["sales"])) / (num(row["sales_target"]) + num(other["sales_target"]))
            appraisal = kpi * F(4, 5) + min(completion, F(1)) * 100 / 5
            assert shown(result["pair_completion"], completion)
            pairs += 1
        assert shown(result["kpi"], kpi) and shown(result["appraisal"], appraisal), row["id"]
        assert num(result["coef"]) == coef_of(appraisal), row["id"]
    assert pairs == 6


# ---- 8. 360° ratings ------------------------------------------------------------------------------


def test_feedback_360_sample(capsys, tmp_path):
    rows = read_rows("feedback_360.csv")
    ratings = read_rows("ratings.csv")
    out = run_out(capsys, tmp_path, "feedback_360.pk")
    weights = {"上级": F(2, 5), "同事": F(1, 5), "下属": F(1, 5), "客户": F(1, 5)}
    for row, result in zip(rows, out, strict=True):
        mine: dict[str, list[F]] = defaultdict(list)
        for r in ratings:
            if r["employee"] == row["id"]:
                mine[r["rater_role"]].append(num(r["rating"]))
        averages = {role: sum(v, F(0)) / len(v) for role, v in mine.items()}
        feedback = sum(averages[r] * weights[r] for r in averages) / sum(weights[r] for r in averages)
        final = num(row["perf_score"]) * F(4, 5) + feedback / 5
        grade = "S" if final >= 95 else "A" if final >= 85 else "B" if final >= 70 else "C"
        assert shown(result["feedback_360"], feedback), row["id"]
        assert result["rating_grade"] == grade, row["id"]
    assert any(len({r["rater_role"] for r in ratings if r["employee"] == row["id"]}) == 4 for row in rows)


# ---- 9. pools -----------------------------------------------------------------------------------------


def test_pools_sample(capsys, tmp_path):
    rows = read_rows("pools.csv")
    out = run_out(capsys, tmp_path, "pools.pk")
    keys = [r["id"] for r in rows]
    # 利润分享: 5% of 200万, split by gross profit, adds up to the pool exactly
    profit = largest_remainder(F(100_000), [num(r["gross_profit"]) for r in rows], keys)
    assert [num(r["profit_share"]) for r in out] == profit and sum(profit) == 100_000
    # 团队基金: 5% of each team's excess, split by sales within the team
    team_fund = {}
    for team in {r["team"] for r in rows}:
        members = [i for i, r in enumerate(rows) if r["team"] == team]
        excess = sum(num(rows[i]["sales"]) - num(rows[i]["sales_target"]) for i in members)
        pool = round_half_up(F(5, 100) * max(F(0), excess))
        shares = largest_remainder(pool, [num(rows[i]["sales"]) for i in members], [keys[i] for i in members])
        team_fund.update(zip(members, shares))
        assert sum(num(out[i]["team_fund"]) for i in members) == pool
    raw = []
    for i, r in enumerate(rows):
        target_bonus = round_half_up(BASE[r["level"]] * min(num(r["sales"]) / num(r["sales_target"]), F(3, 2)))
        assert num(out[i]["team_fund"]) == team_fund[i] and num(out[i]["target_bonus"]) == target_bonus
        raw.append(target_bonus + team_fund[i])
    # 奖金计提比例上限: 1.5% of sales; the sample is over it, so the budget is split pro rata, exactly
    budget = round_half_up(F(15, 1000) * sum(num(r["sales"]) for r in rows))
    assert sum(raw) > budget
    scaled = [num(r["scaled_sales_bonus"]) for r in out]
    assert sum(scaled) == budget
    assert scaled == largest_remainder(budget, raw, keys)
    assert all(s <= b for s, b in zip(scaled, raw))
    assert all(abs(s - budget * b / sum(raw)) < F(1, 100) for s, b in zip(scaled, raw))
    assert [num(r["total_pay"]) for r in out] == [s + p for s, p in zip(scaled, profit)]


# ---- clear errors: a missing partner, a broken lookup file, a cycle across employees ---------------------


def test_a_missing_partner_is_one_row_error(tmp_path, capsys):
    shutil.copy(POLICIES / "partners.pk", tmp_path)
    data = (SAMPLE / "partners.csv").read_text(encoding="utf-8")
    data = re.sub(r"^(E005,[^,]*,[^,]*,销售,\d+,)T01,", r"\1T99,", data, flags=re.M)
    assert ",T99," in data
    (tmp_path / "partners.csv").write_text(data, encoding="utf-8")
    code, out, err = run_cli(capsys, "run", tmp_path / "partners.pk", tmp_path / "partners.csv")
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert re.fullmatch(r"error: .*partners\.csv: Excel row 6 \(E005\): partner_result: no employee with id 'T99' "
                        r"\(partner\)  \[.*partners\.pk:\d+\]", errors[0]), errors[0]
    assert "Traceback" not in err


def test_a_missing_mentoring_partner_is_one_row_error(tmp_path, capsys):
    shutil.copy(POLICIES / "partners.pk", tmp_path)
    data = (SAMPLE / "partners.csv").read_text(encoding="utf-8")
    data = re.sub(r"^(E003,[^,]*,[^,]*,销售,\d+,T0\d,)E009,", r"\1E099,", data, flags=re.M)
    assert ",E099," in data
    (tmp_path / "partners.csv").write_text(data, encoding="utf-8")
    code, out, err = run_cli(capsys, "run", tmp_path / "partners.pk", tmp_path / "partners.csv")
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "(E003)" in errors[0] and "no employee with id 'E099' (pair_with)" in errors[0]


BROKEN_REGIONS = {
    "duplicate": ("region,region_coef\n华东,1.10\n华南,1.05\n华东,1.20\n",
                  "regions.csv:4: the key 华东 appears again (first on line 2)"),
    "not a number": ("region,region_coef\n华东,1.10\n华南,一点零五\n",
                     "regions.csv:3: '一点零五' in column region_coef is not a number"),
    "short row": ("region,region_coef\n华东,1.10\n华南\n", "regions.csv:3: this row has 1 cell"),
    "no value column": ("region,coef,note\n华东,1.10,x\n", "regions.csv has no column region_coef"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_REGIONS))
def test_a_broken_lookup_file_is_a_located_error(case, tmp_path, capsys):
    text, message = BROKEN_REGIONS[case]
    shutil.copy(POLICIES / "region_product.pk", tmp_path)
    shutil.copy(POLICIES / "products.csv", tmp_path)
    (tmp_path / "regions.csv").write_text(text, encoding="utf-8")
    policy = tmp_path / "region_product.pk"
    line = next(n for n, l in enumerate(policy.read_text(encoding="utf-8").splitlines(), 1) if 'from "regions.csv"' in l)
    for command in (["check", policy], ["run", policy, SAMPLE / "region_product.csv"]):
        code, out, err = run_cli(capsys, *command)
        assert code == 1, command
        shown_text = out + err
        assert re.search(rf"region_product\.pk:{line}:\d+: error: {re.escape(message)}", shown_text), shown_text
        assert shown_text.count("error:") == 1 and "Traceback" not in shown_text


def test_a_missing_lookup_file_is_a_located_error(tmp_path, capsys):
    shutil.copy(POLICIES / "region_product.pk", tmp_path)
    shutil.copy(POLICIES / "regions.csv", tmp_path)
    code, out, err = run_cli(capsys, "check", tmp_path / "region_product.pk")
    assert code == 1
    assert re.search(r"region_product\.pk:\d+:\d+: error: lookup file products\.csv not found", out + err)


def test_a_region_missing_from_the_lookup_file_is_a_row_error(tmp_path, capsys):
    data = (SAMPLE / "region_product.csv").read_text(encoding="utf-8")
    data = re.sub(r"^(E007,[^,]*,[^,]*,[^,]*,)[^,]*,", r"\1东北,", data, flags=re.M)
    path = tmp_path / "data.csv"
    path.write_text(data, encoding="utf-8")
    code, out, err = run_cli(capsys, "run", POLICIES / "region_product.pk", path)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Excel row 8 (E007)" in errors[0] and "regions.csv has no row for region '东北'" in errors[0]


def test_a_cycle_across_employees_is_rejected_by_check(tmp_path, capsys):
    policy = tmp_path / "cycle.pk"
    policy.write_text("input\n  id: text key\n  partner: text\n  own_score: number 0 to 100\n"
                      "# 30% of the KPI tied to the partner's KPI: each depends on the other's\n"
                      "kpi = 70% * own_score + 30% * kpi[partner]\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "check", policy)
    assert code == 1
    assert "cycle.pk:6:1: error: these definitions depend on each other: kpi → kpi [cycle]" in out + err
    assert "Traceback" not in out + err
