"""Commands for reviewing policy changes: diff (semantic, with impact), git-setup, git's diff driver and textconv.

Exit codes of `diff` follow diff(1): 0 no semantic changes, 1 changes, 2 trouble.
"""

from __future__ import annotations

import difflib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from pkrules.cli.console import Fail, err as _err, error, note
from pkrules.messages import reason, set_language, speaking, tr

EXIT_SAME, EXIT_CHANGED, EXIT_TROUBLE = 0, 1, 2


def _fail(message: str, code: int = EXIT_TROUBLE) -> Fail:
    """Trouble: exit 2, as diff(1) does (1 means "there are changes")."""
    return Fail(message, code)


# ---- reading both sides ------------------------------------------------------------------


class _Side:
    """One version of the policy: its text, its AST (if it parses), its graph (if it checks)."""

    def __init__(self, spec: str):
        from pkrules.language.compile import PolicyFileError, check_source, source_language
        from pkrules.io.git import GitError, parse_spec, read_policy_spec
        from pkrules.language.parse import parse_policy

        self.spec = spec
        try:
            self.source = read_policy_spec(spec)
        except (PolicyFileError, GitError) as e:
            raise _fail(error(e)) from None
        self.language = source_language(self.source)
        with speaking(self.language):
            self.policy, diagnostics = parse_policy(self.source)
        self.graph = None
        if self.policy is not None:
            revision = parse_spec(spec)
            files = _lookup_files(self.policy)
            if revision is not None and files:
                self.graph, diagnostics = self._check_in_revision(revision, files)
            else:
                self.graph, diagnostics = check_source(self.source)
        self.errors = [d for d in diagnostics if d.is_error]

    def _check_in_revision(self, revision, files):
        """Check a policy from git with its lookup files from the same revision, not from the checkout."""
        import tempfile

        from pkrules.language.compile import check_source
        from pkrules.io.git import GitError, read_revision_files
        from pkrules.language.source import SourceFile

        with tempfile.TemporaryDirectory(prefix="pkrules-diff-") as folder:
            try:
                policy_path = read_revision_files(revision, files, folder)
            except GitError as e:
                raise _fail(error(e)) from None
            graph, diagnostics = check_source(SourceFile(policy_path, self.source.text))
        if graph is not None:
            graph.source = self.source  # messages and explanations name the revision, not the scratch folder
        return graph, diagnostics

    @property
    def tables(self) -> dict:
        return getattr(self.graph, "lookup_tables", None) or {}

    def show_errors(self) -> None:
        from pkrules.language.diagnostics import render_all

        if self.errors:
            _err(render_all(self.source, self.errors))


def _lookup_files(policy) -> list[str]:
    from pkrules.language import ast

    return [d.file for d in policy.declarations if isinstance(d, ast.Lookup) and getattr(d, "file", None)]


def run_diff(args) -> int:
    from pkrules.review import diff as semantic

    old, new = _Side(args.old), _Side(args.new)
    set_language(new.language)  # the diff describes the new version in its language (or the user's --lang)
    for side in (old, new):
        side.show_errors()
    unparsed = [side.spec for side in (old, new) if side.policy is None]
    if unparsed:
        raise _fail(error(tr("{policies}: syntax errors (above); fix them to see the semantic diff",
                             policies=tr(" and ").join(unparsed))))
    d = semantic.diff_policies(old.policy, new.policy, old.spec, new.spec, old.tables, new.tables)
    broken = [side.spec for side in (old, new) if side.errors]
    limit = 200 if args.limit is None else (args.limit or None)  # text and Markdown: 200 rows unless asked
    if args.data and broken:
        raise _fail(error(tr("{policies}: errors (above); the impact needs both versions to compile",
                             policies=tr(" and ").join(broken))))
    from pkrules.review import impact as impacts

    if args.json:
        import json

        impact = _impact(old.graph, new.graph, args, d) if args.data and d.has_changes else None
        if args.data and not d.has_changes:
            _check_data(old.graph, new.graph, args)
        data = {"diff": semantic.to_data(d)}
        if args.data:
            data["impact"] = impacts.to_data(impact, args.limit or None, args.explain) if impact is not None else None
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        # The semantic diff first: a reviewer sees it even when the data cannot be used.
        markdown = args.markdown
        print(semantic.render_markdown(d) if markdown else semantic.render_text(d), end="", flush=True)
        if args.data and not d.has_changes:
            _check_data(old.graph, new.graph, args)
        if args.data and d.has_changes:
            impact = _impact(old.graph, new.graph, args, d)
            print()
            print(impacts.render_markdown(impact, limit, args.explain) if markdown
                  else impacts.render_text(impact, limit, args.explain), end="")
    if broken:
        raise _fail(note(tr("{policy} has errors (above); the diff compares the text as written", policy=broken[0])
                         if len(broken) == 1 else
                         tr("{policies} have errors (above); the diff compares the text as written",
                            policies=tr(" and ").join(broken))))
    return EXIT_CHANGED if d.has_changes else EXIT_SAME


