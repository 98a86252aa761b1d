"""The policy: its source highlighted, and in the gutter how many employees of this cycle each table row
(and lookup entry) fired for, and how many took each side of an if; rows nobody hits are red."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, LoadingIndicator, Static

from .model import Hit, PolicyView
from .source import highlighted_lines
from .widgets import InPolicyLanguage, TopBar

GUTTER = 14  # "  34 │    12 │ "


def line_hits(hits: list[Hit]) -> dict[int, list[Hit]]:
    """The hits of each line that the gutter shows: rows and entries, and both sides of each if."""
    by_line: dict[int, list[Hit]] = {}
    for h in hits:
        if h.what.endswith("(computed)"):
            continue
        by_line.setdefault(h.line, []).append(h)
    return by_line


def gutter_text(hits: list[Hit]) -> tuple[str, str]:
    """(text, style) for a line's hits: '12' for a row, '12/28' for an if's then/else."""
    rows = [h for h in hits if not h.what.startswith("if ")]
    branches = [h for h in hits if h.what.startswith("if ")]
    if rows:
        n = sum(h.count for h in rows)
        return f"{n:,}", "bold red" if n == 0 else "bold green"
    if branches:
        then = sum(h.count for h in branches if h.what.endswith(": then"))
        other = sum(h.count for h in branches if h.what.endswith(": else"))
        return f"{then:,}/{other:,}", "bold red" if then == 0 or other == 0 else "green"
    return "", ""


class SourceView(ScrollView, can_focus=True):
    """The policy's lines with a gutter; a cursor line (↑ ↓) whose hits the screen describes."""

    COMPONENT_CLASSES = {"source--cursor", "source--gutter"}
    DEFAULT_CSS = """
    SourceView { height: 1fr; }
    SourceView > .source--cursor { background: $primary 30%; }
    SourceView:focus > .source--cursor { background: $primary 50%; }
    SourceView > .source--gutter { color: $text-muted; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", show=False), Binding("down,j", "move(1)", show=False),
        Binding("pageup", "move(-20)", show=False), Binding("pagedown", "move(20)", show=False),
        Binding("home", "jump(1)", show=False), Binding("end", "jump(-1)", show=False),
        Binding("left,h", "scroll_left", show=False), Binding("right,l", "scroll_right", show=False),
    ]
    cursor = reactive(1)

    class Moved(Message):
        def __init__(self, line: int):
            super().__init__()
            self.line = line

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lines: list[Text] = []
        self.hits: dict[int, list[Hit]] = {}

    def set_source(self, text: str, hits: dict[int, list[Hit]]) -> None:
        self.lines = highlighted_lines(text)
        self.hits = hits
        width = max((cell_len(line.plain) for line in self.lines), default=0) + GUTTER + 1
        self.virtual_size = Size(width, len(self.lines))
        self.refresh()

    centre_next = False  # a jump (to a line, to the next row) puts the line in the middle; arrows only keep it in view

    def watch_cursor(self, line: int) -> None:
        self.scroll_to_region(Region(self.scroll_x, line - 1, 1, 1), animate=False, force=True, center=self.centre_next)
        self.centre_next = False
        self.refresh()
        self.post_message(self.Moved(line))

    def action_move(self, step: int) -> None:
        if self.lines:
            self.cursor = max(1, min(len(self.lines), self.cursor + step))

    def action_jump(self, line: int) -> None:
        if self.lines:
            self.cursor = line if line > 0 else len(self.lines)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        n = scroll_y + y + 1
        width = self.size.width
        base = self.rich_style
        if n > len(self.lines):
            return Strip.blank(width, base)
        line_style = base + self.get_component_rich_style("source--cursor") if n == self.cursor else base
        gutter_style = line_style + self.get_component_rich_style("source--gutter")
        count, count_style = gutter_text(self.hits.get(n, []))
        gutter = Text(style=line_style)
        gutter.append(f"{n:>4} ", style=gutter_style)
        gutter.append("│", style=gutter_style)
        gutter.append(f"{count:>7}", style=count_style)
        gutter.append(" │ ", style=gutter_style)
        code = self.lines[n - 1].copy()
        code.stylize_before(line_style)  # the line's background under the tokens' own colours
        segments = list(gutter.render(self.app.console)) + list(code.render(self.app.console))
        strip = Strip(segments).crop(0, GUTTER + scroll_x + width)
        # the gutter stays put; the code scrolls sideways
        fixed = strip.crop(0, GUTTER)
        moving = strip.crop(GUTTER + scroll_x, GUTTER + scroll_x + width - GUTTER)
        return Strip.join([fixed, moving]).extend_cell_length(width, line_style).crop(0, width)


class PolicyScreen(InPolicyLanguage, Screen):
    DEFAULT_CSS = """
    PolicyScreen #where { height: 1; padding: 0 1; background: $boost; }
    PolicyScreen #line { height: 4; padding: 0 1; background: $panel; }
    PolicyScreen LoadingIndicator { height: 1; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "row(1)", "Next row"),
        Binding("N", "row(-1)", "Previous row", show=False),
        Binding("u", "never(1)", "Next unhit", show=False),
        Binding("d", "diff", "Diff"),
    ]

    def __init__(self, line: int | None = None):
        super().__init__()
        self.start_line = line
        self.view: PolicyView | None = None
        self.by_line: dict[int, list[Hit]] = {}

    def compose(self) -> ComposeResult:
        yield TopBar()
        yield Static("", id="where")
        yield LoadingIndicator()
        yield SourceView(id="source")
        yield Static("", id="line")
        yield Footer()

    def on_mount(self) -> None:
        self.fetch()

    @work(thread=True, exclusive=True, group="policy")
    def fetch(self) -> None:
        view = self.app.model.policy()
        self.app.call_from_thread(self.show, view)

    def show(self, view: PolicyView) -> None:
        self.view = view
        self.query_one(LoadingIndicator).display = False
        self.by_line = line_hits(view.hits)
        source = self.query_one(SourceView)
        source.set_source(view.text, self.by_line)
        w = self.app.word
        never = [h for hs in self.by_line.values() for h in hs if h.count == 0 and not h.what.startswith("if ")]
        where = Text()
        where.append(view.path, style="bold")
        if view.population:
            where.append(f" · {view.population:,} {w('hits')} · ")
            where.append(w("never_hit", n=len(never)) if never else w("all_hit"), style="bold red" if never else "green")
        else:
            where.append(" · hit counts: only HR and executives see the whole cycle", style="dim")
        self.query_one("#where", Static).update(where)
        source.centre_next = True
        source.cursor = self.start_line or min(self.by_line, default=1)
        source.focus()

    def on_source_view_moved(self, event: "SourceView.Moved") -> None:
        self.describe_line(event.line)

    def describe_line(self, n: int) -> None:
        w = self.app.word
        hits = self.by_line.get(n, [])
        out = Text()
        out.append(w("line", n=n), style="bold")
        if not hits:
            out.append("  (no table row or branch on this line)", style="dim")
        population = self.view.population if self.view else 0
        for h in hits:
            out.append("\n")
            share = f" ({h.count / population:.0%})" if population else ""
            out.append(f"{h.node}: ", style="bold")
            out.append(h.what)
            out.append(f" — {h.count:,} {w('hits')}{share}", style="bold red" if h.count == 0 else "bold")
        self.query_one("#line", Static).update(out)

    def action_row(self, step: int) -> None:
        self.step_to(sorted(self.by_line), step)

    def action_never(self, step: int) -> None:
        lines = sorted(n for n, hs in self.by_line.items() if any(h.count == 0 for h in hs))
        if not lines:
            self.app.notify(self.app.word("all_hit"))
            return
        self.step_to(lines, step)

    def step_to(self, lines: list[int], step: int) -> None:
        source = self.query_one(SourceView)
        if not lines:
            return
        after = [n for n in lines if (n > source.cursor if step > 0 else n < source.cursor)]
        target = (after[0] if step > 0 else after[-1]) if after else (lines[0] if step > 0 else lines[-1])
        source.centre_next = True
        source.cursor = target

    def action_diff(self) -> None:
        self.app.open_diff()

    def action_back(self) -> None:
        self.app.pop_screen()
