"""The look of each screen, as SVG snapshots (pytest-textual-snapshot) committed in tests/__snapshots__/.

Deterministic: fixed data (the bundled sample, a fixed day), fixed sizes, the theme pinned, no blinking
cursor, no toasts, NO_COLOR and TEXTUAL_THEME cleared. After a deliberate change of the look, run
`pytest tests/test_tui_snapshots.py --snapshot-update` and look at every changed SVG before committing it.
"""

from __future__ import annotations

import pytest
from textual.widgets import OptionList, Select, Tree

from tui.app import make_app
from tui_data import ROOT, TODAY, settle, store
from tui_data import preview as sample_preview

POLICY, DATA = "policies/sales_incentive.pk", "policies/sample/employees.csv"  # relative: the same on every machine
POLICY_ZH, DATA_ZH = "policies/sales_incentive.zh.pk", "policies/sample/employees.zh.csv"


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch):
    """Variables that change every picture (colour switches, theme overrides), and paths shown on screen."""
    for name in ("NO_COLOR", "FORCE_COLOR", "TEXTUAL_THEME", "TEXTUAL_ANIMATIONS", "COLORTERM", "TEXTUAL_COLOR_SYSTEM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)


def preview(**options):
    options.setdefault("policy", POLICY)
    options.setdefault("data", DATA)
    return sample_preview(**options)


def app_for(model):
    return make_app(model, blink=False, theme="textual-dark")


async def quiet(pilot) -> None:
    await settle(pilot)
    pilot.app.clear_notifications()
    await pilot.pause()


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


async def open_employee(pilot, key: str, node: str | None = None) -> None:
    await settle(pilot)
    pilot.app.open_employee(key, node)
    await settle(pilot)


async def cursor_on(pilot, name: str) -> None:
    tree = pilot.app.screen.query_one(Tree)
    target = next(n for n in walk(tree.root) if n.data is not None and n.data.name == name and not n.data.repeated)
    tree.move_cursor(target)
    tree.scroll_to_node(target, animate=False)
    await settle(pilot)


async def choose(pilot, code: str) -> None:
    screen = pilot.app.screen
    index = next(i for i, a in enumerate(screen.actions) if a.code == code)
    screen.query_one(OptionList).highlighted = index
    await pilot.pause()


# ---- the board ---------------------------------------------------------------------------------


def test_board_published_80x24(snap_compare):
    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=quiet)


def test_board_overdue_filter_80x24(snap_compare):
    async def run(pilot):
        await settle(pilot)
        await pilot.press("o")
        await quiet(pilot)

    assert snap_compare(app_for(preview(stage="mixed")), terminal_size=(80, 24), run_before=run)


def test_board_mixed_160x48(snap_compare):
    assert snap_compare(app_for(preview(stage="mixed")), terminal_size=(160, 48), run_before=quiet)


def test_board_chinese_80x24(snap_compare):
    from tui.model import open_preview

    model = open_preview(POLICY_ZH, DATA_ZH, today=TODAY, stage="mixed")
    assert snap_compare(app_for(model), terminal_size=(80, 24), run_before=quiet)


def test_board_store_80x24(snap_compare, tmp_path):
    assert snap_compare(app_for(store(tmp_path)), terminal_size=(80, 24), run_before=quiet)


# ---- the employee -----------------------------------------------------------------------------


def test_employee_explanation_80x24(snap_compare):
    async def run(pilot):
        await open_employee(pilot, "E013", "coef")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=run)


def test_employee_explanation_160x48(snap_compare):
    async def run(pilot):
        await open_employee(pilot, "E013", "coef")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(160, 48), run_before=run)


def test_employee_chinese_100x30(snap_compare):
    from tui.model import open_preview

    async def run(pilot):
        await open_employee(pilot, "E013", "绩效系数")
        await quiet(pilot)

    model = open_preview(POLICY_ZH, DATA_ZH, today=TODAY, stage="published")
    assert snap_compare(app_for(model), terminal_size=(100, 30), run_before=run)


