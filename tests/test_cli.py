"""The `pkrules` command as a user runs it: exit codes, tables, CSV in and out, messages."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pkrules.cli import main

ROOT = Path(__file__).parent.parent
POLICY = str(ROOT / "policies" / "sales_incentive.pk")
SAMPLE = str(ROOT / "policies" / "sample" / "employees.csv")
HEADER = "id,name,team,level,sales,sales_target,collection_rate,visits,on_time_rate,strategic_customers,first_order"

SMALL_POLICY = """\
policy "small"
input
  id: text key
  region: text
  sales: money >= 0
  target: money
  level: A | B
rate by region
  "north" 2%
  "south" 3%
base by level: A ¥100, B ¥200
attainment = sales / target
pay = round(base * attainment + sales * rate, 0.01)
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return str(path)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- check and test -------------------------------------------------------------------


def test_check_clean_policy_exits_0(capsys):
    code, out, err = run_cli(capsys, "check", POLICY)
    assert code == 0 and err == ""
    assert "ok — 11 inputs, 19 definitions, 6 examples" in out


def test_check_broken_policy_exits_1_with_located_message(tmp_path, capsys):
    path = write(tmp_path, "broken.pk", "input\n  id: text key\n  sales: money\nbonus = sales * rte\n")
    code, out, err = run_cli(capsys, "check", path)
    assert code == 1
    assert f"{path}:4:17: error: 'rte' is not defined" in err
    assert " 4 | bonus = sales * rte" in err
    assert "^^^" in err


def test_check_strict_fails_on_warnings(tmp_path, capsys):
    path = write(tmp_path, "warn.pk", "input\n  id: text key\n  sales: money\n  visits: whole\nbonus = sales * 2%\n")
    assert run_cli(capsys, "check", path)[0] == 0
    code, _, err = run_cli(capsys, "check", "--strict", path)
    assert code == 1 and "warning: input visits is not used" in err


def test_check_missing_file_and_binary_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "check", str(tmp_path / "nope.pk"))
    assert code == 1 and "no such file" in err
    binary = tmp_path / "b.pk"
    binary.write_bytes(b"\x89PNG\x00\x00\xff\xfe")
    code, _, err = run_cli(capsys, "check", str(binary))
    assert code == 1 and "error:" in err and "Traceback" not in err


def test_test_runs_examples(capsys):
    code, out, _ = run_cli(capsys, "test", POLICY)
    assert code == 0
    assert out.strip().endswith("6 passed, 0 failed")


def test_test_shows_expected_actual_and_explanation(tmp_path, capsys):
    path = write(tmp_path, "p.pk", SMALL_POLICY + """
example "north A"
  region "north", sales 1000, target 500, level A
  expect pay 230
""")
    code, out, _ = run_cli(capsys, "test", path)
    assert code == 1
    assert "FAIL" in out and "pay: expected 230, got 220.00" in out
    assert "= round(¥100.00 * 200% + ¥1,000.00 * 2%, 0.01)" in out  # attainment, a ratio, reads as a percentage


# ---- run: tables, CSV in and out ---------------------------------------------------------


def test_run_prints_table_with_totals(capsys):
    code, out, err = run_cli(capsys, "run", POLICY, SAMPLE)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["id", "name", "team", "score", "bonus", "special", "commission", "elite",
                                "team_fund", "team_rank", "total"]
    row = next(line for line in lines if line.startswith("E022"))
    assert "9,216.00" in row and "≈96.56" in row
    assert lines[-3].startswith("Σ")
    assert "40 employees evaluated with 华东区销售激励 2024Q3" in out


