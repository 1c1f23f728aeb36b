"""`facegan sweep`: settings x training seeds as DVC experiments on a SLURM cluster (a job
array), or as local processes where there is none (facegan.sweep)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from facegan.entrypoints import group_app
from facegan.errors import UserError

sweep_app = group_app("Sweeps of settings x seeds: each run a DVC experiment, on SLURM or local processes.")

Name = Annotated[str, typer.Argument(help="the sweep's name: its runs are the experiments NAME-0, NAME-1, ...")]
Folder = Annotated[Optional[Path], typer.Option(
    help="where its workspaces and logs go (default: .dvc/tmp/sweeps/NAME; on a cluster, on the shared filesystem)")]


def _resources(**given) -> dict:
    return {key: (tuple(value) if isinstance(value, list) else value) for key, value in given.items()
            if value is not None and value != []}


@sweep_app.command("submit")
def submit_command(
    name: Name,
    targets: Annotated[Optional[list[str]], typer.Argument(
        help="the stages each run reproduces, as for `dvc exp run` (default: the whole DAG)")] = None,
    set_param: Annotated[Optional[list[str]], typer.Option(
        "--set-param", "-S", help="a setting, in `dvc exp run -S` syntax, grids included: 'lr=0.002,0.003'")] = None,
    seeds: Annotated[Optional[str], typer.Option(
        help="training seeds, e.g. 0-4 or 0,2,5: each setting runs once per seed, set on the training seeds of the "
             "models the targets train")] = None,
    max_parallel: Annotated[Optional[int], typer.Option(min=1, help="tasks at once (default 2)")] = None,
    cpus_per_task: Annotated[Optional[int], typer.Option(
        min=1, help="CPUs, and torch threads, per task (default 1)")] = None,
    gpus_per_task: Annotated[Optional[int], typer.Option(
        min=0, help="GPUs per task (default 0); sets compute.nproc to match")] = None,
    partition: Annotated[Optional[str], typer.Option(help="SLURM partition")] = None,
    time_limit: Annotated[Optional[str], typer.Option(
        "--time", help="SLURM time limit per task, e.g. 2-00:00:00")] = None,
    sbatch_arg: Annotated[Optional[list[str]], typer.Option(
        help="another sbatch option, as it is (repeatable): --sbatch-arg=--account=vision")] = None,
    executor: Annotated[Optional[str], typer.Option(
        help="slurm, or local (processes here, max-parallel at a time); default: the sweep's, and for a new one slurm "
             "where sbatch is on PATH")] = None,
    folder: Folder = None,
) -> None:
    """Submit a sweep: every setting of the -S grid x every seed, one DVC experiment each.

    On SLURM: one job array, a task a run, `--max-parallel` at once. Each task runs
    `dvc exp run --name NAME-i -S ... TARGETS` in a clone of HEAD that shares this
    repository's DVC cache, then `dvc exp push`es the experiment here, where `dvc exp
    show` and `facegan compare --sweep NAME` see it. Commit first: the runs start from HEAD.

    Resubmitting (`facegan sweep submit NAME`, resource options allowed) runs only the runs
    that are neither done, queued nor running; a cancelled or timed-out one resumes from its
    working checkpoint. `facegan sweep status NAME` shows where each run stands."""
    from facegan.sweep import held, plan_sweep, point_to

    if executor not in (None, "slurm", "local"):
        raise UserError(f"--executor {executor!r}: give slurm or local")
    repo = Path.cwd()
    if not (repo / "dvc.yaml").exists():
        raise UserError(f"{repo} has no dvc.yaml: run `facegan sweep submit` from the project's root")
    resources = _resources(max_parallel=max_parallel, cpus_per_task=cpus_per_task, gpus_per_task=gpus_per_task,
                           partition=partition, time=time_limit, sbatch_args=sbatch_arg)
    sweep = plan_sweep(repo, name, set_param or [], parse_seeds_option(seeds), tuple(targets or ()), resources, folder)
    with held(sweep.submit_lock, f"sweep {name} is being submitted, or run here, by another `facegan sweep submit`"):
        point_to(repo, sweep)
        _submit(sweep, executor)


def _submit(sweep, executor: str | None) -> None:
    """Submit the runs of `sweep` that are neither done, queued nor running: to SLURM, or run
    them here (then wait for them)."""
    from facegan import slurm
    from facegan.sweep import run_local, run_states, to_submit

    sweep.executor = executor or sweep.executor or ("slurm" if slurm.available() else "local")
    if sweep.executor == "slurm" and not slurm.available():
        raise UserError("the sweep goes to SLURM and sbatch is not on PATH: load SLURM's module, or give "
                        "--executor local")
    states = run_states(sweep, slurm.queue, submitting=False)  # this process holds the lock: no other submits
    todo = to_submit(states)
    if not todo:
        waiting = sum(state.state != "done" for state in states)
        typer.echo(f"sweep {sweep.name}: nothing to submit ({len(states) - waiting} done, {waiting} queued or running)")
        return
    sweep.save()
    runs = ", ".join(sweep.runs[index].name for index in todo)
    if sweep.executor == "slurm":
        job = slurm.submit(sweep, todo)
        typer.echo(f"sweep {sweep.name}: submitted {len(todo)} run(s) ({runs}) as SLURM job array {job}, "
                   f"{sweep.resources.max_parallel} at a time; `facegan sweep status {sweep.name}` shows them")
        return
    typer.echo(f"sweep {sweep.name}: running {len(todo)} run(s) ({runs}) here, {sweep.resources.max_parallel} at a "
               f"time; logs in {sweep.folder / 'logs'}")
    failed = run_local(sweep, todo, echo=typer.echo)
    if failed:
        typer.echo(f"{len(failed)} run(s) failed: `facegan sweep status {sweep.name}` shows their logs' last lines; "
                   f"`facegan sweep submit {sweep.name}` runs them again", err=True)
        raise typer.Exit(1)


def parse_seeds_option(seeds: str | None) -> list[int]:
    from facegan.sweep import parse_seeds

    return parse_seeds(seeds) if seeds else []


@sweep_app.command("status")
def status_command(
    name: Name,
    lines: Annotated[int, typer.Option(min=0, help="lines of the log of each failed, stopped or lost run to show")]
    = 10,
    folder: Folder = None,
) -> None:
    """Where each run of a sweep stands: done, queued, running, failed, stopped (cancelled or
    out of time), lost (its task ended without a word) or not run; with the host it ran on,
    its log, and the last lines of the log of each failed, stopped or lost one."""
    from facegan import slurm
    from facegan.sweep import SETTLED, Sweep, log_tail, run_states, sweep_folder

    sweep = Sweep.load(sweep_folder(Path.cwd(), name, folder))
    states = run_states(sweep, slurm.queue)
    jobs = ", ".join(f"{entry['executor']} {entry['job']}" for entry in sweep.submissions) or "none yet"
    typer.echo(f"sweep {name}: {len(states)} runs of {sweep.baseline[:7]} "
               f"({' '.join(sweep.targets) or 'the whole DAG'}); submissions: {jobs}")
    rows = [("run", "settings", "state", "host", "log")]
    rows += [(s.run.name, " ".join(s.run.overrides), s.state, s.host, s.log) for s in states]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    counts = {}
    for state in states:
        counts[state.state] = counts.get(state.state, 0) + 1
    typer.echo(", ".join(f"{count} {state}" for state, count in counts.items()))
    for state in states:
        if state.state not in SETTLED and state.state != "not run":
            typer.echo(f"\n{state.run.name} {state.state}: {state.detail}")
            for line in log_tail(state.log, lines):
                typer.echo(f"  | {line}")
    if any(state.state not in SETTLED for state in states):
        typer.echo(f"\n`facegan sweep submit {name}` runs the rest again (a stopped run resumes from its checkpoint)")


@sweep_app.command("task", hidden=True)
def task_command(
    folder: Annotated[Path, typer.Argument(help="the sweep's folder")],
    index: Annotated[int, typer.Argument(help="the run's index")],
    log: Annotated[Optional[Path], typer.Option(help="the log this task writes into (recorded)")] = None,
) -> None:
    """Run one run of a sweep (what each SLURM array task, or local process, calls)."""
    import subprocess

    from facegan.sweep import run_task

    try:
        run_task(folder, index, log)
    except subprocess.CalledProcessError as error:
        raise typer.Exit(error.returncode or 1) from None
