"""Commands that evaluate a population: run (a table, files, statements, coverage) and explain (one figure)."""

from __future__ import annotations

from contextlib import contextmanager

import sys

from pkrules.cli.console import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Fail, colour, err, error, note
from pkrules.cli.console import warning as console_warning
from pkrules.cli.policy import compile_or_fail
from pkrules.messages import reason, tr


def related_paths(graph, specs: list[str] | None) -> dict[str, str]:
    """--with NAME=FILE options → {table: file}, every table the policy reads given once."""
    given: dict[str, str] = {}
    for spec in specs or []:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise Fail(error(tr("--with {spec}: write --with TABLE=FILE, e.g. --with ratings=ratings.csv", spec=spec)),
                       EXIT_USAGE)
        if name not in graph.related:
            known = tr(", ").join(graph.related) or tr("none")
            raise Fail(error(tr("--with {spec}: the policy has no table {table} (its tables: {known})", spec=spec,
                                table=name, known=known)), EXIT_USAGE)
        given[name] = path
    missing = [name for name in graph.related if name not in given]
    if missing:
        raise Fail(error(tr("this policy reads the table {table}: give it with --with {table}=FILE", table=missing[0])),
                   EXIT_USAGE)
    return given


def open_population(graph, args):
    """The population in args.data (and --with tables, --param values); a file that cannot be read at all stops
    the command.

    With --engine spark, DATA that is not a file is a table of the Spark session; a DuckDB database
    file is read by DuckDB itself with --engine duckdb (and row by row otherwise)."""
    from pathlib import Path

    from pkrules.engine.population import engine_table, open_population as open_
    from pkrules.errors import DataError
    from pkrules.io.formats import is_duckdb, is_excel, is_sqlite

    if args.sheet is not None and not is_excel(args.data):
        raise Fail(error(tr("--sheet {sheet}: {data} is not an Excel workbook (.xlsx); --sheet chooses a sheet of one",
                            sheet=args.sheet, data=args.data)), EXIT_USAGE)
    if args.table is not None and not (is_sqlite(args.data) or is_duckdb(args.data)):
        raise Fail(error(tr("--table {table}: {data} is not a SQLite database (.sqlite, .db); --table chooses a table of one",
                            table=args.table, data=args.data)), EXIT_USAGE)
    engine = getattr(args, "engine", "auto")
    related = related_paths(graph, args.related)
    try:
        params = run_params(graph, getattr(args, "params", None), getattr(args, "params_file", None))
        if engine == "spark" and not Path(args.data).exists() and not related:
            return engine_table(graph, args.data, params=params)
        if engine == "duckdb" and is_duckdb(args.data) and not related:
            if not Path(args.data).is_file():
                raise Fail(error(tr("{path}: no such file", path=args.data)))
            return engine_table(graph, args.table, database=args.data, params=params)
        return open_(graph, args.data, related, args.sheet, args.table, params=params)
    except DataError as e:
        raise Fail(error(e)) from None


def run_inputs(graph, args) -> list[tuple[str, str]]:
    """Every file this command reads, with what it is (the policy, the data, a --with table, a lookup file):
    no output may replace one of them."""
    from pkrules.language import ast
    from pkrules.language.lookup_files import lookup_path

    paths = [(args.policy, tr("the policy")), (args.data, tr("the data"))]
    paths += [(spec.partition("=")[2], tr("a table given with --with")) for spec in args.related or []]
    paths += [(str(lookup_path(graph.source.path, d.file)), tr("a lookup file of the policy"))
              for d in graph.policy.declarations if isinstance(d, ast.Lookup) and getattr(d, "file", None)]
    return [(path, what) for path, what in paths if path]


