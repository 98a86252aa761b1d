"""The real `pkrules tui` command in a real terminal (tmux), read back as a person would see it; its plain
status table where there is no terminal; and the engine importable without Textual."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from rich.cells import cell_len

from tui_data import DATA, POLICY, ROOT, store_copy

PKRULES = str(Path(sys.executable).parent / "pkrules")
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Terminal:
    """A detached tmux session running one command, at a fixed size."""

    def __init__(self, command: list[str], width: int = 80, height: int = 24, env: dict | None = None):
        self.name = f"pkrules-test-{uuid.uuid4().hex[:8]}"
        self.socket = f"pkrules-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"  # its own server: a closing one cannot take the next session down
        environment = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        line = " ".join(_quote(c) for c in command)
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                  f"cd {_quote(str(ROOT))} && env TERM=xterm-256color {environment} {line}; echo ended $?; sleep 30")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-u", *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name).rstrip("\n")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def wait_for(self, *texts: str, timeout: float = 30) -> str:
        """The screen, once every text is on it (a screen is drawn in several passes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(text in shown for text in texts):
                time.sleep(0.2)
                return self.screen()
            time.sleep(0.2)
        raise AssertionError(f"{texts!r} never all appeared; the screen shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@needs_tmux
def test_pkrules_tui_on_a_store_in_a_real_terminal(tmp_path):
    """Open the store as HR, find the open appeal, open the employee and read the explanation."""
    db = store_copy(tmp_path)
    term = Terminal([PKRULES, "tui", "--db", db, "--as", "H01"], env={"PKRULES_TODAY": "2024-10-16"})
    try:
        board = term.wait_for("1 open appeal", "⏎ Open", "f Filter", "q Quit", "? Help", "E013")
        lines = board.splitlines()
        assert "as 刘芳 (HR)" in lines[0]
        header = next(line for line in lines if line.lstrip().startswith("ID"))
        row = next(line for line in lines if "E013" in line)
        # Chinese names and teams take two cells a character: the columns still line up
        assert cell_len(row[:row.index("published")]) == cell_len(header[:header.index("Stage")])
        assert "⚑ open" in row
        footer = lines[-1]
        for key in ("⏎ Open", "f Filter", "a Appeals", "p Policy", "c Charts", "q Quit", "? Help"):
            assert key in footer
        term.keys("a")
        term.wait_for("I made 30 visits")
        term.keys("Enter")
        employee = term.wait_for("visits = 20")  # the cursor starts on the disputed figure
        assert "邓浩 E013" in employee and "1 Explanation" in employee
        term.keys("e")
        time.sleep(0.5)
        term.keys("a")
        actions = term.wait_for("Accept the appeal #1", "only E013 (the employee) may")
        assert "only E013 (the employee) may" in actions
        term.keys("Escape")
        time.sleep(0.3)
        term.keys("q")
        term.wait_for("ended 0")  # the command ends, as the person asked (the screen is theirs again)
        # and the store is closed: the database file alone holds everything (no write-ahead log beside it)
        assert not Path(db + "-wal").exists() and not Path(db + "-shm").exists()
    finally:
        term.close()


@needs_tmux
def test_preview_at_160x48_and_chinese(tmp_path):
    term = Terminal([PKRULES, "tui", "policies/sales_incentive.zh.pk", "policies/sample/employees.zh.csv",
                     "--today", "2024-10-16"], width=160, height=48)
    try:
        board = term.wait_for("40 / 40 人", "退出", "帮助", "综合得分", "E004", "E005")
        lines = board.splitlines()
        assert "身份：人事" in lines[0] and "预览" in lines[0]
        header = next(line for line in lines if line.lstrip().startswith("工号"))
        assert "综合得分" in header and "绩效系数" in header  # a wide board shows more figures
        e004 = next(line for line in lines if "E004" in line)
        e005 = next(line for line in lines if "E005" in line)
        # 朱秀英 (three characters) and 赵雪 (two) end their columns at the same cell
        assert cell_len(e004[:e004.index("华东一组")]) == cell_len(e005[:e005.index("华东一组")])
        assert "退出" in lines[-1] and "帮助" in lines[-1]
        term.keys("q")
    finally:
        term.close()


def test_no_terminal_prints_the_status_table(tmp_path):
    db = store_copy(tmp_path)
    env = dict(os.environ, PKRULES_TODAY="2024-10-16")
    done = subprocess.run([PKRULES, "tui", "--db", db, "--as", "H01"], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "no terminal: the status table instead of the app" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("华东区销售激励 2024Q3 · cycle 2024Q3 · as 刘芳 (hr)")
    assert any(line.startswith("E013") and "appeal open" in line and "16,162.29" in line for line in lines)
    assert lines[-1] == "40 employees: 40 published; 1 open appeal"


def test_no_terminal_preview_and_usage_errors():
    done = subprocess.run([PKRULES, "tui", POLICY, DATA, "--stage", "published", "--appeal", "E013:visits:30 visits",
                           "--today", "2024-10-16"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "preview: figures from the engine" in done.stdout
    usage = subprocess.run([PKRULES, "tui"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert usage.returncode == 2 and "give --db PATH (a workflow store) or POLICY DATA (a preview)" in usage.stderr
    bad = subprocess.run([PKRULES, "tui", POLICY, DATA, "--as", "nobody"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60)
    assert bad.returncode == 1 and "who is 'nobody'" in bad.stderr


PROBE = """
import sys
import {module}
{extra}
loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.") or m == "tui.app")
print(loaded)
"""


@pytest.mark.parametrize("module, extra", [
    ("pkrules", ""),
    ("pkrules.api", "from pkrules import api; api.compile_file({policy!r})"),
    ("pkrules.cli", "pkrules.cli.build_parser()"),
    ("tui.model", "tui.model.open_preview({policy!r}, {data!r})"),
    ("tui.command", ""),
])
def test_the_engine_and_the_command_do_not_import_textual(module, extra):
    code = PROBE.format(module=module, extra=extra.format(policy=POLICY, data=DATA))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_pkrules_help_lists_tui_without_textual():
    code = ("import sys, contextlib, io\nfrom pkrules.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n    try:\n        main(['tui', '--help'])\n    except SystemExit:\n        pass\n"
            "print('textual' in sys.modules)\nprint(out.getvalue())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.startswith("False")
    assert "pkrules tui --db pkrules.db --as H01" in done.stdout


def test_pkrules_package_never_imports_textual_and_tui_only_when_a_command_runs():
    """Import-linter's contract, as a test: nothing under pkrules/ imports textual; tui is imported only inside
    functions (the CLI's hook registering `pkrules tui`, the demo opening the app), never when a module loads."""
    import ast

    offenders = []
    for path in (ROOT / "pkrules").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                top = name.split(".")[0]
                if top == "textual" or (top == "tui" and id(node) not in inside):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not offenders


def test_tui_uses_the_engine_only_through_its_api():
    allowed = ("from pkrules import api", "from pkrules.workflow", "import pkrules")
    offenders = []
    for path in (ROOT / "tui").glob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("from pkrules", "import pkrules")) and not stripped.startswith(allowed):
                offenders.append(f"{path.name}:{number}: {stripped}")
    assert not offenders
    # and the workflow only from the store model: every action goes through its service
    users = [p.name for p in (ROOT / "tui").glob("*.py")
             if any(line.strip().startswith(("from pkrules.workflow", "import pkrules.workflow"))
                    for line in p.read_text(encoding="utf-8").splitlines())]
    assert users == ["store.py"]
