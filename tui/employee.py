"""One employee: where they are in the cycle, their inputs and results, the explanation of their figures
as an expandable tree (each node with its rule, formula, values, the row that fired, the policy source
beside it and the distance to the next band), their history, what changed after an appeal, and the
actions the acting person may take."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, LoadingIndicator, Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from pkrules import api

from .model import EmployeeView, Outcome
from .source import FIRED, MARK, excerpt, highlight
from .widgets import InPolicyLanguage, TopBar

MARKS = {"fired": ("✓", "bold green"), "not met": ("✗", "red"), "not reached": ("·", "dim")}


def shown(node, lang: str, compact: bool = False) -> str:
    """A node's value as the explanation shows it to people: a ratio as a percentage (0.96 → 96%), as
    `pkrules explain` does; otherwise the value's own format (compact: money without ¥, for the tree)."""
    if node.display.endswith("%"):
        return node.display
    return api.format_value(node.value, node.type, lang, compact=compact)


def node_label(node, lang: str, wide: bool = False) -> Text:
    """A tree line: name = value; a table's fired row (✓, written out when there is room), → when a next band is near."""
    label = Text()
    label.append(node.name, style="bold" if node.kind != "input" else "")
    label.append(" = ")
    label.append(shown(node, lang, compact=True), style="cyan")
    if node.hints and not node.repeated:
        label.append(" →", style="bold yellow")
    fired = next((s for s in node.steps if s.outcome == "fired"), None)
    if fired is not None and node.kind in ("table", "lookup"):
        label.append(" ✓", style="green")
        if wide:
            label.append(f" {fired.text.split('   (')[0].strip()}", style="green")
    if node.repeated:
        label.append(" ↑", style="dim")
    return label


