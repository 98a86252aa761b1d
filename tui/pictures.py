"""Pictures of the cycle: the distribution of a figure with its band thresholds drawn on it (how many sit
just below 90?), and what the policy pays per team."""

from __future__ import annotations

from fractions import Fraction

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, LoadingIndicator, Select, Static, TabbedContent, TabPane

from pkrules import api

from .charts import bars, histogram
from .model import Distribution
from .widgets import InPolicyLanguage, TopBar


class HistogramView(Widget):
    """Draws a Distribution to the widget's size (again on every resize)."""

    DEFAULT_CSS = "HistogramView { height: 1fr; width: 1fr; padding: 0 1; }"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.distribution: Distribution | None = None
        self.zoom = 0  # [ and ] make the bars wider or narrower

    def show(self, distribution: Distribution) -> None:
        self.distribution = distribution
        self.refresh()

    def render(self) -> Text:
        d = self.distribution
        if d is None:
            return Text("")
        w = self.app.word
        title = Text()
        title.append(w("distribution", name=d.name), style="bold")
        title.append(f" · {len(d.values):,} {w('people')}")
        if d.bands:
            title.append(f" · {w('band')}: " + ", ".join(sorted({b.table for b in d.bands})), style="dim")
        title.append("\n")
        width = max(20, self.size.width - 2)
        height = max(6, self.size.height - 2 - len(d.bands) - (1 if d.bands else 0))
        chart = histogram(d.values, d.bands, max(20, width - self.zoom * 8), height,
                          w("just_below", n="{n}", width="{width}", threshold="{threshold}"), w("people"))
        title.append_text(chart)
        return title


class PicturesScreen(InPolicyLanguage, Screen):
    DEFAULT_CSS = """
    PicturesScreen TabbedContent { height: 1fr; }
    PicturesScreen TabPane { padding: 0; }
    PicturesScreen #figure { width: 40; margin: 0 1; }
    PicturesScreen #cost { padding: 0 1; }
    PicturesScreen LoadingIndicator { height: 1; display: none; }
    PicturesScreen.-busy LoadingIndicator { display: block; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("1", "tab('distribution')", "Distribution", show=False),
        Binding("2", "tab('teams')", "Cost by team", show=False),
        Binding("f", "choose", "Figure"),
        Binding("left_square_bracket", "zoom(-1)", "Wider bars", show=False),
        Binding("right_square_bracket", "zoom(1)", "Narrower bars", show=False),
    ]

    def compose(self) -> ComposeResult:
        w = self.app.word
        yield TopBar()
        yield LoadingIndicator()
        with TabbedContent(initial="distribution"):
            with TabPane(f"1 {w('tab.distribution')}", id="distribution"):
                figures = self.app.model.numeric_figures()  # from the policy alone: cheap
                yield Select([(f, f) for f in figures], prompt=w("figure"), id="figure", allow_blank=not figures,
                             compact=True)
                yield HistogramView(id="histogram")
            with TabPane(f"2 {w('tab.cost')}", id="teams"):
                with VerticalScroll(id="cost-scroll"):
                    yield Static("", id="cost")
        yield Footer()

    def on_mount(self) -> None:
        self.add_class("-busy")
        self.fetch(None)

    @work(thread=True, exclusive=True, group="pictures")
    def fetch(self, name: str | None) -> None:
        model = self.app.model
        figures = model.numeric_figures()
        distribution = model.distribution(name)
        costs = model.cost_by_team() if name is None else None
        self.app.call_from_thread(self.show, figures, distribution, costs)

    def show(self, figures: list[str], distribution: Distribution, costs) -> None:
        self.remove_class("-busy")
        select = self.query_one("#figure", Select)
        if costs is not None:
            if distribution.name in figures:
                with select.prevent(Select.Changed):
                    select.value = distribution.name
            self.show_costs(costs)
        self.query_one(HistogramView).show(distribution)

    def show_costs(self, costs: list[tuple[str, Fraction]]) -> None:
        w, lang = self.app.word, self.app.lang
        names = getattr(self.app.model, "cost_names", lambda: [self.app.model.info.main_output])()
        money = api.Type("money")
        total = sum((v for _, v in costs), Fraction(0))
        head = Text(w("cost_by_team", what=" + ".join(names)), style="bold")
        head.append(f" · {len(costs)} · Σ {api.format_value(total, money, lang)}\n\n")
        width = max(30, self.size.width - 4)
        head.append_text(bars([(team, v, api.format_value(v, money, lang)) for team, v in costs], width))
        self.query_one("#cost", Static).update(head)

    @on(Select.Changed, "#figure")
    def figure_changed(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL:
            self.add_class("-busy")
            self.fetch(str(event.value))

    def action_choose(self) -> None:
        self.query_one(TabbedContent).active = "distribution"
        select = self.query_one("#figure", Select)
        select.focus()
        select.action_show_overlay()

    def action_zoom(self, step: int) -> None:
        view = self.query_one(HistogramView)
        view.zoom = max(0, min(6, view.zoom + step))
        view.refresh()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one("#figure" if tab == "distribution" else "#cost-scroll").focus()

    def action_back(self) -> None:
        self.app.pop_screen()
