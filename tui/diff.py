"""Two versions of the policy: the semantic changes, both texts side by side, the impact on the cycle's
employees (who gains, who loses, what it costs) and a picture of the gains and losses."""

from __future__ import annotations

import difflib

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Label, ProgressBar, Select, Static, TabbedContent, TabPane

from pkrules import api

from .charts import gains_and_losses
from .model import DiffView, ModelError, PolicyVersion
from .source import highlighted_lines
from .widgets import InPolicyLanguage, TopBar

OLD_STYLE = "on #4b1f1f"
NEW_STYLE = "on #1f3d24"
SIGN_STYLE = {"+": "bold green", "-": "bold red", "~": "bold yellow", "→": "bold cyan"}


def side_by_side(old_text: str, new_text: str, old_label: str, new_label: str) -> tuple[Table, int]:
    """Both versions, lines matched up (difflib); removed lines red on the left, added green on the right.
    Also the row of the first change (to scroll to)."""
    old_lines, new_lines = highlighted_lines(old_text), highlighted_lines(new_text)
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False, pad_edge=False)
    table.add_column("", justify="right", style="dim", no_wrap=True, width=4)
    table.add_column(old_label, ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("", justify="right", style="dim", no_wrap=True, width=4)
    table.add_column(new_label, ratio=1, no_wrap=True, overflow="ellipsis")
    matcher = difflib.SequenceMatcher(a=[t.plain for t in old_lines], b=[t.plain for t in new_lines], autojunk=False)
    first, row = None, 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal" and first is None:
            first = row
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            left = old_lines[i].copy() if i < i2 else Text("")
            right = new_lines[j].copy() if j < j2 else Text("")
            if tag != "equal":
                if i < i2:
                    left.stylize(OLD_STYLE)
                if j < j2:
                    right.stylize(NEW_STYLE)
            table.add_row(str(i + 1) if i < i2 else "", left, str(j + 1) if j < j2 else "", right)
            row += 1
    return table, first or 0


class DiffScreen(InPolicyLanguage, Screen):
    DEFAULT_CSS = """
    DiffScreen TabbedContent { height: 1fr; }
    DiffScreen TabPane { padding: 0; }
    DiffScreen #versions { height: 1; padding: 0 1; margin-bottom: 1; }
    DiffScreen #versions Label { padding: 0 1 0 0; }
    DiffScreen #versions Select { width: 1fr; }
    DiffScreen #versions Button { min-width: 12; margin-left: 1; }
    DiffScreen ProgressBar { height: 1; padding: 0 1; display: none; }
    DiffScreen.-busy ProgressBar { display: block; }
    DiffScreen #changes, DiffScreen #sides, DiffScreen #gains, DiffScreen #impact-summary { padding: 0 1; }
    DiffScreen #impact-summary { height: auto; }
    DiffScreen #impact-table { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("o", "choose('old')", "Old"),
        Binding("n", "choose('new')", "New"),
        Binding("enter", "compare", "Compare", key_display="⏎"),
        Binding("1", "tab('changes-tab')", "Changes", show=False),
        Binding("2", "tab('sides-tab')", "Side by side", show=False),
        Binding("3", "tab('impact-tab')", "Impact", show=False),
        Binding("4", "tab('gains-tab')", "Gains and losses", show=False),
    ]

    def __init__(self):
        super().__init__()
        self.versions: list[PolicyVersion] = []
        self.view: DiffView | None = None

    def compose(self) -> ComposeResult:
        w = self.app.word
        yield TopBar()
        with Horizontal(id="versions"):
            yield Label(w("old"))
            yield Select([], id="old", allow_blank=True, prompt="…", compact=True)
            yield Label(w("new"))
            yield Select([], id="new", allow_blank=True, prompt="…", compact=True)
            yield Button(f"{w('diff')} ⏎", id="compare", variant="primary", compact=True)
        yield ProgressBar(total=100, show_eta=False, id="progress")
        with TabbedContent(initial="changes-tab"):
            with TabPane(f"1 {w('semantic')}", id="changes-tab"):
                with VerticalScroll(id="changes-scroll"):
                    yield Static(w("choose_versions"), id="changes")
            with TabPane(f"2 {w('side_by_side')}", id="sides-tab"):
                with VerticalScroll(id="sides-scroll"):
                    yield Static("", id="sides")
            with TabPane(f"3 {w('impact')}", id="impact-tab"):
                yield Static("", id="impact-summary")
                yield DataTable(id="impact-table", cursor_type="row", zebra_stripes=True)
            with TabPane(f"4 {w('gains')}", id="gains-tab"):
                with VerticalScroll(id="gains-scroll"):
                    yield Static("", id="gains")
        yield Footer()

    def on_mount(self) -> None:
        self.load_versions()

    @work(thread=True, exclusive=True, group="versions")
    def load_versions(self) -> None:
        model = self.app.model
        versions = model.policy_versions()
        old = new = None
        if len(versions) > 1:
            new, old = versions[0], versions[1]
            current = model.policy_version_text(versions[0])
            for version in versions[1:]:  # the latest version that differs from the cycle's
                try:
                    if model.policy_version_text(version) != current:
                        old = version
                        break
                except ModelError:
                    continue
            if getattr(model, "_extra_versions", ()) and versions[1].id in model._extra_versions:
                old, new = versions[0], versions[1]  # a proposal given with --compare: the cycle's → the proposal
        self.app.call_from_thread(self.show_versions, versions, old, new)

    def show_versions(self, versions: list[PolicyVersion], old: PolicyVersion | None, new: PolicyVersion | None) -> None:
        self.versions = versions
        options = [(v.label, v.id) for v in versions]
        for select_id, chosen in (("#old", old), ("#new", new)):
            select = self.query_one(select_id, Select)
            select.set_options(options)
            if chosen is not None:
                select.value = chosen.id
        if old is None or new is None:
            self.query_one("#changes", Static).update(Text(self.app.word("no_versions"), style="yellow"))
            return
        self.action_compare()

    def version(self, select_id: str) -> PolicyVersion | None:
        value = self.query_one(select_id, Select).value
        return next((v for v in self.versions if v.id == value), None)

    def action_choose(self, which: str) -> None:
        select = self.query_one(f"#{which}", Select)
        select.focus()
        select.action_show_overlay()

    @on(Button.Pressed, "#compare")
    def compare_pressed(self) -> None:
        self.action_compare()

    def action_compare(self) -> None:
        old, new = self.version("#old"), self.version("#new")
        if old is None or new is None:
            self.app.notify(self.app.word("choose_versions"), severity="warning")
            return
        self.add_class("-busy")
        self.query_one(ProgressBar).update(progress=0)
        self.query_one("#changes", Static).update(Text(self.app.word("computing"), style="dim"))
        self.compute(old, new)

    @work(thread=True, exclusive=True, group="diff")
    def compute(self, old: PolicyVersion, new: PolicyVersion) -> None:
        def progress(done: float, what: str) -> None:
            self.app.call_from_thread(self.query_one(ProgressBar).update, progress=round(done * 100))

        try:
            view = self.app.model.diff(old, new, progress)
        except ModelError as e:
            self.app.call_from_thread(self.show_problem, str(e))
            return
        self.app.call_from_thread(self.show, view)

    def show_problem(self, message: str) -> None:
        self.remove_class("-busy")
        self.query_one("#changes", Static).update(Text(message, style="red"))

    def show(self, view: DiffView) -> None:
        self.view = view
        self.remove_class("-busy")
        w = self.app.word
        changes = Text()
        changes.append(f"{view.old.label}\n  → {view.new.label}\n", style="dim")
        changes.append(view.summary + "\n\n", style="bold")
        for c in view.changes:
            changes.append(f"{c.sign} ", style=SIGN_STYLE.get(c.sign, "bold"))
            changes.append(c.description)
            where = c.new_lines or c.old_lines
            if where:
                changes.append(f"  ({w('line', n=where[0])})", style="dim")
            changes.append("\n")
        self.query_one("#changes", Static).update(changes)
        table, first = side_by_side(view.old_text, view.new_text, view.old.label, view.new.label)
        self.query_one("#sides", Static).update(table)
        scroll = self.query_one("#sides-scroll", VerticalScroll)
        scroll.call_after_refresh(scroll.scroll_to, y=max(0, first - 3), animate=False)
        self.show_impact(view)

    def show_impact(self, view: DiffView) -> None:
        w, lang = self.app.word, self.app.lang
        table = self.query_one("#impact-table", DataTable)
        table.clear(columns=True)
        summary = Text()
        impact = view.impact
        if impact is None:
            summary.append(view.impact_error or w("no_changes"), style="yellow" if view.impact_error else "dim")
            self.query_one("#impact-summary", Static).update(summary)
            self.query_one("#gains", Static).update(summary.copy())
            return
        for line in impact.summary:
            summary.append(line + "\n")
        self.query_one("#impact-summary", Static).update(summary)
        table.add_column(w("col.key"))
        table.add_column(w("col.name"))
        table.add_column("Δ")
        for name in impact.columns:
            table.add_column(f"{name} ({w('old').lower()})")
            table.add_column(f"{name} ({w('new').lower()})")
        for row in impact.rows[:5000]:  # the largest gains first, then the largest losses last
            delta = Text(row.delta_text if row.delta else "0", justify="right",
                         style="green" if row.delta > 0 else "red" if row.delta < 0 else "dim")
            cells = [row.key, row.name, delta]
            for name in impact.columns:
                cells += [Text(row.before.get(name, ""), justify="right"), Text(row.after.get(name, ""), justify="right")]
            table.add_row(*cells)
        money = api.Type("money")
        head = Text()
        head.append(f"{impact.gain} ↑  {impact.lose} ↓  {impact.unchanged} =", style="bold")
        head.append(f"   Σ {api.format_value(impact.cost_before, money, lang)} → {api.format_value(impact.cost_after, money, lang)}\n\n")
        rows = [(f"{r.name} {r.key}".strip(), r.delta, r.delta_text) for r in impact.rows if r.delta]
        limit = max(5, (self.size.height - 10) // 2)
        head.append_text(gains_and_losses(rows, max(30, self.size.width - 4), limit))
        self.query_one("#gains", Static).update(head)

    FOCUS = {"changes-tab": "#changes-scroll", "sides-tab": "#sides-scroll", "impact-tab": "#impact-table",
             "gains-tab": "#gains-scroll"}

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(self.FOCUS[tab]).focus()  # a focused widget in a hidden pane would switch back

    def action_back(self) -> None:
        self.app.pop_screen()
