"""Issue 15's fuzz test: hostile data files and policies through both engines.

Every generated case ends in results identical between the exact evaluator and the fast path, or in a
clear message (the same from both) — never an internal error, a traceback, or a hang (each run has a
deadline). Data files vary in line endings, quoting (and quotes left open), encodings, BOMs, headers,
cell shapes (huge numbers, units in the wrong column, invisible characters) and Parquet column types;
policies in depth, size and magnitudes (long literals, values multiplied by themselves).

CI runs a bounded number of examples; PKRULES_FUZZ_EXAMPLES=500 (or benchmarks/bench_limits.py --fuzz)
runs more.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkrules.cli import main
from pkrules.language.limits import RECURSION

pl = pytest.importorskip("polars")

# pkrules raises the recursion limit when it first runs (language/limits.py); raised here first, hypothesis
# does not warn that it changed under it.
sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION))

EXAMPLES = int(os.environ.get("PKRULES_FUZZ_EXAMPLES", "30"))
DEADLINE = 240  # seconds for one command; each takes well under one
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# What a user must never see: our bug, not their problem.
NEVER = re.compile(r"internal error|Traceback|RecursionError|(?<![\w])(Value|Key|Type|Attribute|Index|Overflow|"
                   r"ZeroDivision|Compute|Schema|InvalidOperation|Assertion|Unicode\w*)Error\b")


def within(seconds: float, function, *args):
    outcome: dict = {}

    def work():
        try:
            outcome["value"] = function(*args)
        except BaseException as e:
            outcome["error"] = e

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"a hang: still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_both(capsys, folder: Path, policy: Path, data: Path, *more: str) -> tuple[int, str, str]:
    """Both engines on one case: (exit code, messages, output CSV), which must be the same from each."""
    seen = []
    for engine in ("exact", "fast"):
        out = folder / f"out-{engine}.csv"
        if out.exists():
            out.unlink()
        code = within(DEADLINE, main, ["run", str(policy), str(data), "--engine", engine, "--out", str(out), *more])
        captured = capsys.readouterr()
        err = captured.err.replace(str(out), "OUT")
        assert code in (0, 1, 2), (engine, code, err[-3000:])
        assert not NEVER.search(err), (engine, err[-3000:])
        if code:
            assert err.strip(), f"{engine}: exit {code} without a message"
        seen.append((code, _without_notes(err), out.read_bytes().decode("utf-8") if out.exists() else None))
    assert seen[0] == seen[1], f"the engines disagree:\nexact: {seen[0]}\nfast:  {seen[1]}"
    return seen[0]


def _without_notes(err: str) -> str:
    """The fast path may add a note that it handed over to the exact evaluator; nothing else may differ."""
    return "\n".join(line for line in err.splitlines() if not line.startswith("note: the fast path cannot run"))


# ---- data files ---------------------------------------------------------------------------------

DATA_POLICY = """\
policy "fuzz"
input
  id: text key
  team: text
  level: A | B | C
  sales: money >= 0
  rate: percent 0% to 100%
  visits: whole >= 0
  x: number
  ok: yesno
  day: date

