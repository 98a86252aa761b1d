"""The language manual cannot drift from the language: every policy snippet in it is checked.

The manuals are docs/language.en.md and docs/language.zh.md. Their fenced code
blocks follow this convention (each manual repeats it in an HTML comment at its top):

  ```pk            A policy snippet. It must check with no diagnostics at all (no error,
                   no warning), and every `example` in it must pass: a result the manual
                   shows is written as `expect name value` inside the snippet.
  ```pk bad        Wrong on purpose. An HTML comment right before the block (or right
                   after it), <!-- expect: CODE --> or <!-- expect: CODE, CODE -->, names
                   the diagnostic codes `pkrules check` must report for it (errors or
                   warnings). The next pk block after a bad block is its fix, so it must
                   be a plain ```pk block.
  ```pk failing    Checks cleanly, but at least one of its examples must fail (to show
                   what `pkrules test` prints when an expectation is wrong).

  <!-- inputs: NAME: TYPE [LIMITS], NAME: TYPE … -->
                   Right before a pk block of any kind: the block is a fragment. The test
                   puts an input block in front of it, one input per item, plus
                   `id: text key` unless an item is marked key (主键). Items are separated by
                   commas that are followed by `name:`, so `480,000` inside a limit is safe.
                   `<!-- inputs: -->` (empty) gives the key only. Without an inputs comment
                   the block is a complete policy and is checked as written. A fragment must
                   not have a `policy` header (the header must be a file's first line).

  <!-- file: regions.csv -->
                   Right before a ```csv block: a file next to the policy (a lookup
                   table read with `from "regions.csv"`). The test writes every such block
                   of a manual into one folder and checks that manual's snippets as if
                   they were policy files in that folder.

  Every fenced block carries a tag: pk, pk bad, pk failing, or one of NON_POLICY_TAGS
  (command output, CSV, …), so no policy hides in an untagged block.

  The diagnostic reference table lies between <!-- diagnostic-codes --> and
  <!-- /diagnostic-codes -->: one row per code, `code` in the first cell, a bad
  excerpt in the fourth cell and its fix in the fifth (inline code, or "—"). The
  codes must be exactly those the code base can emit, every code must have a
  `pk bad` block that expects it (except the NO_EXAMPLE codes), and the excerpts
  must appear in that block and in its fix.

  The codes the code base can emit are found by parsing every module under pkrules/
  with Python's ast module: the code argument of Diagnostic(severity, code, …) and
  of error(code, message, …) / warning(code, message, …) calls, written as a string
  literal or as `"a" if … else "b"`. A helper that passes on its own `code`
  parameter (Checker.error) is followed through its callers; any other call whose
  code the scan cannot read fails the test, so a new code cannot slip past it.
"""

from __future__ import annotations

import ast as pyast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pkrules.language.diagnostics import render_all
from pkrules.language.compile import check_source
from pkrules.engine.examples import run_examples
from pkrules.language.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
MANUALS = [ROOT / "docs" / "language.en.md", ROOT / "docs" / "language.zh.md"]
NON_POLICY_TAGS = {"text", "sh", "csv", "json", "markdown"}
POLICY_TAGS = {"pk", "pk bad", "pk failing"}
CODE_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

# Codes no policy can trigger, with the reason. The manual still lists them (the
# table must be complete), but there is no bad example to check.
NO_EXAMPLE = {
    # parse.py raises it when a NUMBER token is not a number; the token's regular
    # expression only matches text that numbers.parse_literal accepts.
    "number": "the grammar only lets well-formed numbers through",
    # An example would be a 500-level expression or a chain of 1,000 definitions: a page of the manual.
    # tests/test_policy_hostile.py checks both at their limits and just past them.
    "too-deep": "its example is 500 levels deep",
    "too-long-chain": "its example is 1,000 definitions long",
}


# ---- reading the manuals ---------------------------------------------------------------

_COMMENT = re.compile(r"^\s*<!--\s*([a-z][a-z-]*)\s*:(.*?)-->\s*$")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*(.*?)\s*$")


