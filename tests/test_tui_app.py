"""The app's behaviour, driven with Textual's Pilot: navigate, filter, open an employee, expand the
explanation, submit a score, file and decide an appeal, see a refused action's reason, and the
appeals, policy, pictures, diff and help screens — on the preview and on the workflow store."""

from __future__ import annotations

from textual.widgets import OptionList, Select, Static, TabbedContent, Tree

from tui.app import LoadingScreen, make_app
from tui.appeals import AppealsScreen
from tui.board import BoardScreen, BoardTable, FilterScreen
from tui.diff import DiffScreen
from tui.employee import EmployeeScreen
from tui.forms import ActionsScreen, FormScreen
from tui.help import HelpScreen
from tui.model import BoardQuery, ModelError
from tui.pictures import HistogramView, PicturesScreen
from tui.policy import PolicyScreen, SourceView
from tui.widgets import TextInput
from tui_data import POLICY, aio, preview, settle, store


def text_of(app, selector: str) -> str:
    """What a Static shows, as plain text (rendered as wide as it is, without wrapping surprises)."""
    from rich.console import Console

    widget = app.screen.query_one(selector, Static)
    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=max(200, widget.size.width), record=True, file=open("/dev/null", "w"))
    console.print(content)
    return console.export_text().rstrip("\n")


def board_keys(app) -> list[str]:
    table = app.screen.query_one(BoardTable)
    return [r.key for r in table.view.rows]


async def choose_action(pilot, code: str) -> None:
    """In the actions list, move to the action `code` and press enter."""
    screen = pilot.app.screen
    assert isinstance(screen, ActionsScreen)
    index = next(i for i, a in enumerate(screen.actions) if a.code == code)
    screen.query_one(OptionList).highlighted = index
    await pilot.press("enter")
    await settle(pilot)


async def fill(pilot, **values: str) -> None:
    """Type values into the open form (inputs and selects by field name)."""
    screen = pilot.app.screen
    assert isinstance(screen, FormScreen)
    for name, value in values.items():
        widget = screen.query_one(f"#field-{name}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            widget.value = value
    await pilot.pause()


# ---- the board ------------------------------------------------------------------------------


@aio
async def test_board_opens_with_everyone_and_moves_with_the_keyboard():
    app = make_app(preview(stage="mixed"), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        table = app.screen.query_one(BoardTable)
        assert len(table.view) == 40 and table.current.key == "E001"
        await pilot.press("down", "down", "pagedown")
        assert table.cursor == 2 + (table.size.height - 1)
        await pilot.press("end")
        assert table.current.key == "E040"
        await pilot.press("home")
        assert table.current.key == "E001"
        assert "40 of 40 employees" in text_of(app, "#status-line")


@aio
async def test_board_filters_and_clears():
    app = make_app(preview(stage="mixed"), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        late = board_keys(app)
        assert late and late == [r.key for r in app.model.board(BoardQuery(overdue=True)).rows]
        assert "overdue" in text_of(app, "#filters")
        await pilot.press("escape")
        await settle(pilot)
        assert len(board_keys(app)) == 40
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FilterScreen)
        app.screen.query_one("#team", Select).value = "华南组"
        app.screen.query_one("#stage", Select).value = "hr_review"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        expected = [r.key for r in app.model.board(BoardQuery(team="华南组", stage="hr_review")).rows]
        assert board_keys(app) == expected and expected
        assert "华南组" in text_of(app, "#filters")


@aio
async def test_board_search_and_sort():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, TextInput)
        app.focused.value = "邓浩"
        await settle(pilot)
        assert board_keys(app) == ["E013", "E026"]
        await pilot.press("enter")  # back to the table
        assert isinstance(app.focused, BoardTable)
        await pilot.press("escape")
        await settle(pilot)
        for _ in range(5):  # key → name → team → stage → deadline → total (largest first)
            await pilot.press("s")
            await settle(pilot)
        totals = [r.total for r in app.screen.query_one(BoardTable).view.rows]
        assert totals == sorted(totals, reverse=True)
        assert "Total ▼" in text_of(app, "#filters")
        await pilot.press("r")
        await settle(pilot)
        totals = [r.total for r in app.screen.query_one(BoardTable).view.rows]
        assert totals == sorted(totals)


@aio
async def test_open_appeals_filter_then_open_the_employee():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert board_keys(app) == ["E013"]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EmployeeScreen) and app.screen.key == "E013"
        head = text_of(app, "#head")
        assert "邓浩 E013" in head and "appeal" in head and "16,162.29" in head
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)


# ---- the employee ------------------------------------------------------------------------------


