"""Issue 15, findings 1–3 and 14: outputs are written whole or not at all, never over an input, under names
that cannot collide, and never as live spreadsheet formulas.

Write failures are real ones: a child process with a file-size limit (RLIMIT_FSIZE, which any user may set)
gets EFBIG from the operating system wherever it writes — in Python, in polars' Rust writer, in openpyxl —
exactly as a full disk fails a write part way. The disk-full wording is checked by injecting ENOSPC where a
full disk reports it (the flush to disk). kill -9 is sent while the new file is being written.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pkrules.cli import main

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "sales_incentive.pk"
SAMPLE = ROOT / "policies" / "sample" / "employees.csv"
FORMATS = ("csv", "jsonl", "xlsx", "parquet")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pkrules_limited(args: list[str], limit: int, cwd: Path) -> subprocess.CompletedProcess:
    """pkrules in a child whose files may not grow past `limit` bytes: every write beyond fails with EFBIG."""
    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer instead of failing the write
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "pkrules.cli", *map(str, args)], preexec_fn=limited, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part") or ".part." in p.name)


@pytest.mark.parametrize("engine", ["exact", "fast"])
def test_a_failed_write_keeps_the_old_output_of_every_format(tmp_path, engine):
    for suffix in FORMATS:
        target = tmp_path / f"results.{suffix}"
        target.write_bytes(b"the old results, which must survive")
        done = pkrules_limited(["run", POLICY, SAMPLE, "--out", target, "--engine", engine], 3000, tmp_path)
        assert done.returncode == 1, (suffix, done.stderr)
        assert f"cannot write {target}" in done.stderr and "the file was left as it was" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr and "None" not in done.stderr
        assert "Exception ignored" not in done.stderr
        assert target.read_bytes() == b"the old results, which must survive"
        assert leftovers(tmp_path) == []


def test_a_failed_write_of_a_new_file_leaves_nothing(tmp_path):
    target = tmp_path / "new.csv"
    done = pkrules_limited(["run", POLICY, SAMPLE, "--out", target], 3000, tmp_path)
    assert done.returncode == 1 and "nothing was written" in done.stderr
    assert not target.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", FORMATS)
def test_a_full_disk_is_named_and_the_old_file_kept(tmp_path, capsys, monkeypatch, suffix):
    # A full disk often shows only when the data is flushed (delayed allocation): inject ENOSPC there.
    import pkrules.files

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pkrules.files.os, "fsync", full)
    target = tmp_path / f"out.{suffix}"
    target.write_bytes(b"old")
    code, _, err = run_cli(capsys, "run", POLICY, SAMPLE, "--out", target)
    assert code == 1
    assert err.strip() == f"error: cannot write {target}: no space left on the disk; the file was left as it was"
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_fmt_on_a_full_disk_leaves_the_policy_whole(tmp_path):
    # An unformatted policy larger than the limit: formatting it must fail without cutting the file.
    text = POLICY.read_text(encoding="utf-8").replace("sales_score = ", "sales_score   =   ")
    policy = tmp_path / "p.pk"
    policy.write_text(text, encoding="utf-8")
    done = pkrules_limited(["fmt", policy], 1000, tmp_path)
    assert done.returncode == 1 and "cannot write" in done.stderr and "the file was left as it was" in done.stderr
    assert policy.read_text(encoding="utf-8") == text and leftovers(tmp_path) == []


def test_permission_denied_is_said(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, _, err = run_cli(capsys, "run", POLICY, SAMPLE, "--out", folder / "out.csv")
    finally:
        folder.chmod(0o700)
    assert code == 1 and "permission denied" in err


# ---- kill -9 while writing ---------------------------------------------------------------------

KILLED = """\
import os, sys, time
import pkrules.files as files

real_fsync = files.os.fsync

def stall(fd):  # the new file is written but not yet in place: say so, then wait to be killed
    print("writing", flush=True)
    time.sleep(120)

files.os.fsync = stall
from pkrules.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("suffix, engine", [("csv", "exact"), ("csv", "fast"), ("parquet", "fast"), ("xlsx", "exact"),
                                            ("jsonl", "exact")])
