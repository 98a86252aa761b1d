"""A statement for one employee shows only what that employee may see (engine/visibility.py).

The property, over every shipped policy and every employee of its sample: no other
employee's id, name or value appears in any statement, and no group figure the policy
does not publish (a team's total sales, the company's budget) appears either. It is
checked twice: on the explanation tree the statement is rendered from (every value
shown is the employee's own, a rule of the policy, or published), and on the text
itself (other employees' ids, names and distinctive amounts are searched for).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from pkrules.cli import main
from pkrules.engine.backend import evaluate
from pkrules.engine.display import display_units
from pkrules.engine.explain import NAME_INPUTS, explain
from pkrules.engine.population import open_population
from pkrules.engine.render import render_markdown
from pkrules.engine.visibility import GROUP, figure_kinds, published
from pkrules.language.compile import compile_file
from pkrules.values.format import format_people

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "policies" / "sample"
POLICIES = sorted((ROOT / "policies").glob("*.pk"))


def _sample(policy: Path):
    """The policy's sample data and the files of its related tables, or None."""
    from test_columnar import _samples_for

    graph = compile_file(policy)
    related = {name: SAMPLE / f"{name}.csv" for name in graph.related}
    if any(not path.exists() for path in related.values()):
        return None
    if graph.related:
        stem = SAMPLE / f"{policy.name.removesuffix('.pk')}.csv"
        return (stem, related) if stem.exists() else None
    found = _samples_for(policy)
    return (found[0], {}) if found else None


def _results(policy: Path):
    sample = _sample(policy)
    if sample is None:
        pytest.skip(f"no sample data for {policy.name}")
    data, related = sample
    graph = compile_file(policy)
    population = open_population(graph, str(data), {k: str(v) for k, v in related.items()}, None, None)
    return graph, evaluate(graph, population, "exact")


def _tokens(value: object, unit: str) -> set[str]:
    """How a value reads in a statement, when that is distinctive enough to be searched for
    (names and ids; amounts of at least ¥1,000.00; other numbers with five digits or more)."""
    if value is None or isinstance(value, bool):
        return set()
    if isinstance(value, str):
        return {value} if len(value) >= 2 else set()
    if not isinstance(value, (int, Fraction)):
        return set()
    text = format_people(value, unit).lstrip("≈")
    digits = len(re.sub(r"\D", "", text))
    return {text} if digits >= (6 if unit == "money" else 5) else set()


def _constants(graph) -> set[str]:
    """Every number written in the policy (a band's limit, a lookup's amount) as a statement may show it."""
    from pkrules.language import ast
    from pkrules.language.builtins import constant_value

    values = set()
    stack = list(graph.policy.declarations)
    while stack:
        item = stack.pop()
        if isinstance(item, (ast.Number, ast.Percent)):
            values.add(constant_value(item))
        stack.extend(ast.children(item))
        if isinstance(item, ast.Tiered):  # a full band's amount is the rule's own too: (50万 − 0) × 1%
            from pkrules.language.builtins import tiers_of

            lower = Fraction(0)
            for upper, rate in tiers_of(item):
                if upper is not None:
                    values.add((upper - lower) * rate)
                    lower = upper
    for table, _ in graph.lookup_tables.values():
        values.update(v for v in table.values() if isinstance(v, (int, Fraction)))
    return {t for v in values if v is not None for unit in ("money", "percent", "number") for t in _tokens(v, unit)}


def _appears(token: str, text: str) -> bool:
    return re.search(r"(?<![\w.,])" + re.escape(token) + r"(?![\w]|[.,]\d)", text) is not None


