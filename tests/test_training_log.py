"""The working log and the curves DVC reads (`training/log.py`): the curves hold what the
log holds without its wall clock, the same bytes for the same values, and a resumed run's
curves are an uninterrupted run's, with no step twice."""
import json
import math

import numpy as np
import torch

from facegan.training.log import WALL_CLOCK, LiveCurves, LossLog, read_curves, read_log
from facegan.training.loop import StepSums

COLUMNS = ["loss_d", "loss_g", "gp", "learning_rate", WALL_CLOCK]
PLOTTED = ["loss_d", "loss_g", "gp"]


def _run(folder, iterations=40, start=0, stop=None, clock=0.5):
    """Log `iterations` steps every 2 iterations as run_loop does, from `start` (a resume) to
    `stop` (an interruption); the values depend on the iteration alone, as a resumed run's do."""
    log = LossLog(folder / "work/loss.tsv", COLUMNS, resume_iteration=start)
    curves, sums = LiveCurves(folder / "curves", PLOTTED, log.history), StepSums()
    for iteration in range(start + 1, (stop or iterations) + 1):
        values = {"loss_d": np.sin(iteration / 5) / 3, "gp": 0.1 * iteration}
        if iteration % 4 == 0:  # a generator step every 4th iteration, as StarGAN's n_critic
            values["loss_g"] = 1 / iteration
        sums.add(values)
        if iteration % 2 == 0:
            curves.write(log.write(iteration, {**sums.means(), "learning_rate": 1e-3, WALL_CLOCK: iteration * clock}))
    return folder


def _files(folder):
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_the_curves_are_the_log_without_its_wall_clock(tmp_path):
    folder = _run(tmp_path)
    logged, curves = read_log(folder / "work/loss.tsv"), read_curves(folder / "curves")
    assert [row["iteration"] for row in curves] == [row["iteration"] for row in logged] == list(range(2, 41, 2))
    assert sorted(p.name for p in (folder / "curves/plots/metrics").iterdir()) == ["gp.tsv", "loss_d.tsv", "loss_g.tsv"]
    for row, curve in zip(logged, curves):
        assert curve == {key: value for key, value in row.items() if key in ["iteration", *PLOTTED]
                         and not math.isnan(value)}  # an interval with no generator step: no point
    assert sum("loss_g" in row for row in curves) == 10
    summary = json.loads((folder / "curves/metrics.json").read_text())
    assert summary == {"loss_d": logged[-1]["loss_d"], "loss_g": logged[-1]["loss_g"], "gp": logged[-1]["gp"],
                       "learning_rate": 1e-3, "step": 40}  # in the summary, not plotted; never the wall clock


def test_the_same_values_give_the_same_bytes_whatever_the_clock(tmp_path):
    one, two = _run(tmp_path / "one", clock=0.5), _run(tmp_path / "two", clock=7.0)
    assert _files(one / "curves") == _files(two / "curves")
    assert _files(one / "work") != _files(two / "work")  # the working log keeps the time


def test_a_resumed_run_has_the_curves_of_an_uninterrupted_one(tmp_path):
    """Interrupted at iteration 27 after its checkpoint at 20, its curves deleted as DVC
    deletes a stage's outputs before running it: resumed from 20, the rows past it are
    dropped and the curves rebuilt, each step once."""
    uninterrupted = _run(tmp_path / "uninterrupted")
    resumed = _run(tmp_path / "resumed", stop=27)
    assert read_curves(resumed / "curves")[-1]["iteration"] == 26
    for start in (20, 40):  # 40: `dvc repro --force` on a finished run, which trains no step
        for path in (resumed / "curves").rglob("*"):
            if path.is_file():
                path.unlink()
        _run(resumed, start=start)
        assert _files(resumed / "curves") == _files(uninterrupted / "curves"), start
        iterations = [row["iteration"] for row in read_log(resumed / "work/loss.tsv")]
        assert iterations == list(range(2, 41, 2))


def test_step_sums_are_the_host_sums_of_the_steps_values():
    """Summed on the device in float64, each value's mean over the steps that had it is the
    mean of its `.item()`s to the bit; the host numbers are summed on the host."""
    values = torch.randn(7, generator=torch.Generator().manual_seed(0))
    sums, averaged = StepSums(), []
    for index, value in enumerate(values):
        sums.add({"loss_d": value * 3, **({"loss_g": value} if index % 2 else {}), "learning_rate": 1e-3 * index})
    means = sums.means(lambda stacked: averaged.append(stacked) or stacked.tolist())
    assert means == {"loss_d": sum((value * 3).item() for value in values) / 7,
                     "loss_g": sum(value.item() for value in values[1::2]) / 3,
                     "learning_rate": sum(1e-3 * index for index in range(7)) / 7}
    assert len(averaged) == 1 and averaged[0].shape == (3,)  # one stacked tensor: one all_reduce
    assert sums.means() == {}  # the next interval starts empty
