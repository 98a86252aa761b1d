"""The `pkrules` command: check, test, run and explain policies.

Heavy modules are imported inside each command so that `pkrules --help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Fail(Exception):
    """Stop a command with a message for the user (already in their words)."""

    def __init__(self, message: str, code: int = EXIT_PROBLEMS):
        super().__init__(message)
        self.code = code


def _colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, stream=None) -> str:
    if not _colour(stream if stream is not None else sys.stderr):
        return text
    import re

    text = re.sub(r"(?m)(: )(error)(: )", "\\1\033[1;31m\\2\033[0m\\3", text)
    text = re.sub(r"(?m)(: )(warning)(: )", "\\1\033[1;33m\\2\033[0m\\3", text)
    text = re.sub(r"(?m)^(\s*\|\s*)(\^+)", "\\1\033[1;31m\\2\033[0m", text)
    text = re.sub(r"(?m)^(\s*)(hint:)", "\\1\033[1;36m\\2\033[0m", text)
    return text


def _err(text: str) -> None:
    print(_paint(text), file=sys.stderr)


def _compile(path: str, show_warnings: bool = True):
    """Read and check a policy, printing its diagnostics; raise _Fail when it has errors."""
    from pkrules.language.diagnostics import render_all
    from pkrules.language.compile import PolicyFileError, check_source, read_policy

    try:
        source = read_policy(path)
    except PolicyFileError as e:
        raise _Fail(f"error: {e}") from None
    graph, diagnostics = check_source(source)
    shown = diagnostics if show_warnings else [d for d in diagnostics if d.is_error]
    if shown:
        _err(render_all(source, shown))
    if graph is None:
        raise _Fail("", EXIT_PROBLEMS)
    return graph


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _policy_files(paths: list[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob("*.pk"))
            if not found:
                raise _Fail(f"error: {p}: no policy files (*.pk) in this folder", EXIT_USAGE)
            files.extend(found)
        else:
            files.append(p)
    return files


# ---- commands ------------------------------------------------------------------------


def cmd_check(args) -> int:
    from pkrules.language.diagnostics import render_all
    from pkrules.language.compile import PolicyFileError, check_source, read_policy

    status = EXIT_OK
    for path in _policy_files(args.policies):
        try:
            source = read_policy(path)
        except PolicyFileError as e:
            _err(f"error: {e}")
            status = EXIT_PROBLEMS
            continue
        graph, diagnostics = check_source(source)
        if diagnostics:
            _err(render_all(source, diagnostics))
        failed = graph is None or (args.strict and diagnostics)
        if failed:
            status = EXIT_PROBLEMS
        elif not args.quiet:
            warnings = len(diagnostics)
            print(f"{path}: ok — {_count(len(graph.inputs), 'input')}, {_count(len(graph.definitions), 'definition')}, "
                  f"{_count(len(graph.policy.examples), 'example')}" + (f", {_count(warnings, 'warning')}" if warnings else ""))
    return status


def cmd_test(args) -> int:
    from pkrules.engine.examples import run_examples
    from pkrules.engine.render import format_value, render_tree

    total = failed = 0
    report: list[str] = []
    for path in _policy_files(args.paths):
        try:
            graph = _compile(path, show_warnings=False)
        except _Fail as e:
            if str(e):
                _err(str(e))
            failed += 1
            total += 1
            continue
        outcomes = run_examples(graph)
        if not outcomes:
            print(f"{path}: no examples")
        if args.coverage and outcomes:
            from pkrules.engine.coverage import coverage, render_coverage

            hits = coverage([o.results for o in outcomes if o.results is not None])
            people = sum(o.results.size for o in outcomes if o.results is not None)
            report.append(f"coverage of {path} by its examples:\n{render_coverage(hits, people)}")
        for outcome in outcomes:
            total += 1
            if outcome.passed:
                print(f"PASS  {path}:{outcome.line}  {outcome.title}  ({outcome.checked} values)")
                continue
            failed += 1
            print(f"FAIL  {path}:{outcome.line}  {outcome.title}")
            for error in outcome.errors:
                print(f"      {error.node}: {error.message} (line {error.span.line if error.span else '?'})")
            for m in outcome.mismatches:
                type_ = graph.nodes[m.name].type
                print(f"      {m.name}: expected {m.expected_text or format_value(m.expected, type_)}, got {format_value(m.actual, type_)}"
                      f"   (expect on line {m.line})")
                if m.explanation is not None and not args.brief:
                    print("\n".join("        " + line for line in render_tree(m.explanation).splitlines()))
    for block in report:
        print("\n" + block)
    passed = total - failed
    print(f"{passed} passed, {failed} failed")
    return EXIT_OK if failed == 0 else EXIT_PROBLEMS


def _load_population(graph, data_path: str, keep_going: bool, sheet: str | None = None, table: str | None = None):
    from pkrules.io.tables import DataError, read_data

    try:
        population = read_data(graph, data_path, sheet=sheet, table=table)
    except DataError as e:
        raise _Fail(f"error: {e}") from None
    if population.errors:
        for error in population.errors:
            _err(f"error: {error.describe(data_path)}")
        rows = population.skipped
        if not keep_going:
            raise _Fail(f"{data_path}: {len(population.errors)} bad cell{'s' * (len(population.errors) != 1)} in "
                        f"{rows} row{'s' * (rows != 1)}; nothing was evaluated. Fix the data, or use --keep-going "
                        f"to evaluate the other rows.")
        _err(f"{data_path}: skipping {rows} row{'s' * (rows != 1)} with errors (--keep-going)")
    if not population.rows:
        raise _Fail(f"error: {data_path}: no rows to evaluate")
    return population


def _load_related(graph, population, specs: list[str] | None, keep_going: bool) -> dict[str, list[dict]]:
    """The rows of the policy's related tables, from --with NAME=FILE; each linked to a known employee."""
    from pkrules.io.tables import DataError, read_data

    given: dict[str, str] = {}
    for spec in specs or []:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise _Fail(f"error: --with {spec}: write --with TABLE=FILE, e.g. --with ratings=ratings.csv", EXIT_USAGE)
        if name not in graph.related:
            known = ", ".join(graph.related) or "none"
            raise _Fail(f"error: --with {spec}: the policy has no table {name} (its tables: {known})", EXIT_USAGE)
        given[name] = path
    missing = [name for name in graph.related if name not in given]
    if missing:
        raise _Fail(f"error: this policy reads the table {missing[0]}: give it with --with {missing[0]}=FILE", EXIT_USAGE)
    keys = {str(row[graph.key]) for row in population.rows}
    related: dict[str, list[dict]] = {}
    for name, path in given.items():
        try:
            table = read_data(graph, path, related=name)
        except DataError as e:
            raise _Fail(f"error: {e}") from None
        link = graph.related[name][0].link
        problems = [e.describe(path) for e in table.errors]
        rows = []
        for row, number in zip(table.rows, table.row_numbers):
            if str(row[link]) not in keys:
                problems.append(f"{path}: row {number}, column {link}: {row[link]!r} — no such employee in the data")
            else:
                rows.append(row)
        for problem in problems:
            _err(f"error: {problem}")
        if problems and not keep_going:
            raise _Fail(f"{path}: {len(problems)} problem{'s' * (len(problems) != 1)}; nothing was evaluated. "
                        "Fix the data, or use --keep-going.")
        related[name] = rows
    return related


