"""The appeals of the cycle: open ones first with their deadlines (overdue in red), then the decided ones;
the panel shows the chosen appeal and, when it was upheld, the stored before/after of the figures."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from .model import Appeal, Change
from .widgets import InPolicyLanguage, TopBar


def change_text(change: Change | None, lang_word) -> Group:
    """The figures before → after, then the changed part of the explanation (+ new, - old). Each line's tree
    prefix (│ ├ └) stays in its own column, so a wrapped line continues under its text, not at the margin."""
    if change is None:
        return Group()
    head = Text()
    head.append(lang_word("before_after") + "\n", style="bold underline")
    for name in change.after:
        before, after = change.before.get(name), change.after[name]
        moved = before != after
        head.append(f"  {name}: ", style="bold" if moved else "dim")
        head.append(f"{before} → {after}\n", style="bold cyan" if moved else "dim")
    lines = []
    for line in change.lines:
        body = line.lstrip(" │├└─")
        prefix = line[: len(line) - len(body)]
        style = "green" if body.startswith("+") else "red" if body.startswith("-") else ""
        row = Table.grid()  # one grid per line: its own prefix is its indent
        row.add_column(no_wrap=True, width=len(prefix))
        row.add_column(ratio=1)
        row.add_row(Text(prefix, style="dim"), Text(body, style=style))
        lines.append(row)
    return Group(head, *lines)


class AppealsScreen(InPolicyLanguage, Screen):
    DEFAULT_CSS = """
    AppealsScreen DataTable { height: auto; max-height: 45%; min-height: 3; }
    AppealsScreen #detail { height: 1fr; border-top: hkey $primary 50%; padding: 0 1; }
    AppealsScreen #count { height: 1; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "open", "Open employee", key_display="⏎", priority=True),
        Binding("o", "toggle_open", "Open only / all"),
    ]

    def __init__(self):
        super().__init__()
        self.appeals: list[Appeal] = []
        self.open_only = False

    def compose(self) -> ComposeResult:
        yield TopBar()
        yield Static("", id="count")
        yield DataTable(id="appeals", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="detail"):
            yield Static("", id="appeal")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        self.load()
        self.query_one(TopBar).refresh_bar()

    def load(self) -> None:
        self.fetch(self.open_only)

    @work(thread=True, exclusive=True, group="appeals")
    def fetch(self, open_only: bool) -> None:
        appeals = self.app.model.appeals(open_only=open_only)
        self.app.call_from_thread(self.show, appeals)

    def show(self, appeals: list[Appeal]) -> None:
        w = self.app.word
        table = self.query_one(DataTable)
        keep = table.cursor_row
        self.appeals = appeals
        table.clear(columns=True)
        table.add_column("#", key="id")
        table.add_column(w("col.name"), key="who")
        table.add_column(w("figure"), key="node")
        table.add_column(w("status"), key="status")
        table.add_column(w("level"), key="level")
        table.add_column(w("filed"), key="filed")
        table.add_column(w("due"), key="due")
        for a in appeals:
            due = Text(str(a.due) if a.due else "—", style="bold red" if a.overdue else "")
            status = Text(("⚑ " if a.is_open else "") + a.status_label, style="bold yellow" if a.is_open else
                          "green" if a.upheld else "dim")
            table.add_row(a.id, f"{a.name} {a.key}", a.node, status, a.level_label, str(a.filed), due, key=a.id)
        n_open = sum(1 for a in appeals if a.is_open)
        count = Text(w("open_appeals", n=n_open), style="bold yellow" if n_open else "")
        count.append(" · " + w("appeals_shown", n=len(appeals), s="" if len(appeals) == 1 else "s")
                     + (" (o: all)" if self.open_only else " (o: open only)"), style="dim")
        self.query_one("#count", Static).update(count)
        if not appeals:
            self.query_one("#appeal", Static).update(Text(w("no_appeals"), style="dim"))
            return
        table.move_cursor(row=min(keep, len(appeals) - 1))
        table.focus()
        self.show_appeal(self.appeals[table.cursor_row])

    @on(DataTable.RowHighlighted, "#appeals")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.appeals):
            self.show_appeal(self.appeals[event.cursor_row])

    def show_appeal(self, appeal: Appeal) -> None:
        self.query_one("#appeal", Static).update(self.appeal_text(appeal, None))
        if appeal.upheld:
            self.fetch_change(appeal)

    @work(thread=True, exclusive=True, group="appeal-change")
    def fetch_change(self, appeal: Appeal) -> None:
        change = self.app.model.appeal_change(appeal.id)
        self.app.call_from_thread(self.show_change, appeal, change)

    def show_change(self, appeal: Appeal, change: Change | None) -> None:
        table = self.query_one(DataTable)
        if self.appeals and self.appeals[table.cursor_row].id == appeal.id:
            self.query_one("#appeal", Static).update(self.appeal_text(appeal, change))

    def appeal_text(self, a: Appeal, change: Change | None) -> Group:
        w = self.app.word
        out = Text()
        out.append(f"#{a.id} · {a.name} {a.key} · {a.team} · ", style="bold")
        out.append(a.status_label, style="bold yellow" if a.is_open else "bold")
        out.append(f" · {w('level')}: {a.level_label}\n")
        out.append(f"{w('disputed')}: ", style="bold")
        out.append(f"{a.node}\n")
        out.append(f"{w('reason')}: ", style="bold")
        out.append(f"{a.reason}\n")
        if a.due:
            out.append(f"{w('due')}: ", style="bold")
            out.append(str(a.due) + "\n", style="bold red" if a.overdue else "")
        if a.decision_reason:
            out.append(f"{w('decided')}: ", style="bold")
            out.append(f"{a.status_label} — {a.decision_reason}" + (f" ({a.decided_by})" if a.decided_by else "") + "\n")
        if a.is_open:
            out.append("\n⏎ opens the employee; press a there to act on the appeal.\n", style="dim")
        elif not a.upheld:
            out.append("\n" + w("not_upheld") + "\n", style="dim")
        if change is None:
            return Group(out)
        return Group(out, change_text(change, w))

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if self.appeals:
            appeal = self.appeals[table.cursor_row]
            self.app.open_employee(appeal.key, appeal.node)

    def action_toggle_open(self) -> None:
        self.open_only = not self.open_only
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()