def test_actions_with_a_refusal_80x24(snap_compare):
    async def run(pilot):
        await open_employee(pilot, "E013", "visits")
        await pilot.press("a")
        await settle(pilot)
        await choose(pilot, "appeal.file")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=run)


def test_decision_form_with_the_engines_message_80x24(snap_compare):
    async def run(pilot):
        await open_employee(pilot, "E013", "visits")
        await pilot.press("a")
        await settle(pilot)
        await choose(pilot, "appeal.decide")
        await pilot.press("enter")
        await settle(pilot)
        screen = pilot.app.screen
        screen.query_one("#field-outcome", Select).value = "upheld"
        screen.query_one("#field-reason").value = "the CRM log shows 30 visits"
        screen.query_one("#field-visits").value = "3x"
        await pilot.press("ctrl+s")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=run)


def test_changes_after_an_upheld_appeal_80x24(snap_compare):
    async def run(pilot):
        await open_employee(pilot, "E013", "visits")
        model = pilot.app.model
        appeal = next(a for a in model.actions("E013") if a.code == "appeal.decide").appeal_id
        model.perform("E013", "appeal.decide", {"outcome": "upheld", "reason": "the CRM log shows 30 visits", "visits": "30"}, appeal)
        pilot.app.screen.load()
        await settle(pilot)
        await pilot.press("4")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=run)


# ---- appeals, policy, pictures, diff, help ----------------------------------------------------


def test_appeals_with_an_upheld_decision_100x30(snap_compare):
    async def run(pilot):
        await settle(pilot)
        model = pilot.app.model
        appeal = next(a for a in model.actions("E013") if a.code == "appeal.decide").appeal_id
        model.perform("E013", "appeal.decide", {"outcome": "upheld", "reason": "the CRM log shows 30 visits", "visits": "30"}, appeal)
        await pilot.press("a")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(100, 30), run_before=run)


def test_policy_hit_counts_80x24(snap_compare):
    async def run(pilot):
        await settle(pilot)
        pilot.app.open_policy(35)
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=run)


def test_pictures_distribution_80x24(snap_compare):
    async def run(pilot):
        await settle(pilot)
        await pilot.press("c")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=run)


def test_pictures_cost_by_team_80x24(snap_compare):
    async def run(pilot):
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("2")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=run)


@pytest.fixture
def proposal(tmp_path, monkeypatch):
    """The policy and a proposed change of it, side by side in a folder (shown on screen by their names)."""
    import shutil

    text = (ROOT / POLICY).read_text(encoding="utf-8")
    shutil.copyfile(ROOT / POLICY, tmp_path / "sales_incentive.pk")
    shutil.copyfile(ROOT / DATA, tmp_path / "employees.csv")
    changed = text.replace("IF score >= 90", "IF score >= 85").replace("collection_score  20%", "collection_score  25%")
    (tmp_path / "proposal.pk").write_text(changed.replace("visits_score      15%", "visits_score      10%"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return sample_preview(policy="sales_incentive.pk", data="employees.csv", versions=("proposal.pk",))


@pytest.mark.parametrize("tab", ["1", "2", "3", "4"])
def test_diff_120x36(snap_compare, proposal, tab):
    async def run(pilot):
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot, rounds=10)
        await pilot.press(tab)
        await quiet(pilot)

    assert snap_compare(app_for(proposal), terminal_size=(120, 36), run_before=run)


def test_help_80x24(snap_compare):
    async def run(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await quiet(pilot)

    assert snap_compare(app_for(preview()), terminal_size=(80, 24), run_before=run)


def test_filter_dialog_80x24(snap_compare):
    async def run(pilot):
        await settle(pilot)
        await pilot.press("f")
        await quiet(pilot)

    assert snap_compare(app_for(preview(stage="mixed")), terminal_size=(80, 24), run_before=run)