def _progress_bar(rows: int):
    """A one-line progress bar on a terminal for long runs; nothing when output goes to a file or a pipe."""
    if rows < 20_000 or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, name: str) -> None:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r  evaluating {rows:,} rows [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name[:30]:30}{end}")
        sys.stderr.flush()

    return show


def _evaluate(graph, population, keep_going: bool, data_path: str, quiet: bool = False, related=None):
    from pkrules.engine.exact import evaluate

    results = evaluate(graph, population.rows, population.row_numbers, related=related,
                       progress=_progress_bar(len(population.rows)))
    if results.errors and not quiet:
        for error in results.errors:
            _err(f"error: {data_path}: {error.describe(graph.source.path)}")
        if not keep_going:
            raise _Fail(f"{len(results.errors)} row{'s' * (len(results.errors) != 1)} could not be computed; "
                        "nothing was written. Fix the data or the policy, or use --keep-going.")
    return results


def _default_columns(graph) -> list[str]:
    from pkrules.values.types import TEXT

    labels = ([graph.period] if graph.period else []) + [
        n.name for n in graph.inputs if n.type.kind == TEXT and n.name not in (graph.key, graph.period)]
    outputs = graph.outputs()
    chosen: list[str] = []
    for name in outputs:
        for dep in graph.nodes[name].deps:
            if not graph.nodes[dep].is_input and dep not in chosen:
                chosen.append(dep)
    for name in outputs:
        if name not in chosen:
            chosen.append(name)
    return labels + chosen