class Leaks:
    """Search one policy's statements for what they must not show."""

    def __init__(self, graph, results):
        self.graph, self.results = graph, results
        self.units, self.kinds = display_units(graph), figure_kinds(graph)
        self.published = published(graph)
        self.outputs = set(graph.outputs())
        self.source = graph.source.text
        self.rows_of: dict[object, list[int]] = {}
        for i, key in enumerate(results.keys):
            self.rows_of.setdefault(key, []).append(i)
        self.names = [n for n in NAME_INPUTS if n in graph.nodes]
        self.constants = _constants(graph)  # the rules' own figures (50万, 5000元, 88%) in every unit
        # published figures are public, whoever's row they are read at
        self.public = self._values(range(results.size), lambda n: n in self.published)

    def _values(self, rows, chosen) -> set[str]:
        out: set[str] = set()
        for i in rows:
            for name in self.graph.nodes:
                if chosen(name):
                    out |= _tokens(self.results.columns[name][i], self.units.get(name, "other"))
        return out

    def find(self, key: object, text: str, their_results: bool = True) -> list[str]:
        """What the statement of employee `key` shows that it must not.

        their_results: search for other employees' results too, not only their data (a result of
        theirs can equal a step of this statement by chance in a population made up at random)."""
        rows = self.rows_of[key]
        mine = self._values(rows, lambda n: self.kinds.get(n) != GROUP or n in self.published or n in self.outputs)
        allowed = mine | self.public | self.constants | {str(key)}
        found = []
        for other, their_rows in self.rows_of.items():
            if other == key:
                continue
            # their data and their results (values in between can meet a step of this statement by chance:
            # ¥500,000.00 × 2% is ¥10,000.00, someone's special award; the tree check above covers them)
            theirs = self._values(their_rows, lambda n: self.graph.nodes[n].is_input
                                  or (their_results and n in self.outputs)) | {str(other)}
            theirs |= {str(self.results.columns[n][j]) for n in self.names for j in their_rows}
            for token in sorted(theirs - allowed):
                if token not in self.source and _appears(token, text):
                    found.append(f"{other}'s {token!r}")
        unpublished = self._values(rows, lambda n: self.kinds.get(n) == GROUP and n not in self.published
                                   and n not in self.outputs) - allowed
        found += [f"the unpublished group figure {t!r}" for t in sorted(unpublished)
                  if t not in self.source and _appears(t, text)]
        return found


def _tree_problems(graph, explanation) -> list[str]:
    """Nodes shown in a statement that are neither the employee's own, a rule, an output nor published."""
    kinds, public, outputs = figure_kinds(graph), published(graph), set(graph.outputs())
    problems = []
    stack = [explanation.root]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.withheld:
            assert not node.children and not node.steps, node.name  # nothing below a withheld figure
            continue
        if not node.own and node.name not in public:
            problems.append(f"{node.name} of {node.context}")
        elif node.kind != "input" and kinds.get(node.name) == GROUP and node.name not in public | outputs:
            problems.append(f"the group figure {node.name}")
    return problems


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_no_statement_shows_another_employees_data(policy):
    graph, results = _results(policy)
    leaks = Leaks(graph, results)
    main_output = graph.main_output()
    failed = results.failed_rows()
    for i in range(results.size):
        if i in failed:
            continue
        explanation = explain(results, i, main_output, audience="employee")
        assert not _tree_problems(graph, explanation), (policy.name, results.keys[i], _tree_problems(graph, explanation))
        text = render_markdown(explanation)
        found = leaks.find(results.keys[i], text)
        assert not found, f"{policy.name}: the statement of {results.keys[i]} shows {found[:5]}"


@pytest.mark.parametrize("policy", ["pools.pk", "partners.pk"])
def test_the_search_finds_what_hr_explanations_show(policy):
    # The explanations HR and managers read show everything; the same search must find it there,
    # or the property above would hold for want of looking.
    graph, results = _results(ROOT / "policies" / policy)
    leaks = Leaks(graph, results)
    found = []
    for i in range(results.size):
        found += leaks.find(results.keys[i], render_markdown(explain(results, i, graph.main_output())))
        if found:
            break
    assert found, policy


def test_statements_written_by_run_show_no_company_totals(tmp_path, capsys):
    # pools.pk scales the sales bonuses to a budget: 1.5% of everyone's sales; the budget and the
    # company-wide cost are not published, the team fund's pool is
    folder = tmp_path / "statements"
    assert main(["run", str(ROOT / "policies" / "pools.pk"), str(SAMPLE / "pools.csv"), "--statements", str(folder)]) == 0
    capsys.readouterr()
    graph, results = _results(ROOT / "policies" / "pools.pk")
    budget = format_people(results.columns["bonus_budget"][0], "money")
    cost = format_people(results.columns["bonus_cost"][0], "money")
    texts = {path.stem: path.read_text(encoding="utf-8") for path in folder.glob("*.md")}
    assert len(texts) == results.size
    for key, text in texts.items():
        assert budget not in text and cost not in text, key
        assert "Not published by the policy (group figures): bonus_cost, bonus_budget" in text or \
            "bonus_cost" not in text, key
    pool_of_e001 = format_people(results.columns["team_pool"][results.index_of("E001")], "money")
    assert pool_of_e001 in texts["E001"]  # published: the team fund's pool


