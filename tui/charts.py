"""Pictures drawn with Rich text for a given width and height: a histogram whose bins line up with the
band thresholds (so "how many sit just below 90?" is one bar), horizontal bars (cost by team), and
gains and losses side by side. Pure functions of the data and the size: the widgets only call them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from rich.cells import cell_len
from rich.text import Text

from .cells import fit

EIGHTHS = " ▁▂▃▄▅▆▇█"
HORIZONTAL = " ▏▎▍▌▋▊▉█"
BAND_COLOURS = ["#5f87af", "#5faf87", "#87afd7", "#87d7af"]
NEAR = "#ffaf00"  # the bin just below a threshold


@dataclass
class Binning:
    start: Fraction  # the left edge of the first bin
    step: Fraction
    counts: list[int]
    edges: list[int]  # bin indexes a threshold sits at (the separator goes before that bin)

    def edge(self, k: int) -> Fraction:
        return self.start + self.step * k


def _steps():
    for exponent in range(-4, 13):
        for mantissa in (1, 2, Fraction(5, 2), 5):
            yield Fraction(mantissa) * Fraction(10) ** exponent


def bin_values(values: list[Fraction], thresholds: list[Fraction], max_bins: int) -> Binning:
    """Equal bins of a round width that fit in max_bins, preferring a width that puts every threshold on
    a bin edge; values are counted exactly (a score of exactly 90 is in the bin that starts at 90)."""
    points = list(values) + list(thresholds)
    lo, hi = min(points), max(points)
    if hi == lo:
        hi = lo + 1
    max_bins = max(2, max_bins)

    def fits(step: Fraction) -> bool:
        start = math.floor(lo / step) * step
        return math.floor((hi - start) / step) + 1 <= max_bins

    candidates = [s for s in _steps() if fits(s)]
    aligned = [s for s in candidates if all((t / s).denominator == 1 for t in thresholds)]
    step = min(aligned) if aligned else min(candidates) if candidates else (hi - lo) / max_bins
    start = Fraction(math.floor(lo / step)) * step
    n = math.floor((hi - start) / step) + 1
    counts = [0] * n
    for v in values:
        k = min(n - 1, max(0, math.floor((v - start) / step)))
        counts[k] += 1
    edges = sorted({min(n, max(0, math.ceil((t - start) / step))) for t in thresholds})
    return Binning(start, step, counts, edges)


def _number(x: Fraction) -> str:
    if x.denominator == 1:
        text = f"{x.numerator:,}"
    else:
        text = f"{float(x):,.2f}".rstrip("0").rstrip(".")
    return text


def histogram(values: list[Fraction], bands: list, width: int, height: int,
              near_label: str = "{n} within {width} below {threshold}", people: str = "people") -> Text:
    """A histogram of values with a dashed line at each band threshold; the bin just below each threshold
    is orange and counted in the legend. bands: objects with .threshold, .op and .row."""
    out = Text()
    if not values:
        out.append("no values to draw", style="dim")
        return out
    thresholds = sorted({Fraction(b.threshold) for b in bands})
    axis = max(3, len(f"{len(values):,}")) + 1
    room = width - axis - len(thresholds) - 1
    binning = bin_values(values, thresholds, room // 2 if room >= 60 else room)
    counts, edges = binning.counts, binning.edges
    cell = max(1, min(6, room // len(counts)))  # round bins, then as wide as the room allows
    top = max(counts) or 1
    rows = max(3, height - 4)
    below = {e - 1 for e in edges if e > 0}
    region = []  # which band region each bin is in (for its colour)
    for k in range(len(counts)):
        region.append(sum(1 for e in edges if e <= k))

    def bin_style(k: int) -> str:
        return f"bold {NEAR}" if k in below else BAND_COLOURS[region[k] % len(BAND_COLOURS)]

    for r in range(rows):
        label = f"{top:,}" if r == 0 else ("0" if r == rows - 1 else "")
        out.append(fit(label, axis - 1, right=True) + "│", style="dim")
        for k, count in enumerate(counts):
            if k in edges:
                out.append("┊", style="bold red")
            eighths = round(count / top * rows * 8)
            level = eighths - (rows - 1 - r) * 8
            char = "█" if level >= 8 else EIGHTHS[level] if level > 0 else " "
            if r == rows - 1 and count and level <= 0:
                char = "▁"  # a bin with anyone in it is never invisible
            out.append(char * cell, style=bin_style(k))
        if len(counts) in edges:
            out.append("┊", style="bold red")
        out.append("\n")
    # the axis and the labels under it: the start, each threshold, the end
    line = " " * (axis - 1) + "└"
    labels = [" "] * (axis + len(counts) * cell + len(edges) + 12)
    x = axis
    positions = {}
    for k in range(len(counts) + 1):
        if k in edges:
            positions[k] = x
            line += "┴"
            x += 1
        if k < len(counts):
            line += "─" * cell
            x += cell
    out.append(line + "\n", style="dim")

    def put(text: str, at: int) -> None:
        at = max(0, min(at, len(labels) - len(text)))
        if all(c == " " for c in labels[max(0, at - 1):at + len(text) + 1]):
            labels[at:at + len(text)] = list(text)

    for k, at in positions.items():
        put(_number(binning.edge(k)), at - len(_number(binning.edge(k))) // 2)
    put(_number(binning.start), axis)
    end = binning.edge(len(counts))
    put(_number(end), axis + len(counts) * cell + len(edges) - len(_number(end)))
    out.append("".join(labels).rstrip() + "\n", style="bold")
    # the legend: how many in each band (between a threshold and the one above it), and just below it
    legend = Text()
    upper = None
    ordered = sorted(bands, key=lambda b: -Fraction(b.threshold))
    for b in ordered:
        t = Fraction(b.threshold)
        strict = b.op in (">", "<=")  # the value at the threshold itself belongs below it
        inside = sum(1 for v in values if (v > t if strict else v >= t) and (upper is None or v < upper))
        near = sum(1 for v in values if t - binning.step <= v < t or (strict and v == t))
        legend.append(f"{b.row}", style="bold")
        legend.append(f"  {inside:,} {people}  ·  ")
        legend.append(near_label.format(n=f"{near:,}", width=_number(binning.step), threshold=_number(t)), style=f"bold {NEAR}")
        legend.append("\n")
        upper = t
    if ordered:
        rest = sum(1 for v in values if v < upper)
        legend.append(f"< {_number(upper)}", style="bold")
        legend.append(f"  {rest:,} {people}\n")
    out.append_text(legend)
    return out


def bars(items: list[tuple[str, Fraction, str]], width: int, style: str = "#5f87af") -> Text:
    """One line per item: label, a bar scaled to the largest, the amount (as given). Wide labels count two cells."""
    out = Text()
    if not items:
        return out
    label_w = min(max(cell_len(label) for label, _, _ in items), max(8, width // 4))
    amount_w = max(cell_len(shown) for _, _, shown in items)
    bar_w = max(4, width - label_w - amount_w - 3)
    top = max(abs(v) for _, v, _ in items) or 1
    for label, value, shown in items:
        out.append(fit(label, label_w) + " ")
        eighths = round(abs(value) / top * bar_w * 8)
        full, part = divmod(eighths, 8)
        bar = "█" * full + (HORIZONTAL[part] if part else "")
        out.append(fit(bar, bar_w), style=style)
        out.append(" " + fit(shown, amount_w, right=True) + "\n")
    return out


def gains_and_losses(rows: list[tuple[str, Fraction, str]], width: int, limit: int) -> Text:
    """Who gains and who loses, largest first: losses to the left of the centre line, gains to the right."""
    out = Text()
    gains = [r for r in rows if r[1] > 0][:limit]
    losses = sorted([r for r in rows if r[1] < 0], key=lambda r: r[1])[:limit]
    shown = gains + losses
    if not shown:
        out.append("nobody gains or loses", style="dim")
        return out
    label_w = min(max(cell_len(label) for label, _, _ in shown), max(8, width // 4))
    amount_w = max(cell_len(text) for _, _, text in shown)
    half = max(4, (width - label_w - amount_w - 4) // 2)
    top = max(abs(v) for _, v, _ in shown) or 1
    for label, value, text in gains + ([("", Fraction(0), "")] if gains and losses else []) + losses:
        if not label:
            out.append("\n")
            continue
        eighths = round(abs(value) / top * half * 8)
        full, part = divmod(eighths, 8)
        bar = "█" * full + (HORIZONTAL[part] if part else "")
        out.append(fit(label, label_w) + " ")
        if value < 0:
            # partial blocks lean left, so a bar growing leftwards is drawn in whole cells (at least one)
            out.append(fit("█" * max(1, round(abs(value) / top * half)), half, right=True), style="bold red")
            out.append("│", style="dim")
            out.append(" " * half)
        else:
            out.append(" " * half)
            out.append("│", style="dim")
            out.append(fit(bar, half), style="bold green")
        out.append(" " + fit(text, amount_w, right=True) + "\n", style="green" if value > 0 else "red")
    return out
