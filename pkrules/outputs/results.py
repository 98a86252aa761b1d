"""Results written for people and other programs: CSV, JSON Lines, Excel (with an explanations sheet), statements.

Values are written exactly: CSV and JSON Lines as decimal text (a fraction, or
ten places, when the decimal does not end), Excel money as numbers formatted
with two decimals, one Markdown statement per employee.
"""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path

from pkrules.messages import current_language, say, speaking, tr


def json_lines(graph, results, names: list[str], rows: list[int]) -> str:
    from pkrules.engine.render import json_value

    lines = []
    for i in rows:
        record = {n: json_value(results.columns[n][i], graph.nodes[n].type) for n in names}
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def write_excel(graph, results, names: list[str], rows: list[int], path: str | Path) -> None:
    """One sheet of results (money as numbers with two decimals), one of the explanations' key lines.

    Sheet names, headers and yes/no are in the policy's language (or the user's --lang).
    """
    with speaking(graph.policy.language):
        _write_excel(graph, results, names, rows, path)


def _write_excel(graph, results, names: list[str], rows: list[int], path: str | Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    from pkrules.engine.explain import explain
    from pkrules.values.numbers import terminates
    from pkrules.engine.render import format_value
    from pkrules.values.types import MONEY, PERCENT

    book = Workbook()
    sheet = book.active
    sheet.title = tr("results")
    sheet.append(names)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    formats = {n: ("#,##0.00" if graph.nodes[n].type.kind == MONEY else "0.00%" if graph.nodes[n].type.kind == PERCENT
                   else None) for n in names}
    for i in rows:
        values = []
        for n in names:
            v = results.columns[n][i]
            if isinstance(v, bool):
                values.append(say(current_language(), "yes" if v else "no"))
            elif isinstance(v, Fraction):
                # Exact decimals go in as numbers; a value whose decimal does not end goes in as
                # a number rounded to 10 places, like the CSV output.
                values.append(float(v) if terminates(v) and v.denominator <= 10**15 else float(round(v, 10)))
            elif isinstance(v, dt.date):
                values.append(v)
            else:
                values.append("" if v is None else str(v))
        sheet.append(values)
        for cell, n in zip(sheet[sheet.max_row], names):
            if formats[n]:
                cell.number_format = formats[n]
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 10), 40)
    sheet.freeze_panes = "B2"

    lines = book.create_sheet(tr("explanations"))
    lines.append([graph.key, tr("name"), tr("value"), tr("line"), tr("how")])
    for cell in lines[1]:
        cell.font = Font(bold=True)
    main = graph.main_output()
    for i in rows:
        root = explain(results, i, main).root
        for node in [root] + [c for c in root.children if c.kind != "input"]:
            how = "; ".join([s.text for s in node.steps if s.outcome in (None, "fired")][:3] + node.hints)
            lines.append([str(results.keys[i]), node.name, format_value(node.value, node.type), node.line, how])
    book.save(path)


def write_statements(graph, results, rows: list[int], folder: str | Path) -> int:
    """One Markdown statement per employee (the explanation of the main output)."""
    from pkrules.engine.explain import explain
    from pkrules.engine.render import render_markdown

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    main = graph.main_output()
    for i in rows:
        name = str(results.keys[i])
        if graph.period:
            name += f"_{results.columns[graph.period][i]}"
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        (folder / f"{safe}.md").write_text(render_markdown(explain(results, i, main)), encoding="utf-8")
    return len(rows)


def write_csv(graph, results, names: list[str], rows: list[int], path: str | Path) -> None:
    """Exact values as CSV text (csv.writer's quoting, \\r\\n): money with two decimals at least."""
    import csv

    from pkrules.values.format import format_csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for i in rows:
            writer.writerow([format_csv(results.columns[n][i], graph.nodes[n].type) for n in names])


def write_results(graph, results, names: list[str], rows: list[int], path: str | Path) -> None:
    """One row per employee (the given rows) with the named columns, in the format the file's suffix says.

    .xlsx, .jsonl/.ndjson, .parquet, else CSV. The fast path's results are written by the
    fast path's own writer, from its integer columns; the bytes are the same either way.
    """
    from pkrules.io.formats import is_excel, is_parquet

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if is_excel(path):
        write_excel(graph, results, names, rows, path)
    elif str(path).lower().endswith((".jsonl", ".ndjson")):
        Path(path).write_text(json_lines(graph, results, names, rows), encoding="utf-8")
    elif is_parquet(path) or getattr(results, "backend", "exact") == "fast":
        from pkrules.engine.columnar.io import write_output

        write_output(graph, results, names, path)
    else:
        write_csv(graph, results, names, rows, path)
