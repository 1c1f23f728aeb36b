"""Loss curves as a PNG image, beside the TSV that DVC plots as an interactive chart.

`dvc plots show` renders TSV plots with vega scripts that its HTML loads from a CDN, so on
a machine without internet those charts are blank; image plots are embedded and render
anywhere. Drawn with matplotlib's Agg canvas (no pyplot state, no display needed), one
panel per logged value against the iteration, and written without a timestamp so the
same log gives the same bytes.
"""
from __future__ import annotations

import math
from io import BytesIO
from pathlib import Path
from typing import Sequence

from facegan.io import atomic_write_bytes
from facegan.training.log import read_log

PANEL_COLUMNS = 3


def plot_losses(tsv: Path, png: Path, columns: Sequence[str], title: str) -> None:
    """Plot `columns` of a loss TSV (one row per logging interval) against its iterations."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = read_log(tsv)
    missing = [name for name in columns if rows and name not in rows[0]]
    if missing:
        raise ValueError(f"{tsv} has no column {', '.join(missing)}")
    across = min(len(columns), PANEL_COLUMNS)
    down = math.ceil(len(columns) / across)
    figure = Figure(figsize=(4.2 * across, 2.8 * down + 0.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    iterations = [row["iteration"] for row in rows]
    for index, name in enumerate(columns):
        axes = figure.add_subplot(down, across, index + 1)
        axes.plot(iterations, [row[name] for row in rows], linewidth=1.2, color=f"C{index % 10}")
        axes.set_title(name, fontsize=10)
        axes.set_xlabel("iteration", fontsize=8)
        axes.tick_params(labelsize=8)
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    atomic_write_bytes(png, buffer.getvalue())
