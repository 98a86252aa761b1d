"""What both models compute the same way from a policy and its results: hit counts, distributions with
band lines, cost by team, policy versions in git, and the diff of two versions with its impact.
Model-side (pkrules.api only); nothing here imports Textual."""

from __future__ import annotations

import csv
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Iterable

from pkrules import api

from .model import (
    Band, DiffView, Distribution, Hit, ImpactRow, ImpactView, ModelError, PolicyVersion, Progress, SemanticChange,
)

NUMERIC = ("number", "money", "percent", "whole")


def input_text(value, type_) -> str:
    """An input's value as a person types it in a form (76% rather than 0.76), read back exactly by the engine."""
    text = api.value_to_text(value)
    if getattr(type_, "kind", None) == "percent" and isinstance(value, Fraction) and "/" not in api.value_to_text(value * 100):
        return api.value_to_text(value * 100) + "%"
    return text


def changed_inputs(graph, stored: dict[str, object], typed: dict[str, str], source: str = "form", related=None):
    """The inputs a form changes: ({name: canonical text} of those whose value differs, {name: the engine's message}).

    The form's texts are read as a data row is (the engine's own validation and messages), then compared by
    value, so 76% and 0.76 are the same."""
    row = {n.name: api.value_to_text(stored.get(n.name)) for n in graph.inputs}
    row.update({name: text.strip() for name, text in typed.items() if name in row})
    try:
        checked = api.population_from_rows(graph, [row], related, source=source)
    except api.DataError as e:
        return {}, {"": str(e)}, None
    # population_from_rows keeps every row; its bad cells are reported, not raised
    columns = {(n.decl.column or n.name): n.name for n in graph.inputs}
    errors = {}
    for e in checked.errors:
        if e.row == 1 and e.column in columns:
            errors[columns[e.column]] = (repr(e.value) if e.value != "" else "an empty value") + f" — {e.expected}"
    if errors or not checked.rows:
        return {}, errors or {"": "the values could not be read"}, None
    new = checked.rows[0]
    changed = {name: api.value_to_text(new[name]) for name in typed if name in row and new[name] != stored.get(name)}
    return changed, {}, new


def hits(results) -> list[Hit]:
    return [Hit(h.line, h.node, h.what, h.count) for h in api.coverage(results)]


def board_figures(graph) -> tuple[str, ...]:
    """What a wide board shows beside the total: the values rule tables draw bands on (score), those tables
    (coef), and the policy's other outputs (team_rank)."""
    bands = api.bands(graph)
    names = [b.node for b in bands] + [b.table for b in bands] + graph.outputs()
    main = graph.main_output()
    return tuple(n for n in dict.fromkeys(names) if n != main and n in graph.nodes)[:6]


def figure_texts(graph, results, index: int, names: tuple[str, ...], lang: str) -> tuple[str, ...]:
    return tuple(api.format_value(results.columns[n][index], graph.nodes[n].type, lang, compact=True) for n in names)


def numeric_figures(graph) -> list[str]:
    """Every numeric value of the policy, those that rule tables draw bands on first (score before the rest)."""
    banded = [b.node for b in api.bands(graph)]
    numeric = [n.name for n in graph.nodes.values() if n.type.kind in NUMERIC and n.name != graph.key]
    first = list(dict.fromkeys(b for b in banded if b in numeric))
    return first + [n for n in numeric if n not in first]


def distribution(graph, results, name: str | None, indices: Iterable[int] | None = None) -> Distribution:
    """One value of everyone (or of the rows given), with the thresholds tables compare it with."""
    figures = numeric_figures(graph)
    name = name or (figures[0] if figures else graph.main_output())
    column = results.columns[name]
    chosen = range(results.size) if indices is None else indices
    values = [column[i] for i in chosen]
    values = [Fraction(v) for v in values if isinstance(v, (int, Fraction)) and not isinstance(v, bool)]
    bands = [Band(b.node, b.op, b.threshold, b.table, b.row, b.line) for b in api.bands(graph) if b.node == name]
    return Distribution(name, values, bands, graph.nodes[name].type)


def cost_names(graph) -> list[str]:
    """What the policy pays: its money outputs (else its main output)."""
    return api.money_outputs(graph) or [graph.main_output()]


def cost_by_team(graph, results, teams: list[str], indices: Iterable[int] | None = None) -> list[tuple[str, Fraction]]:
    """The sum of what the policy pays, per team, largest first. teams[i] is row i's team."""
    columns = [results.columns[n] for n in cost_names(graph)]
    totals: dict[str, Fraction] = {}
    for i in (range(results.size) if indices is None else indices):
        amount = sum((c[i] for c in columns if isinstance(c[i], (int, Fraction)) and not isinstance(c[i], bool)), Fraction(0))
        totals[teams[i]] = totals.get(teams[i], Fraction(0)) + amount
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


# ---- versions --------------------------------------------------------------------------------------