def _check_data(old_graph, new_graph, args) -> None:
    """With no semantic change there is no impact to compute, but --data must still be data: a file that cannot
    be read, lacks a column or has bad cells is trouble (exit 2), not "no changes"."""
    from pkrules.errors import PkrulesError
    from pkrules.io.git import GitError, read_text_spec
    from pkrules.review.impact import ImpactError, load_populations

    try:
        text = read_text_spec(args.data)
        populations = load_populations(old_graph, new_graph, args.data, text, args.old, args.new)
        problems = [cell for population in {id(p): p for p in populations}.values() for cell in population.cell_errors]
    except (GitError, ImpactError, PkrulesError) as e:
        raise _fail(error(e)) from None
    if problems and not args.keep_going:
        for problem in problems:
            _err(error(problem.describe(args.data)))
        raise _fail(tr("{data}: 1 bad cell; fix the data, or use --keep-going", data=args.data) if len(problems) == 1 else
                    tr("{data}: {count} bad cells; fix the data, or use --keep-going", data=args.data, count=len(problems)))


def _impact(old_graph, new_graph, args, d):
    from pkrules.cli.run import note_decline
    from pkrules.engine.backend import BadCells
    from pkrules.io.git import GitError, read_text_spec
    from pkrules.review.impact import ImpactError, choose_columns, compute_impact, evaluate_both, load_populations

    related = sorted(set(getattr(old_graph, "related", None) or {}) | set(getattr(new_graph, "related", None) or {}))
    if related:
        raise _fail(error(tr("the policy reads related tables ({tables}), which `diff --data` cannot take yet; "
                             "compare `pkrules run … --with …` of each version instead", tables=tr(", ").join(related))))
    try:
        text = read_text_spec(args.data)
    except GitError as e:
        raise _fail(error(e)) from None
    names = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    try:
        old_population, new_population = load_populations(old_graph, new_graph, args.data, text, args.old, args.new)
        columns = choose_columns(old_graph, new_graph, d.renames, names)
        old_results, new_results = evaluate_both(old_graph, new_graph, old_population, new_population, args.engine,
                                                 d.renames, args.keep_going, on_decline=note_decline)
    except BadCells as bad:
        population = bad.population
        label = args.old if population is old_population else args.new
        for problem in population.cell_errors:
            text = problem.describe(args.data)
            if new_population is not old_population:
                text = tr("{problem} (read for {policy})", problem=text, policy=label)
            _err(error(text))
        n = len(population.cell_errors)
        raise _fail(tr("{data}: {n} bad cell{s}; no impact was computed. Fix the data, or use --keep-going to compare "
                       "the other rows.", data=args.data, n=n, s="s" * (n != 1))) from None
    except ImpactError as e:
        raise _fail(error(e)) from None
    for population in {id(p): p for p in (old_population, new_population)}.values():
        if population.loaded and not population.rows:
            raise _fail(error(tr("{data}: no rows to evaluate", data=args.data)))
    for results, label in ((old_results, args.old), (new_results, args.new)):
        for problem in results.errors:
            _err(error(tr("{data}: {policy}: {problem}", data=args.data, policy=label,
                          problem=problem.describe(results.graph.source.path, args.data))))
        if results.errors and not args.keep_going:
            n = len(results.errors)
            raise _fail(tr("{policy}: {n} row{s} could not be computed; no impact was computed. "
                           "Fix the data or the policy, or use --keep-going.", policy=label, n=n, s="s" * (n != 1)))
    return compute_impact(old_results, new_results, args.data, columns, d.renames, d.changed_names(),
                          engine=new_results.backend)