@dataclass
class Block:
    manual: Path
    line: int  # of the opening fence, 1-based
    tag: str
    text: str
    notes: dict[str, str] = field(default_factory=dict)  # inputs / expect comments

    @property
    def label(self) -> str:
        return f"{self.manual.name}:{self.line}"

    @property
    def expected_codes(self) -> list[str]:
        return [c.strip() for c in self.notes.get("expect", "").split(",") if c.strip()]

    def policy_text(self) -> str:
        """The text to check: the block itself, or the block behind its declared inputs."""
        if "inputs" not in self.notes:
            return self.text
        items = split_inputs(self.notes["inputs"])
        lines = ["input"]
        if not any(re.search(r"(^|\s)(key|主键)(\s|$)", item) for item in items):
            lines.append("  id: text key")
        lines += [f"  {item}" for item in items]
        return "\n".join(lines) + "\n\n" + self.text


def split_inputs(spec: str) -> list[str]:
    """'sales: money >= 0, target: money > 480,000, level: 新人 | 骨干' → one item per input."""
    spec = spec.strip()
    if not spec:
        return []
    parts = re.split(r"\s*[,，]\s*(?=[^\W\d]\w*\s*[:：])", spec)
    return [p.strip() for p in parts if p.strip()]


def read_blocks(manual: Path) -> list[Block]:
    return read_manual(manual)[0]


def read_manual(manual: Path) -> tuple[list[Block], list[str]]:
    """The fenced blocks with the comments that belong to them, and comments that belong to none."""
    lines = manual.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    stray: list[str] = []
    pending: dict[str, str] = {}
    after: Block | None = None  # the block just closed: a comment right after it may belong to it
    i = 0
    while i < len(lines):
        line = lines[i]
        comment = _COMMENT.match(line)
        fence = _FENCE.match(line)
        if line.lstrip().startswith("<!--") and "-->" not in line:
            # a comment over several lines (the manual's own note on this convention): skip it whole
            while i < len(lines) and "-->" not in lines[i]:
                i += 1
            i += 1
            continue
        if comment:
            key, value = comment.group(1), comment.group(2).strip()
            if key == "expect" and after is not None and after.tag == "pk bad" and "expect" not in after.notes:
                after.notes["expect"] = value
            elif key in ("inputs", "expect", "file"):
                pending[key] = value
            i += 1
            continue
        if not line.strip():
            i += 1
            continue
        after = None
        if fence:
            indent, marks, tag = fence.groups()
            start = i
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marks):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            i += 1  # the closing fence
            block = Block(manual, start + 1, " ".join(tag.split()), "\n".join(body) + "\n", pending)
            pending = {}
            blocks.append(block)
            after = block
            continue
        if pending:
            # A comment meant for a block, then prose: the comment would be lost.
            stray.append(f"{manual.name}:{i + 1}: {', '.join(sorted(pending))} comment not right before a code block")
            pending = {}
        i += 1
    return blocks, stray


def all_blocks() -> list[Block]:
    return [b for manual in MANUALS if manual.exists() for b in read_blocks(manual)]


def policy_blocks(tag: str) -> list[Block]:
    return [b for b in all_blocks() if b.tag == tag]


