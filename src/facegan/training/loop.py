"""What every training stage shares: paths, snapshots, resume and the loop.

A stage's state is its networks and optimizers (by name), one torch.Generator that every
random draw of the steps comes from (which images each batch holds is a function of the
iteration: `batch_loader.py`), the iteration and the training time so far. A working
checkpoint holds all of it, and the digest of every input the stage read (`inputs.py`:
its data, params, code and previous model, as dvc.yaml lists them). A run whose inputs are
all the same resumes exactly where that checkpoint stopped; one with any input changed
trains afresh and names the inputs that changed. (DVC re-runs a train stage when any input
changes, and the persisted working checkpoint, finished, would otherwise be "resumed" at
its last iteration: the old model published as trained on the new inputs.)

A step returns its logged values as tensors on the device, and the loop only adds them up
there (`StepSums`): the host waits for the device once per log interval, when the row is
written, not at every step (as stylegan2-ada's training_stats keeps its statistics).
"""
from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from facegan.checkpoint import (MODEL_FIELDS, Checkpoint, CheckpointError, load_checkpoint, restore_rng_states,
                                rng_states, save_checkpoint)
from facegan.params import fingerprint
from facegan.progress import progress
from facegan.training.batch_loader import TrainingBatches, batch_loader
from facegan.training.compute import Compute
from facegan.training.inputs import changed_inputs, describe_change
from facegan.training.log import WALL_CLOCK, LiveCurves, LossLog


@dataclass(frozen=True)
class RunPaths:
    """Where a train stage writes: model.pt, curves/, samples.png; work/ holds the resumable state."""

    out_dir: Path

    @property
    def curves(self) -> Path:
        """The logged values for DVC (`log.LiveCurves`)."""
        return self.out_dir / "curves"

    @property
    def work(self) -> Path:
        return self.out_dir / "work" / "checkpoint.pt"

    @property
    def work_log(self) -> Path:
        return self.out_dir / "work" / "loss.tsv"

    @property
    def snapshots(self) -> Path:
        """The generator snapshots a run keeps to choose its model from (HiFaceGAN)."""
        return self.out_dir / "work" / "snapshots"


@dataclass
class LoopState:
    parts: dict[str, torch.nn.Module | torch.optim.Optimizer]  # saved and restored by name
    rng: torch.Generator
    iteration: int = 0
    seconds: float = 0.0  # training time before this process, for the log
    meta: dict = field(default_factory=dict)  # config, inputs and fingerprint (`run_meta`), saved beside the weights

    def snapshot(self) -> Checkpoint:
        """Everything needed to continue exactly where the loop is (a working checkpoint)."""
        return {**self.meta, "iteration": self.iteration, "seconds": self.seconds,
                **{name: part.state_dict() for name, part in self.parts.items()}, "rng": rng_states(self.rng)}

    def restore(self, checkpoint: Checkpoint) -> None:
        for name, part in self.parts.items():
            part.load_state_dict(checkpoint[name])
        restore_rng_states(checkpoint["rng"], self.rng)
        self.iteration, self.seconds = checkpoint["iteration"], checkpoint["seconds"]


def run_meta(config: dict, inputs: dict[str, str]) -> dict:
    """What a run records beside its weights: the architecture, the digest of each input
    (`inputs.stage_inputs`) and, for model.pt, one fingerprint of them all."""
    return {"config": config, "inputs": dict(inputs), "fingerprint": fingerprint(inputs)}


def previous_checkpoint(path: Path) -> Path:
    """Where the working checkpoint before `path`'s current one is kept."""
    return path.with_name(f"{path.stem}.previous{path.suffix}")


def save_working(path: Path, state: dict) -> None:
    """Write the working checkpoint, keeping the one it replaces as the previous: if this
    one is damaged after all (a disk that lied, a copy cut short), a run falls back on that.
    Renamed, not linked, so that damage to one file never reaches the other; until the new
    one is in place, `resume` finds the previous alone."""
    if path.exists():
        os.replace(path, previous_checkpoint(path))
    save_checkpoint(path, state)


def remove_leftovers(work: Path, say: Callable[[str], None]) -> None:
    """Delete the temporary files that a killed run (SIGKILL, power loss) left in `work` and
    its sub-folders: each is a checkpoint cut short, as large as a whole one."""
    leftovers = sorted(work.rglob(".*.tmp")) if work.is_dir() else []
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    if leftovers:
        say(f"removed {len(leftovers)} temporary file(s) that an interrupted run left in {work}")


