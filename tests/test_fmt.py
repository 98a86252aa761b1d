"""`pkrules fmt`: one canonical layout, idempotent, comments kept, meaning never changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkrules.cli import main
from pkrules.language.fmt import find_comments, format_text
from pkrules.language.parse import parse_text

ROOT = Path(__file__).parent.parent
POLICIES = sorted((ROOT / "policies").glob("*.pk")) + sorted((ROOT / "tests" / "golden" / "good").glob("*.pk")) \
    + sorted((ROOT / "tests" / "golden" / "failing_examples").glob("*.pk")) + [ROOT / "tests" / "golden" / "fmt" / "messy.pk"]


def assert_same_meaning_and_comments(before: str, after: str) -> None:
    assert parse_text(after) == parse_text(before), "formatting changed the meaning"
    assert [c.text for c in find_comments(after)] == [c.text for c in find_comments(before)], "a comment was lost or moved"


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_fmt_is_idempotent_and_keeps_meaning(path: Path):
    text = path.read_text(encoding="utf-8")
    once = format_text(text)
    assert format_text(once) == once
    assert_same_meaning_and_comments(text, once)


def test_messy_policy_gets_the_canonical_layout():
    messy = ROOT / "tests" / "golden" / "fmt" / "messy.pk"
    expected = (ROOT / "tests" / "golden" / "fmt" / "messy.formatted.pk").read_text(encoding="utf-8")
    assert format_text(messy.read_text(encoding="utf-8")) == expected


def test_shipped_policies_are_formatted(capsys):
    assert main(["fmt", "--check", str(ROOT / "policies")]) == 0


def test_fmt_check_diff_and_rewrite(tmp_path: Path, capsys):
    path = tmp_path / "p.pk"
    path.write_text("input\n  id: text key\n  x: number\ny=x*2   # double\n", encoding="utf-8")
    assert main(["fmt", "--check", str(path)]) == 1
    assert f"{path}: not formatted" in capsys.readouterr().out
    assert main(["fmt", "--diff", str(path)]) == 1
    diff = capsys.readouterr().out
    assert "-y=x*2   # double" in diff and "+y = x * 2  # double" in diff
    assert path.read_text(encoding="utf-8").startswith("input\n  id: text key")  # --diff changed nothing
    assert main(["fmt", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == "input\n  id: text key\n  x: number\ny = x * 2  # double\n"
    assert main(["fmt", "--check", str(path)]) == 0


def test_fmt_refuses_a_policy_that_does_not_parse(tmp_path: Path, capsys):
    path = tmp_path / "bad.pk"
    original = "input\n  id: text key\ny = (1 +\n"
    path.write_text(original, encoding="utf-8")
    assert main(["fmt", str(path)]) == 1
    assert "not formatted: fix the syntax errors first" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == original


# ---- generated policies ------------------------------------------------------------------

NAMES = ["a", "b", "c", "销售额"]
space = st.sampled_from(["", " ", "  "])


@st.composite
def expressions(draw, depth: int = 0) -> str:
    """Random expression text in the surface syntax, with random spacing and brackets."""
    atoms = st.one_of(
        st.sampled_from(NAMES),
        st.sampled_from(["1", "0.5", "90", "50万", "480,000", "¥5000", "88%", "2%"]),
    )
    if depth >= 3:
        return draw(atoms)
    kind = draw(st.sampled_from(["atom", "binary", "call", "neg", "paren", "agg", "if"]))
    sub = lambda: draw(expressions(depth + 1))  # noqa: E731
    s = lambda: draw(space)  # noqa: E731
    if kind == "atom":
        return draw(atoms)
    if kind == "binary":
        return f"{sub()}{s()}{draw(st.sampled_from(['+', '-', '*', '/']))}{s()}{sub()}"
    if kind == "call":
        func = draw(st.sampled_from(["min", "max", "round"]))
        return f"{func}({s()}{sub()},{s() or ' '}{sub()}{s()})"
    if kind == "neg":
        return f"-{draw(st.sampled_from(NAMES))}"
    if kind == "paren":
        return f"({s()}{sub()}{s()})"
    if kind == "agg":
        return f"sum {draw(st.sampled_from(NAMES))} within team"
    cond = f"{sub()}{s()}{draw(st.sampled_from(['>=', '<', '=', '≥']))}{s()}{sub()}"
    return f"(if {cond} then {sub()} else {sub()})"


@st.composite
def policies(draw) -> str:
    lines = ["input", "  id: text key", "  team: text", "  a: number", "  b: number", "  c: number", "  销售额: number"]
    for n in range(draw(st.integers(1, 4))):
        comment = draw(st.sampled_from(["", "  # note", " #x"]))
        lines.append(f"d{n}{draw(space)}={draw(space)}{draw(expressions())}{comment}")
        if draw(st.booleans()):
            lines.append("")
        if draw(st.booleans()):
            lines.append("# between")
    if draw(st.booleans()):
        lines += ["t (collect sum)", f"  IF {draw(expressions())} >= 1 THEN t {draw(expressions())}", "  OTHERWISE t 0"]
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_fmt_of_generated_policies(text: str):
    once = format_text(text)
    assert format_text(once) == once
    assert_same_meaning_and_comments(text, once)