base by level: A ¥100, B ¥200, C ¥300
bonus = round(sales * rate + base, 0.01)
per_visit = if visits > 0 then sales / visits else 0
score = x * 2 + visits
late = if day > 2024-06-30 then 1 else 0
flag = if ok then bonus else 0
team_total = sum sales within team
share = if team_total > 0 then round(sales / team_total, 0.0001) else 0
"""

COLUMNS = ["id", "team", "level", "sales", "rate", "visits", "x", "ok", "day"]
GOOD = {
    "id": ["E1", "E2", "A-7", "张三", "=1+1", "007"],
    "team": ["T1", "T2", "华东一组", " T1 ", "+cmd"],
    "level": ["A", "B", "C"],
    "sales": ["480000", "48万", "¥5000", "5000元", "1,234.56", "0", "0.01", "1.2亿"],
    "rate": ["88%", "0.885", "100%", "0%", "12.5%", "99.99%"],
    "visits": ["0", "3", "28", "40"],
    "x": ["1.5", "-2", "0", "90", "+3", "-0.001", "１"],
    "ok": ["yes", "no", "是", "否", "TRUE", "f", "1", "0"],
    "day": ["2024-07-01", "2024/6/30", "2024年7月2日", "2024-02-29"],
}
HOSTILE = ["", " ", "abc", "¥0.5", "5000元", "50%", "-5", "120%", "9" * 31, "9" * 400, "1e5", "0x10", "NaN", "∞",
           "\u200b1", "1\u00a0000", "\u3000100\u3000", "１２", "12,34", "1.2.3", "--1", "007", "2024-02-30", "maybe",
           "D", "a\nb", 'say "hi"', "x,y", "\r", "\t5", "=HYPERLINK(\"x\")", "@SUM(A1)", "5e-05", "495000.00000000006"]
WEIRD_TEXT = st.text(alphabet=st.sampled_from(list('0123456789.,-+%¥元万亿 "\'\n\r\tAaé张\u200b\u3000\u00a0;|=@')),
                     max_size=12)


def cell(column: str):
    return st.one_of(st.sampled_from(GOOD[column]), st.sampled_from(GOOD[column]), st.sampled_from(HOSTILE), WEIRD_TEXT)


@st.composite
def tables(draw):
    rows = draw(st.integers(1, 7))
    header = list(COLUMNS)
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    if draw(st.integers(0, 9)) == 0:
        header.append("extra")
    if draw(st.integers(0, 14)) == 0:
        header.remove(draw(st.sampled_from(COLUMNS)))
    body = []
    for i in range(rows):
        record = {c: draw(cell(c)) if draw(st.integers(0, 3)) == 0 else GOOD[c][(i + len(c)) % len(GOOD[c])]
                  for c in COLUMNS}
        record["id"] = record["id"] if draw(st.integers(0, 3)) == 0 else f"E{i}"
        record["extra"] = draw(WEIRD_TEXT)
        body.append([record[c] for c in header])
    return header, body


@st.composite
def csv_files(draw):
    header, body = draw(tables())
    buffer = io.StringIO()
    csv.writer(buffer, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))).writerows([header] + body)
    text = buffer.getvalue()
    ending = draw(st.sampled_from(["\r\n", "\n", "\r", "mixed"]))
    lines = text.split("\r\n")
    if ending == "mixed":
        text = "".join(line + draw(st.sampled_from(["\r\n", "\n", "\r"])) for line in lines[:-1])
    else:
        text = ending.join(lines)
    mutation = draw(st.integers(0, 9))
    if mutation == 0 and text:  # a quote left open somewhere
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + '"' + text[at:]
    elif mutation == 1:
        text = text.replace(",", ";")  # another separator
    elif mutation == 2:
        text += "\n\n , , \n"  # blank rows at the end
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    return raw


def _float(text: str):
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


@st.composite
def parquet_frames(draw):
    header, body = draw(tables())
    columns = []
    for k, name in enumerate(header):
        texts = [row[k] for row in body]
        kind = draw(st.sampled_from(["string", "string", "float", "int", "decimal", "list", "duration", "null", "bool"]))
        if kind == "float":
            series = pl.Series(name, [_float(t) for t in texts], dtype=pl.Float64)
            if draw(st.booleans()):
                series = series * 1.1  # computed values: binary fractions
        elif kind == "int":
            series = pl.Series(name, [int(f) if (f := _float(t)) is not None and f.is_integer() and abs(f) < 2**62 else None
                                      for t in texts], dtype=pl.Int64)
        elif kind == "decimal":
            series = pl.Series(name, [_float(t) for t in texts], dtype=pl.Float64).round(2).cast(pl.Decimal(20, 2))
        elif kind == "list":
            series = pl.Series(name, [[t] for t in texts])
        elif kind == "duration":
            import datetime as dt

            series = pl.Series(name, [dt.timedelta(seconds=len(t)) for t in texts])
        elif kind == "null":
            series = pl.Series(name, [None] * len(texts), dtype=pl.String)
        elif kind == "bool":
            series = pl.Series(name, [len(t) % 2 == 0 for t in texts])
        else:
            series = pl.Series(name, texts, dtype=pl.String)
        columns.append(series)
    return pl.DataFrame(columns)


@pytest.fixture()
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(raw=csv_files(), keep_going=st.booleans())
def test_csv_files_end_alike_on_both_engines(folder, capsys, raw, keep_going):
    policy = folder / "p.pk"
    policy.write_text(DATA_POLICY, encoding="utf-8")
    data = folder / "data.csv"
    data.write_bytes(raw)
    run_both(capsys, folder, policy, data, *(["--keep-going"] if keep_going else []))


@FUZZ
@given(frame=parquet_frames(), keep_going=st.booleans())
def test_parquet_files_end_alike_on_both_engines(folder, capsys, frame, keep_going):
    policy = folder / "p.pk"
    policy.write_text(DATA_POLICY, encoding="utf-8")
    data = folder / "data.parquet"
    frame.write_parquet(data)
    run_both(capsys, folder, policy, data, *(["--keep-going"] if keep_going else []))


# ---- policies --------------------------------------------------------------------------------------

POLICY_HEAD = """\
policy "fuzz"
input
  id: text key
  team: text
  a: number
  b: number
  m: money
