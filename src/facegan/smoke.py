"""The paper preset as a smoke run: configs/celeba128-paper.yaml, with an overlay laid over
it (configs/paper-smoke.yaml; for CI's light form also configs/paper-smoke-light.yaml),
through the whole DAG on the embedded sample, one stage at a time, with each stage's
wall time, seconds per training iteration and peak memory.

It runs in a scratch copy of the checkout (its tracked and untracked-but-not-ignored files
as they are in the working tree, the merged params.yaml, a git repository of its own), so
its data, DVC lock and outputs never touch the workspace, and its stages import the copy's
code. The copy is removed after a passing run and kept, with its path printed, after a
failing one or with --keep.

    python -m facegan.smoke            # make paper-smoke
    python -m facegan.smoke --light    # make paper-smoke-light (CI)

No torch here: peak memory is wait4's ru_maxrss of each stage's `dvc repro`, the largest
peak RSS among it and the processes under it (not their sum), which Linux starts from the
spawning process's own peak.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import typer
import yaml

from facegan.entrypoints import run_cli
from facegan.errors import UserError
from facegan.machine import cpu_model
from facegan.params import read_yaml
from facegan.tables import print_table
from facegan.training.log import WALL_CLOCK, read_log

PRESET = Path("configs/celeba128-paper.yaml")
OVERLAY = Path("configs/paper-smoke.yaml")
LIGHT_OVERLAY = Path("configs/paper-smoke-light.yaml")
WORK_LOGS = "data/**/work/loss.tsv"  # where train stages log each iteration's cumulative seconds


class SmokeFailed(UserError):
    """A stage of the smoke run failed."""


@dataclass(frozen=True)
class StageFigures:
    stage: str
    seconds: float  # the whole stage, DVC's start-up included
    peak_rss_mib: float  # the largest of its processes' peaks (DVC's, the stage command's, a loader worker's)
    iterations: int | None = None  # training stages only
    first_iteration: float | None = None  # seconds, start-up of the loop included
    per_iteration: float | None = None  # median seconds of the iterations after the first


def overlaid(base: Any, overlay: Any, key: str = "") -> Any:
    """`base` with `overlay` laid over it: mappings merge key by key, anything else replaces.
    A key the base lacks is an error, so that a misspelt overlay cannot pass unnoticed."""
    if not isinstance(overlay, dict):
        return overlay
    if not isinstance(base, dict):
        raise UserError(f"overlay key {key.lstrip('.') or '(top)'} is a mapping where the preset has {base!r}")
    unknown = [name for name in overlay if name not in base]
    if unknown:
        raise UserError(f"overlay keys not in the preset: {', '.join(f'{key}.{n}'.lstrip('.') for n in unknown)}")
    return {name: overlaid(value, overlay[name], f"{key}.{name}") if name in overlay else value
            for name, value in base.items()}


def smoke_params(checkout: Path, light: bool) -> dict:
    """The preset with the smoke overlay(s) laid over it."""
    params = _read_yaml(checkout / PRESET)
    for overlay in (OVERLAY, LIGHT_OVERLAY) if light else (OVERLAY,):
        params = overlaid(params, _read_yaml(checkout / overlay))
    return params


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise UserError(f"{path} not found: run from the project's root (the folder with dvc.yaml)")
    return read_yaml(path)


def make_workspace(checkout: Path, folder: Path, params: dict) -> None:
    """Copy the checkout's files (tracked, and untracked but not ignored) into `folder` with
    `params` as its params.yaml and no dvc.lock, and make it a git repository (DVC needs one)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=checkout,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = checkout / name
        if source.is_file() and name != "dvc.lock":  # a file deleted in the working tree is still listed
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)


