"""The help screen: every key of every screen, and the way through an appeal."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from .widgets import InPolicyLanguage

KEYS = [
    ("Everywhere", [
        ("?  F1", "this help"), ("esc", "back to the previous screen (on the board: clear the filters)"),
        ("q", "quit (ctrl+c too)"), ("tab  shift+tab", "move between the parts of a screen"),
    ]),
    ("Cycle board", [
        ("↑ ↓  PgUp PgDn  Home End", "move"), ("⏎", "open the employee"), ("/", "search by ID, name or team"),
        ("f", "filter by team and stage (and overdue, open appeal)"), ("o", "only overdue"), ("x", "only open appeals"),
        ("s  r", "sort by the next column; reverse the order"), ("a", "appeals"), ("p", "the policy with its hit counts"),
        ("c", "charts: a score's distribution with its bands, cost by team"), ("d", "diff of two policy versions"),
        ("A", "cycle actions (HR: advance, publish, finalize, export)"),
    ]),
    ("Employee", [
        ("1 2 3 4", "explanation · inputs & results · history · changes"),
        ("↑ ↓", "move in the explanation; the panel shows the rule, formula, steps, fired row, source and next band"),
        ("→ ←  ⏎  space", "open / close a node"), ("e", "open every node"),
        ("a", "actions: what you may do now (and why not, for the rest); the appeal form takes the node under the cursor"),
        ("g", "the selected node's line in the policy"), ("⏎ on a result (tab 2)", "explain that figure"),
    ]),
    ("Forms", [
        ("tab", "next field"), ("ctrl+s", "submit"), ("esc", "cancel"),
        ("", "a refused value shows the engine's message under its field"),
    ]),
    ("Appeals", [
        ("↑ ↓", "choose an appeal; the panel shows its reason, decision and, when upheld, the before/after of the figures"),
        ("⏎", "open the employee (decide the appeal there with a)"), ("o", "only open appeals / all"),
    ]),
    ("Policy", [("↑ ↓  PgUp PgDn", "scroll; the gutter shows how many employees each row fired for, red when none"),
                ("n", "next row nobody hits")]),
    ("Charts", [("1 2", "distribution · cost by team"), ("f", "choose the figure"), ("[ ]", "wider / narrower bars")]),
    ("Diff", [("o  n", "choose the old / new version"), ("⏎", "compare"),
              ("1 2 3 4", "changes · side by side · impact table · who gains and loses")]),
]

WALKTHROUGH = (
    "Deciding an appeal: on the board press a (appeals) or x (only open appeals), choose the employee and press ⏎. "
    "The explanation opens on the disputed figure: read the rule, the row that fired and the next-band hint. "
    "Press a for the actions; an appeal may first need to be accepted, then decided (upheld with corrected inputs, "
    "or dismissed, with a reason). After an upheld decision the Changes tab shows the figures before and after "
    "and the History tab the audit event."
)


class HelpScreen(InPolicyLanguage, ModalScreen):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 95%; max-width: 110; height: 95%; border: round $primary; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.render_help())
        yield Footer()

    def render_help(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for section, keys in KEYS:
            table.add_row(Text(section, style="bold underline"), "")
            for key, what in keys:
                table.add_row(key, what)
            table.add_row("", "")
        table.add_row(Text("Appeals", style="bold underline"), Text(WALKTHROUGH))
        info = self.app.model.info if self.app.model is not None else None
        if info is not None and info.note:
            table.add_row("", "")
            table.add_row(Text("This cycle", style="bold underline"), Text(info.note, style="italic"))
        return table