"""
POLICY_DATA = "id,team,a,b,m\nE1,T1,2,3,100\nE2,T1,-1.5,0,250.5\nE3,T2,0,7,0\nE4,T2,1000000,0.001,99999.99\n"


@st.composite
def expressions(draw, depth: int):
    """A numeric expression over a and b (and earlier definitions), `depth` levels deep at most."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(
            st.sampled_from(["a", "b", "1", "0", "2", "0.5", "100%", "3%"]),
            st.integers(1, 40).map(lambda n: "9" * n),  # literals of every length, past the 30-digit limit
            st.sampled_from(["(a * a)", "(b / 3)", "abs(a)"])))
    left = draw(expressions(depth - 1))
    shape = draw(st.sampled_from(["+", "-", "*", "/", "if", "min", "neg", "round"]))
    if shape == "if":
        return f"(if {left} > {draw(expressions(depth - 1))} then {draw(expressions(depth - 1))} else {left})"
    if shape == "min":
        return f"min({left}, {draw(expressions(depth - 1))})"
    if shape == "neg":
        return f"-({left})"
    if shape == "round":
        return f"round({left}, 0.01)"
    return f"({left} {shape} {draw(expressions(depth - 1))})"


@st.composite
def policies(draw):
    lines = []
    names = ["a", "b"]
    for k in range(draw(st.integers(1, 6))):
        body = draw(expressions(draw(st.integers(1, 6))))
        for name in names[2:]:
            if draw(st.integers(0, 2)) == 0:
                body = f"({body} + {name})"
        lines.append(f"d{k} = {body}")
        names.append(f"d{k}")
    shape = draw(st.sampled_from(["plain", "squares", "long sum", "deep ifs", "table", "pool"]))
    last = names[-1]
    if shape == "squares":  # a value multiplied by itself, again and again
        for k in range(draw(st.integers(5, 40))):
            lines.append(f"s{k} = {last} * {last}")
            last = f"s{k}"
    elif shape == "long sum":
        lines.append("long = " + " + ".join([last] * draw(st.integers(50, 700))))
    elif shape == "deep ifs":
        lines.append("deep = " + f"if {last} > 0 then 1 else " * draw(st.integers(50, 700)) + "0")
    elif shape == "table":
        rows = draw(st.integers(1, 400))
        lines.append("band\n" + "".join(f"  IF {last} >= {rows - i} THEN band {i}\n" for i in range(rows))
                     + "  OTHERWISE band -1")
    elif shape == "pool":
        lines.append(f"pool = split round(abs({last}) * ¥1, 0.01) by abs(m) within team")
    return POLICY_HEAD + "\n".join(lines) + "\n"


@FUZZ
@given(text=policies())
def test_policies_end_alike_on_both_engines(folder, capsys, text):
    policy = folder / "p.pk"
    policy.write_text(text, encoding="utf-8")
    data = folder / "data.csv"
    data.write_text(POLICY_DATA, encoding="utf-8")
    code = within(DEADLINE, main, ["check", str(policy)])
    err = capsys.readouterr().err
    assert code in (0, 1) and not NEVER.search(err), err[-3000:]
    if code:
        assert "error:" in err  # check said what is wrong, where
    checked = code == 0
    code, err, out = run_both(capsys, folder, policy, data, "--keep-going")
    if not checked:
        assert code == 1 and out is None  # what check refuses, run refuses
    elif code == 0:
        assert out.count("\n") == 5  # every employee computed