@aio
async def test_explanation_tree_expands_and_shows_each_nodes_rule():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_employee("E013")
        await settle(pilot)
        tree = app.screen.query_one(Tree)
        assert tree.cursor_node.data.name == "total"
        shown_before = tree.last_line
        await pilot.press("e")
        await pilot.pause()
        assert tree.last_line > shown_before  # every node open
        coef = next(n for n in _walk(tree.root) if n.data is not None and n.data.name == "coef")
        tree.move_cursor(coef)
        await settle(pilot)
        detail = text_of(app, "#node")
        assert "coef = 1" in detail
        assert "✓ IF score >= 80 THEN coef 1.0" in detail and "the row that fired" in detail
        assert "✗ IF score >= 90 THEN coef 1.2" in detail
        assert "0.22 points short of coef 1.2 (score >= 90)" in detail
        assert "绩效系数: the exact score is compared" in detail
        source = text_of(app, "#source-below")
        assert "35 ▶   IF score >= 80 THEN coef 1.0" in source
        await pilot.press("g")  # its line in the policy
        await settle(pilot)
        assert isinstance(app.screen, PolicyScreen) and app.screen.query_one(SourceView).cursor == 33


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


@aio
async def test_employee_tabs_figures_history():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_employee("E013", "visits")
        await settle(pilot)
        tree = app.screen.query_one(Tree)
        assert tree.cursor_node.data.name == "visits"  # the disputed figure is where the cursor starts
        assert "客户拜访量" in text_of(app, "#node")
        tabs = app.screen.query_one(TabbedContent)
        await pilot.press("2")
        assert tabs.active == "figures"
        await pilot.press("3")
        assert tabs.active == "history" and "appeal #1 filed on visits" in text_of(app, "#history-text")
        await pilot.press("1")
        assert tabs.active == "why" and isinstance(app.focused, Tree)


@aio
async def test_refused_action_explains_why():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_employee("E013")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ActionsScreen)
        screen = app.screen
        index = next(i for i, a in enumerate(screen.actions) if a.code == "appeal.file")
        screen.query_one(OptionList).highlighted = index
        await pilot.pause()
        assert "only E013 (the employee) may appeal against this result" in text_of(app, "#why")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ActionsScreen)  # no form for a refused action
        assert any("only E013 (the employee)" in str(n.message) for n in app._notifications)


@aio
async def test_manager_submits_a_score_checked_by_the_engine():
    app = make_app(preview(stage="mixed", person="manager:华东一组"), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        key = next(r.key for r in app.model.board(BoardQuery(stage="manager_review", team="华东一组")).rows)
        app.open_employee(key)
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await choose_action(pilot, "review.score")
        assert isinstance(app.screen, FormScreen)
        await fill(pilot, visits="-1")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        assert text_of(app, "#error-visits") == "'-1' — expected >= 0"
        assert app.screen.query_one("#field-visits").has_class("-invalid")
        await fill(pilot, visits="25", comment="visits checked against the CRM")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, EmployeeScreen)
        assert app.screen.query_one(TabbedContent).active == "history"
        assert "manager scores (visits)" in text_of(app, "#history-text")
        assert next(f for f in app.model.employee(key).inputs if f.name == "visits").value == 25


@aio
async def test_employee_files_an_appeal_on_the_node_under_the_cursor():
    app = make_app(preview(person="E022", appeals=()), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert board_keys(app) == [r.key for r in app.model.board(BoardQuery()).rows]
        app.open_employee("E022")
        await settle(pilot)
        tree = app.screen.query_one(Tree)
        await pilot.press("e")
        coef = next(n for n in _walk(tree.root) if n.data is not None and n.data.name == "coef")
        tree.move_cursor(coef)
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await choose_action(pilot, "appeal.file")
        form = app.screen
        assert isinstance(form, FormScreen)
        assert form.query_one("#field-target", Select).value == "coef"  # picked from the tree
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Reason: required" in text_of(app, "#error-reason")
        await fill(pilot, reason="my score is 89.8 once on-time proposals are counted")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, EmployeeScreen)
        [appeal] = app.model.appeals()
        assert (appeal.key, appeal.node, appeal.is_open) == ("E022", "coef", True)
        assert "appeal (HR) on coef" in text_of(app, "#head")


@aio
async def test_hr_decides_an_appeal_and_sees_the_recomputed_figures():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AppealsScreen)
        assert "I made 30 visits" in text_of(app, "#appeal")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EmployeeScreen) and app.screen.key == "E013"
        await pilot.press("a")
        await settle(pilot)
        await choose_action(pilot, "appeal.decide")
        await fill(pilot, outcome="upheld", reason="the CRM log shows 30 visits", visits="30")
        await pilot.press("ctrl+s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, EmployeeScreen)
        assert screen.query_one(TabbedContent).active == "changes"
        changes = text_of(app, "#changes-text")
        assert "total: 16,162.29 → 17,919.09" in changes and "visits: 20 → 30" in changes
        assert "total 17,919.09" in text_of(app, "#head")
        await pilot.press("3")
        assert "appeal #1 upheld" in text_of(app, "#history-text")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AppealsScreen)
        assert "17,919.09" in text_of(app, "#appeal")  # the stored before/after of the upheld appeal
        await pilot.press("escape")
        await settle(pilot)
        row = next(r for r in app.screen.query_one(BoardTable).view.rows if r.key == "E013")
        assert row.total_text == "17,919.09" and not row.appeal_open


