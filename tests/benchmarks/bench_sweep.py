"""A sweep's wall time against the same runs one after another, and what each task costs
beyond its stages.

    .venv/bin/python tests/benchmarks/bench_sweep.py [--executor local|slurm] [--parallel 2]

Two fresh project repositories on the tests' tiny params (16 px PGAN), each with its
baseline's PGAN evaluated and committed; in each, the same 4 runs (`evaluate_pgan` at
lr 0.002 and 0.004 x seeds 1 and 2, none of them the baseline's own) as one `facegan sweep`:
in one, --parallel tasks at a time of --cpus threads each; in the other, one task at a time
with --parallel x --cpus threads (the whole machine for one run, as a user without a sweep
would run them). Fresh repositories, so that neither sweep reuses the other's run cache.
Per task (task.json): the seconds to clone its workspace, to run its experiment and to push
it to the repository, as medians over the tasks. `--executor slurm` submits to the cluster
that SLURM_CONF (or the default config) names and waits for it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))  # conftest's project_repo and tiny params

from conftest import evaluated_repo, run_in, tiny_params_dict  # noqa: E402
from facegan.machine import describe, describe_machine  # noqa: E402
from facegan.sweep import Sweep  # noqa: E402
from facegan.tables import print_table  # noqa: E402

SETTINGS = ("-S", "lr=0.002,0.004", "--seeds", "1-2")


def sweep(repo: Path, executor: str, parallel: int, cpus: int) -> tuple[float, Sweep]:
    """Wall seconds from submission until every run is in the repository."""
    start = time.perf_counter()
    run_in("facegan", "sweep", "submit", "bench", "evaluate_pgan", *SETTINGS, "--executor", executor,
           "--max-parallel", str(parallel), "--cpus-per-task", str(cpus), cwd=repo)
    while True:  # a local sweep has ended here; a SLURM one is waited for
        status = run_in("facegan", "sweep", "status", "bench", cwd=repo)
        if "4 done" in status:
            return time.perf_counter() - start, Sweep.load(repo / ".dvc/tmp/sweeps/bench")
        if not any(f" {state} " in status for state in ("queued", "running")):
            sys.exit(f"the sweep did not finish:\n{status}")
        time.sleep(1)


def step_seconds(plan: Sweep) -> dict[str, float]:
    records = [json.loads((plan.run_folder(run) / "task.json").read_text()) for run in plan.runs]
    return {step: statistics.median(record["seconds"][step] for record in records)
            for step in ("workspace", "experiment", "push")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executor", choices=("local", "slurm"), default="local")
    parser.add_argument("--parallel", type=int, default=2, help="tasks at a time in the sweep")
    parser.add_argument("--cpus", type=int, default=max(1, (os.cpu_count() or 2) // 2), help="threads per task")
    args = parser.parse_args()
    print(f"# {describe(describe_machine())}, {os.cpu_count()} CPUs, executor {args.executor}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, parallel, cpus in ((f"{args.parallel} at a time", args.parallel, args.cpus),
                                      ("one after another", 1, args.parallel * args.cpus)):
            repo = evaluated_repo(Path(tmp) / label.replace(" ", "-"), tiny_params_dict(16))
            seconds, plan = sweep(repo, args.executor, parallel, cpus)
            steps = step_seconds(plan)
            rows.append([label, f"{cpus}", f"{seconds:.0f}", *(f"{steps[step]:.1f}" for step in steps)])
    print_table(["4 runs", "threads per task", "wall s", "median workspace s", "median experiment s",
                 "median push s"], rows)
    print(f"speed-up: {float(rows[1][2]) / float(rows[0][2]):.2f}x")


if __name__ == "__main__":
    main()