def _check_outputs(graph, args) -> tuple[str, ...]:
    """Before evaluating (which may take minutes): --out and --statements can be written and replace no input."""
    from pkrules.errors import PkrulesError
    from pkrules.files import prepare_folder, prepare_output
    from pkrules.outputs.results import refuse_inputs

    protected = tuple(run_inputs(graph, args))
    try:
        if args.out:
            prepare_output(args.out)
            refuse_inputs(args.out, protected)
        if args.statements:
            prepare_folder(args.statements)  # a file in the way (--statements data.csv) is refused here
        if getattr(args, "keep", None):
            prepare_output(args.keep)
            refuse_inputs(args.keep, protected)  # (a kept run is a SQLite file: over the data it would be the end of it)
    except PkrulesError as e:
        raise Fail(error(e), EXIT_USAGE) from None
    return protected


def run_params(graph, specs: list[str] | None, path: str | None) -> dict[str, object]:
    """--param NAME=VALUE options and a --params file → the parameters' values (the options win over the file)."""
    from pkrules.engine.population import ParameterError, read_params
    from pkrules.messages import tr

    texts: dict[str, str] = {}
    if path is not None:
        texts.update(params_file(path))
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        if not sep or not name.strip():
            raise ParameterError(tr("--param {spec}: write --param NAME=VALUE, e.g. --param 利润=1200万", spec=spec))
        texts[name.strip()] = value.strip()
    return read_params(graph, texts)


def params_file(path: str) -> dict[str, str]:
    """A parameters file: NAME=VALUE lines (blank lines and # comments skipped), or a CSV of name,value."""
    import csv
    import io

    from pkrules.engine.population import ParameterError
    from pkrules.files import read_bytes
    from pkrules.messages import tr

    raw = read_bytes(path, ParameterError, tr("name a parameters file"))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParameterError(tr("{path}: not UTF-8 text", path=path)) from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    texts: dict[str, str] = {}
    if all("=" in line for line in lines):
        for line in lines:
            name, _, value = line.partition("=")
            texts[name.strip()] = value.strip()
        return texts
    for number, row in enumerate(csv.reader(io.StringIO("\n".join(lines))), start=1):
        if len(row) != 2:
            raise ParameterError(tr("{path}:{line}: expected NAME=VALUE, or two columns name,value", path=path,
                                    line=number))
        if number == 1 and row[0].strip().lower() in ("name", "parameter", "参数", "名称"):
            continue  # a header
        texts[row[0].strip()] = row[1].strip()
    return texts


def _progress_bar(rows: int):
    """A one-line progress bar on a terminal for long runs; nothing when output goes to a file or a pipe."""
    if rows < 20_000 or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, name: str) -> None:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done == total else ""
        sys.stderr.write("\r" + tr("  evaluating {rows} rows [{bar}] {done}/{total} {name}", rows=f"{rows:,}",
                                   bar="#" * filled + "." * (width - filled), done=done, total=total,
                                   name=f"{name[:30]:30}") + end)
        sys.stderr.flush()

    return show


def note_decline(declined, engine: str = "fast") -> None:
    if engine in ("duckdb", "spark"):
        name = {"duckdb": "DuckDB", "spark": "Spark"}[engine]
        err(note(tr("{engine} cannot run this exactly ({reason}); evaluating it with the exact evaluator, which is slower",
                    engine=name, reason=declined.reason)))
    elif declined.notable:
        err(note(tr("the fast path cannot run this policy yet ({reason}); evaluating it exactly, which is slower",
                    reason=declined.reason)))