def test_kill_9_while_writing_leaves_the_old_file(tmp_path, suffix, engine):
    target = tmp_path / f"results.{suffix}"
    target.write_bytes(b"yesterday's results")
    child = subprocess.Popen([sys.executable, "-c", KILLED, "run", str(POLICY), str(SAMPLE), "--out", str(target),
                              "--engine", engine], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = child.stdout.readline()  # blocks until the child is inside the write (a hang fails by the timeout below)
        assert line.strip() == "writing", child.stderr.read()
        partial = [p for p in tmp_path.iterdir() if p.name.startswith(f".{target.name}.")]
        assert partial and partial[0].stat().st_size > 0  # the new file was being written, beside the target
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert target.read_bytes() == b"yesterday's results"  # the target is the old file, whole


def test_a_completed_write_replaces_the_file_and_keeps_its_permissions(tmp_path, capsys):
    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    assert run_cli(capsys, "run", POLICY, SAMPLE, "--out", target)[0] == 0
    assert target.read_text(encoding="utf-8-sig").startswith("id,") and target.stat().st_mode & 0o777 == 0o640
    assert leftovers(tmp_path) == []


# ---- never over an input -------------------------------------------------------------------------


def test_an_output_may_not_replace_an_input(tmp_path, capsys):
    policy = tmp_path / "region_product.pk"
    policy.write_text((ROOT / "policies" / "region_product.pk").read_text(encoding="utf-8"), encoding="utf-8")
    for name in ("regions.csv", "products.csv"):
        (tmp_path / name).write_bytes((ROOT / "policies" / name).read_bytes())
    data = tmp_path / "data.csv"
    data.write_text(textwrap.dedent("""\
        id,region,product_line,sales
        E1,华东,手机,1000
        """), encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(data)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert run_cli(capsys, "check", policy)[0] == 0, capsys.readouterr()
    for out, what in ((data, "the data"), (policy, "the policy"), (tmp_path / "regions.csv", "a lookup file of the policy"),
                      (tmp_path / "link.csv", "the data"), (tmp_path / "sub" / ".." / "data.csv", "the data")):
        for option in ("--out", "--keep"):  # (a kept run is a SQLite file, as dangerous over an input)
            code, _, err = run_cli(capsys, "run", policy, data, option, out)
            assert code == 2 and f"cannot write {out}: it is {what}" in err, err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_outputs_that_cannot_be_files_are_refused_before_evaluating(tmp_path, capsys):
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    code, _, err = run_cli(capsys, "run", POLICY, SAMPLE, "--out", f"{tmp_path}/fout/")
    assert code == 2 and "it is a folder; name a file in it" in err and "None" not in err
    code, _, err = run_cli(capsys, "run", POLICY, SAMPLE, "--out", tmp_path / "afile" / "x.csv")
    assert code == 2 and f"{tmp_path / 'afile'} is a file, not a folder" in err and "File exists" not in err
    code, _, err = run_cli(capsys, "run", POLICY, SAMPLE, "--statements", tmp_path / "afile")
    assert code == 2 and "it is a file, not a folder" in err


# ---- statements: one file per employee -------------------------------------------------------------


def test_statement_names_never_collide_nor_leave_the_folder(tmp_path, capsys):
    keys = ["A/1", "A_1", "A 1", "A:1", "..", "../escape", "/etc/x", "ab", "AB", "é", "e\u0301", "E001"]
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    rows = [lines[0]] + [f'"{key}",' + line.split(",", 1)[1] for key, line in zip(keys, lines[1:])]
    data = tmp_path / "keys.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    folder = tmp_path / "statements"
    code, out, err = run_cli(capsys, "run", POLICY, data, "--statements", folder, "--engine", "exact")
    assert code == 0, err
    assert f"wrote {len(keys)} statements" in out
    files = sorted(folder.iterdir())
    assert len(files) == len(keys)  # one file each: nothing overwritten
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.csv", "statements"]  # nothing escaped
    # each statement is its own employee's: the key appears in its own file
    headers = sorted(p.read_text(encoding="utf-8").splitlines()[0] for p in files)
    assert all(any(key in h for h in headers) for key in keys if key not in ("é", "e\u0301"))
    assert (folder / "A_1.md").read_text(encoding="utf-8").count("A_1") >= 1
    assert (folder / "E001.md").exists()  # an ordinary key keeps its ordinary name
    names_folded = [p.name.casefold() for p in files]
    assert len(set(names_folded)) == len(names_folded)  # distinct even where case does not count


def test_statement_names_are_stable_for_ordinary_keys():
    from pkrules.outputs.results import statement_names

    assert statement_names(["E001", "E002_2025Q3", "张三-1"]) == ["E001", "E002_2025Q3", "张三-1"]
    odd = statement_names(["A/1", "A_1"])
    assert odd[1] == "A_1" and odd[0].startswith("A_1~") and odd[0] != odd[1]
    assert statement_names(["A/1"]) == statement_names(["A/1", "x"])[:1]  # a changed label's name is its own


# ---- formula injection ---------------------------------------------------------------------------

INJECTION = """\
policy "injection"
input
  id: text key
  note: text
  amount: money
refund = amount - ¥200
label = note
"""


def test_text_cells_are_never_formulas_in_csv_or_excel(tmp_path, capsys):
    import openpyxl

    policy = tmp_path / "p.pk"
    policy.write_text(INJECTION, encoding="utf-8")
    data = tmp_path / "d.csv"
    data.write_text('id,note,amount\n"=1+1","=HYPERLINK(""http://x"")",100\n+cmd,@SUM(A1),50\n-x,\ttab,300\nok,plain,200\n',
                    encoding="utf-8")
    outputs = {}
    for engine in ("exact", "fast"):
        out = tmp_path / f"{engine}.csv"
        assert run_cli(capsys, "run", policy, data, "--out", out, "--engine", engine)[0] == 0
        outputs[engine] = out.read_bytes()
    assert outputs["exact"] == outputs["fast"]  # both writers neutralise the same cells
    text = outputs["exact"].decode("utf-8-sig")
    # who is who first (the key and the text input note), then the results: the input is guarded as the output is
    assert text.splitlines() == [
        "id,note,refund,label",
        "'=1+1,\"'=HYPERLINK(\"\"http://x\"\")\",-100.00,\"'=HYPERLINK(\"\"http://x\"\")\"",
        "'+cmd,'@SUM(A1),-150.00,'@SUM(A1)",
        "'-x,tab,100.00,tab",  # a cell's surrounding blanks are trimmed when read; -100.00 is a number, left as it is
        "ok,plain,0.00,plain",
    ]
    xlsx = tmp_path / "out.xlsx"
    assert run_cli(capsys, "run", policy, data, "--out", xlsx)[0] == 0
    sheet = openpyxl.load_workbook(xlsx)["results"]
    cells = [(row[0].value, row[0].data_type) for row in sheet.iter_rows(min_row=2, max_col=1)]
    assert cells[:2] == [("=1+1", "s"), ("+cmd", "s")]
    assert [c.value for c in sheet[1]] == ["id", "note", "refund", "label"]
    for column in (2, 4):  # the note as read, and the label computed from it
        labels = [(row[0].value, row[0].data_type) for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column)]
        assert labels[:2] == [("=HYPERLINK(\"http://x\")", "s"), ("@SUM(A1)", "s")]
    explanations = openpyxl.load_workbook(xlsx)["explanations"]
    assert all(c.data_type != "f" for row in explanations.iter_rows() for c in row)


def test_the_payroll_file_keeps_names_from_being_formulas(tmp_path):
    import openpyxl

    from pkrules.workflow.export import write_payroll

    rows = [{"id": "E1", "name": "=HYPERLINK(\"http://x\",\"click\")", "money": {"total": "100.5"},
             "adjustment": "", "adjustment_note": "@SUM(A1)"},
            {"id": "-E2", "name": "王芳", "money": {"total": "-20"}, "adjustment": "-5", "adjustment_note": ""}]
    csv_path, xlsx_path = tmp_path / "pay.csv", tmp_path / "pay.xlsx"
    write_payroll(csv_path, rows, ["total"], "en")
    assert csv_path.read_text(encoding="utf-8").splitlines()[1:] == [
        'E1,"\'=HYPERLINK(""http://x"",""click"")",100.50,0.00,\'@SUM(A1)',
        "'-E2,王芳,-20.00,-5.00,",  # the amounts stay numbers
    ]
    write_payroll(xlsx_path, rows, ["total"], "en")
    cell = openpyxl.load_workbook(xlsx_path).active["B2"]
    assert cell.value == '=HYPERLINK("http://x","click")' and cell.data_type == "s"
    assert leftovers(tmp_path) == []


def test_statements_land_together_or_not_at_all(tmp_path):
    # With a limit on file sizes that the first statement (E001) is under and a later one is over, the first
    # could be written and the later one cannot. Nothing of the run may then replace last month's
    # statements, not even those written before the failure, and nothing half-written may be left.
    fresh = tmp_path / "fresh"
    done = subprocess.run([sys.executable, "-m", "pkrules.cli", "run", str(POLICY), str(SAMPLE), "--statements", str(fresh),
                           "--engine", "exact"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    sizes = {p.stem: p.stat().st_size for p in fresh.glob("*.md")}
    assert len(sizes) == 40 and leftovers(fresh) == []
    limit = sizes["E001"] + 1
    later = min(key for key, size in sizes.items() if size > limit)  # (E001 is written first)
    folder = tmp_path / "statements"
    folder.mkdir()
    for key in ("E001", later):
        (folder / f"{key}.md").write_text(f"last month's statement of {key}", encoding="utf-8")
    done = pkrules_limited(["run", POLICY, SAMPLE, "--statements", folder, "--engine", "exact"], limit, tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"cannot write {folder / (later + '.md')}" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted(["E001.md", later + ".md"])
    for key in ("E001", later):
        assert (folder / f"{key}.md").read_text(encoding="utf-8") == f"last month's statement of {key}"