@pytest.fixture(scope="session")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Per manual, a folder holding the files its snippets read (<!-- file: NAME --> blocks)."""
    made: dict[str, Path] = {}
    for manual in MANUALS:
        folder = tmp_path_factory.mktemp(manual.stem.replace(".", "_"))
        for block in read_blocks(manual) if manual.exists() else []:
            if "file" in block.notes:
                (folder / block.notes["file"]).write_text(block.text, encoding="utf-8")
        made[manual.name] = folder
    return made


def _check(block: Block, folders: dict[str, Path]):
    path = folders[block.manual.name] / f"{block.manual.stem}-line{block.line}.pk"
    source = SourceFile(str(path), block.policy_text())
    graph, diagnostics = check_source(source)
    return source, graph, diagnostics


def _shown(source: SourceFile, diagnostics) -> str:
    return f"\n--- checked text ---\n{source.text}--- diagnostics ---\n{render_all(source, diagnostics)}"


# ---- the manuals exist, are linked, and tag every block -----------------------------------


def test_both_manuals_exist_and_the_readme_links_them():
    for manual in MANUALS:
        assert manual.exists(), f"{manual} is missing"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/language.en.md" in readme and "docs/language.zh.md" in readme


@pytest.mark.parametrize("manual", MANUALS, ids=lambda p: p.name)
def test_every_block_is_tagged(manual: Path):
    blocks, stray = read_manual(manual)
    assert not stray, stray
    assert len([b for b in blocks if b.tag in POLICY_TAGS]) >= 50, "a manual with hardly any checked snippets"
    for block in blocks:
        assert block.tag in POLICY_TAGS | NON_POLICY_TAGS, (
            f"{block.label}: a code block tagged '{block.tag}'; use pk, pk bad, pk failing, or one of {sorted(NON_POLICY_TAGS)}")
        if block.tag != "pk bad":
            assert "expect" not in block.notes, f"{block.label}: an expect comment belongs to a pk bad block"
        if block.tag not in POLICY_TAGS:
            assert "inputs" not in block.notes, f"{block.label}: an inputs comment on a '{block.tag}' block"
        if "file" in block.notes:
            assert block.tag == "csv" and re.fullmatch(r"[\w.-]+", block.notes["file"]), (
                f"{block.label}: <!-- file: NAME --> goes before a csv block, with a plain file name")


# ---- each snippet ------------------------------------------------------------------------


@pytest.mark.parametrize("block", policy_blocks("pk"), ids=lambda b: b.label)
def test_snippet_checks_cleanly_and_its_examples_pass(block: Block, folders):
    source, graph, diagnostics = _check(block, folders)
    assert not diagnostics, f"{block.label}: a pk snippet must check without errors or warnings" + _shown(source, diagnostics)
    assert graph is not None
    for outcome in run_examples(graph):
        problems = [f"{m.name}: expected {m.expected_text}, got {m.actual}" for m in outcome.mismatches]
        problems += [e.message for e in outcome.errors]
        if not outcome.passed:
            pytest.fail(f"{block.label}: example \"{outcome.title}\" fails: " + "; ".join(problems)
                        + f"\n--- checked text ---\n{source.text}", pytrace=False)


@pytest.mark.parametrize("block", policy_blocks("pk bad"), ids=lambda b: b.label)
def test_bad_snippet_gets_its_diagnostic(block: Block, folders):
    expected = block.expected_codes
    assert expected, f"{block.label}: a pk bad block needs <!-- expect: CODE --> right before or after it"
    source, _, diagnostics = _check(block, folders)
    codes = {d.code for d in diagnostics}
    for code in expected:
        assert code in codes, f"{block.label}: expected [{code}], got {sorted(codes)}" + _shown(source, diagnostics)


@pytest.mark.parametrize("block", policy_blocks("pk failing"), ids=lambda b: b.label)
def test_failing_snippet_checks_but_its_examples_fail(block: Block, folders):
    source, graph, diagnostics = _check(block, folders)
    assert not diagnostics, _shown(source, diagnostics)
    outcomes = run_examples(graph)
    assert outcomes and not all(o.passed for o in outcomes), f"{block.label}: every example passes; tag it pk"


@pytest.mark.parametrize("manual", MANUALS, ids=lambda p: p.name)
def test_every_bad_snippet_is_followed_by_its_fix(manual: Path):
    blocks = [b for b in read_blocks(manual) if b.tag in POLICY_TAGS]
    for block, following in zip(blocks, blocks[1:] + [None]):
        if block.tag == "pk bad":
            assert following is not None and following.tag == "pk", (
                f"{block.label}: a bad snippet must be followed by a pk block that fixes it")


# ---- every diagnostic code is documented -------------------------------------------------


def _string_constants(node: pyast.AST) -> set[str] | None:
    """The strings an argument can be: a literal, or a conditional between literals."""
    if isinstance(node, pyast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, pyast.IfExp):
        a, b = _string_constants(node.body), _string_constants(node.orelse)
        return None if a is None or b is None else a | b
    return None


def _argument(call: pyast.Call, position: int, keyword: str) -> pyast.AST | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return call.args[position] if len(call.args) > position else None


def emitted_codes() -> tuple[dict[str, list[str]], list[str]]:
    """Every code passed to Diagnostic(severity, code, …) or to error/warning(code, message, …)
    in pkrules/, with where; and the calls whose code the scan cannot read."""
    codes: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for path in sorted((ROOT / "pkrules").rglob("*.py")):
        tree = pyast.parse(path.read_text(encoding="utf-8"), str(path))
        where_of = lambda node: f"{path.relative_to(ROOT)}:{node.lineno}"  # noqa: E731

        def visit(node: pyast.AST, params: frozenset[str]) -> None:
            if isinstance(node, (pyast.FunctionDef, pyast.AsyncFunctionDef, pyast.Lambda)):
                a = node.args
                params = frozenset(p.arg for p in a.posonlyargs + a.args + a.kwonlyargs)
            if isinstance(node, pyast.Call):
                func = node.func
                name = func.id if isinstance(func, pyast.Name) else func.attr if isinstance(func, pyast.Attribute) else ""
                arg = None
                if name == "Diagnostic":
                    arg = _argument(node, 1, "code")
                elif name in ("error", "warning") and len(node.args) + len(node.keywords) >= 2:
                    # the checker's error(code, message, span, …); argparse's error(message) has one argument
                    arg = _argument(node, 0, "code")
                if arg is not None:
                    values = _string_constants(arg)
                    if values is not None and all(CODE_RE.fullmatch(v) for v in values):
                        for v in values:
                            codes.setdefault(v, []).append(where_of(node))
                    elif isinstance(arg, pyast.Name) and arg.id in params:
                        pass  # a helper passing its caller's code on (Checker.error)
                    elif name == "Diagnostic" or len(node.args) >= 3:
                        unreadable.append(where_of(node))
            for child in pyast.iter_child_nodes(node):
                visit(child, params)

        visit(tree, frozenset())
    return codes, unreadable


def test_the_code_scan_reads_every_diagnostic():
    codes, unreadable = emitted_codes()
    assert not unreadable, f"write the diagnostic code as a literal string so the manual test can see it: {unreadable}"
    # The scan itself must work: these codes come from each stage (parse, check, analysis).
    for known in ("syntax", "indentation", "undefined", "units", "cycle", "table-gap", "dead-definition"):
        assert known in codes, f"the scan of pkrules/ missed '{known}'"


def documented_codes(manual: Path) -> dict[str, tuple[str | None, str | None]]:
    """code → (bad excerpt, fix excerpt) from the manual's diagnostic table."""
    text = manual.read_text(encoding="utf-8")
    match = re.search(r"<!--\s*diagnostic-codes\s*-->(.*?)<!--\s*/diagnostic-codes\s*-->", text, re.S)
    assert match, f"{manual.name}: no table between <!-- diagnostic-codes --> and <!-- /diagnostic-codes -->"
    rows: dict[str, tuple[str | None, str | None]] = {}
    for line in match.group(1).split("\n"):
        if not line.strip().startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        first = re.fullmatch(r"`([^`]+)`", cells[0])
        if not first:
            continue  # the header and its rule
        assert first.group(1) not in rows, f"{manual.name}: '{first.group(1)}' is listed twice"
        excerpt = lambda cell: (m.group(1).replace("\\|", "|") if (m := re.search(r"`([^`]+)`", cell)) else None)  # noqa: E731
        rows[first.group(1)] = (excerpt(cells[3]) if len(cells) > 3 else None, excerpt(cells[4]) if len(cells) > 4 else None)
    return rows