def test_the_publish_line_is_formatted_diffed_and_no_part_of_evaluation(tmp_path, capsys):
    from pkrules.engine.plan import compile_plan
    from pkrules.language.compile import compile_policy
    from pkrules.language.fmt import format_source
    from pkrules.language.source import SourceFile
    from pkrules.review.diff import diff_policies

    text = ("输入\n  工号：文本 主键\n  小组：文本\n  销售额：金额 ≥ 0\n\n公布：团队奖金池 ，\n\n"
            "团队奖金池 = 四舍五入（5% × 合计 销售额 组内 小组，0.01）\n团队基金 = 分配 团队奖金池 按 销售额 组内 小组\n")
    formatted = format_source(SourceFile("p.pk", text))
    assert "\n公布 团队奖金池\n" in formatted
    graph = compile_policy(formatted)
    assert published(graph) == {"团队奖金池"}
    compile_plan(graph)  # the fast path plans it: which figures a statement shows is no part of evaluation
    without = compile_policy(formatted.replace("公布 团队奖金池\n", ""))
    changes = diff_policies(without.policy, graph.policy).changes
    assert [c.kind for c in changes] == ["published"]


# ---- the same property over populations drawn from the samples -------------------------------------------
#
# The samples are one population each; a leak can hide in a coincidence of theirs (two teams of the
# same size, an amount no one else has). Hypothesis draws others from them: every employee renamed,
# every amount reassigned to someone else and moved by a few cents, teams and grades reshuffled
# (so groups change size and members). Whatever it draws, a statement shows its employee's figures
# only. Columns that name other employees (a partner's id) keep their values: they say who is whose.
# The text is searched for other employees' names, ids and data, and for unpublished group figures;
# not for their results, which in a made-up population can equal a step of one's own by chance
# (¥50,000.50 × 2% = ¥1,000.01, someone's total: found so). The tree check covers results.
# Failing cases are not shrunk: a population of forty is slow to shrink and reads well as drawn.

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许"
DRAWN = settings(max_examples=6, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _sample_table(policy: Path):
    """(graph, header, records, related rows) of a policy's sample, the records as CSV text cells."""
    import csv as csv_module

    from pkrules.io.tables import read_csv

    sample = _sample(policy)
    if sample is None:
        return None
    data, related_files = sample
    graph = compile_file(policy)
    records = list(csv_module.reader(data.read_text(encoding="utf-8-sig").splitlines()))
    related = {name: read_csv(graph, path, table=name).rows for name, path in related_files.items()}
    return graph, records[0], records[1:], related


def _column_roles(graph, header: list[str], records: list[list[str]]) -> dict[int, str]:
    """For each column of the sample: money, number, name, shuffle (a text or one-of input), or keep."""
    from pkrules.values.types import ENUM, MONEY, NUMERIC, TEXT

    aliases = {(n.decl.column or n.name): n.name for n in graph.inputs}
    keys = {r[header.index(next(c for c, n in aliases.items() if n == graph.key))] for r in records}
    roles = {}
    for index, column in enumerate(header):
        name = aliases.get(column)
        if name is None or name in (graph.key, graph.period):
            roles[index] = "keep"
            continue
        kind = graph.nodes[name].type.kind
        values = {r[index] for r in records}
        if name in NAME_INPUTS:
            roles[index] = "name"
        elif kind == MONEY:
            roles[index] = "money"
        elif kind in NUMERIC:
            roles[index] = "number"
        elif kind in (TEXT, ENUM) and not values & keys:  # a partner's id says whose: kept
            roles[index] = "shuffle"
        else:
            roles[index] = "keep"
    return roles


@st.composite
def drawn_population(draw, table):
    """CSV text of a population drawn from a sample (see above)."""
    import csv as csv_module
    import io as io_module

    graph, header, records, _ = table
    roles = _column_roles(graph, header, records)
    key_column = [i for i, r in roles.items() if r == "keep" and header[i] in
                  {graph.key, graph.nodes[graph.key].decl.column}][0]
    keys = sorted({r[key_column] for r in records})
    given_names = draw(st.lists(st.text(alphabet="嘉琪浩然子轩欣怡梓涵宇航思源佳怡俊杰", min_size=2, max_size=3),
                                min_size=len(keys), max_size=len(keys)))
    # a surname per employee, all different: names never coincide
    names = {key: SURNAMES[i % len(SURNAMES)] + given + "丨" * (i // len(SURNAMES))
             for i, (key, given) in enumerate(zip(keys, given_names))}
    columns = {i: [r[i] for r in records] for i in range(len(header))}
    for i, role in roles.items():
        if role in ("money", "number", "shuffle"):
            columns[i] = draw(st.permutations(columns[i]))
        if role == "money":
            cents = draw(st.lists(st.integers(0, 99), min_size=len(records), max_size=len(records)))
            columns[i] = [_decimal(Fraction(text) + Fraction(c, 100)) if text.strip() else text
                          for text, c in zip(columns[i], cents)]
        if role == "name":
            columns[i] = [names[r[key_column]] for r in records]
    out = io_module.StringIO()
    writer = csv_module.writer(out)
    writer.writerow(header)
    writer.writerows(zip(*(columns[i] for i in range(len(header)))))
    return out.getvalue()


def _decimal(value: Fraction) -> str:
    from pkrules.values.numbers import format_exact

    return format_exact(value)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_no_statement_shows_another_employees_data_in_populations_drawn_from_the_samples(policy):
    from pkrules.engine.population import Population
    from pkrules.io.tables import read_csv

    table = _sample_table(policy)
    if table is None:
        pytest.skip(f"no sample data for {policy.name}")
    graph, related = table[0], table[3]

    @DRAWN
    @given(drawn_population(table))
    def check(text):
        data = read_csv(graph, "drawn.csv", text=text)
        assert not data.errors, [e.describe("drawn.csv") for e in data.errors[:3]]
        results = evaluate(graph, Population(graph, data.rows, data.row_numbers, related), "exact")
        leaks = Leaks(graph, results)
        failed = results.failed_rows()
        for i in range(results.size):
            if i in failed:
                continue
            explanation = explain(results, i, graph.main_output(), audience="employee")
            assert not _tree_problems(graph, explanation), (results.keys[i], _tree_problems(graph, explanation))
            found = leaks.find(results.keys[i], render_markdown(explanation), their_results=False)
            assert not found, f"the statement of {results.keys[i]} shows {found[:5]}"

    check()


@pytest.mark.parametrize("policy", ["pools.pk", "partners.pk"])
def test_the_search_finds_what_hr_explanations_show_in_drawn_populations(policy):
    # As above: the explanations HR reads show others' data and group figures, and the search finds them.
    from pkrules.engine.population import Population
    from pkrules.io.tables import read_csv

    table = _sample_table(ROOT / "policies" / policy)
    graph, related = table[0], table[3]

    @DRAWN
    @given(drawn_population(table))
    def check(text):
        data = read_csv(graph, "drawn.csv", text=text)
        results = evaluate(graph, Population(graph, data.rows, data.row_numbers, related), "exact")
        leaks = Leaks(graph, results)
        assert any(leaks.find(results.keys[i], render_markdown(explain(results, i, graph.main_output())),
                              their_results=False) for i in range(results.size))

    check()


@pytest.mark.parametrize("text, header, value", [
    ("input\n  id: text key\n  sales: money\n\npublish = sales * 2%\ntotal = publish + 1\n", "id,sales", "total"),
    ("输入\n  工号：文本 主键\n  销售额：金额\n\n公布 = 销售额 × 2%\n总额 = 公布 + 1\n", "工号,销售额", "总额"),
])
def test_a_policy_with_a_definition_called_publish_reads_as_before(text, header, value, tmp_path, capsys):
    # `publish` (公布) starts the publish line only at the start of a line before a name or a colon;
    # a policy written before the publish line existed, with a value of that name, is unchanged
    from pkrules.language.compile import compile_policy

    graph = compile_policy(text)
    assert published(graph) == set() and value in graph.nodes
    policy, data = tmp_path / "p.pk", tmp_path / "d.csv"
    policy.write_text(text, encoding="utf-8")
    data.write_text(f"{header}\nA,100000\n", encoding="utf-8")
    assert main(["run", str(policy), str(data), "--columns", value]) == 0
    assert "2,001" in capsys.readouterr().out
