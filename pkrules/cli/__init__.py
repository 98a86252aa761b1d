"""The `pkrules` command: one subcommand per job, each in the module of its group.

    policy.py   check, test, fmt          run.py     run, explain
    review.py   diff, git-setup, git's diff driver and textconv
    sql.py      sql (the SQL of a policy for DuckDB or Spark)
    console.py  exit codes, messages, colour

Modules are imported when their command runs, so that `pkrules --help` is instant.
"""

from __future__ import annotations

import argparse
import contextvars
import os
import sys

from pkrules.cli.console import EXIT_INTERNAL, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Fail, err
from pkrules.messages import LANGUAGES, choose_language, tr


# Whether the command that ran works on files and the terminal only (policy, run, review, sql): the installed
# script then ends its process at once (end_process). The workflow's and the TUI's commands hold a store and
# threads of their own, and end as Python ends.
_ends_at_once = False


def _command(module: str, name: str):
    """The function of a command, imported only when the command runs, run with the stack the language's
    limits need (language/limits.py). (The workflow's commands reach policies through the api, whose calls
    do the same; they stay on the main thread, where a terminal UI must run.)"""
    def run(args) -> int:
        from importlib import import_module

        from pkrules.language.limits import run_deep

        global _ends_at_once
        _ends_at_once = True
        return run_deep(getattr(import_module(f"pkrules.cli.{module}"), name), args)

    return run


def _engine_option(p) -> None:
    p.add_argument("--engine", choices=("auto", "fast", "exact", "duckdb", "spark"), default="auto",
                   help="auto (default): the exact evaluator for small data, the columnar fast path for large — "
                        "the same results to the cent; fast: columnar when it can; exact: the row-by-row reference "
                        "evaluator; duckdb, spark: the policy as SQL, run where the data is (pip install 'pkrules[sql]')")
    p.add_argument("--spark-master", metavar="URL", help="with --engine spark: the cluster (spark://…, yarn, k8s://…); "
                                                          "default: SPARK_REMOTE, spark-submit's session, else local[*]")


def _lookup_option(p) -> None:
    p.add_argument("--lookup-folder", dest="lookup_folders", action="append", metavar="DIR",
                   help="a folder lookup files (from \"…\") may also come from; by default only the policy's folder "
                        "and below (also: PKRULES_LOOKUP_FOLDERS)")


def _levels(text: str) -> int:
    """--depth N: a whole number of levels, 0 or more."""
    from pkrules.messages import tr

    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(tr("{text} is not a number of levels (0, 1, 2…)", text=text))
    return value


