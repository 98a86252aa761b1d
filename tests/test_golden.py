"""Golden files: each policy beside the exact output pkrules must produce for it.

- golden/bad/X.pk       → golden/bad/X.out        (`pkrules check` diagnostics; must fail)
- golden/good/X.pk      → golden/good/X.out       (warnings only; must pass)
- golden/failing_examples/X.pk → X.out            (`pkrules test` output; examples must fail)
- golden/explain/*.txt|md|json                    (explanations of the sample population)

Regenerate after an intended change with:  PKRULES_UPDATE_GOLDEN=1 pytest tests/test_golden.py
and review the diff in git.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pkrules.cli import main
from pkrules.language.diagnostics import render_all
from pkrules.language.compile import check_source
from pkrules.language.source import SourceFile

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).parent.parent
UPDATE = bool(os.environ.get("PKRULES_UPDATE_GOLDEN"))


def _compare(expected_path: Path, actual: str) -> None:
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
        return
    assert expected_path.exists(), f"{expected_path} is missing; run with PKRULES_UPDATE_GOLDEN=1 to create it"
    assert actual == expected_path.read_text(encoding="utf-8")


def _check_output(path: Path) -> tuple[bool, str]:
    shown = f"{path.parent.name}/{path.name}"
    source = SourceFile(shown, path.read_text(encoding="utf-8"))
    graph, diagnostics = check_source(source)
    return graph is not None, (render_all(source, diagnostics) + "\n") if diagnostics else ""


@pytest.mark.parametrize("path", sorted((GOLDEN / "bad").glob("*.pk")), ids=lambda p: p.stem)
def test_bad_policy_gets_exact_diagnostics(path: Path, monkeypatch):
    monkeypatch.chdir(GOLDEN)  # lookup files are found next to the policy: bad/…
    compiled, output = _check_output(path)
    assert not compiled, "a bad policy must not compile"
    assert "error:" in output or "错误：" in output  # a Chinese policy is told in Chinese
    _compare(path.with_suffix(".out"), output)


@pytest.mark.parametrize("path", sorted((GOLDEN / "good").glob("*.pk")) + sorted((ROOT / "policies").glob("*.pk")),
                         ids=lambda p: p.stem)
def test_good_policy_compiles(path: Path, monkeypatch):
    monkeypatch.chdir(path.parent.parent)
    compiled, output = _check_output(path)
    assert compiled, output
    if path.parent.name == "good":
        _compare(path.with_suffix(".out"), output)
    else:
        assert output == "", "the shipped policies must have no warnings"


@pytest.mark.parametrize("path", sorted((GOLDEN / "failing_examples").glob("*.pk")), ids=lambda p: p.stem)
def test_failing_examples_show_expected_actual_and_why(path: Path, capsys, monkeypatch):
    monkeypatch.chdir(path.parent)
    assert main(["test", path.name]) == 1
    _compare(path.with_suffix(".out"), capsys.readouterr().out)


EXPLAIN_CASES = [
    # (employee, value, format): the sample's 小张, a score just under 90, a team fund share, exactly 90
    ("E022", "total", "txt"),
    ("E013", "coef", "txt"),
    ("E011", "team_fund", "txt"),
    ("E004", "coef", "md"),
    ("E022", "bonus", "json"),
    # the Chinese policy is explained in Chinese
    ("E013", "绩效系数", "txt"),
    ("E011", "团队基金", "md"),
]


@pytest.mark.parametrize("key,name,fmt", EXPLAIN_CASES, ids=lambda v: str(v))
def test_explanations_of_the_sample(key, name, fmt, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    flags = {"txt": [], "md": ["--markdown"], "json": ["--json"]}[fmt]
    chinese = not name.isascii()
    policy = "policies/sales_incentive.zh.pk" if chinese else "policies/sales_incentive.pk"
    data = "policies/sample/employees.zh.csv" if chinese else "policies/sample/employees.csv"
    assert main(["explain", policy, data, key, name, *flags]) == 0
    _compare(GOLDEN / "explain" / f"{key}_{name}.{fmt}", capsys.readouterr().out)