def cmd_run(args) -> int:
    from pkrules.engine.render import format_csv, format_value, table
    from pkrules.values.types import MONEY, TEXT

    from pkrules.io.formats import is_excel, is_sqlite

    graph = _compile(args.policy, show_warnings=False)
    population = results = None
    # Explanations (statements, the Excel explanation sheet, coverage) need the exact evaluator's traces;
    # Excel and SQLite inputs are read row by row anyway.
    needs_exact = (args.coverage or graph.related or args.statements or (args.out and is_excel(args.out))
                   or is_excel(args.data) or is_sqlite(args.data))
    if args.engine == "fast" and not needs_exact:
        results = _run_fast(graph, args.data)
    if results is None:
        population = _load_population(graph, args.data, args.keep_going, args.sheet, args.table)
        related = _load_related(graph, population, args.related, args.keep_going)
        results = _evaluate(graph, population, args.keep_going, args.data, related=related)
    failed = results.compiled.failed
    good = [i for i in range(results.size) if i not in failed]
    if args.out:
        import csv

        from pkrules.io.tables import is_parquet

        names = [graph.key] + ([graph.period] if graph.period else []) + [n.name for n in graph.definitions]
        try:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            if is_excel(args.out):
                from pkrules.io.formats import write_excel

                write_excel(graph, results, names, good, args.out)
            elif args.out.lower().endswith((".jsonl", ".ndjson")):
                from pkrules.io.formats import json_lines

                Path(args.out).write_text(json_lines(graph, results, names, good), encoding="utf-8")
            elif population is None or is_parquet(args.out):
                from pkrules.engine.columnar.io import write_output

                write_output(graph, results, names, args.out)
            else:
                with open(args.out, "w", newline="", encoding="utf-8") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(names)
                    for i in good:
                        writer.writerow([format_csv(results.columns[n][i], graph.nodes[n].type) for n in names])
        except OSError as e:
            raise _Fail(f"error: cannot write {args.out}: {e.strerror}") from None
        print(f"wrote {len(good)} rows × {len(names)} columns to {args.out}")
    if args.statements:
        from pkrules.io.formats import write_statements

        try:
            count = write_statements(graph, results, good, args.statements)
        except OSError as e:
            raise _Fail(f"error: cannot write statements to {args.statements}: {e.strerror}") from None
        print(f"wrote {count} statement{'s' * (count != 1)} to {args.statements}/")
    if not args.out or args.show:
        if args.columns:
            columns = [c.strip() for c in args.columns.split(",") if c.strip()]
            unknown = [c for c in columns if c not in graph.nodes]
            if unknown:
                from pkrules.language.check import did_you_mean

                guess = did_you_mean(unknown[0], list(graph.nodes))
                raise _Fail(f"error: --columns: '{unknown[0]}' is not in the policy" + (f" (did you mean '{guess}'?)" if guess else ""), EXIT_USAGE)
        else:
            columns = _default_columns(graph)
        names = [graph.key] + [c for c in columns if c != graph.key]
        types = [graph.nodes[n].type for n in names]
        rows = [[format_value(results.columns[n][i], graph.nodes[n].type, compact=True) for n in names] for i in good]
        numeric = [t.numeric for t in types]
        from fractions import Fraction

        sums = ["Σ"] + [format_value(sum((results.columns[n][i] for i in good), Fraction(0)), t) if t.kind == MONEY else ""
                        for n, t in zip(names[1:], types[1:])]
        rows.append(sums)
        print(table(names, rows, numeric))
        print(f"\n{_count(len(good), 'employee' if not graph.period else 'row')} evaluated with {graph.policy.title or args.policy}"
              + (f" {graph.policy.version}" if graph.policy.version else "")
              + (f"; {len(failed)} with errors" if failed else ""))
    if args.coverage:
        from pkrules.engine.coverage import coverage, render_coverage

        print("\n" + render_coverage(coverage([results]), len(good)))
    return EXIT_OK if not (failed or (population is not None and population.errors)) else EXIT_PROBLEMS