def _environment(workspace: Path) -> dict[str, str]:
    """The stages' `python` is this interpreter, importing the copy's code."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "PYTHONPATH": str(workspace / "src")}


def stage_order(workspace: Path) -> list[str]:
    """Every stage of the DAG in the order `dvc repro` runs them."""
    dry = subprocess.run([sys.executable, "-m", "dvc", "repro", "--dry", "--force"], cwd=workspace,
                         env=_environment(workspace), capture_output=True, text=True)
    stages = re.findall(r"^Running stage '([^']+)':", dry.stdout, flags=re.MULTILINE)
    if dry.returncode or not stages:
        raise SmokeFailed(f"`dvc repro --dry` in {workspace} named no stage to run: {dry.stderr.strip()}")
    return stages


def run_stage(workspace: Path, stage: str) -> StageFigures:
    """`dvc repro` of one stage (its output on this terminal), timed, with its peak memory
    and, for a training stage, its seconds per iteration from the loop's own log."""
    since, started = time.time(), time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "--single-item", "--no-commit", stage],
                               cwd=workspace, env=_environment(workspace))
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SmokeFailed(f"stage {stage} failed (exit code {process.returncode}; its output is above); "
                          f"the smoke workspace is kept at {workspace}")
    figures = StageFigures(stage, time.monotonic() - started, usage.ru_maxrss / 1024)
    logs = [path for path in workspace.glob(WORK_LOGS) if path.stat().st_mtime >= since]
    if not logs:
        return figures
    rows = read_log(logs[0])
    seconds = [row[WALL_CLOCK] for row in rows]
    steps = [later - earlier for earlier, later in zip(seconds, seconds[1:])]
    return replace(figures, iterations=int(rows[-1]["iteration"]), first_iteration=seconds[0],
                   per_iteration=statistics.median(steps) if steps else None)


def figures_table(runs: list[StageFigures]) -> list[list[str]]:
    def number(value: float | None, digits: int = 1) -> str:
        return "" if value is None else f"{value:,.{digits}f}"

    return [[run.stage, number(run.seconds), "" if run.iterations is None else str(run.iterations),
             number(run.first_iteration, 2), number(run.per_iteration, 2), number(run.peak_rss_mib, 0)]
            for run in runs]


HEADER = ["stage", "seconds", "iterations", "s first iteration", "s/iteration after", "largest peak RSS MiB"]


app = typer.Typer(add_completion=False, rich_markup_mode="markdown")


@app.command()
def main(
    light: bool = typer.Option(False, "--light", help="CI's form: the smallest batches, one iteration a stage"),
    keep: bool = typer.Option(False, "--keep", help="keep the scratch workspace after a passing run"),
) -> None:
    """Run configs/celeba128-paper.yaml through the whole DAG on the embedded sample, with the
    iteration counts and evaluation sizes of configs/paper-smoke.yaml, in a scratch copy of
    this checkout; print each stage's seconds, seconds per iteration and peak memory."""
    checkout = Path.cwd()
    params = smoke_params(checkout, light)
    workspace = Path(tempfile.mkdtemp(prefix="facegan-paper-smoke-"))
    started, runs = time.monotonic(), []
    try:
        make_workspace(checkout, workspace, params)
        for stage in stage_order(workspace):
            print(f"--- paper smoke: {stage}", file=sys.stderr, flush=True)
            runs.append(run_stage(workspace, stage))
    except BaseException:  # a failed stage, Ctrl-C: the workspace stays for a look
        print(f"paper smoke stopped; its workspace is kept at {workspace}", file=sys.stderr)
        raise
    overlays = f"{OVERLAY} + {LIGHT_OVERLAY}" if light else str(OVERLAY)
    print(f"\npaper smoke ({PRESET} + {overlays}): {len(runs)} stages in {time.monotonic() - started:,.0f} s "
          f"on {cpu_model()}, {os.cpu_count()} cores")
    print_table(HEADER, figures_table(runs))
    if keep:
        print(f"workspace kept at {workspace}")
    else:
        shutil.rmtree(workspace)


if __name__ == "__main__":
    run_cli(app)
