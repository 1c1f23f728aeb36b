"""Loss curves: the working log, and the same values as DVCLive writes them for DVC.

The working log (`LossLog`, `work/loss.tsv`) has one row per logging interval (each value's
mean over the interval: `loop.StepSums`), appended and flushed as training goes, with the
training time. It is not a DVC output: it outlives the stage's run, so a resumed run first
drops the rows written after the checkpoint it resumes from, and the curve has no
duplicated or orphaned iterations.

`LiveCurves` writes the same rows, without the training time, into the stage's curves
folder in the layout of DVCLive, DVC's logger: `metrics.json` (the iteration and the latest
values, which `dvc exp show` reads while the stage runs, also in a queued or temp
experiment) and `plots/metrics/<value>.tsv` (x `step` = the iteration), which dvc.yaml
declares as plots. DVC deletes a stage's outputs before it runs the stage, so the folder is
rebuilt from the working log's kept rows at every start; every value is rounded as the
working log writes it, so a resumed run's curves are byte-identical to an uninterrupted
one's. Not DVCLive itself: it stops in a git repository without a commit ("Empty git repo"),
costs every train stage a second or more to import DVC and open the repository, and its own
resume keeps the rows past the checkpoint; what it adds, sending rows to Studio, is left out.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import Sequence

from facegan.io import atomic_write_bytes

WALL_CLOCK = "seconds"  # the only logged column that differs between two runs on the same inputs
STEP = "step"  # DVCLive's name for the x of every curve: here the iteration
PLOTS = "plots/metrics"  # where DVCLive puts the curves in its folder


def rounded(value: float) -> float:
    """A logged value as the working log writes it (6 significant digits)."""
    return float(f"{value:.6g}")


class LossLog:
    def __init__(self, path: Path, columns: list[str], resume_iteration: int = 0):
        self.path, self.columns = Path(path), ["iteration", *columns]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = self._rows_up_to(resume_iteration) if resume_iteration else []
        with self.path.open("w", newline="") as handle:
            handle.write("\t".join(self.columns) + "\n")
            handle.writelines(kept)
        self.history = read_log(self.path)  # the kept rows, for `LiveCurves`

    def _rows_up_to(self, iteration: int) -> list[str]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines(keepends=True)[1:]
        return [line for line in lines if line.strip() and int(line.split("\t")[0]) <= iteration]

    def write(self, iteration: int, values: dict[str, float]) -> dict[str, float]:
        """Append the row of `iteration` and return it: each value rounded as written, NaN for
        a column with no value in the interval."""
        row = {"iteration": iteration, **{c: rounded(values.get(c, math.nan)) for c in self.columns[1:]}}
        with self.path.open("a", newline="") as handle:
            handle.write("\t".join([str(iteration), *(f"{row[c]:.6g}" for c in self.columns[1:])]) + "\n")
        return row


def read_log(path: Path) -> list[dict[str, float]]:
    with Path(path).open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle, delimiter="\t")]


class LiveCurves:
    """The logged values in DVCLive's layout (see the module's docstring): the `plotted` ones
    as curves, every one in metrics.json; the training time in neither, so that two runs on the
    same inputs write the same bytes and dvc.lock does not change. A value with no number in
    an interval (NaN) is left out of that row."""

    def __init__(self, folder: Path, plotted: Sequence[str], history: Sequence[dict[str, float]] = ()):
        self.folder, self.plotted = Path(folder), set(plotted)
        shutil.rmtree(self.folder, ignore_errors=True)  # rebuilt from the working log's kept rows
        (self.folder / PLOTS).mkdir(parents=True)
        self.summary: dict[str, float] = {}
        for row in history:
            self._append(row)
        self._write_summary()

    def _append(self, row: dict[str, float]) -> None:
        step = int(row["iteration"])
        values = {name: value for name, value in row.items()
                  if name not in ("iteration", WALL_CLOCK) and not math.isnan(value)}
        for name in sorted(self.plotted & set(values)):
            curve = self.folder / PLOTS / f"{name}.tsv"
            with curve.open("a", newline="") as handle:
                handle.write("" if curve.stat().st_size else f"{STEP}\t{name}\n")
                handle.write(f"{step}\t{values[name]!r}\n")
        # The step, then the values by name: a fixed order, whatever row a value first came in.
        latest = {**self.summary, **values}
        self.summary = {STEP: step, **{name: latest[name] for name in sorted(latest) if name != STEP}}

    def _write_summary(self) -> None:
        atomic_write_bytes(self.folder / "metrics.json", (json.dumps(self.summary, indent=4) + "\n").encode())

    def write(self, row: dict[str, float]) -> None:
        """Log one row of the working log (`LossLog.write`'s): its points, then the summary."""
        self._append(row)
        self._write_summary()


def read_curves(folder: Path) -> list[dict[str, float]]:
    """The curves in a `LiveCurves` folder as rows like the working log's: one per iteration,
    with the values plotted at it."""
    rows: dict[int, dict[str, float]] = {}
    for tsv in sorted((Path(folder) / PLOTS).glob("*.tsv")):
        for entry in read_log(tsv):
            step = int(entry.pop(STEP))
            rows.setdefault(step, {"iteration": float(step)}).update(entry)
    return [rows[step] for step in sorted(rows)]
