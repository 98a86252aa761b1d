"""The language, construct by construct: small policies and the exact values they must give."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from pkrules.language.diagnostics import PolicyError
from pkrules.language.compile import compile_policy
from pkrules.engine.exact import evaluate


def run(text: str, rows: list[dict]) -> tuple[dict, list]:
    graph = compile_policy(text)
    results = evaluate(graph, rows)
    return results.columns, results.errors


HEAD = """input
  id: text key
  team: text
  x: number
  sales: money >= 0
"""


def people(*values, team="T") -> list[dict]:
    return [{"id": f"P{i}", "team": team, "x": F(x), "sales": F(s)} for i, (x, s) in enumerate(values, start=1)]


def test_literals_hr_types():
    cols, _ = run(HEAD + "a = 50万 + 1.2亿 + 480,000 + ¥5000 + 5000元\nb = 88% * 100\nc = 869/9\n", people((0, 0)))
    assert cols["a"] == [F(500_000 + 120_000_000 + 480_000 + 5000 + 5000)]
    assert cols["b"] == [F(88)]
    assert cols["c"] == [F(869, 9)]


def test_exact_arithmetic_keeps_fractions_and_rounds_half_up_only_where_written():
    cols, _ = run(HEAD + "a = x / 30\nb = round(x / 8, 0.01)\nc = round(-x / 8, 0.01)\nd = floor(x / 8, 0.1)\ne = ceil(x / 8, 0.1)\n",
                  people((28, 0), (1, 0)))
    assert cols["a"] == [F(14, 15), F(1, 30)]
    assert cols["b"] == [F(350, 100), F(13, 100)]  # 0.125 → 0.13 (half up)
    assert cols["c"] == [F(-350, 100), F(-13, 100)]  # -0.125 → -0.13 (away from zero)
    assert cols["d"] == [F(35, 10), F(1, 10)]
    assert cols["e"] == [F(35, 10), F(2, 10)]


def test_comparisons_logic_and_if():
    text = HEAD + ("a = if 80 <= x < 90 then 1 else 0\n"
                   "b = if x between 80 and 89 and not (x = 85) then 1 else 0\n"
                   "c = if x in (1, 2, 3) or x >= 100 then 1 else 0\n"
                   "d = if x > 90 then 3 else if x > 80 then 2 else 1\n"
                   "e = if x ≥ 90 then 1 else 0\n")
    cols, _ = run(text, people((80, 0), (85, 0), (89.5, 0), (90, 0), (2, 0), (100, 0)))
    assert cols["a"] == [1, 1, 1, 0, 0, 0]
    assert cols["b"] == [1, 0, 0, 0, 0, 0]  # 89.5 is not between 80 and 89: the documents' band gap
    assert cols["c"] == [0, 0, 0, 0, 1, 1]
    assert cols["d"] == [1, 2, 2, 2, 1, 3]
    assert cols["e"] == [0, 0, 0, 1, 0, 1]


def test_first_match_unique_and_collect_sum_tables():
    text = HEAD + """
band
  IF x >= 90 THEN band 3
  IF x >= 80 THEN band 2
  OTHERWISE band 1
grade (unique)
  IF x >= 90 THEN grade 3
  IF x >= 80 and x < 90 THEN grade 2
  IF x < 80 THEN grade 1
points (collect sum)
  IF x >= 80 THEN points 5
  IF sales > 100 THEN points 3
  IF x < 50 THEN points -2
"""
    cols, errors = run(text, people((95, 200), (85, 0), (40, 50)))
    assert errors == []
    assert cols["band"] == [3, 2, 1]
    assert cols["grade"] == [3, 2, 1]
    assert cols["points"] == [8, 5, -2]


# Tables over one value are checked statically (tests/test_analysis.py); these rows test two
# values at once, which the analysis leaves alone, so the evaluator must catch the problem per row.


def test_unique_table_with_overlapping_rows_is_a_row_error():
    text = HEAD + "grade (unique)\n  IF x >= 80 THEN grade 2\n  IF sales >= 90 THEN grade 3\n"
    cols, errors = run(text, people((95, 100), (85, 0)))
    assert cols["grade"] == [None, 2]
    assert len(errors) == 1
    assert errors[0].node == "grade" and errors[0].row == 1
    assert "rows on lines 7 and 8 of grade both apply" in errors[0].message


def test_first_match_without_otherwise_reports_the_gap_per_row():
    text = HEAD + "band\n  IF x >= 90 THEN band 3\n  IF x >= 80 and sales <= 89 THEN band 2\n"
    cols, errors = run(text, people((85, 100), (95, 0)))
    assert cols["band"] == [None, 3]
    assert errors[0].message == "no row of band applies (x = 85, sales = 100.00)"


def test_lookups_by_enum_text_and_default():
    text = """input
  id: text key
  level: 新人 | 骨干 | 经理
  region: text
