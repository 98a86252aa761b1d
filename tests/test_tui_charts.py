"""The pictures' arithmetic: bins on the band thresholds, exact counts just below them, bars that keep
Chinese labels aligned. Pure functions of data and size (tui/charts.py), no Textual."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction as F

from rich.cells import cell_len

from tui.cells import fit
from tui.charts import bars, bin_values, gains_and_losses, histogram


@dataclass
class Band:
    threshold: F
    op: str
    row: str


BANDS = [Band(F(90), ">=", "IF score >= 90 THEN coef 1.2"), Band(F(80), ">=", "IF score >= 80 THEN coef 1.0"),
         Band(F(70), ">=", "IF score >= 70 THEN coef 0.8")]


def test_bins_line_up_with_the_thresholds_and_count_exactly():
    values = [F(90), F(89), F(8999, 100), F(85), F(100), F(72), F(808, 9)]
    binning = bin_values(values, [F(70), F(80), F(90)], 40)
    for t in (70, 80, 90):
        assert ((F(t) - binning.start) / binning.step).denominator == 1  # every threshold is a bin edge
    at = int((F(90) - binning.start) / binning.step)
    assert binning.edges == sorted(int((F(t) - binning.start) / binning.step) for t in (70, 80, 90))
    assert binning.counts[at] >= 1  # exactly 90 is in the bin that starts at 90, not below it
    assert sum(binning.counts) == len(values)


def test_histogram_says_how_many_sit_just_below_each_band():
    values = [F(90), F(8999, 100), F(89), F(88), F(808, 9), F(95), F(75), F(60)]
    text = histogram(values, BANDS, 60, 10).plain
    lines = text.splitlines()
    legend = {line.split("  ")[0]: line for line in lines if line.startswith(("IF", "<"))}
    assert "2 people" in legend["IF score >= 90 THEN coef 1.2"]  # 90 and 95
    near = [line for line in lines if "below 90" in line][0].split("·")[1].split()
    count, step = int(near[0]), F(near[2])  # "4 within 2 below 90"
    assert count == sum(1 for v in values if 90 - step <= v < 90)  # counted exactly, 808/9 included
    assert legend["< 70"].endswith("1 people")
    assert "┊" in text  # the threshold lines


def test_bars_align_chinese_labels_by_cell_width():
    rows = bars([("华东一组", F(195749), "195,749.00"), ("华南组", F(168625), "168,625.00"), ("North", F(1000), "1,000.00")], 60)
    lines = rows.plain.splitlines()
    starts = {cell_len(line[: re.search("[▏▎▍▌▋▊▉█]", line).start()]) for line in lines}
    assert starts == {cell_len("华东一组") + 1}  # every bar starts in the same terminal column
    assert len({cell_len(line) for line in lines}) == 1  # and every line ends in the same one
    assert fit("华东一组", 7) == "华东一…" and cell_len(fit("华东一组", 7)) == 7
    assert fit("华东", 6, right=True) == "  华东"


def test_gains_and_losses_split_around_a_centre_line():
    text = gains_and_losses([("邓浩 E013", F(1756), "+1,756.00"), ("宋慧 E010", F(-2000), "-2,000.00")], 60, 10).plain
    gain, _, loss = text.splitlines()[:3]
    assert cell_len(gain[: gain.index("│")]) == cell_len(loss[: loss.index("│")])  # one centre line
    assert "+1,756.00" in gain and "-2,000.00" in loss
    assert gain[: gain.index("│")].strip() == "邓浩 E013"  # the gain's bar is right of the line
    assert loss[: loss.index("│")].rstrip().endswith("█")  # the loss's bar is left of it