def evaluate_population(graph, population, data_path: str, engine: str, keep_going: bool, row_errors: bool = True):
    """Evaluate through the backend seam. Bad cells and row errors are printed and stop the command
    unless keep_going; with row_errors=False, row errors are the caller's to report."""
    from pkrules.engine.backend import BadCells, evaluate
    from pkrules.errors import DataError, PkrulesError

    progress = _progress_bar(population.size) if population.loaded else None
    try:
        results = evaluate(graph, population, engine, keep_going=keep_going, progress=progress,
                           on_decline=lambda declined: note_decline(declined, engine))
    except BadCells:
        _print_cells(population, data_path)
        errors, rows = len(population.cell_errors), population.skipped
        raise Fail(tr("{data}: {errors} bad cell{s} in {rows} row{r}; nothing was evaluated. "
                      "Fix the data, or use --keep-going to evaluate the other rows.", data=data_path, errors=errors,
                      s="s" * (errors != 1), rows=rows, r="s" * (rows != 1))) from None
    except DataError as e:
        raise Fail(error(e)) from None
    except PkrulesError as e:  # an engine that is not installed or does not start
        raise Fail(error(e)) from None
    if population.loaded and population.cell_errors:  # kept going
        _print_cells(population, data_path)
        rows = population.skipped
        if rows:
            err(tr("{data}: skipping {rows} row{r} with errors (--keep-going)", data=data_path, rows=rows,
                   r="s" * (rows != 1)))
    if population.loaded and not population.rows:
        raise Fail(error(tr("{data}: no rows to evaluate", data=data_path)))
    if results.errors and row_errors:
        for problem in results.errors:
            err(error(tr("{data}: {problem}", data=data_path, problem=problem.describe(graph.source.path, data_path))))
        if not keep_going:
            n = len(results.errors)
            raise Fail(tr("{n} row{s} could not be computed; nothing was written. "
                          "Fix the data or the policy, or use --keep-going.", n=n, s="" if n == 1 else "s"))
    return results


def _print_cells(population, data_path: str) -> None:
    for problem in population.cell_errors:
        err(error(problem.describe(data_path)))


def default_columns(graph) -> list[str]:
    """The terminal table's columns: the period and text inputs, then what the outputs use, then the outputs."""
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


def parameters_line(graph, params: dict[str, object]) -> str:
    """parameters: 利润 = 12,000,000.00, 计提比例 = 8% — what this run was given."""
    from pkrules.messages import tr
    from pkrules.values.format import format_value

    shown = tr(", ").join(f"{n.name} = {format_value(params.get(n.name), n.type)}" for n in graph.parameters)
    return tr("parameters: {values}", values=shown)


def _unknown_name(graph, name: str, what: str) -> Fail:
    from pkrules.language.builtins import did_you_mean

    guess = did_you_mean(name, list(graph.nodes))
    return Fail(error(tr("{what}'{name}' is not in the policy (did you mean '{guess}'?)", what=what, name=name, guess=guess)
                      if guess else tr("{what}'{name}' is not in the policy", what=what, name=name)), EXIT_USAGE)


def _chosen_columns(graph, text: str | None) -> list[str]:
    """--columns a,b,c: the names asked for (each checked), or [] when none were."""
    if not text:
        return []
    columns = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in columns if c not in graph.nodes]
    if unknown:
        raise _unknown_name(graph, unknown[0], "--columns: ")
    return columns


@contextmanager
def collector_for_a_run():
    """Python's cyclic garbage collector paused while the policy is compiled, the data read and everyone
    evaluated, then told to leave alone what was made (yielded: call it then). What is made there lives
    to the end of the run (the policy, the libraries, the values), so each collection would walk it all
    for nothing: about 35 ms of a 1.2 s run of a million employees. At the end it is collected again
    as usual (a test runs many commands in one process)."""
    import gc

    was = gc.isenabled()
    frozen = False

    def settled() -> None:
        nonlocal frozen
        gc.freeze()
        frozen = True
        if was:
            gc.enable()

    gc.disable()
    try:
        yield settled
    finally:
        if frozen:
            gc.unfreeze()
        elif was:
            gc.enable()


def cmd_run(args) -> int:
    with collector_for_a_run() as settled:
        return _cmd_run(args, settled)