base by level: 新人 5000, 骨干 8000, 经理 12000
coef by region
  "华东" 1.1
  "华南" 1.0
  OTHERWISE 0.9
strict by region: "华东" 1, "华南" 2
"""
    graph = compile_policy(text)
    results = evaluate(graph, [{"id": "a", "level": "骨干", "region": "华东"}, {"id": "b", "level": "新人", "region": "西北"}])
    assert results.columns["base"] == [8000, 5000]
    assert results.columns["coef"] == [F(11, 10), F(9, 10)]
    assert results.columns["strict"] == [1, None]
    assert results.errors[0].message == "no value of strict for region '西北'"


def test_weighted_scorecard():
    text = HEAD + "score = weighted\n  x 70%\n  y 30%\ny = 100\n"
    cols, _ = run(text, people((80, 0)))
    assert cols["score"] == [F(86)]


@pytest.mark.parametrize("sales,marginal,whole", [
    (0, 0, 0),
    (500_000, 5000, 5000),           # a limit belongs to its band
    (500_001, F(500002, 100), F(1000002, 100)),
    (1_000_000, 15000, 20000),
    (1_200_000, 21000, 36000),
])
def test_marginal_and_whole_amount_tiers(sales, marginal, whole):
    text = HEAD + """m = tiered marginal on sales
  up to 50万 1%
  up to 100万 2%
  above 3%
w = tiered whole on sales: up to 50万 1%, up to 100万 2%, above 3%
cn = tiered marginal on sales
  50万 以内 1%
  100万 以内 2%
  100万 以上 3%
"""
    cols, _ = run(text, people((0, sales)))
    assert cols["m"] == [marginal]
    assert cols["w"] == [whole]
    assert cols["cn"] == [marginal]


def test_population_terms_over_everyone_and_within_groups():
    text = HEAD + """total_sales = sum sales
team_sales = sum sales within team
team_avg = avg x within team
team_size = count within team
big = count where sales >= 100 within team
low = min x within team
high = max x
share = sales / sum sales within team
"""
    rows = people((1, 100), (2, 300), team="A") + [{"id": "Q1", "team": "B", "x": F(7), "sales": F(50)}]
    cols, _ = run(text, rows)
    assert cols["total_sales"] == [450, 450, 450]
    assert cols["team_sales"] == [400, 400, 50]
    assert cols["team_avg"] == [F(3, 2), F(3, 2), 7]
    assert cols["team_size"] == [2, 2, 1]
    assert cols["big"] == [2, 2, 0]
    assert cols["low"] == [1, 1, 7]
    assert cols["high"] == [7, 7, 7]
    assert cols["share"] == [F(1, 4), F(3, 4), 1]


def test_dense_rank_and_top_with_ties_at_the_cut_off():
    text = HEAD + """r = rank x
ra = rank x ascending
t = x in top 10%
t2 = x in top 2
b = x in bottom 25%
"""
    xs = [100, 99, 99, 98, 97, 96, 95, 94, 93, 92, 91]  # 11 people: top 10% = ceil(1.1) = 2 places
    cols, _ = run(text, people(*[(x, 0) for x in xs]))
    assert cols["r"] == [1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert cols["ra"] == [10, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert cols["t"] == [True, True, True] + [False] * 8  # 99 and 99 tie at the cut-off: both in
    assert cols["t2"] == [True, True, True] + [False] * 8
    assert cols["b"] == [False] * 8 + [True] * 3  # 25% of 11 → 3 places


def test_split_to_the_cent_by_largest_remainder_ties_by_key():
    text = HEAD + "fund = split ¥100 by x within team\n"
    rows = [{"id": k, "team": "T", "x": F(1), "sales": F(0)} for k in ("c", "a", "b")]
    cols, _ = run(text, rows)
    # 100 / 3 = 33.333…: one cent left over goes to the smallest key, 'a'
    assert cols["fund"] == [F(3333, 100), F(3334, 100), F(3333, 100)]
    assert sum(cols["fund"]) == 100


def test_split_with_zero_weights_pays_nothing_and_unrounded_pool_is_a_row_error():
    text = HEAD + "fund = split ¥100 by sales within team\nodd = split sum x / 3 by x\n"
    cols, errors = run(text, people((1, 0), (1, 0)))
    assert cols["fund"] == [0, 0]
    assert cols["odd"] == [None, None]
    assert "not a whole number of 1/100" in errors[0].message


def test_chinese_keywords_and_identifiers():
    text = """政策 "示例" 版本 "1"
