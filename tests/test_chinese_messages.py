"""A Chinese policy is told everything in Chinese: check, run, test, coverage and diff; --lang en|zh chooses.

Each case is a command beside its exact output (golden/zh/*.out; regenerate with PKRULES_UPDATE_GOLDEN=1
and review the diff). Every Chinese output is also scanned for English sentences that leaked through:
an English word of four letters or more outside what the user wrote (quoted values, the policy's
lines, file names, options, code names) fails the test.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pkrules.cli import main
from pkrules.language.keywords import KEYWORDS

ROOT = Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "golden" / "zh"
UPDATE = bool(os.environ.get("PKRULES_UPDATE_GOLDEN"))

ZH = "tests/golden/zh"
POLICY_ZH = "policies/sales_incentive.zh.pk"
DIFF = "tests/golden/diff"

# (name, arguments, exit code, language of the output)
CASES = [
    ("check_syntax", ["check", f"{ZH}/syntax.pk"], 1, "zh"),
    ("check_names_units_cycle", ["check", f"{ZH}/names.pk"], 1, "zh"),
    ("check_table_gap", ["check", f"{ZH}/gap.pk"], 1, "zh"),
    ("run_bad_cells", ["run", POLICY_ZH, f"{ZH}/employees_bad.csv"], 1, "zh"),
    ("run_keep_going", ["run", POLICY_ZH, f"{ZH}/employees_bad.csv", "--keep-going", "--columns", "综合得分,绩效系数,应发合计",
                        "--coverage"], 1, "zh"),
    ("run_row_errors", ["run", f"{ZH}/row_errors.pk", f"{ZH}/row_errors.csv"], 1, "zh"),
    ("run_row_errors_keep_going", ["run", f"{ZH}/row_errors.pk", f"{ZH}/row_errors.csv", "--keep-going"], 1, "zh"),
    ("explain_row_error", ["explain", f"{ZH}/row_errors.pk", f"{ZH}/row_errors.csv", "R002"], 1, "zh"),
    ("test_failing_example", ["test", f"{ZH}/failing.pk"], 1, "zh"),
    ("test_coverage", ["test", "--brief", "--coverage", f"{ZH}/failing.pk"], 1, "zh"),
    ("diff_data", ["diff", f"{DIFF}/base.zh.pk", f"{DIFF}/zh_change.zh.pk", "--data", f"{DIFF}/employees.zh.csv",
                   "--limit", "2"], 1, "zh"),
    ("diff_data_bad_cells", ["diff", f"{DIFF}/base.zh.pk", f"{DIFF}/zh_change.zh.pk", "--data", f"{ZH}/diff_bad.csv"], 2, "zh"),
    # --lang: the user's choice wins over the policy's own language, before or after the command
    ("lang_en_on_a_chinese_policy", ["--lang", "en", "check", f"{ZH}/names.pk"], 1, "en"),
    ("lang_en_run_bad_cells", ["run", "--lang", "en", POLICY_ZH, f"{ZH}/employees_bad.csv"], 1, "en"),
    ("lang_zh_on_an_english_policy", ["--lang", "zh", "check", "tests/golden/bad/units.pk"], 1, "zh"),
    ("lang_zh_run_row_errors", ["--lang", "zh", "run", "tests/golden/zh/row_errors.en.pk", f"{ZH}/row_errors.en.csv"], 1, "zh"),
    ("explain_lang_en_on_a_chinese_policy", ["explain", "--lang", "en", POLICY_ZH, "policies/sample/employees.zh.csv",
                                             "E013", "绩效系数"], 0, "en"),
    ("explain_lang_zh_on_an_english_policy", ["--lang", "zh", "explain", "policies/sales_incentive.pk",
                                              "policies/sample/employees.csv", "E013", "coef"], 0, "zh"),
    # several files: each in its own language
    ("check_each_file_in_its_language", ["check", f"{ZH}/names.pk", "tests/golden/bad/units.pk"], 1, None),
]


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, the output framed for the golden file, what the user read: stdout and stderr)."""
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    framed = f"$ pkrules {' '.join(args)}\n[exit {code}]\n--- stdout\n{captured.out}--- stderr\n{captured.err}"
    return code, framed, captured.out + captured.err