def resume(state: LoopState, path: Path, what: str, announce: bool = True) -> None:
    """Continue from the working checkpoint at `path` if it was made from the same inputs
    (every process reads it; one, the main, announces it and removes leftovers). A damaged
    one gives way to the previous; with neither readable, or with any input changed,
    training starts afresh. Each is said in one line, a change with the inputs it names."""
    say = functools.partial(print, file=sys.stderr) if announce else lambda message: None
    if announce:
        remove_leftovers(path.parent, say)
    for candidate in (path, previous_checkpoint(path)):
        if not candidate.exists():
            continue
        try:
            working = load_checkpoint(candidate, writer=None)  # the run's own file: never "delete it"
        except CheckpointError as error:
            say(f"ignoring a damaged working checkpoint: {error}")
            continue
        if "inputs" not in working:
            say(f"ignoring {candidate}: it records no inputs (an older facegan made it); training {what} afresh")
            return
        if changed := changed_inputs(working["inputs"], state.meta["inputs"]):
            say(f"ignoring {candidate}: made from other {describe_change(changed)}; training {what} afresh")
            return
        state.restore(working)
        say(f"resuming {what} from iteration {state.iteration} ({candidate})")
        return
    if path.exists() or previous_checkpoint(path).exists():
        say(f"no readable working checkpoint in {path.parent}: training {what} afresh")


StepValues = dict[str, torch.Tensor | float]  # a step's logged values: detached 0-d tensors, or host numbers


class StepSums:
    """The logged values of the steps since the last row, summed where each step left them:
    tensors on their device in float64 (the sums the host would make of their `.item()`s, so
    the host never waits on a step), plain numbers (a learning rate) on the host."""

    def __init__(self) -> None:
        self._on_device: dict[str, torch.Tensor] = {}
        self._on_host: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    @torch.no_grad()
    def add(self, values: StepValues) -> None:
        for name, value in values.items():
            if not isinstance(value, torch.Tensor):
                self._on_host[name] = self._on_host.get(name, 0.0) + value
            elif name in self._on_device:
                self._on_device[name].add_(value)
            else:
                self._on_device[name] = value.to(torch.float64, copy=True)
            self._counts[name] = self._counts.get(name, 0) + 1

    def means(self, average: Callable[[torch.Tensor], list[float]] = torch.Tensor.tolist) -> dict[str, float]:
        """Each value's mean over the steps that had it (StarGAN's generator losses come every
        n_critic steps), the sums first `average`d over the processes (`Compute.averaged`) as one
        stacked tensor; then start the next interval."""
        sums = [torch.stack(list(self._on_device.values()))] if self._on_device else []
        device = sums[0].device if sums else None
        sums.append(torch.tensor(list(self._on_host.values()), dtype=torch.float64, device=device))
        names = [*self._on_device, *self._on_host]
        means = {name: total / self._counts[name] for name, total in zip(names, average(torch.cat(sums)))}
        for kept in (self._on_device, self._on_host, self._counts):
            kept.clear()
        return means


def run_loop(state: LoopState, total: int, step: Callable[[dict], StepValues], batches: TrainingBatches, *,
             compute: Compute, paths: RunPaths, columns: list[str], plotted: Sequence[str], log_every: int,
             checkpoint_every: int, desc: str, log_extra: Callable[[], dict] = dict,
             on_checkpoint: Callable[[], None] = lambda: None) -> int:
    """Call `step` on each batch until iteration `total`. Every `log_every` iterations, each
    value's mean over the interval (averaged over the processes) is logged by the main process
    alone, to the working log and to the curves (the `plotted` columns as curves, every column
    in the curves' metrics.json); it writes the working checkpoint every `checkpoint_every`
    iterations and at the end, calling `on_checkpoint` just before; returns the steps run."""
    start, seconds_before, started_at = state.iteration, state.seconds, time.monotonic()
    log = LossLog(paths.work_log, [*columns, WALL_CLOCK], resume_iteration=start) if compute.main else None
    curves = LiveCurves(paths.curves, plotted, log.history) if log else None
    sums = StepSums()
    loader = batch_loader(batches, start, total, compute)
    for batch in progress(loader, total=total, initial=start, desc=desc) if compute.main else loader:
        sums.add(step(batch))
        state.iteration += 1
        state.seconds = seconds_before + time.monotonic() - started_at
        done = state.iteration == total
        if state.iteration % log_every == 0 or done:
            means = sums.means(compute.averaged)  # in every process: the all_reduce needs them all
            if log:
                curves.write(log.write(state.iteration, {**means, **log_extra(), WALL_CLOCK: state.seconds}))
        if log and (state.iteration % checkpoint_every == 0 or done):
            on_checkpoint()
            save_working(paths.work, state.snapshot())
    return state.iteration - start


def write_model(state: LoopState, paths: RunPaths, keep: tuple[str, ...]) -> None:
    """model.pt with the `keep` parts, config, fingerprint and iteration.

    No wall time or optimizer state in model.pt or the curves: their bytes depend only on
    the inputs, so a second run leaves dvc.lock as it was (the time is in work/loss.tsv)."""
    model = {key: value for key, value in state.snapshot().items() if key in (*MODEL_FIELDS, *keep)}
    save_checkpoint(paths.out_dir / "model.pt", model)