def test_run_out_plain_writes_exact_values(tmp_path, capsys):
    # --plain: the earlier machine-readable form (no byte order mark, key and definitions, exact values)
    out_path = tmp_path / "sub" / "results.csv"
    code, out, _ = run_cli(capsys, "run", POLICY, SAMPLE, "--out", str(out_path), "--plain")
    assert code == 0 and "wrote 40 rows × 20 columns" in out
    rows = list(csv.DictReader(out_path.open(encoding="utf-8")))
    assert list(rows[0])[0] == "id"
    assert list(rows[0])[1:] == ["sales_score", "collection_score", "visits_score", "on_time_score", "score", "coef",
                                 "base", "achievement", "bonus", "special", "over_target_award", "first_order_award",
                                 "commission", "sales_commission", "elite", "team_rank", "team_pool", "team_fund", "total"]
    zhang = next(r for r in rows if r["id"] == "E022")
    assert zhang["score"] == "96.5555555556"  # 869/9 does not end: 10 places
    assert zhang["coef"] == "1.2"
    assert zhang["bonus"] == "9216.00"
    assert zhang["commission"] == "4800.00"
    assert zhang["achievement"] == "0.96"
    exact_ninety = next(r for r in rows if r["id"] == "E004")
    assert exact_ninety["score"] == "90" and exact_ninety["coef"] == "1.2"


def test_run_accepts_the_forms_hr_files_contain(tmp_path, capsys):
    data = "\ufeff" + HEADER + "\n" + "\n".join([
        "A1,甲,T,骨干,\"480,000.00\",50万,0.88,28,100%,0,否",
        "A2,乙,T,新人,450000,500000,72%,24,0.76,0,是",
        "A3,丙,T,新人,45万,\"500,000\",72%,24,76%,0,true",
        "A4,丁,T,新人,¥450000,500000元,72%,24,76%,0,1",
    ]) + "\n"
    path = write(tmp_path, "bom.csv", data)
    out_path = tmp_path / "r.csv"
    code, _, err = run_cli(capsys, "run", POLICY, path, "--out", str(out_path))
    assert code == 0, err
    rows = {r["id"]: r for r in csv.DictReader(out_path.open(encoding="utf-8-sig"))}
    assert rows["A1"]["bonus"] == "9216.00"
    assert rows["A2"]["bonus"] == rows["A3"]["bonus"] == rows["A4"]["bonus"] == "4500.00"
    assert rows["A2"]["special"] == rows["A3"]["special"] == rows["A4"]["special"] == "1000.00"


def test_bad_cells_are_all_listed_and_nothing_is_evaluated(tmp_path, capsys):
    data = HEADER + "\n" + "\n".join([
        "B1,甲,T,骨干,480000,500000,88%,28,100%,0,no",
        "B2,乙,T,专家,abc,0,120%,2.5,100%,-1,maybe",
        "B1,丙,T,骨干,480000,500000,88%,28,100%,0,no",
        "B4,丁,T,新人,,500000,88%,28,100%,0,no",
    ]) + "\n"
    path = write(tmp_path, "bad.csv", data)
    out_path = tmp_path / "r.csv"
    code, out, err = run_cli(capsys, "run", POLICY, path, "--out", str(out_path))
    assert code == 1
    assert not out_path.exists(), "a run with bad rows stores nothing"
    # rows as Excel shows them: the header is row 1, so the second data row is row 3
    expected = [
        "Excel row 3, column level: '专家' — expected one of 新人, 骨干, 经理",
        "Excel row 3, column sales: 'abc' — expected an amount such as 480000, 480,000.00 or 48万",
        "Excel row 3, column sales_target: '0' — expected > 0",
        "Excel row 3, column collection_rate: '120%' — expected between 0% and 100%",
        "Excel row 3, column visits: '2.5' — expected a whole number",
        "Excel row 3, column strategic_customers: '-1' — expected >= 0",
        "Excel row 3, column first_order: 'maybe' — expected yes or no",
        "Excel row 4, column id: 'B1' — the key B1 is also on Excel row 2",
        "Excel row 5, column sales: an empty cell — a value is required",
    ]
    for line in expected:
        assert line in err, line
    assert "nothing was evaluated" in err and "--keep-going" in err