@aio
async def test_cycle_actions_for_hr_only():
    app = make_app(preview(stage="hr_review"), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        await choose_action(pilot, "cycle.publish")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        assert {r.stage for r in app.screen.query_one(BoardTable).view.rows} == {"published"}
    employee = make_app(preview(person="E001"), blink=False)
    async with employee.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert employee.screen.check_action("cycle_actions", ()) is False  # not in the footer


# ---- the other screens --------------------------------------------------------------------------


@aio
async def test_policy_screen_counts_rows():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PolicyScreen)
        assert "every row fired for someone" in text_of(app, "#where")
        source = app.screen.query_one(SourceView)
        first = source.cursor
        await pilot.press("n")
        await pilot.pause()
        assert source.cursor > first
        while source.cursor != 34:
            await pilot.press("n")
            await pilot.pause()
        assert "IF score >= 90 THEN coef 1.2 — 26 employees (65%)" in text_of(app, "#line")


@aio
async def test_pictures_distribution_and_cost():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, PicturesScreen)
        picture = str(app.screen.query_one(HistogramView).render().plain)
        assert "Distribution of score · 40 people" in picture
        assert "IF score >= 90 THEN coef 1.2  26" in picture and "below 90" in picture
        app.screen.query_one("#figure", Select).value = "total"
        await settle(pilot)
        assert "Distribution of total" in app.screen.query_one(HistogramView).render().plain
        await pilot.press("2")
        await pilot.pause()
        cost = text_of(app, "#cost")
        assert "华东一组" in cost and "195,749.60" in cost and "668,076.80" in cost


@aio
async def test_diff_screen_with_a_proposal(tmp_path):
    proposal = tmp_path / "proposal.pk"
    proposal.write_text(open(POLICY, encoding="utf-8").read().replace("IF score >= 90", "IF score >= 85"), encoding="utf-8")
    app = make_app(preview(versions=(str(proposal),)), blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot, rounds=10)
        assert isinstance(app.screen, DiffScreen)
        changes = text_of(app, "#changes")
        assert "1 semantic change" in changes and "IF score >= 85" in changes
        await pilot.press("3")
        await pilot.pause()
        assert "2 gain, 0 lose" in text_of(app, "#impact-summary")
        assert app.screen.query_one("#impact-table").row_count == len(app.screen.view.impact.rows)
        await pilot.press("4")
        await pilot.pause()
        assert "邓浩 E013" in text_of(app, "#gains")
        await pilot.press("2")
        await pilot.pause()
        assert "IF score >= 85" in text_of(app, "#sides")


@aio
async def test_help_screen_from_anywhere():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)


@aio
async def test_wide_terminal_puts_the_source_beside_the_explanation():
    app = make_app(preview(), blink=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.open_employee("E013", "coef")
        await settle(pilot)
        assert app.screen.has_class("-wide")
        assert app.screen.query_one("#source-side").display
        assert "IF score >= 80 THEN coef 1.0" in text_of(app, "#source-wide")


@aio
async def test_opening_shows_progress_then_the_board_or_the_problem():
    from tui.model import open_preview
    from tui_data import DATA, TODAY

    app = make_app(opener=lambda progress: open_preview(POLICY, DATA, today=TODAY, progress=progress), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)

    def broken(progress):
        raise ModelError("error: policies/x.pk: no such file")

    app = make_app(opener=broken, blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LoadingScreen)
        assert "no such file" in text_of(app, "#problem")


# ---- on the workflow's store ----------------------------------------------------------------------


@aio
async def test_store_walkthrough_find_read_decide(tmp_path):
    """Done means: open the cycle, find the employee with an open appeal, read why their coefficient is
    what it is, decide the appeal, and see the recomputed figures and the audit event."""
    app = make_app(store(tmp_path), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "⚑ 1 open appeal" in text_of(app, "#status-line")
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, EmployeeScreen) and app.screen.key == "E013"
        tree = app.screen.query_one(Tree)
        coef = next(n for n in _walk(tree.root) if n.data is not None and n.data.name == "coef")
        tree.move_cursor(coef)
        await settle(pilot)
        assert "0.22 points short of coef 1.2" in text_of(app, "#node")
        await pilot.press("a")
        await settle(pilot)
        decide = next(a for a in app.screen.actions if a.code == "appeal.decide")
        assert not decide.allowed and "accepted or under review" in decide.reason
        await choose_action(pilot, "appeal.accept")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await choose_action(pilot, "appeal.decide")
        await fill(pilot, outcome="upheld", reason="the CRM log shows 30 visits", visits="30")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, EmployeeScreen)
        assert "total: 16,162.29 → 17,919.09" in text_of(app, "#changes-text")
        await pilot.press("3")
        history = text_of(app, "#history-text")
        assert "appeal accepted" in history and "appeal upheld: the CRM log shows 30 visits (visits 20→30)" in history


@aio
async def test_store_employee_sees_only_their_own_line(tmp_path):
    app = make_app(store(tmp_path, person="E013"), blink=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert board_keys(app) == ["E013"]
        assert app.screen.check_action("cycle_actions", ()) is False
