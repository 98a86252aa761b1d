"""The Textual app: `make_app` builds it over a model (or a function that opens one, shown with a progress bar)."""

from __future__ import annotations

from typing import Callable

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from .labels import translate_keys, word
from .model import CycleModel, ModelError, Progress

Opener = Callable[[Progress], CycleModel]


class LoadingScreen(Screen):
    """Shown while the model opens (checking the policy, reading and evaluating the data) in a worker."""

    DEFAULT_CSS = """
    LoadingScreen { align: center middle; }
    LoadingScreen > Vertical { width: 60; height: auto; border: round $primary; padding: 1 2; }
    LoadingScreen #what { margin-top: 1; color: $text-muted; }
    LoadingScreen #problem { color: $error; }
    """
    BINDINGS = [Binding("q,escape", "app.quit", "Quit")]

    def __init__(self, opener: Opener):
        super().__init__()
        self.opener = opener

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("pkrules — opening the cycle", id="title")
            yield ProgressBar(total=100, show_eta=False, id="bar")
            yield Static("", id="what")
            yield Static("", id="problem")
        yield Footer()

    def on_mount(self) -> None:
        self.open_model()

    @work(thread=True, exclusive=True, group="open")
    def open_model(self) -> None:
        def progress(done: float, what: str) -> None:
            self.app.call_from_thread(self.show_progress, done, what)

        try:
            model = self.opener(progress)
        except ModelError as e:
            self.app.call_from_thread(self.show_problem, str(e))
            return
        self.app.call_from_thread(self.app.start, model)

    def show_progress(self, done: float, what: str) -> None:
        self.query_one("#bar", ProgressBar).update(progress=round(done * 100))
        self.query_one("#what", Static).update(what)

    def show_problem(self, message: str) -> None:
        self.query_one("#bar", ProgressBar).display = False
        self.query_one("#what", Static).update("The cycle cannot be opened (q quits):")
        self.query_one("#problem", Static).update(message)


class PkrulesApp(App):
    """The appraisal cycle in a terminal: board, employees, actions, appeals, policy, pictures, diff."""

    TITLE = "pkrules"
    ENABLE_COMMAND_PALETTE = False
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit", priority=False),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, model: CycleModel | None = None, opener: Opener | None = None, blink: bool = True,
                 theme: str = "textual-dark"):
        super().__init__()
        if model is None and opener is None:
            raise ValueError("make_app needs a model or a function that opens one")
        self.model = model
        self.opener = opener
        self.blink = blink  # False in tests and snapshots: a blinking cursor changes the picture
        self._theme_name = theme

    @property
    def lang(self) -> str:
        return self.model.info.lang if self.model is not None else "en"

    def word(self, key: str, /, **values: object) -> str:
        return word(self.lang, key, **values)

    def on_mount(self) -> None:
        self.theme = self._theme_name
        if self.model is not None:
            self.start(self.model)
        else:
            self.push_screen(LoadingScreen(self.opener))

    def start(self, model: CycleModel) -> None:
        from .board import BoardScreen

        self.model = model
        self.title = model.info.title
        translate_keys(self, model.info.lang)
        if isinstance(self.screen, LoadingScreen):
            self.switch_screen(BoardScreen())
        else:
            self.push_screen(BoardScreen())

    # ---- navigation (screens are imported when first opened)

    def open_employee(self, key: str, node: str | None = None) -> None:
        from .employee import EmployeeScreen

        self.push_screen(EmployeeScreen(key, node))

    def open_appeals(self) -> None:
        from .appeals import AppealsScreen

        self.push_screen(AppealsScreen())

    def open_policy(self, line: int | None = None) -> None:
        from .policy import PolicyScreen

        self.push_screen(PolicyScreen(line))

    def open_pictures(self) -> None:
        from .pictures import PicturesScreen

        self.push_screen(PicturesScreen())

    def open_diff(self) -> None:
        from .diff import DiffScreen

        self.push_screen(DiffScreen())

    def action_help(self) -> None:
        from .help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def make_app(model: CycleModel | None = None, *, opener: Opener | None = None, blink: bool = True,
             theme: str = "textual-dark") -> PkrulesApp:
    """The app over a model, or over a function that opens one in a worker (with a progress bar).

    Tests start it with a chosen model and blink=False (a blinking cursor changes snapshots).
    """
    return PkrulesApp(model, opener, blink=blink, theme=theme)