def git_versions(policy_path: str, limit: int = 20) -> list[PolicyVersion]:
    """The policy file's last commits (REV:PATH ids), newest first; none outside a git repository."""
    path = Path(policy_path)
    if not path.exists():
        return []
    folder = str(path.parent) or "."
    try:
        out = subprocess.run(["git", "log", f"-{limit}", "--format=%h%x09%ad%x09%s", "--date=short", "--", path.name],
                             cwd=folder, capture_output=True, text=True, timeout=10)
        prefix = subprocess.run(["git", "rev-parse", "--show-prefix"], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0 or prefix.returncode != 0:
        return []
    versions = []
    for line in out.stdout.splitlines():
        commit, date, subject = (line.split("\t") + ["", ""])[:3]
        versions.append(PolicyVersion(f"{commit}:{prefix.stdout.strip()}{path.name}", f"{commit} {date} {subject[:60]}"))
    return versions


def version_text(version: PolicyVersion, near: str) -> str:
    """The text of a version: a file, or REV:PATH read from the git repository around `near`."""
    if Path(version.id).exists():
        try:
            return Path(version.id).read_text(encoding="utf-8-sig")
        except OSError as e:
            raise ModelError(f"error: {version.id}: {e.strerror}") from None
    if ":" in version.id:
        rev, _, path = version.id.partition(":")
        folder = str(Path(near).parent) or "."
        try:
            root = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True, timeout=10)
            shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root.stdout.strip() or folder,
                                   capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as e:
            raise ModelError(f"error: {version.id}: {e}") from None
        if shown.returncode != 0:
            raise ModelError(f"error: {version.id}: {shown.stderr.strip()}")
        return shown.stdout
    raise ModelError(f"error: {version.id}: no such file")


# ---- the diff and its impact ----------------------------------------------------------------------


def write_inputs_csv(graph, results, folder: str) -> str:
    """Every employee's inputs (as stored, exactly) as a CSV file the engine reads back identically."""
    path = str(Path(folder) / "inputs.csv")
    inputs = graph.inputs
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([n.decl.column or n.name for n in inputs])
        columns = [results.columns[n.name] for n in inputs]
        for i in range(results.size):
            writer.writerow([api.value_to_text(c[i]) for c in columns])
    return path


def diff(old: PolicyVersion, old_text: str, new: PolicyVersion, new_text: str, policy_path: str,
         data_path: str | None, progress: Progress | None = None, results=None) -> DiffView:
    """The semantic diff of two versions and, with data (a file, or the cycle's stored inputs in `results`),
    who gains and who loses. Lookup files are read next to the cycle's policy."""
    say = progress or (lambda done, what: None)
    say(0.15, "comparing")
    try:
        change = api.diff_texts(old_text, new_text, old.label, new.label)
    except api.PolicyError as e:
        raise ModelError(api.render_diagnostics(e.source, e.diagnostics)) from None
    changes = [SemanticChange(c.sign, c.kind, c.node, c.description, c.old_lines, c.new_lines) for c in change.changes]
    view = DiffView(old, new, old_text, new_text, changes, api.diff_summary(change))
    if not change.has_changes:
        return view
    try:
        old_graph = api.compile_text(old_text, policy_path)
        new_graph = api.compile_text(new_text, policy_path)
        with tempfile.TemporaryDirectory(prefix="pkrules-tui-") as folder:
            if data_path is None:
                if results is None:
                    view.impact_error = "no data to measure the impact on"
                    return view
                if old_graph.related or new_graph.related:
                    view.impact_error = "the policy reads related tables: the impact is computed from a data file only"
                    return view
                say(0.25, "writing the cycle's inputs")
                data_path = write_inputs_csv(results.graph, results, folder)
            say(0.35, "evaluating both versions")
            impact = api.policy_impact(old_graph, new_graph, data_path, change)
            say(0.9, "the impact table")
            view.impact = impact_view(impact)
    except api.PolicyError as e:
        view.impact_error = api.render_diagnostics(e.source, e.diagnostics)
    except api.BadCells as e:
        view.impact_error = "\n".join(err.describe(e.population.source) for err in e.population.cell_errors[:20])
    except api.PkrulesError as e:  # a column the data lacks, row errors: the engine's words
        view.impact_error = str(e)
    say(1.0, "done")
    return view


def impact_view(impact) -> ImpactView:
    lang = impact.lang
    moving = [c for c in impact.columns if c.name in impact.moving]
    rows = []
    for e in impact.changed:
        before = {c.name: api.format_value(e.before.get(c.name), c.type, lang, compact=True) for c in moving}
        after = {c.name: api.format_value(e.after.get(c.name), c.type, lang, compact=True) for c in moving}
        delta = Fraction(e.pay_delta)
        sign = "+" if delta > 0 else ""
        rows.append(ImpactRow(api.value_to_text(e.key), e.label or "", before, after, delta,
                              sign + api.format_value(delta, api.Type("money"), lang, compact=True)))
    rows.sort(key=lambda r: (-r.delta, r.key))
    return ImpactView(api.impact_summary(impact), [c.name for c in moving], rows, impact.gain, impact.lose,
                      impact.unchanged, Fraction(impact.cost_before), Fraction(impact.cost_after))
