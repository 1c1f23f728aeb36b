"""Loss curves as TSV, one row per logging interval, appended and flushed as training goes,
and drawn as a PNG.

A resumed run first drops the rows written after the checkpoint it resumes from, so the
curve has no duplicated or orphaned iterations. The working log also keeps the training
time; the published one leaves it out (`publish_log`).

The PNG (`plot_losses`) is the chart `dvc plots show` embeds, which renders offline (DVC's
own TSV charts load their scripts from a CDN). Drawn with matplotlib's Agg canvas (no
pyplot state, no display needed), one panel per logged value against the iteration, and
written without a timestamp so that the same log gives the same bytes.
"""
from __future__ import annotations

import csv
import math
from collections import defaultdict
from io import BytesIO
from pathlib import Path
from typing import Sequence

from facegan.io import atomic_write_bytes

WALL_CLOCK = "seconds"  # the only logged column that differs between two runs on the same inputs


class LossLog:
    def __init__(self, path: Path, columns: list[str], resume_iteration: int = 0):
        self.path, self.columns = Path(path), ["iteration", *columns]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = self._rows_up_to(resume_iteration) if resume_iteration else []
        with self.path.open("w", newline="") as handle:
            handle.write("\t".join(self.columns) + "\n")
            handle.writelines(kept)
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def _rows_up_to(self, iteration: int) -> list[str]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines(keepends=True)[1:]
        return [line for line in lines if line.strip() and int(line.split("\t")[0]) <= iteration]

    def add(self, values: dict[str, float]) -> None:
        """Accumulate one step's values; `write` logs each one's mean over the steps that had it
        (StarGAN's generator losses come every n_critic steps)."""
        for key, value in values.items():
            self._sums[key] += value
            self._counts[key] += 1

    def write(self, iteration: int, extra: dict[str, float] | None = None) -> dict[str, float]:
        means = {key: total / self._counts[key] for key, total in self._sums.items()}
        means.update(extra or {})
        row = [str(iteration)] + [f"{means.get(c, float('nan')):.6g}" for c in self.columns[1:]]
        with self.path.open("a", newline="") as handle:
            handle.write("\t".join(row) + "\n")
        self._sums.clear()
        self._counts.clear()
        return means


def read_log(path: Path) -> list[dict[str, float]]:
    with Path(path).open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle, delimiter="\t")]


def publish_log(working: Path, published: Path) -> None:
    """Copy the `working` log to `published` without its wall-clock column, so that a run on
    the same inputs writes the same bytes and DVC's lock file does not change; the timed
    log stays in the working folder, which DVC does not track."""
    rows = [line.split("\t") for line in Path(working).read_text().splitlines()]
    keep = [index for index, column in enumerate(rows[0]) if column != WALL_CLOCK]
    atomic_write_bytes(Path(published), "".join("\t".join(row[i] for i in keep) + "\n" for row in rows).encode())


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
