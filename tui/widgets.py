"""Small widgets every screen uses: the top bar and an input that honours the app's cursor-blink setting."""

from __future__ import annotations

from rich.text import Text
from textual._context import NoActiveAppError
from textual.widgets import Input, Static

from .labels import translate_keys


class InPolicyLanguage:
    """A mixin: the footer's key descriptions of this widget or screen in the policy's language."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            lang = self.app.lang
        except (NoActiveAppError, AttributeError):  # made outside a running app: keep the English words
            return
        translate_keys(self, lang)


class TopBar(Static):
    """One line: the policy, the cycle, who is acting, and PREVIEW when nothing is stored."""

    DEFAULT_CSS = """
    TopBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.refresh_bar()

    def refresh_bar(self, extra: str = "") -> None:
        app = self.app
        info = app.model.info
        bar = Text()
        bar.append(info.title, style="bold")
        bar.append(" · " + app.word("cycle", name=info.cycle))
        person = info.person
        role = app.word("role." + person.role)
        bar.append(" · " + app.word("acting_as", who=person.name if person.name == role else f"{person.name} ({role})"))
        if extra:
            bar.append(f" · {extra}")
        if info.preview:
            bar.append(" ")
            bar.append(f" {app.word('preview')} ", style="bold reverse")
        self.update(bar)


class TextInput(Input):
    """An Input whose cursor blinks only when the app says so (tests and snapshots turn blinking off)."""

    def on_mount(self) -> None:
        self.cursor_blink = getattr(self.app, "blink", True)
