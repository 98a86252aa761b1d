"""Random edits of valid policies never produce a Python traceback.

Take real policy texts (policies/*.pk and a few small ones below), apply random
token- and line-level edits, and check that the checker always answers with
diagnostics: no exception of any kind, an error diagnostic whenever there is no
graph, diagnostics that render, error spans on lines that exist. When an edited
policy still compiles, evaluating it on the sample data must not raise either.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkrules.cli import main as cli_main
from pkrules.io.tables import read_csv
from pkrules.errors import DataError
from pkrules.language.diagnostics import render_all
from pkrules.language.compile import check_source
from pkrules.engine.exact import evaluate
from pkrules.engine.population import MissingTable
from pkrules.language.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
# employees.csv for the English column names, employees.zh.csv (if there) for the Chinese ones
SAMPLES = sorted((ROOT / "policies" / "sample").glob("*.csv"))

SMALL_POLICIES = [
    # (they use the sample data's column names, so edited versions that still
    # compile are evaluated on policies/sample/employees.csv too)
    # a minimal policy with tables, lookups and an example
    '''policy "小例子" version "1"

input
  id: text key
  team: text
  level: 新人 | 骨干 | 经理
  sales: money >= 0
  sales_target: money > 0
  collection_rate: percent 0% to 100%

attain = min(sales / sales_target, 150%)
bonus = round(base * attain, 0.01)
base by level: 新人 ¥5000, 骨干 ¥8000, 经理 ¥12000
region_coef by team
  "华东一组" 1.1
  OTHERWISE 0.9

grade
  IF attain >= 1 THEN grade 3
  IF attain >= 80% THEN grade 2
  OTHERWISE grade 1
band (unique)
  IF attain >= 1 THEN band 2
  IF attain < 1 and collection_rate between 50% and 100% THEN band 1
  IF attain < 1 and collection_rate < 50% THEN band 0
points (collect sum)
  IF attain >= 80% THEN points 5
  IF level in (新人, 骨干) THEN points 1
  IF not (sales > 0) THEN points -2

example "one"
  id A1, team T, level 骨干, sales 50万, sales_target 50万, collection_rate 90%
  expect attain 1, bonus 8000.00, grade 3
''',
    # population terms: rank, top / bottom, sums and counts within a group, split
    '''policy "团队"

input
  id: text key
  team: text
  sales: money >= 0
  sales_target: money > 0

pool = round(5% * max(0, sum sales within team - sum sales_target within team), 0.01)
share = split pool by sales within team
place = rank sales within team
low_place = rank sales ascending
star = if sales in top 10% then ¥2000 else 0
weak = sales in bottom 25% within team
team_size = count within team
big = count where sales >= 50万 within team
mean_sales = sum sales within team / team_size
best = max sales within team
''',
    # Chinese keywords and punctuation, tiered and weighted definitions
    '''政策 “提成” 版本 “1”

输入：
  id： 文本 主键
  sales： 金额 >= 0
  visits： whole >= 0
  first_order: 是否

commission = tiered marginal on sales
  up to 50万   1%
  up to 100万  2%
  above        3%
flat = tiered whole on sales: up to 50万 1%, above 2%

score = weighted
  visits_score  40%
  sales_score   60%
visits_score = min（visits ／ 30， 1） × 100
sales_score = 如果 sales > 100万 则 100 否则 50
award = 如果 first_order 则 ¥1000 否则 0
奖金 = 四舍五入(commission + award, 0.01)
''',
    # the smallest thing that compiles
    '''input
  id: text key
  sales: money >= 0

y = sales * 2
''',
]


def _policy_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "policies").glob("*.pk"))]
    return texts + SMALL_POLICIES


POLICY_TEXTS = _policy_texts()

# A simple tokenizer for edits: runs of word characters, runs of spaces, or one
# other character (punctuation, operators, newlines). Not the real lexer on purpose.
TOKEN = re.compile(r"\w+|[ \t\u3000]+|\n|.", re.UNICODE)

INSERT_POOL = [
    "，", "：", "（", "）", "、", "。", "＝", "％", "\t", "\u3000", '"', "“", "”", "「", "'",
    "%", "万", "亿", "¥", "元", "#", "\\", "|", "(", ")", ":", ",", "=", ">=", "<", "*", "/",
    "-", "+", "0", "1.5", "100%", "\n", "\n  ", "\n    ", " ", "THEN", "IF", "如果", "则", "否则",
    "OTHERWISE", "else", "within", "by", "rank", "top", "split", "sum", "weighted", "tiered",
    "marginal", "up to", "above", "input", "policy", "example", "expect", "key", "text",
    "money", "percent", "whole", "yesno", "sales", "score", "team", "level", "\r", "\r\n", "é",
    "\ufeff", "𝔘", "\u2028", "\x0c", "\\\n", "min(", "max(", "round(", "in", "not", "and", "or", "between",
]


@st.composite
def edited_policy(draw) -> str:
    text = draw(st.sampled_from(POLICY_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        text = draw(one_edit(text))
    return text


@st.composite
def one_edit(draw, text: str) -> str:
    kind = draw(st.sampled_from(["del_tok", "dup_tok", "swap_tok", "del_line", "dup_line",
                                 "swap_line", "insert", "insert", "replace_tok", "indent"]))
    if kind in ("del_line", "dup_line", "swap_line", "indent"):
        lines = text.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "del_line":
            del lines[i]
        elif kind == "dup_line":
            lines.insert(i, lines[i])
        elif kind == "swap_line" and i + 1 < len(lines):
            j = draw(st.integers(i + 1, min(len(lines) - 1, i + 6)))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t", "    ", "\u3000"])) + lines[i].lstrip()
        return "\n".join(lines)
    tokens = TOKEN.findall(text)
    if not tokens:
        return draw(st.sampled_from(INSERT_POOL))
    i = draw(st.integers(0, len(tokens) - 1))
    if kind == "del_tok":
        del tokens[i]
    elif kind == "dup_tok":
        tokens.insert(i, tokens[i])
    elif kind == "swap_tok" and i + 1 < len(tokens):
        tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
    elif kind == "insert":
        tokens.insert(i, draw(st.sampled_from(INSERT_POOL)))
    elif kind == "replace_tok":
        tokens[i] = draw(st.one_of(st.sampled_from(INSERT_POOL), st.sampled_from(tokens)))
    return "".join(tokens)


_SAMPLE_TEXTS = [(path, path.read_text(encoding="utf-8")) for path in SAMPLES]


def assert_checks_cleanly(text: str):
    # named as if beside the shipped policies, so lookup files (regions.csv …) are found
    source = SourceFile(str(ROOT / "policies" / "fuzz.pk"), text)
    graph, diagnostics = check_source(source)  # must not raise, whatever the text
    assert isinstance(diagnostics, list)
    errors = [d for d in diagnostics if d.severity == "error"]
    if graph is None:
        assert errors, "no graph but no error diagnostic"
    rendered = render_all(source, diagnostics)
    assert isinstance(rendered, str)
    # the lexer counts lines by "\n" (a lone "\r", "\x0c" or "\u2028" does not start one)
    n_lines = len(text.split("\n"))
    for d in errors:
        assert d.message, d
        if d.span is not None:
            assert 1 <= d.span.line <= n_lines + 1, (d, n_lines)
    return graph, diagnostics


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(edited_policy())
def test_random_edits_never_raise(text):
    graph, _ = assert_checks_cleanly(text)
    if graph is None:
        return
    for path, data in _SAMPLE_TEXTS:
        try:
            population = read_csv(graph, path, text=data)
        except DataError:
            continue  # e.g. the edit renamed an input: the sample lacks that column
        if graph.related:  # a policy reading a related table is evaluated with its rows, never without
            with pytest.raises(MissingTable, match="reads the table"):
                evaluate(graph, population.rows, population.row_numbers)
            continue
        results = evaluate(graph, population.rows, population.row_numbers)  # row errors are collected
        assert isinstance(results.errors, list)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large,
                                                                   HealthCheck.function_scoped_fixture])
@given(text=edited_policy())
def test_cli_check_on_edited_policies_never_crashes(text, capsys, monkeypatch):
    monkeypatch.delenv("PKRULES_DEBUG", raising=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "edited.pk"
        path.write_text(text, encoding="utf-8")
        capsys.readouterr()
        code = cli_main(["check", str(path)])
        captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "internal error" not in captured.err
    if code == 1:
        assert "error:" in captured.err or "错误：" in captured.err  # an edited Chinese policy is told in Chinese


@pytest.mark.parametrize("text", POLICY_TEXTS, ids=[f"policy{i}" for i in range(len(POLICY_TEXTS))])
def test_unedited_policies_compile(text):
    graph, diagnostics = assert_checks_cleanly(text)
    assert graph is not None, render_all(SourceFile("p.pk", text), diagnostics)


@pytest.mark.parametrize("text", ["", "\n", "   \n\t\n", "#\n", "policy", "policy \"x\"",
                                  "input", "input\n", "input\n  id:", "（", "\ufeff", "x =",
                                  "x = 1\nx = 2\n", "\tinput\n", "a = b\nb = a\n",
                                  "input\n  id: text key\n  id: text\n"])
def test_tiny_broken_texts(text):
    assert_checks_cleanly(text)


BROKEN = {
    "missing_then.pk": "input\n  id: text key\n  x: money >= 0\n\nc\n  IF x > 1 c 2\n  OTHERWISE c 0\n",
    "unknown_name.pk": "input\n  id: text key\n  x: money >= 0\n\ny = z * 2\n",
    "bad_indent.pk": "input\n  id: text key\n    x: money >= 0\n\ny = x\n",
    "chinese_punct.pk": "input：\n  id： text key\n  x： money >= 0\n\ny = min（x，， 1）\n",
    "cycle.pk": "input\n  id: text key\n\na = b + 1\nb = a + 1\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_cli_check_on_broken_files(tmp_path, capsys, monkeypatch, name):
    monkeypatch.delenv("PKRULES_DEBUG", raising=False)
    path = tmp_path / name
    path.write_text(BROKEN[name], encoding="utf-8")
    code = cli_main(["check", str(path)])
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "error:" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "internal error" not in captured.err


def test_cli_check_on_all_broken_files_at_once(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PKRULES_DEBUG", raising=False)
    for name, text in BROKEN.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    code = cli_main(["check", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("error:") >= len(BROKEN)
    assert "Traceback" not in captured.err + captured.out


# An in-process caller that imported the CLI while stderr was redirected
# (pytest's capsys, contextlib.redirect_stderr, an embedding TUI) must still get
# messages on the current stderr, not a crash on the closed one. Run in a
# subprocess so the result does not depend on which test imported the CLI first.
def test_cli_in_process_after_stderr_was_redirected_at_import(tmp_path):
    path = tmp_path / "broken.pk"
    path.write_text(BROKEN["unknown_name.pk"], encoding="utf-8")
    script = (
        "import contextlib, io, sys\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stderr(buf):\n"
        "    from pkrules.cli import main\n"
        "buf.close()\n"
        f"sys.exit(main(['check', {str(path)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={"PATH": "", "PYTHONPATH": str(ROOT)}, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert "error:" in proc.stderr


# Only "\n" ends a line, for the parser and for excerpts alike: a lone "\r", a
# form feed, "\x85" or "\u2028" above the problem (here inside a comment) must
# not shift the excerpt to another line.
@pytest.mark.parametrize("separator", ["\r", "\x0c", "\u2028", "\x85"],
                         ids=["CR", "FF", "LS", "NEL"])
def test_excerpt_shows_the_line_the_span_names(separator):
    text = f"input\n  id: text key  # a{separator}b\n  x: money\n\ny = z * 2 + x\n"
    source = SourceFile("f.pk", text)
    graph, diagnostics = check_source(source)
    assert graph is None
    (undefined,) = [d for d in diagnostics if d.is_error]
    assert undefined.span is not None and undefined.span.line == 5
    assert " 5 | y = z * 2 + x" in render_all(source, diagnostics)


# The same holds for the text the checker quotes in its own messages.
def test_unit_error_quotes_the_right_operands_after_a_line_separator():
    text = "input\n  id: text key  # note\u2028more\n  sales: money\n  rate: percent\na = sales + rate\n"
    graph, diagnostics = check_source(SourceFile("f.pk", text))
    assert graph is None
    (units,) = [d for d in diagnostics if d.is_error]
    assert "(sales)" in units.message and "(rate)" in units.message, units.message