def test_keep_going_evaluates_the_good_rows(tmp_path, capsys):
    data = HEADER + "\nK1,甲,T,骨干,480000,500000,88%,28,100%,0,no\nK2,乙,T,骨干,x,500000,88%,28,100%,0,no\n"
    path = write(tmp_path, "kg.csv", data)
    out_path = tmp_path / "r.csv"
    code, _, err = run_cli(capsys, "run", POLICY, path, "--out", str(out_path), "--keep-going")
    assert code == 1  # like make -k: the good rows are written, the run still reports failure
    rows = list(csv.DictReader(out_path.open(encoding="utf-8-sig")))
    assert [r["id"] for r in rows] == ["K1"]
    assert "skipping 1 row with errors" in err


def test_missing_columns_are_named_with_a_guess(tmp_path, capsys):
    path = write(tmp_path, "cols.csv", HEADER.replace("sales_target", "sales_targt") + "\n")
    code, _, err = run_cli(capsys, "run", POLICY, path)
    assert code == 1
    assert "the header lacks column sales_target" in err
    assert "is 'sales_targt' meant to be sales_target?" in err


@pytest.mark.parametrize("content,message", [
    ("", "the file is empty"),
    ("id,name\n", "the header lacks columns"),
])
def test_unreadable_data_files(tmp_path, capsys, content, message):
    code, _, err = run_cli(capsys, "run", POLICY, write(tmp_path, "x.csv", content))
    assert code == 1 and message in err and "Traceback" not in err


def test_data_file_missing_or_a_folder(tmp_path, capsys):
    code, _, err = run_cli(capsys, "run", POLICY, str(tmp_path / "none.csv"))
    assert code == 1 and "no such file" in err
    code, _, err = run_cli(capsys, "run", POLICY, str(tmp_path))
    assert code == 1 and "is a folder" in err


def test_division_by_zero_and_missing_lookup_are_row_errors(tmp_path, capsys):
    policy = write(tmp_path, "small.pk", SMALL_POLICY)
    data = write(tmp_path, "d.csv", "id,region,sales,target,level\nR1,north,1000,500,A\nR2,east,1000,500,B\nR3,south,1000,0,A\n")
    out_path = tmp_path / "r.csv"
    code, _, err = run_cli(capsys, "run", policy, data, "--out", str(out_path))
    assert code == 1 and not out_path.exists()
    assert "Excel row 3 (R2): rate: no value of rate for region 'east'" in err
    assert "Excel row 4 (R3): attainment: division by zero: target is 0" in err
    assert f"[{policy}:12]" in err  # the definition's line
    code, _, err = run_cli(capsys, "run", policy, data, "--out", str(out_path), "--keep-going")
    rows = list(csv.DictReader(out_path.open(encoding="utf-8-sig")))
    assert [r["id"] for r in rows] == ["R1"] and rows[0]["pay"] == "220.00"


def test_run_on_a_broken_policy_reports_and_stops(tmp_path, capsys):
    path = write(tmp_path, "b.pk", "input\n  id: text key\nx = (1 +\n")
    code, _, err = run_cli(capsys, "run", path, SAMPLE)
    assert code == 1 and "error:" in err


# ---- explain --------------------------------------------------------------------------------


def test_explain_defaults_to_the_main_output(capsys):
    code, out, _ = run_cli(capsys, "explain", POLICY, SAMPLE, "E022")
    assert code == 0
    assert out.startswith("id E022 — why total = ¥14,016.00")


def test_explain_unknown_employee_or_value(capsys):
    code, _, err = run_cli(capsys, "explain", POLICY, SAMPLE, "E0222")
    assert code == 1 and "no employee with id 'E0222'" in err
    code, _, err = run_cli(capsys, "explain", POLICY, SAMPLE, "E022", "bonsu")
    assert code == 1 and "'bonsu' is not defined" in err and "did you mean 'bonus'" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", POLICY])
    assert exit_info.value.code == 2
    assert main([]) == 2


# ---- start-up and layering --------------------------------------------------------------------