@pytest.mark.parametrize("name,args,code,lang", CASES, ids=[c[0] for c in CASES])
def test_output_in_the_policys_language(name, args, code, lang, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_COLOR", "1")
    actual_code, output, said = _run(args, capsys)
    assert actual_code == code, output
    expected = GOLDEN / f"{name}.out"
    if UPDATE:
        expected.write_text(output, encoding="utf-8")
    assert expected.exists(), f"{expected} is missing; run with PKRULES_UPDATE_GOLDEN=1 to create it"
    assert output == expected.read_text(encoding="utf-8")
    if lang == "zh":
        assert english_words(said, users_words(args)) == [], said
    elif lang == "en":
        assert len(english_words(said, users_words(args))) >= 3  # the scanner sees English when there is some


def test_lang_after_the_command_is_the_global_option(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    before = _run(["--lang", "en", "check", f"{ZH}/names.pk"], capsys)[2]
    after = _run(["check", "--lang", "en", f"{ZH}/names.pk"], capsys)[2]
    assert before == after and "error: " in after


def test_a_language_never_leaks_into_the_next_command(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    _run(["--lang", "zh", "check", "tests/golden/bad/units.pk"], capsys)
    _run(["check", f"{ZH}/names.pk"], capsys)
    output = _run(["check", "tests/golden/bad/units.pk"], capsys)[2]
    assert "error: " in output and "错误" not in output


# ---- the scanner for English that leaked into Chinese output ------------------------------------

_KEYWORDS = {w.lower() for words in KEYWORDS.values() for w in words if w.isascii()}
# Words a Chinese message may contain on purpose: the tool, units and formats, values a user may type.
_ALLOWED = {"pkrules", "true", "false", "excel", "parquet", "sqlite", "utf-8", "gb18030"}
_USERS_TEXT = [
    re.compile(r"^\s*\d+ \|.*$"),             # a line of the policy, under a diagnostic
    re.compile(r"^\s*\|\s*\^+\s*$"),          # its caret
]
_STRIP = [
    re.compile(r"`[^`]*`"),                    # a command to type
    re.compile(r"'[^']*'"),                    # a value or name as written
    re.compile(r"\"[^\"]*\"|“[^”]*”|「[^」]*」|«[^»]*»"),  # … and the author's comments, quoted by explanations
    re.compile(r"\S*[/\\]\S*|\S+\.(?:pk|csv|xlsx|db|md|parquet|jsonl)\b\S*"),  # files and paths
    re.compile(r"--[a-z][a-z-]*"),             # options
    re.compile(r"\[[a-z][a-z-]*\]\s*$"),       # a diagnostic's [code]
    re.compile(r"\b[a-z]+\("),                 # a function as written: round(…)
    re.compile(r"sha256 [0-9a-f]+"),
]


def users_words(args: list[str]) -> set[str]:
    """The words of the policies and data files a command reads (names, values): messages quote them."""
    words: set[str] = set()
    for arg in args:
        if arg.endswith((".pk", ".csv")):
            text = (ROOT / arg).read_text(encoding="utf-8-sig")
            code = "\n".join(line.split("#")[0] for line in text.splitlines())  # not the comments
            words |= {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code)}
    return words


def english_words(text: str, names: set[str] = frozenset()) -> list[str]:
    """English words (4+ letters) in text, outside the user's own words, file names, options and code names."""
    found = []
    for line in text.splitlines():
        if any(p.match(line) for p in _USERS_TEXT):
            continue
        for pattern in _STRIP:
            line = pattern.sub(" ", line)
        for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line):
            if len(word) >= 4 and word.lower() not in _KEYWORDS | _ALLOWED | names:
                found.append(word)
    return found


def test_the_scanner_finds_english_and_spares_what_the_user_wrote():
    assert english_words("x.pk:3:1: error: 'a' is not defined [undefined]") == ["error", "defined"]
    assert english_words("错误：第 2 行，列 销售额：'abc def' — 应为金额（48万）；请用 --keep-going 或 `pkrules run x`") == []
    assert english_words(" 12 |   如果 sales >= 90 then coef 1.2") == []  # the policy's own line
    assert english_words("提示：在 data/emp.csv 中 round(…, 0.01) IF … THEN …") == []
    assert english_words("说明：nothing was evaluated") == ["nothing", "evaluated"]
    assert english_words("第 2 行：collection_rate：除数为零", {"collection_rate"}) == []
    assert english_words("第 2 行：collection_rate：除数为零") == ["collection_rate"]