@pytest.mark.parametrize("manual", MANUALS, ids=lambda p: p.name)
def test_the_diagnostic_table_lists_exactly_the_codes_the_engine_emits(manual: Path):
    emitted, _ = emitted_codes()
    documented = documented_codes(manual)
    missing = sorted(set(emitted) - set(documented))
    stale = sorted(set(documented) - set(emitted))
    assert not missing, f"{manual.name}: diagnostic codes without documentation: " + \
        ", ".join(f"{c} ({emitted[c][0]})" for c in missing)
    assert not stale, f"{manual.name}: documented codes the engine no longer emits: {stale}"


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("manual", MANUALS, ids=lambda p: p.name)
def test_every_code_has_a_checked_bad_example_and_fix(manual: Path):
    blocks = [b for b in read_blocks(manual) if b.tag in POLICY_TAGS]
    fix_of = {id(b): nxt for b, nxt in zip(blocks, blocks[1:] + [None])}
    problems = []
    for code, (bad, fix) in documented_codes(manual).items():
        if code in NO_EXAMPLE:
            continue
        candidates = [b for b in blocks if b.tag == "pk bad" and code in b.expected_codes]
        if not candidates:
            problems.append(f"{code}: no pk bad block with <!-- expect: {code} -->")
            continue
        if bad is not None and not any(_squash(bad) in _squash(b.text) for b in candidates):
            problems.append(f"{code}: the table's bad excerpt `{bad}` is in none of its pk bad blocks")
            continue
        owners = [b for b in candidates if bad is None or _squash(bad) in _squash(b.text)]
        if fix is not None and not any(fix_of[id(b)] is not None and _squash(fix) in _squash(fix_of[id(b)].text)
                                       for b in owners):
            problems.append(f"{code}: the table's fix excerpt `{fix}` is not in the fix after its bad block")
    assert not problems, f"{manual.name}:\n  " + "\n  ".join(problems)
