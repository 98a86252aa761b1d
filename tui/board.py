"""The cycle board: everyone in the cycle in a lazy table (only the visible lines are drawn, so 10,000
or 100,000 rows cost the same), with filters, sorting and search computed in a worker."""

from __future__ import annotations

from dataclasses import replace

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Button, Checkbox, Footer, Label, LoadingIndicator, Select, Static

from .model import SORTS, BoardQuery, BoardRow, BoardView
from .cells import fit
from .widgets import InPolicyLanguage, TextInput, TopBar

SORT_LABELS = {"key": "col.key", "name": "col.name", "team": "col.team", "stage": "col.stage",
               "deadline": "col.deadline", "total": "col.total"}


class BoardTable(InPolicyLanguage, ScrollView, can_focus=True):
    """A virtualised table of board rows: render_line draws one visible line from the view on demand."""

    COMPONENT_CLASSES = {"board--header", "board--cursor", "board--overdue", "board--appeal", "board--final",
                         "board--stage"}
    DEFAULT_CSS = """
    BoardTable { height: 1fr; background: $surface; overflow-x: hidden; }
    BoardTable > .board--header { text-style: bold; background: $panel; color: $text; }
    BoardTable > .board--cursor { background: $primary 40%; }
    BoardTable:focus > .board--cursor { background: $primary; color: $text; }
    BoardTable > .board--overdue { color: $error; text-style: bold; }
    BoardTable > .board--appeal { color: $warning; text-style: bold; }
    BoardTable > .board--final { color: $text-muted; }
    BoardTable > .board--stage { color: $text; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "open", "Open", key_display="⏎"),
    ]

    cursor = reactive(0, always_update=True)

    class Opened(Message):
        def __init__(self, row: BoardRow):
            super().__init__()
            self.row = row

    class Moved(Message):
        def __init__(self, index: int, row: BoardRow | None):
            super().__init__()
            self.index = index
            self.row = row

    def __init__(self, lang: str, words, **kwargs):
        super().__init__(**kwargs)
        self.lang = lang
        self.word = words
        self.view: BoardView | None = None
        self.widths = {"key": 6, "name": 6, "team": 6, "stage": 8, "deadline": 10, "total": 10, "appeal": 6}
        self.extra: tuple[str, ...] = ()
        self.extra_widths: list[int] = []

    # ---- data

    def measure(self, rows, columns: tuple[str, ...] = ()) -> None:
        """Column widths from the first rows' values (once: filtering must not make the columns jump; a lazy
        board is not read to its end for this). A longer value later is cropped with …"""
        self.extra = columns
        w = self.widths
        heads = {c: cell_len(self.word(f"col.{c}")) for c in w}
        sample = rows[:100] if len(rows) > 100 else list(rows)  # rows are formatted when first read: read few
        if sample:
            w["key"] = max(cell_len(r.key) for r in sample)
            w["name"] = max(cell_len(r.name) for r in sample)
            w["team"] = max(cell_len(r.team) for r in sample)
            w["stage"] = max(cell_len(r.stage_label) for r in sample)
            w["total"] = max(cell_len(r.total_text) for r in sample)
        w["appeal"] = max(cell_len(self.word("appeal.open")) + 2, 6)
        caps = {"key": 12, "name": 14, "team": 14, "stage": 16, "total": 16}
        for c in w:
            w[c] = min(max(w[c], heads[c]), caps.get(c, 99))
        self.extra_widths = [min(14, max([cell_len(name)] + [cell_len(r.figures[k]) for r in sample if k < len(r.figures)]))
                             for k, name in enumerate(columns)]

    def set_view(self, view: BoardView, keep: str | None = None) -> None:
        """Show a new view; keep the cursor on the employee `keep` when they are still in it."""
        self.view = view
        index = 0
        if keep is not None:
            index = view.position(keep)
            if index is None:
                index = min(self.cursor, max(0, len(view) - 1))
        self.virtual_size = Size(0, len(view) + 1)
        self.cursor = max(0, min(index, len(view) - 1))
        self.refresh()

    @property
    def current(self) -> BoardRow | None:
        if self.view is None or not len(self.view):
            return None
        return self.view.rows[self.cursor]

    # ---- moving

    def _visible(self) -> int:
        return max(1, self.size.height - 1)  # the header takes a line

    def watch_cursor(self, old: int, new: int) -> None:
        top = round(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + self._visible():
            self.scroll_to(y=new - self._visible() + 1, animate=False)
        self.refresh()
        self.post_message(self.Moved(new, self.current))

    def action_move(self, step: int) -> None:
        if self.view is not None and len(self.view):
            self.cursor = max(0, min(len(self.view) - 1, self.cursor + step))

    def action_page(self, step: int) -> None:
        self.action_move(step * self._visible())

    def action_jump(self, where: int) -> None:
        if self.view is not None and len(self.view):
            self.cursor = where if where >= 0 else len(self.view) - 1

    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(self.Opened(self.current))

    def on_click(self, event) -> None:
        y = event.y - 1 + round(self.scroll_y)
        if self.view is not None and event.y >= 1 and 0 <= y < len(self.view):
            self.cursor = y
            if event.chain >= 2:
                self.action_open()

    # ---- drawing

    def columns(self) -> list[tuple[str, int, bool]]:
        """(column, width, right-aligned) that fit the width; the team and the name give way first, and a wide
        terminal shows more figures after the total (score, coef, …)."""
        w = dict(self.widths)
        order = ["key", "name", "team", "stage", "deadline", "total", "appeal"]
        avail = self.size.width - (len(order) - 1) - 1
        need = sum(w.values())
        for c, least in (("team", 6), ("name", 6), ("stage", 8), ("appeal", 4)):
            if need <= avail:
                break
            cut = min(w[c] - least, need - avail)
            if cut > 0:
                w[c] -= cut
                need -= cut
        out = [(c, w[c], c == "total") for c in order]
        room = avail - need
        extra = []
        for k, width in enumerate(getattr(self, "extra_widths", [])):
            if width + 1 > room:
                break
            extra.append((f"#{k}", width, True))
            room -= width + 1
        return out[:-1] + extra + out[-1:]

    def _fg(self, component: str) -> Style:
        """A component's colour and weight only, to lay over a row without changing its background."""
        style = self.get_component_rich_style(component)
        return Style(color=style.color, bold=style.bold, dim=style.dim, italic=style.italic)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            style = self.get_component_rich_style("board--header")
            text = " ".join(fit(self._heading(c), w, right) for c, w, right in self.columns())
            return Strip([Segment(fit(" " + text, width), style)]).simplify()
        index = round(self.scroll_y) + y - 1
        if self.view is None or index >= len(self.view):
            if self.view is not None and not len(self.view) and y == 1:
                return Strip([Segment(fit(" " + self.word("no_rows"), width), base)])
            return Strip.blank(width, base)
        row = self.view.rows[index]
        line_style = base
        if row.stage == "final":
            line_style = base + self._fg("board--final")
        if index == self.cursor:
            line_style = line_style + self.get_component_rich_style("board--cursor")
        segments = [Segment(" ", line_style)]
        for c, w, right in self.columns():
            style = line_style
            if c == "deadline":
                text = row.deadline.isoformat() if row.deadline else "—"
                if row.overdue:
                    style = line_style + self._fg("board--overdue")
            elif c == "appeal":
                text = ""
                if row.appeal_open:
                    text = "⚑ " + self.word("appeal.open")
                    style = line_style + self._fg("board--appeal")
                elif row.appeal:
                    text = self.word(f"appeal.{row.appeal}")
            elif c == "stage":
                text = row.stage_label
            elif c == "total":
                text = row.total_text
            elif c.startswith("#"):
                k = int(c[1:])
                text = row.figures[k] if k < len(row.figures) else ""
            else:
                text = getattr(row, c)
            segments.append(Segment(fit(text, w, right), style))
            segments.append(Segment(" ", line_style))
        used = sum(cell_len(s.text) for s in segments)
        if used < width:
            segments.append(Segment(" " * (width - used), line_style))
        return Strip(segments).crop(0, width)

    def _heading(self, column: str) -> str:
        if column.startswith("#"):
            return self.extra[int(column[1:])]
        return self.word(f"col.{column}")

    def on_resize(self) -> None:
        if self.view is not None:
            self.virtual_size = Size(0, len(self.view) + 1)