def _data_options(p) -> None:
    p.add_argument("--sheet", metavar="NAME", help="with an Excel DATA file: the sheet (default: the first)")
    p.add_argument("--table", metavar="NAME", help="with a SQLite or DuckDB DATA file: the table (default: its only table)")
    p.add_argument("--param", dest="params", action="append", metavar="NAME=VALUE",
                   help="a parameter the policy declares, for this run (e.g. --param 利润=1200万); repeat for each")
    p.add_argument("--params", dest="params_file", metavar="FILE",
                   help="parameters from a file: one NAME=VALUE a line (# comments), or a CSV of name,value")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pkrules",
        description="Check, test, run and explain sales-incentive and appraisal policies.",
        epilog="Example: pkrules run policies/sales_incentive.pk policies/sample/employees.csv",
    )
    parser.add_argument("--version", action="version", version="pkrules 0.1.0")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="the language of messages: en or zh (default: the policy's own, "
                             "Chinese for a policy written with Chinese keywords)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="check policies: syntax, names, cycles, units", description="Check policy files; exit 1 if any has errors.")
    p.add_argument("policies", nargs="+", metavar="POLICY", help="policy files or folders")
    p.add_argument("--strict", action="store_true", help="fail on warnings too")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    _lookup_option(p)
    p.set_defaults(func=_command("policy", "cmd_check"))

    p = sub.add_parser("test", help="run the examples inside policies", description="Run every example block; exit 1 if any fails.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="policy files or folders")
    p.add_argument("--brief", action="store_true", help="do not print explanations of failures")
    p.add_argument("--coverage", action="store_true", help="show how many examples each row and branch fired for")
    _lookup_option(p)
    p.set_defaults(func=_command("policy", "cmd_test"))

    p = sub.add_parser("fmt", help="rewrite policies in the canonical layout", description="Format policy files in place (comments kept, meaning unchanged).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="policy files or folders")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not formatted")
    mode.add_argument("--diff", action="store_true", help="change nothing; show what would change")
    p.set_defaults(func=_command("policy", "cmd_fmt"))

    p = sub.add_parser("run", help="evaluate a policy over a population (CSV, Parquet, Excel or SQLite)", description="Evaluate every employee in DATA.")
    p.add_argument("policy", metavar="POLICY")
    p.add_argument("data", metavar="DATA", help="one row per employee: CSV (UTF-8, with or without BOM), Parquet "
                                                "(a file or a folder of them), Excel (.xlsx), SQLite (.sqlite, .db), "
                                                "DuckDB (.duckdb); with --engine spark also a table name")
    p.add_argument("--out", metavar="OUT.csv", help="write one row per employee: the key, the period, the text inputs "
                                                        "that name people (name, team), then every definition "
                                                        "(.csv, .parquet, .xlsx or .jsonl)")
    _engine_option(p)
    p.add_argument("--columns", metavar="A,B,…", help="the columns of the terminal table and of --out (after the key)")
    p.add_argument("--plain", action="store_true", help="with --out: the earlier machine-readable form — the key, the "
                                                        "period and every definition, exact values, yes/no, no BOM")
    p.add_argument("--no-bom", action="store_true", help="with --out FILE.csv: no UTF-8 byte order mark (by default "
                                                         "there is one, so that Excel reads Chinese correctly)")
    p.add_argument("--show", action="store_true", help="with --out: also print the table")
    p.add_argument("--keep-going", action="store_true", help="evaluate the good rows even if some rows are bad")
    p.add_argument("--coverage", action="store_true", help="show how many employees each row and branch fired for")
    p.add_argument("--with", dest="related", action="append", metavar="TABLE=FILE",
                   help="the rows of a related table the policy declares (input TABLE by …), e.g. ratings=ratings.csv")
    p.add_argument("--statements", metavar="DIR", help="write one Markdown statement per employee into DIR")
    p.add_argument("--keep", metavar="RUN", help="keep this run (every figure, with the policy) in the file RUN, "
                                                 "to explain any employee later at once: pkrules explain --run RUN ID [NAME]")
    _data_options(p)
    _lookup_option(p)
    p.set_defaults(func=_command("run", "cmd_run"))

    p = sub.add_parser("explain", help="explain one employee's value", description="Show the tree of values behind one figure.")
    p.add_argument("policy", metavar="POLICY", nargs="?")  # (with --run or --cycle: the employee)
    p.add_argument("data", metavar="DATA")
    p.add_argument("id", metavar="ID", help="the employee's key")
    p.add_argument("name", metavar="NAME", nargs="?", help="the value to explain (default: the policy's main output)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the trace as JSON")
    fmt.add_argument("--markdown", action="store_true", help="a statement to send to the employee: their own figures, "
                                                             "the rules, and the group figures the policy publishes")
    fmt.add_argument("--brief", action="store_true", help="at most ten lines: the value, the rule that decided it, "
                                                          "the inputs that mattered, the next band")
    p.add_argument("--exact", action="store_true", help="every value with its exact fraction (by default only where "
                                                        "the rounding matters)")
    p.add_argument("--all-bands", action="store_true", help="distances to every neighbouring band, worse ones too "
                                                            "(by default only toward a better result)")
    p.add_argument("--depth", type=_levels, metavar="N", help="how many levels of inputs to show")
    p.add_argument("--period", metavar="P", help="with data over several periods: which one (default: the latest)")
    p.add_argument("--with", dest="related", action="append", metavar="TABLE=FILE",
                   help="the rows of a related table the policy declares, e.g. ratings=ratings.csv")
    p.add_argument("--keep-going", action="store_true", help="explain even if other employees' rows have bad cells")
    p.add_argument("--run", dest="from_run", metavar="RUN",
                   help="explain from a run kept with run … --keep RUN, with the policy it was computed with: "
                        "pkrules explain --run RUN ID [NAME]")
    _engine_option(p)
    _data_options(p)
    _lookup_option(p)
    p.set_defaults(func=_command("run", "cmd_explain"))

    p = sub.add_parser("sql", help="print the SQL of a policy (DuckDB or Spark), for review or a scheduler",
                       description="Print the statements pkrules runs for --engine duckdb|spark: exact integer "
                                   "arithmetic, checked to fit 38 digits for the ranges of the data (--data) or of "
                                   "the inputs' declared types.")
    p.add_argument("policy", metavar="POLICY")
    p.add_argument("--dialect", choices=("duckdb", "spark"), default="duckdb", help="the engine's SQL (default: duckdb)")
    p.add_argument("--data", metavar="DATA", help="measure the inputs' ranges on this data (CSV or Parquet) "
                                                  "instead of assuming them from the declared types")
    p.add_argument("--rows", type=int, metavar="N", default=10_000_000,
                   help="without --data: the most employees the SQL must handle (default 10,000,000)")
    p.set_defaults(func=_command("sql", "cmd_sql"))

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
    _engine_option(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the changes (and impact) as JSON")
    fmt.add_argument("--markdown", action="store_true", help="Markdown for a pull request comment")
    _lookup_option(p)
    p.set_defaults(func=_command("review", "run_diff"))

    p = sub.add_parser("git-setup", help="make git diff and git log -p show semantic diffs of *.pk files",
                       description="Write '*.pk diff=pkrules' to .gitattributes and point git's pkrules diff driver here.")
    p.add_argument("--global", dest="global_", action="store_true", help="for every repository (~/.gitconfig and the global attributes file)")
    p.add_argument("--command", dest="driver_command", metavar="CMD", help="how git should run pkrules (default: this pkrules)")
    p.set_defaults(func=_command("review", "run_git_setup"))

    p = sub.add_parser("git-diff-driver")  # hidden: git's external diff (7 or 9 arguments)
    p.add_argument("args", nargs="*")
    p.set_defaults(func=_command("review", "run_git_diff_driver"))

    p = sub.add_parser("git-textconv")  # hidden: canonical text for git log -p
    p.add_argument("file")
    p.set_defaults(func=_command("review", "run_git_textconv"))

    from pkrules.workflow.commands import register as register_workflow  # cycle, review, hr, appeal, audit, demo (light)

    register_workflow(sub)
    from tui.command import register as register_tui  # `pkrules tui`: tui/command.py imports Textual only when it runs

    register_tui(sub)
    _lang_after_command(sub)
    return parser


def _lang_after_command(subparsers) -> None:
    """--lang also after the command (pkrules check --lang en x.pk), on every command and action.

    SUPPRESS: a command that was not given --lang leaves the global option's value alone.
    """
    for parser in set(subparsers.choices.values()):
        if not any("--lang" in action.option_strings for action in parser._actions):
            parser.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS,
                                help="the language of messages: en or zh (default: the policy's)")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _lang_after_command(action)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    # A fresh context per command: its language (the policy's, or --lang) never leaks into
    # the next in-process call (tests, an embedding TUI).
    return contextvars.copy_context().run(_run, args)


def _run(args) -> int:
    choose_language(args.lang)
    if getattr(args, "spark_master", None):
        from pkrules.engine.backend import configure

        configure("spark", master=args.spark_master)
    try:
        from pkrules.language.lookup_files import lookup_folders

        with lookup_folders(getattr(args, "lookup_folders", None) or []):
            return args.func(args)
    except Fail as e:
        if str(e):
            err(str(e))
        return e.code
    except KeyboardInterrupt:
        err(tr("interrupted"))
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except RecursionError:  # the limits of language/limits.py should come first; this is said rather than a bug report
        from pkrules.cli.console import error
        from pkrules.language.limits import MAX_CHAIN, MAX_NESTING

        err(error(tr("this is nested too deeply to work through; pkrules reads expressions of up to {nesting} levels "
                     "and chains of up to {chain} definitions", nesting=MAX_NESTING, chain=f"{MAX_CHAIN:,}")))
        return EXIT_PROBLEMS
    except Exception as e:  # a bug: say so plainly, keep the traceback for developers
        unwritten = _unwritable(e)
        if unwritten is not None:  # a full disk, where a writer had nothing more particular to say
            _say_unwritten(unwritten)
            return EXIT_PROBLEMS
        if os.environ.get("PKRULES_DEBUG"):
            raise
        err(tr("internal error: {problem}\nThis is a bug in pkrules. Run again with PKRULES_DEBUG=1 to see where, "
               "and please report it.", problem=f"{type(e).__name__}: {e}"))
        return EXIT_INTERNAL


def command_line() -> None:
    """The installed `pkrules` script (and `python -m pkrules.cli`): the command, then the process ends."""
    code = main()
    if _ends_at_once:
        end_process(code)
    sys.exit(code)


def end_process(code: int | None) -> None:
    """Exit with code once everything the command made is out, without the interpreter's clean-up.

    For the commands that work on files and the terminal only: by then every file they wrote is closed
    (outputs are renamed into place when complete) and they hold no database, so what a normal exit would
    still do is free every object and module one at a time: 0.1 s after a run of a million employees, a
    tenth of the whole run. What else a normal exit does is done here, in its order: threads are told to
    finish and waited for (threading's own shutdown, which first tells a thread pool's idle workers: waited
    for without that, they wait for work for ever), the exit functions run (a TemporaryDirectory's
    finaliser, logging, coverage), the standard streams are flushed. A reader that went away (pkrules run …
    | head) is not an error; output that cannot be written (a full disk) is said, and the exit code says it.
    """
    import atexit
    import threading

    threading._shutdown()
    atexit._run_exitfuncs()
    code = EXIT_OK if code is None else code
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (BrokenPipeError, ValueError):  # a reader that went away, a closed stream
            pass
        except OSError as e:
            code = code or EXIT_PROBLEMS
            if stream is sys.stdout:
                _say_unwritten(e)
    os._exit(code)


def _unwritable(error: BaseException) -> OSError | None:
    """A failure to write (a full disk, a quota, a file-size limit), not a bug: as an OSError to say it by.

    SQLite (a kept run, the workflow's store) says the same as "database or disk is full" (SQLITE_FULL), and
    a file-size limit as a disk I/O error (SQLITE_IOERR)."""
    import errno

    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return error
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == 13:  # SQLITE_FULL
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if isinstance(code, int) and code & 0xFF == 10:  # SQLITE_IOERR
        return OSError(errno.EIO, os.strerror(errno.EIO))
    return None


def _say_unwritten(error: OSError) -> None:
    from pkrules.cli.console import error as problem
    from pkrules.messages import reason

    try:
        err(problem(tr("could not write the output: {reason}", reason=reason(error))))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    command_line()