输入
  工号: 文本 主键
  职级: 新人 | 骨干
  销售额: 金额 >= 0
  回款率: 百分比 0% 至 100%
  首单: 是否
系数
  如果 回款率 >= 90% 且 销售额 > 0 则 系数 1.2
  否则 系数 1
基数 按 职级: 新人 ¥5000, 骨干 ¥8000
奖金 = 四舍五入(基数 * 系数, 0.01)
首单奖 = 如果 首单 则 ¥1000 否则 0
名次 = 排名 销售额
"""
    graph = compile_policy(text, "zh.pk")
    assert graph.policy.language == "zh"
    results = evaluate(graph, [
        {"工号": "1", "职级": "骨干", "销售额": F(100), "回款率": F(9, 10), "首单": True},
        {"工号": "2", "职级": "新人", "销售额": F(0), "回款率": F(1), "首单": False},
    ])
    assert results.columns["奖金"] == [9600, 5000]
    assert results.columns["首单奖"] == [1000, 0]
    assert results.columns["名次"] == [1, 2]


def test_card_example_parses_as_written():
    graph = compile_policy(HEAD + "coef\n  IF score >= 90 THEN coef 1.2\n  OTHERWISE coef 0\nscore = x\n")
    assert [n.name for n in graph.definitions] == ["coef", "score"]
    assert graph.order == ["score", "coef"]


def test_units_are_checked():
    with pytest.raises(PolicyError) as info:
        compile_policy("input\n  id: text key\n  sales: money\n  rate: percent\na = sales + rate\nb = sales / sales + rate\n")
    messages = [d.message for d in info.value.diagnostics if d.is_error]
    assert messages == ["cannot add money (sales) and a percentage (rate)"]  # money / money is a ratio: b is fine


PARTNERS = """input
  id: text key
  team: text
  partner: text
  own: number 0 to 100
team_avg = avg own within team
kpi = 70% * own + 30% * own[partner]
opponent by team: "A" "B", "B" "A"
beat = if team_avg > team_avg[team = opponent] then 1 else 0
"""


def partner_rows(*rows):
    return [{"id": i, "team": t, "partner": p, "own": F(o)} for i, t, p, o in rows]


def test_values_of_another_employee_and_of_another_group():
    cols, errors = run(PARTNERS, partner_rows(("1", "A", "2", 80), ("2", "A", "1", 90), ("3", "B", "4", 70), ("4", "B", "3", 60)))
    assert errors == []
    assert cols["kpi"] == [F(83), F(87), F(67), F(63)]
    assert cols["beat"] == [1, 1, 0, 0]


def test_a_missing_partner_is_one_row_error_and_the_rest_still_compute():
    cols, errors = run(PARTNERS, partner_rows(("1", "A", "2", 80), ("2", "A", "1", 90), ("3", "B", "9", 70), ("4", "B", "3", 60)))
    assert [(e.row, e.node, e.message) for e in errors] == [(3, "kpi", "no employee with id '9' (partner)")]
    assert cols["kpi"] == [F(83), F(87), None, F(63)]
    assert cols["beat"] == [1, 1, 0, 0]  # beat does not depend on kpi: row 3 still gets it


def test_a_value_that_depends_on_itself_through_another_employee_is_a_cycle():
    with pytest.raises(PolicyError) as info:
        compile_policy("input\n  id: text key\n  partner: text\n  own: number\nkpi = own + 10% * kpi[partner]\n")
    assert [d.code for d in info.value.diagnostics] == ["cycle"]


def test_lookup_from_a_csv_file_next_to_the_policy(tmp_path):
    (tmp_path / "regions.csv").write_text("region,region_coef\n华东,1.1\n华南,1.0\n", encoding="utf-8")
    policy = tmp_path / "p.pk"
    policy.write_text("input\n  id: text key\n  region: text\n  sales: money\n"
                      "region_coef by region from \"regions.csv\"\nadjusted = sales * region_coef\n", encoding="utf-8")
    from pkrules.language.compile import compile_file

    graph = compile_file(policy)
    results = evaluate(graph, [{"id": "1", "region": "华东", "sales": F(100)}, {"id": "2", "region": "东北", "sales": F(100)}])
    assert results.columns["adjusted"] == [F(110), None]
    assert results.errors[0].message == "regions.csv has no row for region '东北'"


PERIODS = """input
  id: text key
  month: whole period
  team: text
  achievement: percent