class ExplanationTree(InPolicyLanguage, Tree):
    """The explanation: arrows move, → opens, ← closes (or goes to the parent), e opens everything."""

    BINDINGS = [
        Binding("right,l", "open_node", "Open", show=False),
        Binding("left,h", "close_node", "Close", show=False),
        Binding("e", "expand_all", "Expand all"),
    ]

    def action_open_node(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand:
            node.expand()

    def action_close_node(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and node.allow_expand:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root or (node.parent is self.root and self.show_root):
            self.move_cursor(node.parent)

    def action_expand_all(self) -> None:
        self.root.expand_all()


class EmployeeScreen(InPolicyLanguage, Screen):
    DEFAULT_CSS = """
    EmployeeScreen #head { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    EmployeeScreen TabbedContent { height: 1fr; }
    EmployeeScreen TabPane { padding: 0; }
    EmployeeScreen #why-split { height: 1fr; }
    EmployeeScreen ExplanationTree { width: 45%; border-right: vkey $primary 50%; overflow-x: hidden; }
    EmployeeScreen #detail { width: 1fr; padding: 0 1; }
    EmployeeScreen #source-side { display: none; width: 35%; padding: 0 1; border-left: vkey $primary 50%; }
    EmployeeScreen.-wide ExplanationTree { width: 35%; }
    EmployeeScreen.-wide #source-side { display: block; }
    EmployeeScreen.-wide #source-below { display: none; }
    EmployeeScreen DataTable { height: 1fr; }
    EmployeeScreen #changes-scroll, EmployeeScreen #history-scroll { padding: 0 1; }
    EmployeeScreen LoadingIndicator { height: 1; display: none; }
    EmployeeScreen.-busy LoadingIndicator { display: block; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("a", "actions", "Actions"),
        Binding("1", "tab('why')", "Explanation", show=False),
        Binding("2", "tab('figures')", "Figures", show=False),
        Binding("3", "tab('history')", "History", show=False),
        Binding("4", "tab('changes')", "Changes", show=False),
        Binding("g", "source_line", "Go to line", show=False),
    ]

    def __init__(self, key: str, node: str | None = None):
        super().__init__()
        self.key = key
        self.figure: str | None = None  # the figure the tree explains (default: the policy's main output)
        self.wanted = node  # the node to put the cursor on first (an appeal's disputed figure)
        self.view: EmployeeView | None = None
        self.explanation = None
        self.selected = None  # the TraceNode under the tree's cursor
        self.new_event: int | None = None
        self.last_change = None  # the change the last action made (an HR correction has no appeal to keep it)

    def compose(self) -> ComposeResult:
        w = self.app.word
        yield TopBar()
        yield Static("", id="head")
        yield LoadingIndicator()
        with TabbedContent(initial="why"):
            with TabPane(f"1 {w('explanation')}", id="why"):
                with Horizontal(id="why-split"):
                    yield ExplanationTree("", id="tree")
                    with VerticalScroll(id="detail"):
                        yield Static("", id="node")
                        yield Static("", id="source-below")
                    with VerticalScroll(id="source-side"):
                        yield Static("", id="source-wide")
            with TabPane(f"2 {w('figures')}", id="figures"):
                yield DataTable(id="figure-table", cursor_type="row", zebra_stripes=True)
            with TabPane(f"3 {w('history')}", id="history"):
                with VerticalScroll(id="history-scroll"):
                    yield Static("", id="history-text")
            with TabPane(f"4 {w('changes')}", id="changes"):
                with VerticalScroll(id="changes-scroll"):
                    yield Static("", id="changes-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tree", ExplanationTree).show_root = True
        self.on_resize()
        self.load()

    def on_resize(self, event=None) -> None:
        wide = self.size.width >= 140
        if wide != self.has_class("-wide"):
            self.set_class(wide, "-wide")
            if self.explanation is not None:
                self.show_tree(focus=False)

    # ---- loading

    def load(self, focus_tree: bool = True) -> None:
        self.add_class("-busy")
        self.fetch(focus_tree)

    @work(thread=True, exclusive=True, group="employee")
    def fetch(self, focus_tree: bool) -> None:
        model = self.app.model
        view = model.employee(self.key)
        explanation = model.explain(self.key, self.figure)
        history = model.history(self.key)
        changes = [(a, model.appeal_change(a.id)) for a in view.appeals if a.upheld]  # upheld or partly upheld
        path, text = model.source()
        self.app.call_from_thread(self.show, view, explanation, history, changes, text, focus_tree)

    def show(self, view: EmployeeView, explanation, history, changes, text: str, focus_tree: bool) -> None:
        self.view, self.explanation, self.policy_text = view, explanation, text
        self.remove_class("-busy")
        self.show_head()
        self.show_tree(focus_tree)
        self.show_figures()
        self.show_history(history)
        self.show_changes(changes)

    def show_head(self) -> None:
        """Up to three lines, each cropped to the width: who and where in the cycle; the appeal; the main figures."""
        w, v, lang = self.app.word, self.view, self.app.lang
        lines = []
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(v.name or v.key, style="bold")
        head.append(f" {v.key} · {v.team} · ")
        head.append(v.stage_label, style="bold")
        if v.deadline is not None:
            head.append(" · ")
            head.append(w("overdue_since", date=v.deadline) if v.overdue else w("deadline", date=v.deadline),
                        style="bold red" if v.overdue else "")
        lines.append(head)
        appeal = v.open_appeal or (v.appeals[-1] if v.appeals else None)
        if appeal is not None:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("⚑ " if appeal.is_open else "  ", style="bold yellow")
            if appeal.is_open:
                line.append(f"#{appeal.id} " + w("appeal_line", level=appeal.level_label, node=appeal.node,
                                                  status=appeal.status_label, due=appeal.due or "—"),
                            style="bold red" if appeal.overdue else "yellow")
            else:
                line.append(f"#{appeal.id} " + w("appeal_decided", node=appeal.node, status=appeal.status_label),
                            style="green" if appeal.upheld else "")
            line.append(f" — {appeal.reason if appeal.is_open else (appeal.decision_reason or appeal.reason)}", style="dim")
            lines.append(line)
        main = next((f for f in v.results if f.name == v.main_output), None)
        if main is not None:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{main.name} ", style="bold")
            line.append(main.text, style="bold cyan")
            for f in [f for f in v.results if f.name != main.name and getattr(f.type, "kind", "") == "money"][:5]:
                line.append(f" · {f.name} {api.format_value(f.value, f.type, lang, compact=True)}")
            lines.append(line)
        self.query_one("#head", Static).update(Group(*lines))

    # ---- the explanation

    def show_tree(self, focus: bool) -> None:
        tree = self.query_one("#tree", ExplanationTree)
        lang = self.app.lang
        previous = self.selected.name if self.selected is not None else self.wanted
        tree.clear()
        root = self.explanation.root
        wide = self.has_class("-wide")
        tree.root.set_label(node_label(root, lang, wide))
        tree.root.data = root
        wanted: list[TreeNode] = []

        def add(parent: TreeNode, trace, depth: int) -> None:
            for child in trace.children:
                if child.children and not child.repeated:
                    branch = parent.add(node_label(child, lang, wide), data=child, expand=depth < 1)
                    add(branch, child, depth + 1)
                else:
                    branch = parent.add_leaf(node_label(child, lang, wide), data=child)
                if child.name == previous and not wanted and not child.repeated:
                    wanted.append(branch)

        add(tree.root, root, 0)
        tree.root.expand()
        target = wanted[0] if wanted else tree.root
        parent = target.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        # the tree knows its lines only after it has laid out the expanded nodes
        tree.call_after_refresh(tree.move_cursor, target)
        self.show_node(target.data)
        if focus:
            tree.focus()

    @on(Tree.NodeHighlighted, "#tree")
    def node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        if event.node.data is not None:
            self.show_node(event.node.data)

    def show_node(self, node) -> None:
        self.selected = node
        w, lang = self.app.word, self.app.lang
        parts: list = []
        head = Text()
        head.append(node.name, style="bold")
        head.append(" = ")
        head.append(shown(node, lang), style="bold cyan")
        where = f"   {w('kind.' + node.kind)}"
        if node.line:
            where += " · " + w("line", n=node.line)
        head.append(where, style="dim")
        parts.append(head)
        if node.repeated:
            parts.append(Text(w("repeated"), style="dim"))
        description = node.description
        if node.kind == "input" and self.view is not None:
            description = next((f.description for f in self.view.inputs if f.name == node.name), None)
        if description:
            parts.append(Text(""))
            parts.append(Text(w("in_words"), style="bold underline"))
            parts.append(Text(description, style="italic"))
        if node.formula:
            parts.append(Text(""))
            parts.append(Text(w("formula"), style="bold underline"))
            parts.append(highlight(node.formula))
        if node.steps:
            parts.append(Text(""))
            parts.append(Text(w("steps"), style="bold underline"))
            for step in node.steps:
                line = Text()
                mark, style = MARKS.get(step.outcome, ("", ""))
                if mark:
                    line.append(f"{mark} ", style=style)
                line.append(step.text, style="bold green" if step.outcome == "fired" else "dim" if step.outcome == "not reached" else "")
                if step.outcome == "fired":
                    line.append(f"  ← {w('fired')}", style="green")
                parts.append(line)
        if node.hints:
            parts.append(Text(""))
            parts.append(Text(w("hints"), style="bold underline"))
            for hint in node.hints:
                parts.append(Text(f"→ {hint}", style="yellow"))
        self.query_one("#node", Static).update(Group(*parts))
        source = self.source_of(node)
        self.query_one("#source-below", Static).update(source)
        self.query_one("#source-wide", Static).update(source)

    def source_of(self, node) -> Text | Group:
        """The node's lines of the policy, highlighted, with the line that fired marked."""
        w = self.app.word
        if not node.line or not getattr(self, "policy_text", None):
            return Text("")
        lines = (node.formula or "").count("\n")
        marks = {node.line: MARK}
        for step in node.steps:
            if step.outcome == "fired" and step.line:
                marks[step.line] = FIRED
        last = max([node.line + lines] + [s.line for s in node.steps if s.line])
        title = Text()
        title.append("\n" + w("source"), style="bold underline")
        title.append(f"  {self.app.model.source()[0]}", style="dim")
        code = excerpt(self.policy_text, node.line, last, marks, context=2)
        code.no_wrap, code.overflow = True, "ellipsis"
        return Group(title, code)

    def action_source_line(self) -> None:
        if self.selected is not None and self.selected.line:
            self.app.open_policy(self.selected.line)

    # ---- figures, history, changes

    def show_figures(self) -> None:
        w = self.app.word
        table = self.query_one("#figure-table", DataTable)
        table.clear(columns=True)
        table.add_columns("", w("figure"), w("value"), "")
        for k, note in enumerate(self.view.notes):
            table.add_row(Text(w("history") if k == 0 else "", style="bold"), "", "", Text(note, style="italic"))
        for section, figures in ((w("inputs"), self.view.inputs), (w("results"), self.view.results)):
            for k, f in enumerate(figures):
                table.add_row(Text(section if k == 0 else "", style="bold"), f.name, Text(f.text, style="cyan", justify="right"),
                              Text(f.description or "", style="dim"), key=f.name)

    def show_history(self, history) -> None:
        """The audit events of this employee, oldest first; the one the last action made is highlighted."""
        w = self.app.word
        out = Text()
        if not history:
            out.append(w("no_history"), style="dim")
        for event in history:
            new = event.seq == self.new_event
            out.append(f"#{event.seq} ", style="bold yellow" if new else "bold")
            out.append(f"{event.at} · {event.actor} · ", style="yellow" if new else "dim")
            out.append(event.summary + "\n", style="bold yellow" if new else "")
        self.query_one("#history-text", Static).update(out)
        self.query_one("#history-scroll", VerticalScroll).scroll_end(animate=False)

    def show_changes(self, changes: list[tuple]) -> None:
        from .appeals import change_text

        w = self.app.word
        parts: list = []
        for appeal, change in changes:
            if change is None:
                continue
            head = Text()
            head.append(f"#{appeal.id} {appeal.node} · {appeal.status_label}" + (f" · {appeal.decided_by}" if appeal.decided_by else ""),
                        style="bold")
            head.append(f"\n{appeal.decision_reason or ''}\n", style="italic")
            parts += [head, change_text(change, w), Text("")]
        if not parts and self.last_change is not None:
            parts = [change_text(self.last_change, w)]
        if not parts:
            parts = [Text(w("no_changes"), style="dim")]
        self.query_one("#changes-text", Static).update(Group(*parts))

    @on(DataTable.RowSelected, "#figure-table")
    def explain_figure(self, event: DataTable.RowSelected) -> None:
        """Enter on a result explains that figure."""
        name = event.row_key.value
        if name and self.view and any(f.name == name for f in self.view.results):
            self.figure = name
            self.selected = None
            self.action_tab("why")
            self.load()

    # ---- keys

    FOCUS = {"why": "#tree", "figures": "#figure-table", "history": "#history-scroll", "changes": "#changes-scroll"}

    def action_tab(self, tab: str) -> None:
        # Focus moves into the pane too: a focused widget left in a hidden pane would switch the tabs back.
        self.query_one(TabbedContent).active = tab
        self.query_one(self.FOCUS[tab]).focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_actions(self) -> None:
        from .forms import ActionsScreen

        if self.view is None:
            return
        who = f"{self.view.name} ({self.key})"
        self.app.push_screen(ActionsScreen(self.key, who, self.selected.name if self.selected else None), self.after_action)

    def after_action(self, outcome: Outcome | None) -> None:
        if outcome is None:
            return
        if outcome.ok:
            self.new_event = outcome.event.seq if outcome.event else None
            self.last_change = outcome.change or self.last_change
            self.app.notify(outcome.message, title="✓", timeout=8)
            self.load(focus_tree=False)
            self.query_one(TopBar).refresh_bar()
            self.action_tab("changes" if outcome.change is not None else "history")
