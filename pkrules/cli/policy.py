"""Commands on policy files: check, test (their examples), fmt."""

from __future__ import annotations

import sys
from pathlib import Path

from pkrules.cli.console import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Fail, err, error
from pkrules.messages import current_language, set_language, speaking, tr


def compile_or_fail(path: str, show_warnings: bool = True):
    """Read and check a policy, printing its diagnostics; raise Fail when it has errors.

    From here on the command speaks the policy's language (or the user's --lang).
    """
    from pkrules.language.diagnostics import render_all
    from pkrules.language.compile import PolicyFileError, check_source, read_policy, source_language

    try:
        source = read_policy(path)
    except PolicyFileError as e:
        raise Fail(error(e)) from None
    set_language(source_language(source))
    from pkrules.language.lookalikes import CODES

    graph, diagnostics = check_source(source, reuse=True)
    # Look-alike names are said by every command: a run's table would show two "bonus" columns.
    shown = diagnostics if show_warnings else [d for d in diagnostics if d.is_error or d.code in CODES]
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
                raise Fail(error(tr("{path}: no policy files (*.pk) in this folder", path=p)), EXIT_USAGE)
            files.extend(found)
        else:
            files.append(p)
    return files


def cmd_check(args) -> int:
    from pkrules.language.diagnostics import render_all
    from pkrules.language.compile import PolicyFileError, check_source, read_policy, source_language

    status = EXIT_OK
    for path in policy_files(args.policies):
        try:
            source = read_policy(path)
        except PolicyFileError as e:
            err(error(e))
            status = EXIT_PROBLEMS
            continue
        with speaking(source_language(source)):  # each file is told in its own language
            graph, diagnostics = check_source(source)
            if diagnostics:
                err(render_all(source, diagnostics))
            failed = graph is None or (args.strict and diagnostics)
            if failed:
                status = EXIT_PROBLEMS
            elif not args.quiet:
                inputs, definitions, examples = len(graph.inputs), len(graph.definitions), len(graph.policy.examples)
                counts = dict(path=path, inputs=inputs, i="" if inputs == 1 else "s", definitions=definitions,
                              d="" if definitions == 1 else "s", examples=examples, e="" if examples == 1 else "s")
                warnings = len(diagnostics)
                print(tr("{path}: ok — {inputs} input{i}, {definitions} definition{d}, {examples} example{e}, "
                         "{warnings} warning{w}", warnings=warnings, w="" if warnings == 1 else "s", **counts) if warnings
                      else tr("{path}: ok — {inputs} input{i}, {definitions} definition{d}, {examples} example{e}", **counts))
    return status


def cmd_test(args) -> int:
    from pkrules.engine.examples import run_examples
    from pkrules.engine.render import render_tree
    from pkrules.values.format import format_value

    total = failed = 0
    report: list[str] = []
    languages: set[str] = set()
    for path in policy_files(args.paths):
        with speaking(None):  # each file is told in its own language (compile_or_fail sets it)
            try:
                graph = compile_or_fail(path, show_warnings=False)
            except Fail as e:
                languages.add(current_language())
                if str(e):
                    err(str(e))
                failed += 1
                total += 1
                continue
            languages.add(current_language())
            outcomes = run_examples(graph)
            if not outcomes:
                print(tr("{path}: no examples", path=path))
            if args.coverage and outcomes:
                from pkrules.engine.coverage import coverage, render_coverage

                hits = coverage([o.results for o in outcomes if o.results is not None])
                people = sum(o.results.size for o in outcomes if o.results is not None)
                report.append(tr("coverage of {path} by its examples:", path=path) + "\n" + render_coverage(hits, people))
            for outcome in outcomes:
                total += 1
                if outcome.passed:
                    print(tr("PASS  {where}  {title}  ({n} values)", where=f"{path}:{outcome.line}", title=outcome.title,
                             n=outcome.checked))
                    continue
                failed += 1
                print(tr("FAIL  {where}  {title}", where=f"{path}:{outcome.line}", title=outcome.title))
                for e in outcome.errors:
                    print(tr("      {node}: {message} (line {line})", node=e.node, message=e.message,
                             line=e.span.line if e.span else "?"))
                for m in outcome.mismatches:
                    type_ = graph.nodes[m.name].type
                    print(tr("      {name}: expected {expected}, got {actual}   (expect on line {line})", name=m.name,
                             expected=m.expected_text or format_value(m.expected, type_),
                             actual=format_value(m.actual, type_), line=m.line))
                    if m.explanation is not None and not args.brief:
                        print("\n".join("        " + line for line in render_tree(m.explanation).splitlines()))
    for block in report:
        print("\n" + block)
    with speaking(languages.pop() if len(languages) == 1 else None):  # the files' language, if they share one
        print(tr("{passed} passed, {failed} failed", passed=total - failed, failed=failed))
    return EXIT_OK if failed == 0 else EXIT_PROBLEMS


def cmd_fmt(args) -> int:
    import difflib

    from pkrules.language.diagnostics import PolicyError, render_all
    from pkrules.language.compile import PolicyFileError, read_policy, source_language
    from pkrules.language.fmt import format_source

    status = EXIT_OK
    for path in policy_files(args.paths):
        try:
            source = read_policy(path)
        except PolicyFileError as e:
            err(error(e))
            status = EXIT_PROBLEMS
            continue
        with speaking(source_language(source)):  # each file is told in its own language
            try:
                formatted = format_source(source)
            except PolicyError as e:
                err(render_all(e.source, e.diagnostics))
                err(tr("{path}: not formatted: fix the syntax errors first", path=path))
                status = EXIT_PROBLEMS
                continue
            if formatted == source.text:
                continue
            if args.diff:
                sys.stdout.writelines(difflib.unified_diff(
                    source.text.splitlines(keepends=True), formatted.splitlines(keepends=True), f"a/{path}", f"b/{path}"))
            if args.check or args.diff:
                if args.check:
                    print(tr("{path}: not formatted", path=path))
                status = EXIT_PROBLEMS
                continue
            from pkrules.errors import PkrulesError
            from pkrules.files import atomic_write, writing

            try:
                # Whole or not at all: a full disk must never leave the policy cut off mid-line.
                with writing(path), atomic_write(path) as handle:
                    handle.write(formatted)
            except PkrulesError as e:
                raise Fail(error(str(e))) from None
            print(tr("formatted {path}", path=path))
    return status
