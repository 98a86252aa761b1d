"""The built wheel carries the grammar, and the installed package loads it from inside itself."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_wheel_carries_the_grammar_and_uses_it(tmp_path: Path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "--quiet",
         "--disable-pip-version-check", "-w", str(wheels)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = wheels.glob("pkrules-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "pkrules/_grammar/pkrules.lark" in names
        assert archive.read("pkrules/_grammar/pkrules.lark") == (ROOT / "grammar" / "pkrules.lark").read_bytes()
        assert any(n.endswith("entry_points.txt") for n in names)
        site = tmp_path / "site"
        archive.extractall(site)  # what installing a wheel does, minus the scripts
    probe = (
        "import pkrules, pkrules.language.grammar as g;"
        "from pkrules.language.compile import compile_policy;"
        "graph = compile_policy('input\\n  id: text key\\n  sales: money\\nbonus = sales * 2%\\n');"
        "print(pkrules.__file__); print(g.grammar_path()); print(graph.order)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    module_file, grammar_file, order = result.stdout.splitlines()
    assert module_file.startswith(str(site)), "the installed package, not the source tree, was imported"
    assert grammar_file == str(site / "pkrules" / "_grammar" / "pkrules.lark")
    assert order == "['bonus']"