def _cmd_run(args, settled) -> int:
    from fractions import Fraction

    from pkrules.values.format import format_value
    from pkrules.values.text import table
    from pkrules.errors import PkrulesError
    from pkrules.values.types import MONEY

    graph = compile_or_fail(args.policy, show_warnings=False)
    protected = _check_outputs(graph, args)
    population = open_population(graph, args)
    results = evaluate_population(graph, population, args.data, args.engine, args.keep_going)
    settled()
    failed = results.failed_rows()
    good = [i for i in range(results.size) if i not in failed] if failed else range(results.size)
    from pkrules.engine.warnings import run_warnings

    for warning in run_warnings(results):
        err(console_warning(tr("{data}: {warning}", data=args.data, warning=warning.describe(graph.source.path))))
    chosen = _chosen_columns(graph, args.columns)
    if args.out:
        from pkrules.outputs.results import out_columns, write_results

        if chosen:  # the key (and period) to say whose row it is, then the columns asked for
            names = [graph.key] + ([graph.period] if graph.period and graph.period not in chosen else [])
            names += [c for c in chosen if c != graph.key]
        else:  # who is who, the run's parameters (a column each, the same on every row), the results
            names = out_columns(graph, plain=args.plain)
        try:
            write_results(graph, results, names, good, args.out, protected, plain=args.plain, bom=not args.no_bom)
        except PkrulesError as e:
            raise Fail(error(e)) from None
        print(tr("wrote {rows} rows × {columns} columns to {path}", rows=len(good), columns=len(names), path=args.out))
    if args.statements:
        from pkrules.outputs.results import write_statements

        try:
            written = write_statements(graph, results, good, args.statements, protected)
        except PkrulesError as e:
            raise Fail(error(e)) from None
        print(tr("wrote {n} statement{s} to {path}/", n=written, s="s" * (written != 1), path=args.statements))
    if not args.out or args.show:
        columns = chosen or default_columns(graph)
        names = [graph.key] + [c for c in columns if c != graph.key]
        types = [graph.nodes[n].type for n in names]
        rows = [[format_value(results.columns[n][i], graph.nodes[n].type, compact=True) for n in names] for i in good]
        numeric = [t.numeric for t in types]
        sums = ["Σ"] + [format_value(sum((results.columns[n][i] for i in good), Fraction(0)), t) if t.kind == MONEY else ""
                        for n, t in zip(names[1:], types[1:])]
        rows.append(sums)
        print(table(names, rows, numeric))
        policy = graph.policy.title or args.policy
        if graph.policy.version:
            policy += f" {graph.policy.version}"
        n = len(good)
        done = (tr("{n} employee{s} evaluated with {policy}", n=n, s="" if n == 1 else "s", policy=policy) if not graph.period
                else tr("{n} row{s} evaluated with {policy}", n=n, s="" if n == 1 else "s", policy=policy))
        print("\n" + done + (tr("; {n} with errors", n=len(failed)) if failed else ""))
        if graph.parameters:
            print(parameters_line(graph, population.params))
    if getattr(args, "keep", None):
        keep_run(graph, results, args.keep)
    if args.coverage:
        from pkrules.engine.coverage import coverage, render_coverage

        print("\n" + render_coverage(coverage([results]), len(good)))
    bad_cells = population.loaded and population.cell_errors
    return EXIT_OK if not (failed or bad_cells) else EXIT_PROBLEMS


def keep_run(graph, results, path: str) -> None:
    """run … --keep RUN: every figure and every population term's groups, with the policy, in one file."""
    from pkrules.engine.kept import keep
    from pkrules.engine.kept_file import write_kept_file

    try:
        rows = write_kept_file(keep(results), graph, path)
    except OSError as e:
        raise Fail(error(tr("cannot write {path}: {reason}", path=path, reason=reason(e)))) from None
    print(tr("kept the run in {path} ({rows} rows): explain any of them with pkrules explain --run {path} ID [NAME]",
             path=path, rows=rows))