score = achievement * 100
progress = score - previous(score, 0)
below = consecutive(achievement < 100%)
team_best = max score within team
total_score = sum score within id across periods
"""


def test_several_periods_previous_consecutive_and_population_terms_per_period():
    rows = [{"id": k, "month": F(m), "team": "T", "achievement": F(a, 100)} for k, m, a in [
        ("A", 1, 90), ("A", 2, 80), ("A", 3, 95), ("B", 1, 100), ("B", 2, 70), ("B", 3, 110), ("B", 4, 100),
        ("A", 5, 50)]]
    cols, errors = run(PERIODS, rows)
    assert errors == []
    # Periods follow the order of the data's periods; A has no row for month 4, so month 5 has
    # no previous value (the default 0) and starts a new streak.
    assert cols["progress"] == [90, -10, 15, 100, -30, 40, -10, 50]
    assert cols["below"] == [1, 2, 3, 0, 1, 0, 0, 1]
    assert cols["team_best"] == [100, 80, 110, 100, 80, 110, 100, 50]  # within the team and the month
    assert cols["total_score"] == [315, 315, 315, 380, 380, 380, 380, 315]


def test_previous_without_a_default_is_a_row_error_in_the_first_period():
    cols, errors = run(PERIODS.replace("previous(score, 0)", "previous(score)"),
                       [{"id": "A", "month": F(1), "team": "T", "achievement": F(1)}])
    assert cols["progress"] == [None]
    assert errors[0].message == "previous(score): this is the first period; give a default: previous(score, 0)"


def test_previous_needs_a_period_input():
    with pytest.raises(PolicyError) as info:
        compile_policy("input\n  id: text key\n  x: number\ny = previous(x, 0)\n")
    assert [d.code for d in info.value.diagnostics] == ["no-period"]


def test_daily_data_grouped_by_week_and_month():
    import datetime as dt

    text = """input
  id: text key
  day: date period
  visits: whole >= 0
daily_rank = rank visits
weekly = sum visits within (id, week(day)) across periods
monthly = sum visits within (id, month(day)) across periods
"""
    days = [dt.date(2024, 7, 1), dt.date(2024, 7, 2), dt.date(2024, 7, 8)]
    rows = [{"id": k, "day": d, "visits": F(v)} for k, d, v in [
        ("A", days[0], 3), ("B", days[0], 5), ("A", days[1], 4), ("B", days[1], 4), ("A", days[2], 9), ("B", days[2], 1)]]
    cols, errors = run(text, rows)
    assert errors == []
    assert cols["daily_rank"] == [2, 1, 1, 1, 1, 2]
    assert cols["weekly"] == [7, 9, 7, 9, 9, 1]
    assert cols["monthly"] == [16, 10, 16, 10, 16, 10]


RATINGS = """input
  id: text key

input ratings by employee
  employee: text
  rater_role: 上级 | 同事 | 下属 | 客户
  rating: number 0 to 100

boss = avg rating from ratings where rater_role = 上级
peers = avg rating from ratings where rater_role = 同事 and rating > 0
raters = count from ratings
feedback_360 = weighted
  boss 60%
  peers 40%
"""


def test_a_related_table_with_several_rows_per_employee():
    graph = compile_policy(RATINGS)
    ratings = [{"employee": e, "rater_role": r, "rating": F(v)} for e, r, v in [
        ("A", "上级", 90), ("A", "同事", 80), ("A", "同事", 70), ("B", "上级", 60), ("B", "同事", 0)]]
    results = evaluate(graph, [{"id": "A"}, {"id": "B"}], related={"ratings": ratings})
    assert results.columns["boss"] == [90, 60]
    assert results.columns["peers"] == [75, None]  # B's only peer rating is 0, filtered out
    assert results.errors[0].message == "avg of no rows: this employee has no matching rows in ratings"
    assert results.columns["raters"] == [3, 2]
    assert results.columns["feedback_360"] == [84, None]


def test_inside_from_only_row_by_row_terms_are_allowed():
    with pytest.raises(PolicyError) as info:
        compile_policy(RATINGS + "bad = avg (rating - avg rating from ratings) from ratings\n")
    assert "related-term" in [d.code for d in info.value.diagnostics]
