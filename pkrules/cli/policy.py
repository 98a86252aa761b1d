"""Commands on policy files: check, test (their examples), fmt."""

from __future__ import annotations

import sys
from pathlib import Path

from pkrules.cli.console import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Fail, count, err


def compile_or_fail(path: str, show_warnings: bool = True):
    """Read and check a policy, printing its diagnostics; raise Fail when it has errors."""
    from pkrules.language.diagnostics import render_all
    from pkrules.language.compile import PolicyFileError, check_source, read_policy

    try:
        source = read_policy(path)
    except PolicyFileError as e:
        raise Fail(f"error: {e}") from None
    graph, diagnostics = check_source(source)
    shown = diagnostics if show_warnings else [d for d in diagnostics if d.is_error]
    if shown:
        err(render_all(source, shown))
    if graph is None:
        raise Fail("", EXIT_PROBLEMS)
    return graph


def policy_files(paths: list[str]) -> list[str]:
    files: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob("*.pk"))
            if not found:
                raise Fail(f"error: {p}: no policy files (*.pk) in this folder", EXIT_USAGE)
            files.extend(found)
        else:
            files.append(p)
    return files


def cmd_check(args) -> int:
    from pkrules.language.diagnostics import render_all
    from pkrules.language.compile import PolicyFileError, check_source, read_policy

    status = EXIT_OK
    for path in policy_files(args.policies):
        try:
            source = read_policy(path)
        except PolicyFileError as e:
            err(f"error: {e}")
            status = EXIT_PROBLEMS
            continue
        graph, diagnostics = check_source(source)
        if diagnostics:
            err(render_all(source, diagnostics))
        failed = graph is None or (args.strict and diagnostics)
        if failed:
            status = EXIT_PROBLEMS
        elif not args.quiet:
            warnings = len(diagnostics)
            print(f"{path}: ok — {count(len(graph.inputs), 'input')}, {count(len(graph.definitions), 'definition')}, "
                  f"{count(len(graph.policy.examples), 'example')}" + (f", {count(warnings, 'warning')}" if warnings else ""))
    return status


def cmd_test(args) -> int:
    from pkrules.engine.examples import run_examples
    from pkrules.engine.render import render_tree
    from pkrules.values.format import format_value

    total = failed = 0
    report: list[str] = []
    for path in policy_files(args.paths):
        try:
            graph = compile_or_fail(path, show_warnings=False)
        except Fail as e:
            if str(e):
                err(str(e))
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


def cmd_fmt(args) -> int:
    import difflib

    from pkrules.language.diagnostics import PolicyError, render_all
    from pkrules.language.compile import PolicyFileError, read_policy
    from pkrules.language.fmt import format_source

    status = EXIT_OK
    for path in policy_files(args.paths):
        try:
            source = read_policy(path)
            formatted = format_source(source)
        except PolicyFileError as e:
            err(f"error: {e}")
            status = EXIT_PROBLEMS
            continue
        except PolicyError as e:
            err(render_all(e.source, e.diagnostics))
            err(f"{path}: not formatted: fix the syntax errors first")
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
            raise Fail(f"error: cannot write {path}: {e.strerror}") from None
        print(f"formatted {path}")
    return status