def _explain_kept(args) -> int:
    """explain --run RUN ID [NAME]: from a kept run, with the policy it was computed with; nothing is evaluated."""
    from pkrules.engine.kept import KeptRunError
    from pkrules.engine.kept_file import kept_results
    from pkrules.messages import set_language

    key, name = args.policy, args.data  # the positionals are ID [NAME] with --run
    if key is None:
        raise Fail(error(tr("write pkrules explain --run RUN ID [NAME]")), EXIT_USAGE)
    try:
        results = kept_results(args.from_run)
    except KeptRunError as e:
        raise Fail(error(e)) from None
    graph = results.graph
    set_language(graph.policy.language)
    run = args.from_run
    index = results.index_of(key, args.period)
    if index is None and args.period is not None and results.index_of(key) is not None:
        raise Fail(error(tr("{id} has no row for {period} {value} in {data}", id=key, period=graph.period,
                            value=args.period, data=run)))
    if index is None:
        from pkrules.language.builtins import did_you_mean

        guess = did_you_mean(key, results.source.keys())
        raise Fail(error(tr("no employee with {key} '{id}' in {data} (did you mean '{guess}'?)", key=graph.key, id=key,
                            data=run, guess=guess) if guess else
                         tr("no employee with {key} '{id}' in {data}", key=graph.key, id=key, data=run)))
    name = name or graph.main_output()
    if name not in graph.nodes:
        raise _unknown_name(graph, name, "")
    if index in results.failed_rows() and results.columns[name][index] is None:
        messages = [e for e in results.errors if e.row == results.row_numbers[index]]
        raise Fail(error(tr("this employee's values could not be computed: {problems}",
                            problems=tr("; ").join(e.message for e in messages))))
    return _print_explanation(results, index, name, args)


def _print_explanation(results, index: int, name: str, args) -> int:
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_brief, render_json, render_markdown, render_tree

    explanation = explain(results, index, name, depth=args.depth, exact=args.exact,
                          audience="employee" if args.markdown else "all", all_bands=args.all_bands)
    if args.json:
        print(render_json(explanation))
    elif args.brief:
        print(render_brief(explanation))
    elif args.markdown:
        print(render_markdown(explanation), end="")
    else:
        print(render_tree(explanation, colour=colour(sys.stdout)))
    return EXIT_OK


def cmd_explain(args) -> int:
    if getattr(args, "from_cycle", None):  # explain --cycle ID EMPLOYEE [NODE]: from a workflow store
        from pkrules.workflow.commands import explain_from_cycle

        return explain_from_cycle(args)
    if getattr(args, "from_run", None):  # explain --run RUN ID [NAME]: from a kept run
        return _explain_kept(args)
    if args.id is None:
        raise Fail(error(tr("write pkrules explain POLICY DATA ID [NAME] (or explain --run RUN ID [NAME], "
                            "or explain --cycle CYCLE EMPLOYEE [NODE])")), EXIT_USAGE)
    graph = compile_or_fail(args.policy, show_warnings=False)
    if args.period is not None and graph.period is None:
        raise Fail(tr("error: --period {period}: the policy has no period column; each employee has one row",
                      period=args.period), EXIT_USAGE)
    population = open_population(graph, args)
    # Bad cells stop an explanation as they stop a run (the others' figures would be wrong);
    # other rows' row errors do not: only this employee's matter.
    results = evaluate_population(graph, population, args.data, args.engine, args.keep_going, row_errors=False)
    index = results.index_of(args.id, args.period)
    if index is None and args.period is not None and results.index_of(args.id) is not None:
        raise Fail(error(tr("{id} has no row for {period} {value} in {data}", id=args.id, period=graph.period,
                            value=args.period, data=args.data)))
    if index is None:
        from pkrules.language.builtins import did_you_mean

        guess = did_you_mean(args.id, [str(k) for k in results.keys])
        raise Fail(error(tr("no employee with {key} '{id}' in {data} (did you mean '{guess}'?)", key=graph.key, id=args.id,
                            data=args.data, guess=guess) if guess else
                         tr("no employee with {key} '{id}' in {data}", key=graph.key, id=args.id, data=args.data)))
    name = args.name or graph.main_output()
    if name not in graph.nodes:
        from pkrules.language.builtins import did_you_mean

        guess = did_you_mean(name, list(graph.nodes))
        raise Fail(error(tr("'{name}' is not defined in {policy} (did you mean '{guess}'?)", name=name, policy=args.policy,
                            guess=guess) if guess else
                         tr("'{name}' is not defined in {policy}", name=name, policy=args.policy)))
    if index in results.failed_rows() and results.columns[name][index] is None:
        messages = [e for e in results.errors if e.row == results.row_numbers[index]]
        raise Fail(error(tr("this employee's values could not be computed: {problems}",
                            problems=tr("; ").join(e.message for e in messages))))
    return _print_explanation(results, index, name, args)
