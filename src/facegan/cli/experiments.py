"""The DVC experiments judged: `facegan compare` (settings beyond the seed noise), `spread`
(the seed spread, metrics/seed_spread.json) and `reproduce-check` (the metrics against the
committed ones)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from facegan.errors import UserError

# The `facegan` commands themselves, not a group: cli/__init__.py takes them into its app.
commands = typer.Typer()

SPREAD_FILE = Path("metrics/seed_spread.json")
BaselineRev = Annotated[Optional[str], typer.Option(
    "--rev", help="the baseline commit whose DVC experiments to read (default: HEAD)")]


@commands.command("compare")
def compare_command(
    rev: BaselineRev = None,
    spread: Annotated[Path, typer.Option(help="the measured seed spread: gives a single run's std")] = SPREAD_FILE,
    model: Annotated[Optional[list[str]], typer.Option(help="only this model's metrics (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
    sweep: Annotated[Optional[str], typer.Option(
        help="only this `facegan sweep`'s runs (and its baseline commit); says which of its runs are missing, and why")]
    = None,
) -> None:
    """Compare DVC experiments beyond the seed-to-seed noise.

    Reads `dvc exp show --json`, groups the finished runs into settings by every param but
    the training seeds, prints each headline metric as mean ± std (n) per setting, and each
    setting against the baseline commit's as a difference with its 95% Welch interval,
    marked "within noise" where the interval holds 0. Runs that reused one trained model
    count once. A setting of one run gets no verdict: the std of one run's figure that
    `make spread` measured stands beside it (the training- and evaluation-seed stds
    combined, or the training seeds' alone where the evaluation draws nothing). A sweep to
    compare: `facegan sweep submit lr -S 'lr=0.002,0.003' --seeds 0-2` (on SLURM, or here),
    then `facegan compare --sweep lr`; or `dvc exp run --queue -S 'lr=0.002,0.003'
    -S 'pgan.train.seed=range(0,3)'`, then `dvc queue start`."""
    import json

    from facegan.compare import compare, load_spread, render
    from facegan.experiments import exp_show, runs_table

    if sweep is None:
        table = runs_table(exp_show(rev))
    else:
        if rev is not None:
            raise UserError("--rev and --sweep: give one (a sweep's baseline is the commit it started from)")
        from facegan.sweep import sweep_runs

        table, missing = sweep_runs(Path.cwd(), sweep)
        for line in missing:
            typer.echo(line, err=True)
    result = compare(table, load_spread(spread), model)
    typer.echo(json.dumps(result, indent=1) if as_json else render(result))


@commands.command("spread")
def spread_command(
    rev: BaselineRev = None,
    out: Annotated[Path, typer.Option(help="the file to write")] = SPREAD_FILE,
) -> None:
    """Write the seed spread of the baseline setting from its DVC experiments.

    Per headline metric: n, mean, std, min and max over the baseline setting's training
    seeds (runs that differ from the baseline commit in the training seeds alone), the
    spread of the baseline's trained model under other evaluation seeds, which of the two
    dominates, the difference a sweep of 1, 3 or 5 runs a setting can resolve, and the
    machine. `make spread` queues the runs and then calls this."""
    from facegan.experiments import commit_of, exp_show, runs_table
    from facegan.io import write_json
    from facegan.machine import describe_machine
    from facegan.spread import seed_spread_record

    baseline_rev = commit_of(rev)
    write_json(out, seed_spread_record(runs_table(exp_show(rev)), describe_machine(), baseline_rev))
    typer.echo(f"wrote {out}")


@commands.command("reproduce-check")
def reproduce_check_command(
    metrics: Annotated[Path, typer.Option(help="the folder `dvc repro` wrote the metrics into")] = Path("metrics"),
    spread: Annotated[Path, typer.Option(help="the measured seed spread (make spread)")] = SPREAD_FILE,
) -> None:
    """After `dvc repro`: check the metrics against the committed ones.

    Bitwise where this machine is the kind that made them (the `machine` record of the
    committed metrics/*.details.json: CPU, torch and oneDNN kernels, threads, versions);
    elsewhere each headline number must lie in its seed band (99% of sound runs pass all
    metrics). Prints which check ran; exits 1 on a failure."""
    from facegan.reproduce import reproduce_check

    check, lines, failures = reproduce_check(metrics, spread)
    typer.echo("\n".join(lines))
    for failure in failures:
        typer.echo(f"FAILED: {failure}", err=True)
    if failures:
        raise typer.Exit(1)
    typer.echo(f"{check} check passed")
