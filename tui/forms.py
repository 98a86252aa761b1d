"""Actions and their forms: the list of what the acting person may do now (and why not, for the rest),
and one form per action — score entry checked by the engine, an appeal on a figure picked from the
explanation, a decision with a reason. The model performs the action (in a worker: an upheld appeal
recomputes everyone); its messages are shown as they come, field by field."""

from __future__ import annotations

import re

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, LoadingIndicator, OptionList, Select, Static
from textual.widgets.option_list import Option

from .model import Action, Outcome
from .widgets import InPolicyLanguage, TextInput


class ActionsScreen(InPolicyLanguage, ModalScreen[Outcome | None]):
    """Every action of the current stage: the allowed ones open their form, the refused ones say why."""

    DEFAULT_CSS = """
    ActionsScreen { align: center middle; }
    ActionsScreen > Vertical { width: 90%; max-width: 100; height: 90%; border: round $primary;
                               background: $surface; padding: 0 1; }
    ActionsScreen #title { text-style: bold; margin-bottom: 1; }
    ActionsScreen OptionList { height: 1fr; }
    ActionsScreen #why { margin-top: 1; color: $warning; height: auto; max-height: 4; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("enter", "choose", "Choose", key_display="⏎", priority=True)]

    def __init__(self, key: str | None, who: str, node: str | None = None):
        super().__init__()
        self.key = key  # None: the cycle's own actions
        self.who = who
        self.node = node
        self.actions: list[Action] = []

    def compose(self) -> ComposeResult:
        w = self.app.word
        person = self.app.model.info.person
        with Vertical():
            yield Static(w("actions_for", who=self.who, person=person.name), id="title")
            yield OptionList(id="list")
            yield Static("", id="why")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        model = self.app.model
        actions = model.cycle_actions() if self.key is None else model.actions(self.key)
        self.app.call_from_thread(self.show, actions)

    def show(self, actions: list[Action]) -> None:
        self.actions = actions
        options = self.query_one("#list", OptionList)
        options.clear_options()
        if not actions:
            self.query_one("#why", Static).update(self.app.word("no_actions"))
        for k, action in enumerate(actions):
            # a grid gives the refusal a hanging indent under the action's name
            prompt = Table.grid(padding=(0, 1))
            prompt.add_column(width=1, no_wrap=True)
            prompt.add_column(ratio=1)
            if action.allowed:
                prompt.add_row(Text("▸", style="bold green"), Text(action.label, style="bold"))
            else:
                prompt.add_row(Text("✗", style="red"), Text(action.label, style="dim"))
                prompt.add_row("", Text(action.reason, style="dim italic"))
            options.add_option(Option(prompt, id=f"{k}"))
        first = next((i for i, a in enumerate(actions) if a.allowed), 0)
        if actions:
            options.highlighted = first
        options.focus()

    @on(OptionList.OptionHighlighted, "#list")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        action = self.actions[event.option_index]
        self.query_one("#why", Static).update("" if action.allowed else f"{self.app.word('refused')}: {action.reason}")

    def action_choose(self) -> None:
        highlighted = self.query_one("#list", OptionList).highlighted
        if highlighted is not None and self.actions:
            self.choose(self.actions[highlighted])

    @on(OptionList.OptionSelected, "#list")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.choose(self.actions[event.option_index])

    def choose(self, action: Action) -> None:
        if not action.allowed:
            self.app.notify(action.reason, title=action.label, severity="warning", timeout=8)
            return
        self.app.push_screen(FormScreen(self.key, self.who, action, self.node), self.done)

    def done(self, outcome: Outcome | None) -> None:
        if outcome is not None:
            self.dismiss(outcome)


class FormScreen(InPolicyLanguage, ModalScreen[Outcome | None]):
    """One action's form; ctrl+s (or Submit) performs it, the model's messages appear under the fields."""

    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical { width: 96%; max-width: 110; height: 90%; border: round $primary; background: $surface; }
    FormScreen #title { text-style: bold; padding: 0 1; }
    FormScreen #message { padding: 0 1; color: $error; height: auto; display: none; }
    FormScreen #message.-shown { display: block; }
    FormScreen VerticalScroll { height: 1fr; padding: 0 1; }
    FormScreen .field { height: 1; margin-top: 1; }
    FormScreen .field-label { width: 24; text-style: bold; }
    FormScreen .field Input, FormScreen .field Select { width: 1fr; }
    FormScreen .field Input.-invalid { background: $error 30%; }
    FormScreen .field-help { color: $text-muted; padding-left: 24; }
    FormScreen .field-error { color: $error; text-style: bold; height: auto; padding-left: 24; display: none; }
    FormScreen .field-error.-shown { display: block; }
    FormScreen #buttons { height: 1; padding: 0 1; margin-bottom: 1; }
    FormScreen Button { margin-right: 2; }
    FormScreen LoadingIndicator { height: 1; display: none; }
    FormScreen.-busy LoadingIndicator { display: block; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("ctrl+s", "submit", "Submit", priority=True)]

    def __init__(self, key: str | None, who: str, action: Action, node: str | None = None):
        super().__init__()
        self.key = key
        self.who = who
        self.action = action
        self.node = node

    def compose(self) -> ComposeResult:
        w = self.app.word
        with Vertical():
            yield Static(f"{self.action.label} — {self.who}", id="title")
            yield Static("", id="message")
            with VerticalScroll():
                for f in self.action.fields:
                    required = " *" if f.required else ""
                    with Horizontal(classes="field"):
                        yield Label(f"{f.label}{required}", classes="field-label", markup=False)
                        yield self.field_widget(f)
                    if f.help:
                        yield Static(re.sub(r"\s{2,}", "  ", f.help), classes="field-help", markup=False)
                    yield Static("", id=f"error-{f.name}", classes="field-error")
                if any(f.required for f in self.action.fields):
                    yield Static(f"* {w('required')}", classes="field-help")
                if not self.action.fields:
                    yield Static(f"{self.action.label}?")
            yield LoadingIndicator()
            with Horizontal(id="buttons"):
                yield Button(f"{w('submit')} (ctrl+s)", variant="primary", id="submit", compact=True)
                yield Button(f"{w('cancel')} (esc)", id="cancel", compact=True)
        yield Footer()

    def field_widget(self, f):
        widget_id = f"field-{f.name}"
        if f.kind in ("choice", "node"):
            value = f.default
            if f.kind == "node" and self.node and any(v == self.node for v, _ in f.choices):
                value = self.node  # the figure picked in the explanation tree
            known = any(v == value for v, _ in f.choices)
            return Select([(label, v) for v, label in f.choices], value=value if known else Select.NULL,
                          allow_blank=not known, id=widget_id, compact=True)
        return TextInput(value=f.default, id=widget_id, compact=True)

    def on_mount(self) -> None:
        widgets = [self.query_one(f"#field-{f.name}") for f in self.action.fields]
        # Focus the first field a person has to write in (a reason), else the first field.
        empty = next((wd for f, wd in zip(self.action.fields, widgets) if f.required and not f.default), None)
        target = empty or (widgets[0] if widgets else self.query_one("#submit", Button))
        target.focus()

    def values(self) -> dict[str, str]:
        out = {}
        for f in self.action.fields:
            widget = self.query_one(f"#field-{f.name}")
            if isinstance(widget, Select):
                out[f.name] = "" if widget.value is Select.NULL else str(widget.value)
            else:
                out[f.name] = widget.value
        return out

    @on(TextInput.Submitted)
    def next_field(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#submit")
    def submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def cancel_pressed(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        if self.has_class("-busy"):
            return
        self.add_class("-busy")
        self.query_one("#message", Static).update("")
        self.perform(self.values())

    @work(thread=True, exclusive=True)
    def perform(self, values: dict[str, str]) -> None:
        outcome = self.app.model.perform(self.key, self.action.code, values, self.action.appeal_id)
        self.app.call_from_thread(self.performed, outcome)

    def performed(self, outcome: Outcome) -> None:
        self.remove_class("-busy")
        if outcome.ok:
            self.dismiss(outcome)
            return
        message = self.query_one("#message", Static)
        message.update(Text(outcome.message, style="bold"))
        message.add_class("-shown")
        first = None
        for f in self.action.fields:
            error = outcome.errors.get(f.name, "")
            shown = self.query_one(f"#error-{f.name}", Static)
            shown.update(Text(error))
            shown.set_class(bool(error), "-shown")
            widget = self.query_one(f"#field-{f.name}")
            widget.set_class(bool(error), "-invalid")
            if error and first is None:
                first = widget
        unplaced = [m for name, m in outcome.errors.items() if name not in {f.name for f in self.action.fields}]
        if unplaced:
            self.query_one("#message", Static).update(Text("\n".join([outcome.message] + unplaced), style="bold"))
        if first is not None:
            first.focus()
            first.scroll_visible()