def _run_fast(graph, data_path: str):
    """The columnar fast path (pkrules/columnar); None when it declines.

    It declines on anything the exact path must say in its own words (a bad cell, a
    row error, a file it cannot read) or cannot do exactly; the exact path then runs.
    """
    from pkrules.engine.columnar import NeedsExact, run_file
    from pkrules.engine.plan import PlanError

    try:
        return run_file(graph, data_path)
    except NeedsExact:
        return None
    except PlanError as e:
        if os.environ.get("PKRULES_DEBUG"):
            raise
        _err(f"note: the fast path cannot run this policy yet ({e}); evaluating it exactly, which is slower")
        return None


def cmd_explain(args) -> int:
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_json, render_markdown, render_tree

    if getattr(args, "from_cycle", None):  # explain --cycle ID EMPLOYEE [NODE]: from a workflow store
        from ..workflow.commands import explain_from_cycle

        return explain_from_cycle(args)
    if args.id is None:
        raise _Fail("error: write pkrules explain POLICY DATA ID [NAME] (or explain --cycle CYCLE EMPLOYEE [NODE])", EXIT_USAGE)
    graph = _compile(args.policy, show_warnings=False)
    population = _load_population(graph, args.data, True, args.sheet, args.table)
    related = _load_related(graph, population, args.related, keep_going=True)
    results = _evaluate(graph, population, True, args.data, quiet=True, related=related)  # only this employee's errors matter
    index = results.index_of(args.id, args.period)
    if index is None and args.period is not None and results.index_of(args.id) is not None:
        raise _Fail(f"error: {args.id} has no row for {graph.period} {args.period} in {args.data}")
    if index is None:
        from pkrules.language.check import did_you_mean

        guess = did_you_mean(args.id, [str(k) for k in results.keys])
        raise _Fail(f"error: no employee with {graph.key} '{args.id}' in {args.data}" + (f" (did you mean '{guess}'?)" if guess else ""))
    name = args.name or graph.main_output()
    if name not in graph.nodes:
        from pkrules.language.check import did_you_mean

        guess = did_you_mean(name, list(graph.nodes))
        raise _Fail(f"error: '{name}' is not defined in {args.policy}" + (f" (did you mean '{guess}'?)" if guess else ""))
    if index in results.compiled.failed and results.columns[name][index] is None:
        messages = [e for e in results.errors if e.row == results.row_numbers[index]]
        raise _Fail("error: this employee's values could not be computed: " + "; ".join(e.message for e in messages))
    explanation = explain(results, index, name, depth=args.depth)
    if args.json:
        print(render_json(explanation))
    elif args.markdown:
        print(render_markdown(explanation), end="")
    else:
        print(render_tree(explanation, colour=_colour(sys.stdout)))
    return EXIT_OK