def test_help_does_not_load_the_engine():
    # `pkrules --help` must start instantly: the parser, pydantic and the engine load only when needed.
    code = ("import sys; from pkrules.cli import build_parser; build_parser();"
            "heavy = [m for m in ('lark', 'pydantic', 'pkrules.engine.exact', 'pkrules.language.check') if m in sys.modules];"
            "print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_engine_does_not_import_textual():
    # Every module of the engine loads without the TUI's toolkit (the app lives in tui/).
    code = ("import sys, pkgutil, importlib, pkrules;"
            "[importlib.import_module(m.name) for m in pkgutil.walk_packages(pkrules.__path__, 'pkrules.') if not m.name.endswith('__main__')];"
            "print('textual' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_coverage_lists_rows_never_hit(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "run", POLICY, SAMPLE, "--coverage")
    assert code == 0
    assert "every row and branch was hit by these 40 employees" in out
    path = write(tmp_path, "c.pk", SMALL_POLICY.replace('"south" 3%', '"south" 3%\n  "west" 4%') + """
example "one"
  region "north", sales 1000, target 500, level A
  expect pay 220
""")
    code, out, _ = run_cli(capsys, "test", "--coverage", path)
    assert code == 0
    assert "never hit by this employee:" in out
    assert "line 11: rate by … west" in out and "line 10: rate by … south" in out and "line 12: base by … B" in out


def test_chinese_column_headers_through_column_aliases(tmp_path, capsys):
    policy = write(tmp_path, "alias.pk", """input
  id: text key column "工号"
  sales: money >= 0 column "销售额"
  sales_target: money > 0 column "销售目标"
attainment = sales / sales_target
""")
    data = write(tmp_path, "d.csv", "工号,销售额,销售目标\nA,48万,50万\n")
    out = tmp_path / "r.csv"
    assert run_cli(capsys, "run", policy, data, "--out", str(out), "--engine", "exact")[0] == 0
    assert list(csv.DictReader(out.open(encoding="utf-8-sig"))) == [{"id": "A", "attainment": "96%"}]
    missing = write(tmp_path, "m.csv", "工号,销售额\nA,48万\n")
    code, _, err = run_cli(capsys, "run", policy, missing)
    assert code == 1 and "the header lacks column sales_target" in err


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    import io

    from pkrules.cli import run as cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert cli._progress_bar(100_000) is None  # captured stderr is not a terminal
    fake = Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    show = cli._progress_bar(100_000)
    assert cli._progress_bar(100) is None  # short runs stay quiet
    show(1, 2, "bonus")
    show(2, 2, "total")
    text = fake.getvalue()
    assert "evaluating 100,000 rows [###############...............] 1/2 bonus" in text
    assert text.endswith("\n")


# ---- the installed script ends the process at once (cli.end_process) -------------------------------------


# (its output buffered, as a user's is when it goes to a file or a pipe: the end must flush it)
BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def _script(*args: str, before: str = "") -> subprocess.CompletedProcess:
    code = f"import sys\n{before}\nfrom pkrules.cli import command_line\nsys.argv[1:] = {list(args)!r}\ncommand_line()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env=BUFFERED)


def test_the_script_ends_with_the_commands_exit_code_and_every_line_it_printed(tmp_path):
    done = _script("run", POLICY, SAMPLE, "--columns", "total")
    table = subprocess.run([sys.executable, "-m", "pkrules.cli", "run", POLICY, SAMPLE, "--columns", "total"],
                           capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == table.returncode == 0
    assert done.stdout == table.stdout and done.stdout.count("\n") > 40  # (the table of 40, flushed before the end)
    bad = write(tmp_path, "bad.pk", "policy \"x\"\ninput\n  id: text key\npay = nothing + 1\n")
    refused = _script("check", bad)
    assert refused.returncode == 1 and "nothing" in refused.stderr


def test_the_script_runs_exit_functions_and_waits_for_threads_before_it_ends():
    # What a normal exit does that matters (a finaliser's clean-up, coverage saving its data, a thread
    # finishing its work) still happens: only the freeing of objects one by one is left to the system.
    # (the thread finishes only after the command has: its work outlasts the command's whatever their speeds)
    before = ("import atexit, threading, time\n"
              "import pkrules.cli as cli\n"
              "done, command = threading.Event(), cli.main\n"
              "cli.main = lambda *args: (command(*args), done.set())[0]\n"
              "threading.Thread(target=lambda: (done.wait(), time.sleep(0.2), print('thread finished'))).start()\n"
              "atexit.register(lambda: print('exit function ran', flush=True))")
    done = _script("check", POLICY, before=before)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-2:] == ["thread finished", "exit function ran"]


def test_the_script_ends_when_a_thread_pool_waits_for_work():
    # Textual, asyncio and others keep idle pool workers (not daemons) that end only when told: the end must tell
    # them, as Python's own shutdown does, not wait for them for ever (`pkrules tui` did not end on q)
    before = ("from concurrent.futures import ThreadPoolExecutor\n"
              "pool = ThreadPoolExecutor(2)\n"
              "print(pool.submit(lambda: 'pool used').result())")
    done = _script("check", POLICY, before=before)
    assert done.returncode == 0 and done.stdout.startswith("pool used")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("buffered", [True, False])
def test_output_to_a_full_disk_is_said_and_the_exit_code_says_it(buffered):
    # the table goes to a full disk: with output buffered (as a user's is) it is written as the process ends, else
    # at once; either way the user is told, in words, and the exit code is not 0 (no "internal error")
    env = BUFFERED if buffered else dict(BUFFERED, PYTHONUNBUFFERED="1")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", "from pkrules.cli import command_line; import sys; "
                               f"sys.argv[1:] = ['run', {POLICY!r}, {SAMPLE!r}]; command_line()"],
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 1
    assert "could not write the output: no space left on the disk" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_the_workflow_and_tui_commands_end_as_python_ends(tmp_path):
    # they hold a store (closed as Python frees it) and threads of their own: the quick end, which leaves
    # freeing to the system, is for the commands on files and the terminal only
    last = "class Last:\n    def __del__(self): print('freed one by one', flush=True)\nlast = Last()"
    workflow = _script("cycle", "status", "--db", str(tmp_path / "none.db"), before=last)
    policy = _script("check", POLICY, before=last)
    assert "freed one by one" in workflow.stdout
    assert policy.returncode == 0 and "freed one by one" not in policy.stdout


def test_the_script_ends_quietly_when_its_reader_has_gone():
    # pkrules run … | head: the reader has closed the pipe by the time the table is written; that is not an
    # error to show (Python would print "Exception ignored … BrokenPipeError" and exit 120)
    script = subprocess.Popen([sys.executable, "-c", "from pkrules.cli import command_line; import sys; "
                               "sys.stdout.write('a line not yet ended, flushed at the end'); "
                               f"sys.argv[1:] = ['check', {POLICY!r}]; command_line()"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=BUFFERED)
    script.stdout.close()
    errors = script.stderr.read()
    assert script.wait(timeout=300) == 0
    assert b"Error" not in errors and b"Traceback" not in errors


@pytest.mark.parametrize("code,said", [(13, "no space left on the disk"), (10, "the disk could not be written or read")])
def test_a_full_disk_under_a_kept_run_is_said_not_called_a_bug(tmp_path, capsys, monkeypatch, code, said):
    # SQLite says a full disk its own way (SQLITE_FULL; a file-size limit as SQLITE_IOERR)
    import sqlite3

    import pkrules.engine.kept_file as kept_file

    def full(*args, **kwargs):
        problem = sqlite3.OperationalError("database or disk is full")
        problem.sqlite_errorcode = code
        raise problem

    monkeypatch.setattr(kept_file, "write_kept_file", full)
    status, out, err = run_cli(capsys, "run", POLICY, SAMPLE, "--out", str(tmp_path / "r.csv"), "--keep",
                               str(tmp_path / "k.pkrun"))
    assert status == 1 and f"could not write the output: {said}" in err and "internal error" not in err