# ---- git integration ------------------------------------------------------------------------

ATTRIBUTE = "*.pk diff=pkrules"


def _self_command() -> str:
    """How git should call this pkrules: the installed script if we are it, else python -m."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "pkrules" and argv0.exists():
        return shlex.quote(str(argv0.resolve()))
    found = shutil.which("pkrules")
    if found:
        return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m pkrules.cli"


def _git(args: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise _fail(error(tr("git is not installed (or not on PATH)"))) from None


def _global_attributes_file() -> Path:
    configured = _git(["config", "--global", "--get", "core.attributesFile"]).stdout.strip()
    if configured:
        return Path(os.path.expanduser(configured))
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "git" / "attributes"


def run_git_setup(args) -> int:
    from pkrules.io.git import GitError, repository_root

    command = args.driver_command or _self_command()
    scope = ["--global"] if args.global_ else []
    if args.global_:
        attributes = _global_attributes_file()
    else:
        try:
            attributes = Path(repository_root()) / ".gitattributes"
        except GitError as e:
            raise _fail(error(tr("{problem}; or use --global to set it up for every repository", problem=e))) from None
    try:
        existing = attributes.read_text(encoding="utf-8") if attributes.exists() else ""
        if ATTRIBUTE not in existing.splitlines():
            attributes.parent.mkdir(parents=True, exist_ok=True)
            with attributes.open("a", encoding="utf-8") as handle:
                if existing and not existing.endswith("\n"):
                    handle.write("\n")
                handle.write(ATTRIBUTE + "\n")
            print(tr("{file}: added '{line}'", file=attributes, line=ATTRIBUTE))
        else:
            print(tr("{file}: already has '{line}'", file=attributes, line=ATTRIBUTE))
    except OSError as e:
        raise _fail(error(tr("cannot write {path}: {reason}", path=attributes, reason=reason(e)))) from None
    settings = [
        ("diff.pkrules.command", f"{command} git-diff-driver"),
        ("diff.pkrules.textconv", f"{command} git-textconv"),
        ("diff.pkrules.xfuncname", r"^[^ \t#].*$"),
    ]
    for key, value in settings:
        result = _git(["config", *scope, key, value])
        if result.returncode != 0:
            raise _fail(error(tr("{command} failed: {problem}", command=f"git config {' '.join(scope + [key])}",
                                 problem=result.stderr.strip())))
        print(f"git config {' '.join(scope + [key])} {shlex.quote(value)}")
    print("\n" + tr("`git diff` now shows the semantic diff of *.pk files; `git log -p --ext-diff` does too, and plain "
                    "`git log -p` diffs their canonical text (comments and layout left out)."))
    print(tr("To undo: {command}, and remove '{line}' from {file}.",
             command=f"git config {' '.join(scope)}{' ' if scope else ''}--remove-section diff.pkrules",
             line=ATTRIBUTE, file=attributes))
    return 0


def _read_side(path: str, shown: str):
    """(text, policy or None, problem) of one side of a git diff; /dev/null is an empty side."""
    from pkrules.io.git import decode_policy
    from pkrules.language.parse import parse_policy

    if path == "/dev/null":
        return "", None, None
    try:
        source = decode_policy(Path(path).read_bytes(), shown)
    except Exception as e:  # noqa: BLE001 - a diff driver must never stop git
        return "", None, str(e)
    policy, diagnostics = parse_policy(source)  # in the language the driver speaks (the new file's)
    if policy is None:
        first = next((d for d in diagnostics if d.is_error), None)
        problem = first.message if first else tr("syntax error")
        if first is not None and first.span:
            problem = tr("line {line}: {problem}", line=first.span.line, problem=problem)
        return source.text, None, tr("{file} does not parse ({problem})", file=shown, problem=problem)
    return source.text, policy, None


def _file_language(path: str) -> str | None:
    """The language of a policy file git hands the driver (None when it cannot be read)."""
    from pkrules.language.keywords import policy_language

    if path == "/dev/null":
        return None
    try:
        return policy_language(Path(path).read_bytes().decode("utf-8-sig", "replace"))
    except OSError:
        return None


def _empty_policy():
    from pkrules.language import ast

    return ast.Policy(None, None, (), (), ())


def run_git_diff_driver(args) -> int:
    """git's external diff: path old-file old-hex old-mode new-file new-hex new-mode [new-path info]."""
    from pkrules.review import diff as semantic

    a = args.args
    if len(a) == 1:
        print(f"* Unmerged path {a[0]}")
        return 0
    if len(a) < 7:
        _err(tr("git-diff-driver: git calls this with 7 arguments (path old-file old-hex old-mode new-file new-hex "
                "new-mode); set it up with `pkrules git-setup`"))
        return EXIT_TROUBLE
    path, old_file, _old_hex, _old_mode, new_file, _new_hex, _new_mode = a[:7]
    set_language(_file_language(new_file) or _file_language(old_file))
    new_path = a[7] if len(a) >= 9 else path
    old_label, new_label = f"a/{path}", f"b/{new_path}"
    print(f"diff --pkrules {old_label} {new_label}")
    try:
        old_text, old_policy, old_problem = _read_side(old_file, old_label)
        new_text, new_policy, new_problem = _read_side(new_file, new_label)
        if old_problem or new_problem:
            for problem in (old_problem, new_problem):
                if problem:
                    print(tr("pkrules: {problem}; showing a text diff", problem=problem))
            _text_diff(old_text, new_text, old_label if old_file != "/dev/null" else "/dev/null",
                       new_label if new_file != "/dev/null" else "/dev/null")
            return 0
        d = semantic.diff_policies(old_policy or _empty_policy(), new_policy or _empty_policy(), old_label, new_label)
        if old_file == "/dev/null":
            print(tr("new policy file"))
        elif new_file == "/dev/null":
            print(tr("deleted policy file"))
        print(semantic.render_text(d, header=False), end="")
    except Exception as e:  # noqa: BLE001 - never stop git; show the text instead
        print(tr("pkrules: could not compare ({problem}); showing a text diff", problem=f"{type(e).__name__}: {e}"))
        try:
            _text_diff(Path(old_file).read_text(encoding="utf-8", errors="replace") if old_file != "/dev/null" else "",
                       Path(new_file).read_text(encoding="utf-8", errors="replace") if new_file != "/dev/null" else "",
                       old_label, new_label)
        except OSError:
            pass
    return 0


def _text_diff(old: str, new: str, old_label: str, new_label: str) -> None:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), old_label, new_label)
    for line in lines:
        sys.stdout.write(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")


def canonical_text(text: str, path: str = "<policy>") -> str:
    """The policy in fmt's layout with comments left out; the text unchanged if it does not parse."""
    from pkrules.language.fmt import format_text
    from pkrules.language.source import find_comments

    lines = text.replace("\r\n", "\n").split("\n")
    for comment in find_comments("\n".join(lines)):
        line = lines[comment.line - 1].rstrip()
        lines[comment.line - 1] = line[: len(line) - len(comment.text)].rstrip()
    try:
        return format_text("\n".join(lines), path)
    except Exception:  # noqa: BLE001 - textconv must always give git something to diff
        return text


def run_git_textconv(args) -> int:
    try:
        raw = Path(args.file).read_bytes()
    except OSError as e:
        _err(tr("git-textconv: cannot read {file}: {reason}", file=args.file, reason=reason(e)))
        return EXIT_TROUBLE
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        sys.stdout.buffer.write(raw)
        return 0
    sys.stdout.write(canonical_text(text, args.file))
    return 0