def cmd_fmt(args) -> int:
    import difflib

    from pkrules.language.diagnostics import PolicyError, render_all
    from pkrules.language.compile import PolicyFileError, read_policy
    from pkrules.language.fmt import format_source

    status = EXIT_OK
    for path in _policy_files(args.paths):
        try:
            source = read_policy(path)
            formatted = format_source(source)
        except PolicyFileError as e:
            _err(f"error: {e}")
            status = EXIT_PROBLEMS
            continue
        except PolicyError as e:
            _err(render_all(e.source, e.diagnostics))
            _err(f"{path}: not formatted: fix the syntax errors first")
            status = EXIT_PROBLEMS
            continue
        if formatted == source.text:
            continue
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                source.text.splitlines(keepends=True), formatted.splitlines(keepends=True), f"a/{path}", f"b/{path}"))
        if args.check or args.diff:
            if args.check:
                print(f"{path}: not formatted")
            status = EXIT_PROBLEMS
            continue
        try:
            Path(path).write_text(formatted, encoding="utf-8")
        except OSError as e:
            raise _Fail(f"error: cannot write {path}: {e.strerror}") from None
        print(f"formatted {path}")
    return status


def cmd_diff(args) -> int:
    from pkrules.cli.review import run_diff  # semantic diff and impact: pkrules/diff.py, impact.py, gitio.py

    return run_diff(args)


def cmd_git_setup(args) -> int:
    from pkrules.cli.review import run_git_setup

    return run_git_setup(args)


def cmd_git_diff_driver(args) -> int:
    from pkrules.cli.review import run_git_diff_driver

    return run_git_diff_driver(args)


def cmd_git_textconv(args) -> int:
    from pkrules.cli.review import run_git_textconv

    return run_git_textconv(args)


# ---- the parser ------------------------------------------------------------------------


