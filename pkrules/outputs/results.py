"""Results written for people and other programs: CSV, JSON Lines, Excel (with an explanations sheet), statements.

A results file starts with who is who: the key, the period, the text inputs that
name people (name, team), then the results. CSV is for people by default: a byte
order mark so that Excel (Chinese Excel too) reads UTF-8, money with two decimals,
rates and ratios as 96%, yes/no in the policy's language (是/否). `plain` keeps the
earlier machine-readable form: the key, the period and every definition, exact
decimal text (a fraction's ten places when the decimal does not end), yes/no, no
byte order mark. JSON Lines and Parquet are always exact and typed; Excel holds
numbers with money, percent formats; one Markdown statement per employee. Every
file is written whole or not at all (files.py), never over an input of the run,
and no text cell becomes a spreadsheet formula.
"""

from __future__ import annotations

import json
from pathlib import Path

from pkrules.files import OutputError, atomic_batch, atomic_write, prepare_folder, prepare_output, same_file, writing
from pkrules.messages import language_for, speaking, tr


def json_lines(graph, results, names: list[str], rows: list[int]) -> str:
    from pkrules.engine.render import json_value

    lines = []
    for i in rows:
        record = {n: json_value(results.columns[n][i], graph.nodes[n].type) for n in names}
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def out_columns(graph, plain: bool = False) -> list[str]:
    """The columns of a results file: the key, the period, the text inputs that name people (name,
    team), the run's parameters (a column each, the same on every row), then every definition;
    plain: the earlier layout (no text inputs)."""
    from pkrules.values.types import TEXT

    labels = [] if plain else [n.name for n in graph.inputs
                               if n.type.kind == TEXT and n.name not in (graph.key, graph.period)]
    return [graph.key] + ([graph.period] if graph.period else []) + labels + [n.name for n in graph.parameters] \
        + [n.name for n in graph.definitions]


def write_excel(graph, results, names: list[str], rows: list[int], path: str | Path, plain: bool = False) -> None:
    """One sheet of results (money as numbers with two decimals, rates and ratios as percentages),
    one of the explanations' key lines (outputs/excel.py streams them).

    Sheet names, headers and yes/no are in the policy's language (or the user's --lang). Every text cell
    is written as text, never as a formula: a key `=1+1` or `=HYPERLINK(…)` is shown as typed, not run.
    """
    from pkrules.outputs.excel import write_workbook

    with speaking(graph.policy.language):
        write_workbook(graph, results, names, rows, path, plain)


def statement_names(labels: list[str]) -> list[str]:
    """A file name (without .md) for each label, each different from the others and safe in any folder.

    A label made only of letters, digits, - _ and . (not beginning with a dot) is its own name,
    as before; any other (A/1, A 1, A:1, .., a name too long for a file system) has its unsafe
    characters replaced and a short hash of the label added, so two labels never share a file.
    Names that differ only in case or Unicode form (which macOS and Windows see as one file) get the hash too.
    """
    import hashlib
    import unicodedata

    def tagged(label: str, base: str) -> str:
        return f"{base[:80]}~{hashlib.sha256(label.encode('utf-8')).hexdigest()[:12]}"

    names = []
    for label in labels:
        base = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
        if base.startswith("."):
            base = "_" + base[1:]
        safe = base == label and len(label.encode("utf-8")) <= 120 and label == unicodedata.normalize("NFC", label)
        names.append(base if safe else tagged(label, base))
    folded: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        folded.setdefault(unicodedata.normalize("NFC", name).casefold(), []).append(i)
    for group in folded.values():
        if len(group) > 1:
            for i in group:
                if "~" not in names[i]:
                    names[i] = tagged(labels[i], names[i])
    if len({unicodedata.normalize("NFC", n).casefold() for n in names}) != len(names):
        raise AssertionError("two statements would share a file name")  # cannot happen: the hashes differ
    return names


