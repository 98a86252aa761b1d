"""`pkrules tui`: the command, registered on pkrules' parser by one hook line. Importing this module
imports neither Textual nor the app: `run` imports them when the command runs, and where there is no
terminal (a pipe, CI) it prints the cycle's status table instead."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

DESCRIPTION = """The appraisal cycle in the terminal: the board, each employee's explanation, actions, appeals,
the policy with its hit counts, pictures and the diff of two policy versions.

  pkrules tui --db pkrules.db --as H01      a cycle in the workflow's store, acting as H01
  pkrules tui POLICY DATA [--as hr]         a preview over a policy and a data file (nothing is stored)

Without a terminal (a pipe, CI) it prints the cycle's status table."""


def register(sub) -> None:
    """Add `tui` to pkrules' subcommands (called from pkrules.cli.build_parser)."""
    p = sub.add_parser("tui", help="the terminal UI: cycle board, explanations, appeals, policy, diff",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("policy", nargs="?", metavar="POLICY", help="preview: the policy (with DATA)")
    p.add_argument("data", nargs="?", metavar="DATA", help="preview: the employees' data (CSV, Parquet, Excel, SQLite)")
    p.add_argument("--db", metavar="PATH", help="the workflow's store (a cycle made with `pkrules cycle new` or `pkrules demo`)")
    p.add_argument("--as", dest="person", metavar="PERSON",
                   help="who is acting: an id of the org table (store); hr, exec, manager:TEAM or an employee id (preview)")
    p.add_argument("--cycle", metavar="ID", help="with --db: the cycle (default: the newest)")
    p.add_argument("--stage", default="mixed", metavar="STAGE",
                   help="preview: where everyone stands: self_review, manager_review, hr_review, published, final, "
                        "or mixed (default: between self-review and HR review, some late)")
    p.add_argument("--appeal", action="append", metavar="ID:FIGURE:REASON",
                   help="preview (with --stage published): an open appeal to start with; repeatable")
    p.add_argument("--compare", action="append", metavar="FILE", help="preview: another version of the policy for the diff screen")
    p.add_argument("--with", dest="related", action="append", metavar="TABLE=FILE", help="preview: a related table's rows")
    p.add_argument("--today", metavar="YYYY-MM-DD", help="preview: the date the deadlines are counted from (default: today)")
    p.set_defaults(func=run)


def _opener(args):
    """A function (progress → model) for the arguments, or a usage message."""
    from .model import open_preview, open_store

    if args.db:
        if args.policy or args.data:
            return "give either --db PATH or POLICY DATA, not both"
        return lambda progress: open_store(args.db, args.person, progress=progress, cycle=args.cycle)
    if not (args.policy and args.data):
        return "give --db PATH (a workflow store) or POLICY DATA (a preview)"
    try:
        today = dt.date.fromisoformat(args.today) if args.today else None
    except ValueError:
        return f"--today {args.today}: expected a date such as 2024-10-16"
    appeals = []
    for spec in args.appeal or []:
        parts = spec.split(":", 2)
        if len(parts) != 3 or not all(p.strip() for p in parts):
            return f"--appeal {spec}: expected ID:FIGURE:REASON (E013:visits:I made 30 visits)"
        appeals.append(tuple(p.strip() for p in parts))
    related = {}
    for spec in args.related or []:
        name, _, path = spec.partition("=")
        if not path:
            return f"--with {spec}: expected TABLE=FILE"
        related[name] = path
    return lambda progress: open_preview(args.policy, args.data, args.person or "hr", today, progress, stage=args.stage,
                                         appeals=tuple(appeals), related=related or None,
                                         versions=tuple(args.compare or ()))


def status_table(model) -> str:
    """The cycle's status as plain text: what `pkrules tui` prints where there is no terminal."""
    from .cells import table
    from .model import BoardQuery

    info = model.info
    view = model.board(BoardQuery())
    rows = []
    for r in view.rows:
        deadline = (r.deadline.isoformat() + (" overdue" if r.overdue else "")) if r.deadline else "—"
        appeal = "appeal open" if r.appeal_open else (r.appeal or "")
        rows.append([r.key, r.name, r.team, r.stage_label, deadline, r.total_text, appeal])
    head = [f"{info.title} · cycle {info.cycle} · as {info.person.name} ({info.person.role})"]
    if info.note:
        head.append(info.note)
    counts = {}
    for r in view.rows:
        counts[r.stage_label] = counts.get(r.stage_label, 0) + 1
    foot = [f"{len(view.rows)} employees: " + ", ".join(f"{n} {stage}" for stage, n in counts.items())]
    if view.overdue:
        foot.append(f"{view.overdue} overdue")
    if view.open_appeals:
        foot.append(f"{view.open_appeals} open appeal{'s' if view.open_appeals != 1 else ''}")
    return "\n".join(head + ["", table(["id", "name", "team", "stage", "deadline", info.main_output, "appeal"], rows, {5}),
                             "", "; ".join(foot)])


def run(args) -> int:
    opener = _opener(args)
    if isinstance(opener, str):
        print(f"pkrules tui: {opener}", file=sys.stderr)
        return 2
    return launch(opener)


def launch(opener) -> int:
    """The app over the model `opener` makes; without a terminal, the cycle's status table."""
    from .model import ModelError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        try:
            model = opener(None)
        except ModelError as e:
            print(str(e), file=sys.stderr)
            return 1
        try:
            print(status_table(model))
        except BrokenPipeError:
            pass
        finally:
            _close(model)
        print("(no terminal: the status table instead of the app)", file=sys.stderr)
        return 0
    try:
        from .app import make_app
    except ImportError as e:
        print(f"pkrules tui needs Textual ({e}): pip install 'textual>=8.2,<9'", file=sys.stderr)
        return 2
    app = make_app(opener=opener)
    try:
        app.run()
    finally:
        _close(app.model)
    return app.return_code or 0


def _close(model) -> None:
    """The store closed when the app ends: SQLite folds its write-ahead log into the database file, so that the
    file alone (copied, backed up, mailed) holds everything done in the app."""
    close = getattr(model, "close", None)
    if close is not None:
        close()