def _data_options(p) -> None:
    p.add_argument("--sheet", metavar="NAME", help="with an Excel DATA file: the sheet (default: the first)")
    p.add_argument("--table", metavar="NAME", help="with a SQLite DATA file: the table (default: its only table)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pkrules",
        description="Check, test, run and explain sales-incentive and appraisal policies.",
        epilog="Example: pkrules run policies/sales_incentive.pk policies/sample/employees.csv",
    )
    parser.add_argument("--version", action="version", version="pkrules 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="check policies: syntax, names, cycles, units", description="Check policy files; exit 1 if any has errors.")
    p.add_argument("policies", nargs="+", metavar="POLICY", help="policy files or folders")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("test", help="run the examples inside policies", description="Run every example block; exit 1 if any fails.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="policy files or folders")
    p.add_argument("--brief", action="store_true", help="do not print explanations of failures")
    p.add_argument("--coverage", action="store_true", help="show how many examples each row and branch fired for")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("fmt", help="rewrite policies in the canonical layout", description="Format policy files in place (comments kept, meaning unchanged).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="policy files or folders")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not formatted")
    mode.add_argument("--diff", action="store_true", help="change nothing; show what would change")
    p.set_defaults(func=cmd_fmt)

    p = sub.add_parser("run", help="evaluate a policy over a population (CSV, Parquet, Excel or SQLite)", description="Evaluate every employee in DATA.")
    p.add_argument("policy", metavar="POLICY")
    p.add_argument("data", metavar="DATA", help="one row per employee: CSV (UTF-8, with or without BOM), Parquet, "
                                                "Excel (.xlsx) or SQLite (.sqlite, .db)")
    p.add_argument("--out", metavar="OUT.csv", help="write one row per employee: the key, then every definition "
                                                        "(.csv, .parquet, .xlsx or .jsonl)")
    p.add_argument("--engine", choices=("fast", "exact"), default="fast",
                   help="fast: columnar, exactly the same results (default); exact: the row-by-row reference evaluator")
    p.add_argument("--columns", metavar="A,B,…", help="columns to show in the terminal table")
    p.add_argument("--show", action="store_true", help="with --out: also print the table")
    p.add_argument("--keep-going", action="store_true", help="evaluate the good rows even if some rows are bad")
    p.add_argument("--coverage", action="store_true", help="show how many employees each row and branch fired for")
    p.add_argument("--with", dest="related", action="append", metavar="TABLE=FILE",
                   help="the rows of a related table the policy declares (input TABLE by …), e.g. ratings=ratings.csv")
    p.add_argument("--statements", metavar="DIR", help="write one Markdown statement per employee into DIR")
    _data_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("explain", help="explain one employee's value", description="Show the tree of values behind one figure.")
    p.add_argument("policy", metavar="POLICY")
    p.add_argument("data", metavar="DATA")
    p.add_argument("id", metavar="ID", help="the employee's key")
    p.add_argument("name", metavar="NAME", nargs="?", help="the value to explain (default: the policy's main output)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the trace as JSON")
    fmt.add_argument("--markdown", action="store_true", help="a statement to send to the employee")
    p.add_argument("--depth", type=int, metavar="N", help="how many levels of inputs to show")
    p.add_argument("--period", metavar="P", help="with data over several periods: which one (default: the latest)")
    p.add_argument("--with", dest="related", action="append", metavar="TABLE=FILE",
                   help="the rows of a related table the policy declares, e.g. ratings=ratings.csv")
    _data_options(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("diff", help="what changed between two versions of a policy, and its impact",
                       description="The semantic diff of two policies; OLD and NEW are files or git revisions "
                                   "(HEAD~1:policies/sales.pk). With --data, the impact on a population. "
                                   "Exit 0: no semantic changes, 1: changes, 2: trouble.")
    p.add_argument("old", metavar="OLD", help="a policy file or REV:PATH")
    p.add_argument("new", metavar="NEW", help="a policy file or REV:PATH")
    p.add_argument("--data", metavar="DATA", help="evaluate both versions on this CSV (or REV:PATH) and show who gains and loses")
    p.add_argument("--columns", metavar="A,B,…", help="with --data: the values to compare (default: the policy's outputs)")
    p.add_argument("--explain", action="store_true", help="with --data: the part of each changed employee's explanation that differs")
    p.add_argument("--limit", type=int, metavar="N", help="with --data: list at most N changed employees (default 200; 0: all)")
    p.add_argument("--keep-going", action="store_true", help="with --data: compare the good rows even if some rows are bad")
    p.add_argument("--engine", choices=("fast", "exact"), default="fast",
                   help="with --data: fast (default): columnar when it can, exactly the same results; exact: the row-by-row evaluator")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the changes (and impact) as JSON")
    fmt.add_argument("--markdown", action="store_true", help="Markdown for a pull request comment")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("git-setup", help="make git diff and git log -p show semantic diffs of *.pk files",
                       description="Write '*.pk diff=pkrules' to .gitattributes and point git's pkrules diff driver here.")
    p.add_argument("--global", dest="global_", action="store_true", help="for every repository (~/.gitconfig and the global attributes file)")
    p.add_argument("--command", dest="driver_command", metavar="CMD", help="how git should run pkrules (default: this pkrules)")
    p.set_defaults(func=cmd_git_setup)

    p = sub.add_parser("git-diff-driver")  # hidden: git's external diff (7 or 9 arguments)
    p.add_argument("args", nargs="*")
    p.set_defaults(func=cmd_git_diff_driver)

    p = sub.add_parser("git-textconv")  # hidden: canonical text for git log -p
    p.add_argument("file")
    p.set_defaults(func=cmd_git_textconv)

    from ..workflow.commands import register as register_workflow  # cycle, review, hr, appeal, audit, demo (light)

    register_workflow(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except _Fail as e:
        if str(e):
            _err(str(e))
        return e.code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # a bug: say so plainly, keep the traceback for developers
        if os.environ.get("PKRULES_DEBUG"):
            raise
        _err(f"internal error: {type(e).__name__}: {e}\n"
             "This is a bug in pkrules. Run again with PKRULES_DEBUG=1 to see where, and please report it.")
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
