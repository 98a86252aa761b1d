"""The workflow's commands (cycle, review, hr, appeal, audit, demo, explain --cycle): argparse wiring and printing.

`register(sub)` adds the subcommands to pkrules' parser; it imports nothing heavy, so `pkrules --help`
stays instant. Every command calls the service (pkrules.workflow.service), never the store.
"""

from __future__ import annotations

import argparse
import os

DEFAULT_DB = "pkrules.db"


def _common(p: argparse.ArgumentParser, cycle: bool = True) -> None:
    p.add_argument("--db", metavar="PATH", default=os.environ.get("PKRULES_DB", DEFAULT_DB),
                   help=f"the store (default: {DEFAULT_DB}, or $PKRULES_DB)")
    p.add_argument("--as", dest="as_person", metavar="PERSON",
                   help="act as this person (id or login): in a demo store, or as HR on someone's behalf")
    if cycle:
        p.add_argument("--cycle", metavar="ID", help="the cycle (default: the newest)")


def register(sub) -> None:
    """Add the workflow's commands to pkrules' subparsers (called from cli.build_parser)."""
    # cycle
    p = sub.add_parser("cycle", help="the appraisal cycle: new, status, advance, publish, finalize, export",
                       description="Run an appraisal cycle on the store (--db). Each action is checked against who you are "
                                   "and the stage the appraisal is at, and recorded in the audit log.")
    cs = p.add_subparsers(dest="cycle_command", metavar="ACTION")
    q = cs.add_parser("new", help="create a cycle: policy, org table, inputs; everyone evaluated and stored")
    q.add_argument("policy", metavar="POLICY")
    q.add_argument("--period", required=True, metavar="P", help="the period, which names the cycle (e.g. 2024Q3)")
    q.add_argument("--people", required=True, metavar="ORG.csv", help="the org table: id, name, role, manager_id, team, login")
    q.add_argument("--data", required=True, metavar="DATA", help="the inputs (CSV, Parquet, Excel, SQLite), one row per employee")
    q.add_argument("--with", dest="related", action="append", metavar="TABLE=FILE", help="a related table the policy reads")
    q.add_argument("--start", metavar="DATE", help="the day self-review starts (default: today)")
    q.add_argument("--manager-scores", metavar="INPUT,…",
                   help="inputs the manager enters at manager review (when the policy's appraisal block does not say)")
    _common(q, cycle=False)
    q.set_defaults(func=_run, action="cycle_new")
    q = cs.add_parser("status", help="everyone's stage and deadline (filters, pages)")
    q.add_argument("--team")
    q.add_argument("--stage", help="self_review, manager_review, hr_review, published, final")
    q.add_argument("--overdue", action="store_true", help="only appraisals past their deadline")
    q.add_argument("--appeals", action="store_true", help="only appraisals with an open appeal")
    q.add_argument("--search", metavar="TEXT", help="id or name contains TEXT")
    q.add_argument("--sort", default="id", help="id, name, team, stage, deadline, total (default id)")
    q.add_argument("--desc", action="store_true", help="sort descending")
    q.add_argument("--page", type=int, default=1, metavar="N")
    q.add_argument("--limit", type=int, default=50, metavar="N", help="rows per page (default 50)")
    _common(q)
    q.set_defaults(func=_run, action="cycle_status")
    q = cs.add_parser("list", help="the cycles in the store")
    _common(q, cycle=False)
    q.set_defaults(func=_run, action="cycle_list")
    q = cs.add_parser("show", help="one appraisal in full: inputs, results, history, appeals, and what you may do")
    q.add_argument("employee", metavar="EMPLOYEE")
    _common(q)
    q.set_defaults(func=_run, action="cycle_show")
    for name, help_ in (("advance", "move self-reviews past their deadline on, marked missing"),
                        ("publish", "publish the results (公示) for the publication period"),
                        ("finalize", "lock the results after publication (final, payable)")):
        q = cs.add_parser(name, help=help_)
        _common(q)
        q.set_defaults(func=_run, action=f"cycle_{name}")
    q = cs.add_parser("export", help="write the payroll file of a final cycle (.csv or .xlsx)")
    q.add_argument("out", metavar="OUT")
    _common(q)
    q.set_defaults(func=_run, action="cycle_export")

    # review
    p = sub.add_parser("review", help="self-review and manager review: submit, score, return")
    rs = p.add_subparsers(dest="review_command", metavar="ACTION")
    q = rs.add_parser("submit", help="the employee submits the self-assessment; the manager confirms the result")
    q.add_argument("employee", metavar="EMPLOYEE")
    q.add_argument("--comment", default="", help="the self-assessment, or the manager's comment")
    q.add_argument("--evidence", default="", help="self-review: evidence (text, links)")
    q.add_argument("--self-score", action="append", default=[], metavar="INPUT=VALUE", help="self-review: a self-score (recorded, not counted)")
    _common(q)
    q.set_defaults(func=_run, action="review_submit")
    q = rs.add_parser("score", help="the manager enters scored inputs")
    q.add_argument("employee", metavar="EMPLOYEE")
    q.add_argument("values", nargs="+", metavar="INPUT=VALUE")
    q.add_argument("--comment", default="")
    _common(q)
    q.set_defaults(func=_run, action="review_score")
    q = rs.add_parser("return", help="the manager sends the self-assessment back (once)")
    q.add_argument("employee", metavar="EMPLOYEE")
    q.add_argument("--reason", required=True)
    _common(q)
    q.set_defaults(func=_run, action="review_return")

    # hr
    p = sub.add_parser("hr", help="HR: correct an input (HR review), or adjust a final cycle in a later one")
    hs = p.add_subparsers(dest="hr_command", metavar="ACTION")
    q = hs.add_parser("correct", help="correct inputs with a reason; everyone is evaluated again")
    q.add_argument("employee", metavar="EMPLOYEE")
    q.add_argument("values", nargs="+", metavar="INPUT=VALUE")
    q.add_argument("--reason", required=True)
    _common(q)
    q.set_defaults(func=_run, action="hr_correct")
    q = hs.add_parser("adjust", help="a correction of a final cycle, as an adjusting entry paid with a later cycle")
    q.add_argument("employee", metavar="EMPLOYEE")
    q.add_argument("values", nargs="+", metavar="INPUT=VALUE")
    q.add_argument("--original", required=True, metavar="CYCLE", help="the final cycle being corrected")
    q.add_argument("--into", metavar="CYCLE", help="the cycle that pays it (default: the newest)")
    q.add_argument("--reason", required=True)
    _common(q, cycle=False)
    q.set_defaults(func=_run, action="hr_adjust")

    # appeal
    p = sub.add_parser("appeal", help="appeals (申诉): file, accept, reject, request-info, answer, decide, withdraw, escalate")
    aps = p.add_subparsers(dest="appeal_command", metavar="ACTION")
    q = aps.add_parser("file", help="appeal against an input or a value of your explanation, during publication")
    q.add_argument("employee", metavar="EMPLOYEE")
    q.add_argument("target", metavar="TARGET", help="the disputed input or value (e.g. visits, coef)")
    q.add_argument("--reason", required=True)
    _common(q)
    q.set_defaults(func=_run, action="appeal_file")
    q = aps.add_parser("ack", help="acknowledge your published result (no objection)")
    q.add_argument("employee", metavar="EMPLOYEE")
    _common(q)
    q.set_defaults(func=_run, action="appeal_ack")
    q = aps.add_parser("list", help="the appeals you may see")
    q.add_argument("--open", action="store_true", help="only open appeals")
    _common(q)
    q.set_defaults(func=_run, action="appeal_list")
    q = aps.add_parser("show", help="one appeal, with its stored before/after diff")
    q.add_argument("id", type=int, metavar="ID")
    _common(q, cycle=False)
    q.set_defaults(func=_run, action="appeal_show")
    for name, arg, help_ in (("accept", None, "HR accepts the appeal for review"),
                             ("reject", "--reason", "HR marks it inadmissible (late, or outside the employee's own result)"),
                             ("request-info", "--question", "ask the employee for information"),
                             ("answer", "--text", "the employee gives the information asked for"),
                             ("withdraw", None, "the employee withdraws the appeal"),
                             ("escalate", "--reason", "the employee escalates the decision to the next level")):
        q = aps.add_parser(name, help=help_)
        q.add_argument("id", type=int, metavar="ID")
        if arg:
            q.add_argument(arg, required=True, dest="text")
        else:
            q.add_argument("--reason", dest="text", default="")
        _common(q, cycle=False)
        q.set_defaults(func=_run, action="appeal_" + name.replace("-", "_"))
    q = aps.add_parser("decide", help="decide at the current level: upheld / partly_upheld (with --set) or dismissed")
    q.add_argument("id", type=int, metavar="ID")
    q.add_argument("outcome", choices=("upheld", "partly_upheld", "dismissed"))
    q.add_argument("--reason", required=True)
    q.add_argument("--set", dest="values", action="append", default=[], metavar="INPUT=VALUE", help="a corrected input")
    _common(q, cycle=False)
    q.set_defaults(func=_run, action="appeal_decide")

    # audit
    p = sub.add_parser("audit", help="the audit log: log, verify (the hash chain)")
    au = p.add_subparsers(dest="audit_command", metavar="ACTION")
    q = au.add_parser("log", help="the events you may see, oldest first")
    q.add_argument("--employee", metavar="ID")
    q.add_argument("--limit", type=int, metavar="N", help="only the last N")
    _common(q)
    q.set_defaults(func=_run, action="audit_log")
    q = au.add_parser("verify", help="check the hash chain: names the first edited, deleted or reordered event")
    _common(q, cycle=False)
    q.set_defaults(func=_run, action="audit_verify")

    # demo
    p = sub.add_parser("demo", help="build a demo store from the bundled sample and open the TUI",
                       description="A cycle of the 40-employee sample in publication: one appeal upheld, one dismissed and "
                                   "escalated, one still open. Replaces an earlier demo store at PATH.")
    p.add_argument("--db", metavar="PATH", default="demo.db")
    p.add_argument("--no-tui", action="store_true", help="print the status table instead of opening the TUI")
    p.add_argument("--zh", action="store_true", help="the Chinese policy and sample")
    p.set_defaults(func=_run, action="demo")

    # explain --cycle: options on the existing explain command (its positionals become EMPLOYEE [NODE])
    explain = sub.choices.get("explain")
    if explain is not None:
        explain.add_argument("--cycle", dest="from_cycle", metavar="ID",
                             help="explain from a cycle's stored results: pkrules explain --cycle 2024Q3 EMPLOYEE [NODE]")
        explain.add_argument("--db", metavar="PATH", default=os.environ.get("PKRULES_DB", DEFAULT_DB), help="with --cycle: the store")
        explain.add_argument("--as", dest="as_person", metavar="PERSON", help="with --cycle: act as this person")
        for action in explain._actions:
            if action.dest in ("data", "id"):
                action.nargs = "?"
    for name in ("cycle", "review", "hr", "appeal", "audit"):
        sub.choices[name].set_defaults(func=_usage(sub.choices[name]))


def _usage(parser):
    def show(args) -> int:
        if getattr(args, "action", None):
            return _run(args)
        parser.print_help()
        return 2
    return show


def _run(args) -> int:
    """Run one workflow command; workflow errors become a message and exit 1 (refused) or 2 (bad input)."""
    from .cli_run import run

    return run(args)


def explain_from_cycle(args) -> int:
    """`pkrules explain --cycle ID EMPLOYEE [NODE]` (hooked from cli.cmd_explain)."""
    args.action = "explain_cycle"
    args.employee, args.node, args.cycle = args.policy, args.data, args.from_cycle
    return _run(args)