class FilterScreen(InPolicyLanguage, ModalScreen[BoardQuery | None]):
    """Team, stage, overdue and open-appeal filters, chosen with the keyboard (tab, arrows, space, enter)."""

    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    FilterScreen > Vertical { width: 64; height: auto; max-height: 100%; border: round $primary; padding: 0 1;
                              background: $surface; }
    FilterScreen #title { text-style: bold; margin-bottom: 1; }
    FilterScreen .row { height: 1; margin-bottom: 1; }
    FilterScreen .row Label { width: 12; }
    FilterScreen .row Select { width: 1fr; }
    FilterScreen Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "apply", "Apply")]

    def __init__(self, query: BoardQuery, teams: list[str], stages):
        super().__init__()
        self.query_ = query
        self.teams = teams
        self.stages = stages

    def compose(self) -> ComposeResult:
        w = self.app.word
        with Vertical():
            yield Static(w("filter_title"), id="title")
            with Horizontal(classes="row"):
                yield Label(w("team"))
                yield Select([(t, t) for t in self.teams], value=self.query_.team or Select.NULL, prompt=w("all"),
                             id="team", compact=True)
            with Horizontal(classes="row"):
                yield Label(w("stage"))
                yield Select([(s.label, s.code) for s in self.stages], value=self.query_.stage or Select.NULL,
                             prompt=w("all"), id="stage", compact=True)
            with Horizontal(classes="row"):
                yield Checkbox(w("overdue"), self.query_.overdue, id="overdue", compact=True)
                yield Checkbox(w("with_appeal"), self.query_.appeal, id="appeal", compact=True)
            with Horizontal(classes="row"):
                yield Button(f"{w('apply')} (ctrl+s)", variant="primary", id="apply", compact=True)
                yield Button(f"{w('clear')}", id="clear", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#team", Select).focus()

    def action_apply(self) -> None:
        team = self.query_one("#team", Select).value
        stage = self.query_one("#stage", Select).value
        self.dismiss(replace(self.query_, team=None if team is Select.NULL else team,
                             stage=None if stage is Select.NULL else stage,
                             overdue=self.query_one("#overdue", Checkbox).value,
                             appeal=self.query_one("#appeal", Checkbox).value))

    @on(Button.Pressed, "#apply")
    def apply_pressed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#clear")
    def clear_pressed(self) -> None:
        self.dismiss(replace(self.query_, team=None, stage=None, overdue=False, appeal=False))


class BoardScreen(InPolicyLanguage, Screen):
    """Everyone in the cycle: name, team, stage, deadline (overdue in red), total, appeal."""

    DEFAULT_CSS = """
    BoardScreen #filters { height: 1; padding: 0 1; color: $text-muted; }
    BoardScreen #search { height: 1; border: none; padding: 0 1; background: $boost; }
    BoardScreen #search:focus { background: $primary 20%; }
    BoardScreen #status { height: 1; padding: 0 1; background: $panel; }
    BoardScreen #status-line { width: 1fr; }
    BoardScreen LoadingIndicator { width: 8; height: 1; display: none; }
    BoardScreen.-busy LoadingIndicator { display: block; }
    """
    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/", show=False),  # the search box says so
        Binding("f", "filters", "Filter"),
        Binding("a", "appeals", "Appeals"),
        Binding("p", "policy", "Policy"),
        Binding("c", "pictures", "Charts"),
        # Shown in the filter line and the help screen: the footer holds what fits in 80 columns.
        Binding("s", "sort", "Sort", show=False),
        Binding("d", "diff", "Diff", show=False),
        Binding("A", "cycle_actions", "Cycle", key_display="A"),
        Binding("o", "toggle('overdue')", "Overdue", show=False),
        Binding("x", "toggle('appeal')", "Open appeals", show=False),
        Binding("r", "reverse", "Reverse sort", show=False),
        Binding("escape", "clear", "Clear filters", show=False),
    ]

    query_state: BoardQuery = BoardQuery()

    def compose(self) -> ComposeResult:
        app = self.app
        yield TopBar(id="top")
        yield Static("", id="filters")
        yield TextInput(placeholder=app.word("search_placeholder"), id="search")
        yield BoardTable(app.lang, app.word, id="table")
        with Horizontal(id="status"):
            yield Static(app.word("loading"), id="status-line")
            yield LoadingIndicator()
        yield Footer()

    def on_mount(self) -> None:
        self.query_state = BoardQuery()
        self._first = True
        self.reload()
        self.query_one(BoardTable).focus()

    # ---- loading the rows (in a worker: at 10,000 employees a query takes a few tens of milliseconds,
    # at 100,000 several hundred, and the screen must keep answering keys meanwhile)

    def reload(self, keep: str | None = None) -> None:
        self.add_class("-busy")
        self.query_one("#status-line", Static).update(self.app.word("filtering" if not self._first else "loading"))
        self.load_rows(self.query_state, keep)

    @work(thread=True, exclusive=True, group="board")
    def load_rows(self, query: BoardQuery, keep: str | None) -> None:
        view = self.app.model.board(query)
        self.app.call_from_thread(self.show_rows, view, keep)

    def show_rows(self, view: BoardView, keep: str | None) -> None:
        if view.query != self.query_state:
            return  # an older query finished after a newer one was asked for
        table = self.query_one(BoardTable)
        if self._first or (view.columns and not table.extra):
            warm = self._first
            table.measure(view.rows, view.columns)
            self._first = False
            if warm:
                self.warm_up()
        table.set_view(view, keep)
        self.remove_class("-busy")
        self.show_status(view)
        self.show_filters()

    @work(thread=True, exclusive=True, group="warm-up")
    def warm_up(self) -> None:
        """Once the board is up: let the model read what whole-cycle views need; show more if it can."""
        if self.app.model.warm_up():
            self.app.call_from_thread(self.reload_keeping_cursor)

    def reload_keeping_cursor(self) -> None:
        table = self.query_one(BoardTable)
        self.reload(table.current.key if table.current else None)

    def show_status(self, view: BoardView) -> None:
        w = self.app.word
        info = self.app.model.info
        parts = [w("shown", n=f"{len(view):,}", of=f"{view.population:,}")]
        if view.cost is not None:
            from pkrules import api

            parts.append(w("cost", what=info.main_output, value=api.format_value(view.cost, api.Type("money"), info.lang)))
        if view.overdue:
            parts.append(f"[b red]{view.overdue:,} {w('overdue')}[/]")
        if view.open_appeals:
            parts.append(f"[b yellow]⚑ {w('n_open_appeals', n=f'{view.open_appeals:,}', s='' if view.open_appeals == 1 else 's')}[/]")
        self.query_one("#status-line", Static).update(" · ".join(parts))

    def show_filters(self) -> None:
        """One line: the active filters (or how to set them) and the order, with their keys."""
        w = self.app.word
        q = self.query_state
        stage = next((s.label for s in self.app.model.stages() if s.code == q.stage), q.stage)
        text = Text()
        active = [(w("team"), q.team), (w("stage"), stage), (w("overdue"), q.overdue), (w("with_appeal"), q.appeal)]
        shown = [(label, value) for label, value in active if value]
        if shown:
            for label, value in shown:
                text.append(f"{label} " if value is not True else label, style="bold")
                if value is not True:
                    text.append(str(value), style="bold yellow")
                text.append(" · ")
            text.append("esc clears", style="dim")
        else:
            text.append(f"{w('all')}: f {w('team')}/{w('stage')} · o {w('overdue')} · x {w('with_appeal')}", style="dim")
        arrow = "▼" if q.descending else "▲"
        text.append("  │  ", style="dim")
        text.append(f"{w('sorted_by')} {w(SORT_LABELS[q.sort])} {arrow}")
        text.append(" (s, r)", style="dim")
        self.query_one("#filters", Static).update(text)

    def set_query(self, query: BoardQuery) -> None:
        table = self.query_one(BoardTable)
        keep = table.current.key if table.current else None
        self.query_state = query
        self.reload(keep)

    # ---- keys

    def action_search(self) -> None:
        self.query_one("#search", TextInput).focus()

    @on(TextInput.Changed, "#search")
    def search_changed(self, event: TextInput.Changed) -> None:
        self.set_query(replace(self.query_state, search=event.value))

    @on(TextInput.Submitted, "#search")
    def search_done(self) -> None:
        self.query_one(BoardTable).focus()

    def action_filters(self) -> None:
        model = self.app.model

        def chosen(query: BoardQuery | None) -> None:
            if query is not None:
                self.set_query(query)
            self.query_one(BoardTable).focus()

        self.app.push_screen(FilterScreen(self.query_state, model.teams(), model.stages()), chosen)

    def action_toggle(self, what: str) -> None:
        self.set_query(replace(self.query_state, **{what: not getattr(self.query_state, what)}))

    def action_sort(self) -> None:
        q = self.query_state
        nxt = SORTS[(SORTS.index(q.sort) + 1) % len(SORTS)]
        self.set_query(replace(q, sort=nxt, descending=nxt == "total"))

    def action_reverse(self) -> None:
        self.set_query(replace(self.query_state, descending=not self.query_state.descending))

    def action_clear(self) -> None:
        search = self.query_one("#search", TextInput)
        if self.focused is search and search.value:
            search.value = ""
            return
        if self.query_state.filtered:
            search.value = ""
            self.set_query(BoardQuery(sort=self.query_state.sort, descending=self.query_state.descending))
        self.query_one(BoardTable).focus()

    @on(BoardTable.Opened)
    def open_employee(self, event: BoardTable.Opened) -> None:
        self.app.open_employee(event.row.key)

    def action_appeals(self) -> None:
        self.app.open_appeals()

    def action_policy(self) -> None:
        self.app.open_policy()

    def action_pictures(self) -> None:
        self.app.open_pictures()

    def action_diff(self) -> None:
        self.app.open_diff()

    def check_action(self, action: str, parameters) -> bool | None:
        """The cycle's actions are HR's (and the executive's to see): the footer shows them to those only."""
        if action == "cycle_actions":
            return self.app.model is not None and self.app.model.info.person.role in ("hr", "executive")
        return True

    def action_cycle_actions(self) -> None:
        from .forms import ActionsScreen

        def done(outcome) -> None:
            if outcome is not None and outcome.ok:
                self.app.notify(outcome.message, title="✓", timeout=8)
                self.reload(self.query_one(BoardTable).current.key if self.query_one(BoardTable).current else None)
                self.query_one(TopBar).refresh_bar()

        info = self.app.model.info
        self.app.push_screen(ActionsScreen(None, f"{self.app.word('cycle', name=info.cycle)}"), done)

    def on_screen_resume(self) -> None:
        """Back from an employee or the appeals: their actions may have moved figures and stages."""
        if not self._first:
            table = self.query_one(BoardTable)
            self.reload(table.current.key if table.current else None)
            self.query_one(TopBar).refresh_bar()
