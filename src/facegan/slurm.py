"""A sweep on SLURM: one job array per submission, array task i = the sweep's run i, through
`sbatch` and `squeue` themselves (no Python dependency: the batch script is a file a person can
read and submit by hand, and what runs in it is `facegan sweep task`).

Faults: `--requeue` lets SLURM requeue a task whose node failed; a task that is cancelled
(`scancel`) or runs out of time gets SIGTERM, records "stopped" and is resubmitted by
`facegan sweep submit NAME`, which resumes it from its working checkpoint. No `--signal` ahead
of the time limit: the train stages checkpoint every `checkpoint_every` iterations, so a
timed-out task loses at most that much work.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import time

from facegan.errors import UserError
from facegan.sweep import FACEGAN, Sweep

ACTIVE = {"PENDING": "queued", "REQUEUED": "queued", "REQUEUE_HOLD": "queued", "REQUEUE_FED": "queued",
          "CONFIGURING": "running", "RUNNING": "running", "COMPLETING": "running", "SUSPENDED": "running",
          "RESIZING": "running", "SIGNALING": "running", "STAGE_OUT": "running"}


def available() -> bool:
    return shutil.which("sbatch") is not None


def job_name(sweep: Sweep) -> str:
    return f"facegan-{sweep.name}"


def array_spec(indices: list[int], max_parallel: int) -> str:
    """`--array` for these task indices, runs of consecutive ones as ranges: `0-3,6%2`."""
    parts, ordered = [], sorted(indices)
    start = previous = ordered[0]
    for index in ordered[1:] + [None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return f"{','.join(parts)}%{max_parallel}"


def write_job_script(sweep: Sweep) -> str:
    path = sweep.folder / "job.sh"
    path.write_text(f"#!/bin/sh\n# facegan sweep {sweep.name}: array task i runs the sweep's run i "
                    f"(`facegan sweep status {sweep.name}`)\n"
                    f"exec {shlex.quote(str(FACEGAN))} sweep task {shlex.quote(str(sweep.folder))} "
                    f"\"$SLURM_ARRAY_TASK_ID\"\n")
    return str(path)


def sbatch_command(sweep: Sweep, indices: list[int]) -> list[str]:
    resources = sweep.resources
    (sweep.folder / "logs").mkdir(parents=True, exist_ok=True)
    return ["sbatch", "--parsable", f"--job-name={job_name(sweep)}",
            f"--array={array_spec(indices, resources.max_parallel)}",
            f"--output={sweep.folder / 'logs'}/%a-%A.log", "--requeue", "--ntasks=1",
            f"--cpus-per-task={resources.cpus_per_task}",
            *([f"--gres=gpu:{resources.gpus_per_task}"] if resources.gpus_per_task else []),
            *([f"--partition={resources.partition}"] if resources.partition else []),
            *([f"--time={resources.time}"] if resources.time else []),
            *resources.sbatch_args, write_job_script(sweep)]


def submit(sweep: Sweep, indices: list[int]) -> str:
    """Submit runs `indices` as one job array; record and return its job id."""
    command = sbatch_command(sweep, indices)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UserError(f"sbatch refused the sweep: {result.stderr.strip() or result.stdout.strip()}\n"
                        f"(command: {shlex.join(command)})")
    job = result.stdout.strip().split(";")[0]
    sweep.submissions.append({"executor": "slurm", "job": job, "runs": indices, "at": time.time()})
    sweep.save()
    return job


def queue(sweep: Sweep) -> dict[int, str]:
    """Run index -> queued | running, for the tasks of this sweep's jobs that SLURM holds."""
    jobs = {entry["job"] for entry in sweep.submissions if entry["executor"] == "slurm"}
    if not jobs:
        return {}
    if shutil.which("squeue") is None:
        raise UserError(f"sweep {sweep.name} went to SLURM (jobs {', '.join(sorted(jobs))}) and squeue is not on PATH "
                        f"here: run this on a machine of that cluster")
    result = subprocess.run(["squeue", "--noheader", "--array", f"--name={job_name(sweep)}", "--format=%i|%T"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UserError(f"squeue failed, so which runs are queued is unknown: {result.stderr.strip()}")
    states = {}
    for line in result.stdout.splitlines():
        task, _, state = line.strip().partition("|")
        job, _, index = task.partition("_")
        if job in jobs and index.isdigit() and state in ACTIVE:
            states[int(index)] = ACTIVE[state]
    return states