def write_statements(graph, results, rows: list[int], folder: str | Path, protected: tuple = ()) -> int:
    """One Markdown statement per employee (the explanation of the main output); each file written whole.

    A statement shows the employee's own figures, the rules, and only the group figures the policy
    publishes (engine/visibility.py). protected: (path, what it is) of files that must not be overwritten
    (the policy, the data): OutputError when a statement would be one.
    """
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_markdown
    from pkrules.outputs.halves import in_halves, python_results, worth_forking

    folder = prepare_folder(folder)
    main = graph.main_output()
    labels = []
    for i in rows:
        label = str(results.keys[i])
        if graph.period:
            label += f"_{results.columns[graph.period][i]}"
        labels.append(label)
    targets = [folder / f"{name}.md" for name in statement_names(labels)]
    for target in targets:
        refuse_inputs(target, protected)
    # Made in two processes where that is worth it (outputs/halves.py), then written: all or nothing, the
    # statements land together, each whole, when every one is written (files.py: atomic_batch).
    source = python_results(results) if worth_forking(len(rows)) else None
    if source is None:
        texts = (render_markdown(explain(results, i, main, audience="employee")) for i in rows)
    else:
        texts = iter(in_halves(lambda part: [render_markdown(explain(source, i, main, audience="employee"))
                                             for i in part], rows))
    with writing(folder), atomic_batch() as batch:
        for target, text in zip(targets, texts):
            with writing(target):
                batch.write(target, text)
    return len(targets)


def refuse_inputs(target: str | Path, protected) -> None:
    """OutputError when target is one of the protected files: (path, what it is) pairs, the inputs of the run."""
    for path, what in protected:
        if same_file(target, path):
            raise OutputError(tr("cannot write {target}: it is {what} ({path}) this run reads; write to another file",
                                 target=target, what=what, path=path))


def write_csv(graph, results, names: list[str], rows: list[int], path: str | Path, plain: bool = True,
              bom: bool = False) -> None:
    """Values as CSV text (csv.writer's quoting, \\r\\n): plain, exact (money with two decimals at least);
    else for people (values/format.py: format_cell). bom: a UTF-8 byte order mark first (for Excel).
    Text cells are kept from being formulas (values/format.py: spreadsheet_safe)."""
    import csv

    from pkrules.values.format import format_cell, format_csv, is_text_type, spreadsheet_safe

    if plain:
        def cell(name: str, value: object) -> str:
            return format_csv(value, graph.nodes[name].type)
    else:
        from pkrules.engine.display import display_units

        units, lang = display_units(graph), language_for(graph.policy.language)

        def cell(name: str, value: object) -> str:
            return format_cell(value, units.get(name, "other"), lang)

    text = [is_text_type(graph.nodes[n].type) for n in names]
    with atomic_write(path, newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for i in rows:
            cells = [cell(n, results.columns[n][i]) for n in names]
            writer.writerow([spreadsheet_safe(c) if t else c for c, t in zip(cells, text)])


def write_results(graph, results, names: list[str], rows: list[int], path: str | Path, protected: tuple = (),
                  plain: bool = False, bom: bool = True) -> None:
    """One row per employee (the given rows) with the named columns, in the format the file's suffix says.

    .xlsx, .jsonl/.ndjson, .parquet, else CSV: for people, with a byte order mark unless bom is
    False; plain: exact values, no byte order mark (the earlier form). The fast path's results (and
    the SQL backends', which have the same integer columns) are written by the fast path's own
    writer, from those columns; the bytes are the same either way.
    The file is written whole or not at all (files.py); a failure is an OutputError saying
    why, with the old file left as it was. protected: the run's inputs, which it must not replace.
    """
    from pkrules.io.formats import is_excel, is_parquet

    prepare_output(path)
    refuse_inputs(path, protected)
    bom = bom and not plain
    with writing(path):
        if is_excel(path):
            write_excel(graph, results, names, rows, path, plain)
        elif str(path).lower().endswith((".jsonl", ".ndjson")):
            with atomic_write(path) as handle:
                handle.write(json_lines(graph, results, names, rows))
        elif is_parquet(path) or getattr(results, "backend", "exact") in ("fast", "duckdb", "spark"):
            from pkrules.engine.columnar.io import write_output

            for_output = getattr(results, "for_output", None)
            if for_output is not None:  # results kept in an SQL engine: read only the columns written
                for_output(names)
            write_output(graph, results, names, path, people=not plain, bom=bom,
                         lang=language_for(graph.policy.language))
        else:
            write_csv(graph, results, names, rows, path, plain, bom)
