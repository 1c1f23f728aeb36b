"""Sweeps: a grid of settings x training seeds, each run one DVC experiment in a workspace of
its own, spread over a SLURM job array (facegan.slurm), or over local processes K at a time
where there is no cluster.

Why a workspace each: DVC's repository lock allows one run per checkout, and `dvc queue`
runs its workers on one machine. Each run's workspace is a git clone of the baseline commit
whose DVC cache is the repository's own, so the stages a run shares with the baseline (the
data, and any stage that DVC's run cache holds) are restored, not recomputed. A finished
experiment comes back by DVC's own `dvc exp push` to the repository (the clone's `origin`),
where `dvc exp show`, `dvc metrics diff` and `facegan compare` see it like a local one. Its
outputs are in the shared cache already, so nothing but git refs moves (`--no-cache`).

On disk, under the sweep's folder (default `.dvc/tmp/sweeps/NAME`, beside DVC's own queue
workspaces; on a cluster the repository must sit on the filesystem the nodes share):
    sweep.json              the plan: baseline, targets, each run's `-S` overrides, resources, submissions
    job.sh                  the SLURM batch script: array task i runs `facegan sweep task FOLDER i`
    runs/NAME-i/workspace   run i's clone; its working checkpoints survive a cancelled task
    runs/NAME-i/task.json   its last attempt: state, exit code, host, devices, SLURM ids, log
    runs/NAME-i/lock        held (flock) by the task that runs it: one task a run
    submit.lock             held by the `facegan sweep submit` at work on it
    logs/i-JOB.log          each attempt's output (JOB: the SLURM array job, or `local-N`)

A resubmitted task finds its workspace and runs `dvc exp run` again there: DVC skips the
stages that finished (dvc.lock), and the interrupted train stage resumes from its working
checkpoint (`persist: true`), which holds the same inputs (facegan.training.inputs).
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import yaml

from facegan import pipeline
from facegan.errors import Interrupted, UserError
from facegan.experiments import TRAINING_SEEDS
from facegan.io import write_json

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,40}")  # a git ref part and a SLURM job name
FOLDER = Path(".dvc/tmp/sweeps")
FACEGAN = Path(sys.executable).parent / "facegan"  # the command the tasks run, from this environment
# A stopped task's children get this long after SIGTERM before SIGKILL: less than SLURM's
# default KillWait (30 s), after which SLURM kills whatever is left of a task.
GRACE_SECONDS = 20
LOCK_WAIT = 10  # seconds a task waits for its run's lock (a status probe holds it for an instant)
SETTLED = ("done", "queued", "running")  # the states a resubmission leaves alone
# sbatch options the sweep sets itself: another value would hide its tasks or their logs.
OWN_SBATCH_OPTIONS = ("--job-name", "-J", "--array", "-a", "--output", "-o", "--error", "-e", "--parsable")


@dataclass(frozen=True)
class Resources:
    """What each task asks for; `max_parallel` tasks run at once (SLURM's `--array=...%K`)."""
    max_parallel: int = 2
    cpus_per_task: int = 1  # torch threads follow it (SLURM_CPUS_PER_TASK)
    gpus_per_task: int = 0  # compute.nproc is set to it: one training process per GPU
    partition: str | None = None
    time: str | None = None  # SLURM's time limit, e.g. 2-00:00:00
    sbatch_args: tuple[str, ...] = ()  # passed to sbatch as they are (--account, --qos, ...)


@dataclass(frozen=True)
class Run:
    name: str
    overrides: tuple[str, ...]  # `dvc exp run -S` items


@dataclass
class Sweep:
    name: str
    folder: Path
    repo: Path
    baseline: str  # the commit every run starts from
    targets: tuple[str, ...]  # `dvc exp run` targets; () is the whole DAG
    runs: tuple[Run, ...]
    cache_dir: str  # the repository's DVC cache, shared by every workspace
    resources: Resources = field(default_factory=Resources)
    executor: str = ""  # slurm | local: where a resubmission goes unless told otherwise
    submissions: list[dict] = field(default_factory=list)  # {"executor", "job", "runs", "at"}, oldest first

    @property
    def plan_path(self) -> Path:
        return self.folder / "sweep.json"

    def run_folder(self, run: Run) -> Path:
        return self.folder / "runs" / run.name

    @property
    def submit_lock(self) -> Path:
        """Held by the `facegan sweep submit` that plans and submits it (a local one: until its runs end)."""
        return self.folder / "submit.lock"

    def save(self) -> None:
        plan = asdict(self)
        plan.update(folder=str(self.folder), repo=str(self.repo))
        write_json(self.plan_path, plan)

    @classmethod
    def load(cls, folder: Path) -> Sweep:
        path = folder / "sweep.json"
        if not path.exists():
            raise UserError(f"no sweep in {folder} (no sweep.json): `facegan sweep submit NAME -S ... [--seeds ...]` "
                            f"plans and submits one")
        plan = json.loads(path.read_text())
        return cls(**{**plan, "folder": Path(plan["folder"]), "repo": Path(plan["repo"]),
                      "targets": tuple(plan["targets"]),
                      "runs": tuple(Run(run["name"], tuple(run["overrides"])) for run in plan["runs"]),
                      "resources": Resources(**{**plan["resources"],
                                                "sbatch_args": tuple(plan["resources"]["sbatch_args"])})})


def sweep_folder(repo: Path, name: str, folder: Path | None = None) -> Path:
    """Where sweep NAME lives: `folder`, else the one its first submission chose (a pointer
    at the default place, so that status and compare find it without --folder), else the
    default `.dvc/tmp/sweeps/NAME`."""
    if not NAME.fullmatch(name):
        raise UserError(f"sweep name {name!r}: use letters, digits, '.', '_' and '-' (at most 41), starting with a "
                        f"letter or digit")
    pointer = repo / FOLDER / f"{name}.folder"
    if folder is None and pointer.exists():
        return Path(pointer.read_text().strip())
    return (folder or repo / FOLDER / name).resolve()


def point_to(repo: Path, sweep: Sweep) -> None:
    """Leave the pointer that sweep_folder follows, where the sweep is not at the default place."""
    if sweep.folder != (repo / FOLDER / sweep.name).resolve():
        pointer = repo / FOLDER / f"{sweep.name}.folder"
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.write_text(f"{sweep.folder}\n")


def parse_seeds(text: str) -> list[int]:
    """`0-4` or `0,2,5` (or both: `0-2,7`) as a list of seeds."""
    seeds = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise UserError(f"--seeds {text!r}: give seeds as 0-4, or 0,2,5")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise UserError(f"--seeds {text!r}: {first}-{last} runs backwards")
        seeds += range(first, last + 1)
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {text!r} names a seed twice")
    return seeds


def reached_stages(targets: tuple[str, ...], repo: Path, params: dict) -> list[pipeline.Stage]:
    """The stages of `repo`'s dvc.yaml that `dvc exp run TARGETS` may run (all for no targets)."""
    every = pipeline.stages(params, repo)
    try:
        names = pipeline.upstream(list(targets), every) if targets else set(every)
    except KeyError as error:
        raise UserError(f"{error.args[0]}: a target is a stage name") from None
    return [every[name] for name in sorted(names)]


def seed_keys(reached: list[pipeline.Stage]) -> list[str]:
    """The training seeds that these stages read: a seed that no run trains with would make
    its runs look like draws they are not."""
    declared = {key for stage in reached for key in stage.params}
    return [seed for seed in TRAINING_SEEDS
            if any(seed == key or seed.startswith(f"{key}.") for key in declared)]


def evaluated_models(reached: list[pipeline.Stage]) -> set[str]:
    """The models whose metrics these stages write (metrics/pgan.json: pgan); a run's other
    metrics files are its baseline's, unchanged."""
    return {Path(out).stem for stage in reached for out in stage.outs
            if out.startswith("metrics/") and out.endswith(".json")}


def expand_runs(name: str, settings: list[str], seeds: list[int], keys: list[str],
                gpus_per_task: int) -> tuple[Run, ...]:
    """Every setting of the `-S` grid (DVC's own expansion: `lr=0.002,0.003`, `range(0,3)`,
    as `dvc exp run --queue -S` does it) x every seed, each seed set on all `keys`."""
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import get_hydra_sweeps

    set_keys = {item.partition("=")[0].rpartition(":")[2] for item in settings}
    clash = sorted(set_keys & set(keys))
    if clash and seeds:
        raise UserError(f"-S sets {', '.join(clash)}, which --seeds sets too: give the seeds once")
    if gpus_per_task:
        nproc = [item for item in settings if item.partition("=")[0] == "compute.nproc"]
        if nproc and nproc != [f"compute.nproc={gpus_per_task}"]:
            raise UserError(f"{nproc[0]} disagrees with --gpus-per-task {gpus_per_task}: each GPU of a task runs "
                            f"one training process; drop the -S")
        settings = [item for item in settings if item not in nproc] + [f"compute.nproc={gpus_per_task}"]
    try:
        grid = get_hydra_sweeps(to_path_overrides(settings)) if settings else [{}]
    except Exception as error:  # Hydra's grammar errors: their message names the bad item
        raise UserError(f"-S {' '.join(settings)}: {error}") from None
    combos = []
    for combo in grid:
        items = [f"{path}:{item}" if path != "params.yaml" else item
                 for path, overrides in combo.items() for item in overrides]
        combos += [items + [f"{key}={seed}" for key in keys] for seed in seeds] if seeds else [items]
    return tuple(Run(f"{name}-{index}", tuple(items)) for index, items in enumerate(combos))


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UserError(f"git {' '.join(args)} in {repo} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.rstrip()


def dvc(*args: str, cwd: Path) -> str:
    """A DVC command as installed beside this interpreter."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise UserError(f"dvc {' '.join(args)} in {cwd} failed: {lines[-1] if lines else 'no message'}")
    return result.stdout.strip()


def plan_sweep(repo: Path, name: str, settings: list[str], seeds: list[int], targets: tuple[str, ...],
               resources: dict, folder: Path | None = None) -> Sweep:
    """The sweep NAME: made from the arguments, or the one already planned there (then the
    arguments must plan the same runs from the same commit, or be empty: a resubmission).
    `resources`: the Resources fields given; the others keep their planned (or default) values."""
    bad = [arg for arg in resources.get("sbatch_args", ()) if arg.split("=")[0] in OWN_SBATCH_OPTIONS]
    if bad:
        raise UserError(f"--sbatch-arg {' '.join(bad)}: the sweep sets that option itself (its tasks are found by "
                        f"job name, their logs by path)")
    folder = sweep_folder(repo, name, folder)
    if (folder / "sweep.json").exists():
        return _replanned(Sweep.load(folder), repo, settings, seeds, targets, resources)
    if not settings and not seeds:
        raise UserError(f"sweep {name} is new: give its settings (-S key=a,b) and/or --seeds")
    changed = git(repo, "status", "--porcelain", "--untracked-files=no")
    if changed:
        raise UserError(f"every run starts from the commit HEAD, and these changes are not in it:\n{changed}\n"
                        f"commit them (dvc.lock too, after a `dvc repro`), or stash them, then submit again")
    baseline = git(repo, "rev-parse", "HEAD")
    chosen = Resources(**resources)
    keys = seed_keys(reached_stages(targets, repo, _params(repo, baseline)))
    runs = expand_runs(name, settings, seeds, keys, chosen.gpus_per_task)
    taken = [run.name for run in runs if has_ref(repo, experiment_ref(baseline, run.name))]
    if taken:
        raise UserError(f"experiments {', '.join(taken)} of HEAD exist already: give the sweep another name, or "
                        f"remove them (dvc exp remove {' '.join(taken)})")
    # A ref of its own keeps the baseline reachable for the workspaces' clones, whatever
    # happens to the branch it is on (an amend, a rebase).
    git(repo, "update-ref", baseline_ref(name), baseline)
    return Sweep(name, folder, repo.resolve(), baseline, targets, runs, dvc("cache", "dir", cwd=repo), chosen)


def _replanned(planned: Sweep, repo: Path, settings: list[str], seeds: list[int], targets: tuple[str, ...],
               resources: dict) -> Sweep:
    """A planned sweep, resubmitted: the same runs, resources as given."""
    name = planned.name
    if "gpus_per_task" in resources and resources["gpus_per_task"] != planned.resources.gpus_per_task:
        raise UserError(f"sweep {name}'s runs train with compute.nproc={planned.resources.gpus_per_task or 1}, one "
                        f"process a GPU: GPUs per task cannot change; plan another sweep for other GPUs")
    if settings or seeds or targets:
        head = git(repo, "rev-parse", "HEAD")
        if head != planned.baseline:
            raise UserError(f"sweep {name} started from {planned.baseline[:7]}, and HEAD is now {head[:7]}: give the "
                            f"new sweep another name, or resubmit the old one with `facegan sweep submit {name}` alone")
        keys = seed_keys(reached_stages(targets, repo, _params(repo, planned.baseline)))
        if expand_runs(name, settings, seeds, keys, planned.resources.gpus_per_task) != planned.runs \
                or targets != planned.targets:
            raise UserError(f"sweep {name} exists with other runs ({planned.plan_path}): resubmit it with "
                            f"`facegan sweep submit {name}` alone, or give the new one another name")
    planned.resources = replace(planned.resources, **resources)
    return planned


def _params(repo: Path, commit: str) -> dict:
    return yaml.safe_load(git(repo, "show", f"{commit}:params.yaml"))


# --- one task: one run ------------------------------------------------------------------------


def experiment_ref(baseline: str, name: str) -> str:
    """Where DVC keeps an experiment of `baseline` named `name`."""
    return f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"


def baseline_ref(name: str) -> str:
    return f"refs/sweeps/{name}"


def has_ref(repo: Path, ref: str) -> bool:
    return bool(git(repo, "for-each-ref", "--format=%(refname)", ref))


def ensure_workspace(sweep: Sweep, run: Run) -> Path:
    """Run's clone of the baseline commit, its DVC cache the repository's; made whole or not at
    all (a clone cut off half way is made again)."""
    workspace = sweep.run_folder(run) / "workspace"
    if (workspace / ".git").exists():
        return workspace
    partial = workspace.with_name("workspace.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    git(partial.parent, "clone", "--quiet", "--no-checkout", str(sweep.repo), partial.name)
    ref = baseline_ref(sweep.name)
    git(partial, "fetch", "--quiet", "origin", f"+{ref}:{ref}")
    git(partial, "checkout", "--quiet", "--detach", sweep.baseline)
    dvc("config", "--local", "cache.dir", sweep.cache_dir, cwd=partial)
    partial.rename(workspace)
    return workspace


@contextmanager
def held(path: Path, what: str, wait: float = 0) -> Iterator[int]:
    """An exclusive lock on `path` (flock: any node of a shared filesystem sees it) for the
    block; its file descriptor, for children that must hold it too. Waits up to `wait`
    seconds (a `lock_is_held` probe holds it for an instant), then fails saying `what` holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UserError(f"{what} ({path} is locked)") from None
                time.sleep(0.2)
        yield handle.fileno()


def lock_is_held(path: Path) -> bool:
    if not path.exists():
        return False
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def ran_on(threads: str, log: Path | None) -> dict:
    """Where this task runs: host, CPU, GPUs (or none), threads, SLURM ids, log."""
    from facegan.machine import cpu_model

    gpus = os.environ.get("SLURM_JOB_GPUS") or os.environ.get("CUDA_VISIBLE_DEVICES") or ""
    slurm = {key[6:].lower(): os.environ[key] for key in ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_ID",
                                                         "SLURM_JOB_PARTITION", "SLURM_RESTART_COUNT")
             if key in os.environ}
    return {"host": socket.gethostname(), "pid": os.getpid(), "cpu": cpu_model(), "gpus": gpus or "none",
            "threads": int(threads), "slurm": slurm, "log": str(log) if log else None}


def task_log(folder: Path, index: int) -> Path | None:
    """The log SLURM writes for this task (sbatch --output, facegan.slurm), when under SLURM."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID")
    return folder / "logs" / f"{index}-{job}.log" if job else None


def run_task(folder: Path, index: int, log: Path | None = None) -> None:
    """Run the sweep's run `index` to a pushed experiment, recording each step in task.json.
    One task a run: a second one for the same run fails at once, leaving the first's record.
    Raises on failure (its record says how); Interrupted when SIGTERM or Ctrl-C stops it."""
    sweep = Sweep.load(folder)
    if not 0 <= index < len(sweep.runs):
        raise UserError(f"sweep {sweep.name} has runs 0 to {len(sweep.runs) - 1}, not {index}")
    run = sweep.runs[index]
    with held(sweep.run_folder(run) / "lock", f"run {run.name} is running in another task", LOCK_WAIT) as lock:
        _run_locked(sweep, run, index, log, lock)


def _run_locked(sweep: Sweep, run: Run, index: int, log: Path | None, lock: int) -> None:
    record_path = sweep.run_folder(run) / "task.json"
    threads = os.environ.get("SLURM_CPUS_PER_TASK") or str(sweep.resources.cpus_per_task)
    record = {"run": run.name, "state": "running", "started": time.time(),
              **ran_on(threads, log or task_log(sweep.folder, index)), "seconds": {}}
    write_json(record_path, record)
    clock = time.monotonic()

    def step(name: str) -> None:  # what a task costs beyond its stages
        nonlocal clock
        record["seconds"][name] = round(time.monotonic() - clock, 2)
        clock = time.monotonic()

    def stopping() -> None:  # said before the children get their grace, which SLURM may cut short
        record.update(state="stopped", note="SIGTERM or Ctrl-C: cancelled, timed out or interrupted")
        write_json(record_path, record)

    try:
        if has_ref(sweep.repo, experiment_ref(sweep.baseline, run.name)):
            record.update(state="done", note="already in the repository")
            return
        workspace = ensure_workspace(sweep, run)
        step("workspace")
        env = {**os.environ, "OMP_NUM_THREADS": threads,  # torch's threads: the CPUs SLURM gave
               "PYTHONPATH": os.pathsep.join([str(workspace / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        if not has_ref(workspace, experiment_ref(sweep.baseline, run.name)):
            overrides = [argument for item in run.overrides for argument in ("-S", item)]
            _call([sys.executable, "-m", "dvc", "exp", "run", "--name", run.name, *overrides, *sweep.targets],
                  workspace, env, lock, stopping)
            step("experiment")
        _call([sys.executable, "-m", "dvc", "exp", "push", "--no-cache", "origin", run.name], workspace, env, lock,
              stopping)
        step("push")
        record.update(state="done")
    except Interrupted:
        record.update(state="stopped", note="SIGTERM or Ctrl-C: cancelled, timed out or interrupted")
        raise
    except subprocess.CalledProcessError as error:
        record.update(state="failed", exit_code=error.returncode,
                      note=f"`{' '.join(error.cmd[2:5])}` exited with {error.returncode}")
        raise
    except BaseException as error:
        record.update(state="failed", note=f"{type(error).__name__}: {error}".splitlines()[0])
        raise
    finally:
        record["ended"] = time.time()
        write_json(record_path, record)


def _call(command: list[str], cwd: Path, env: dict, lock: int, stopping: Callable[[], None]) -> None:
    """Run `command` in a session of its own, its output into ours, holding the run's `lock`
    too (so that it stays held while DVC runs, should this task die first). On Interrupted:
    `stopping()`, SIGTERM to all of it (DVC and the stage it runs; under SLURM, which signals
    them itself, not again), GRACE_SECONDS through any further signal, then SIGKILL."""
    print(f"$ {' '.join(command[2:] if command[1] == '-m' else command)}  (in {cwd})", flush=True)
    child = None
    try:
        child = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True, pass_fds=(lock,))
        code = child.wait()
    except Interrupted:
        if child is not None:
            stopping()
            _end(child)
        raise
    if code != 0:
        raise subprocess.CalledProcessError(code, command)


def _end(child: subprocess.Popen) -> None:
    if "SLURM_JOB_ID" not in os.environ:  # SLURM signals every process of the task itself: once is enough
        os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while child.poll() is None and time.monotonic() < deadline:
        try:
            time.sleep(0.2)
        except Interrupted:  # SLURM and Ctrl-C may signal again: the grace goes on
            continue
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


# --- where the runs stand ---------------------------------------------------------------------


@dataclass
class RunState:
    run: Run
    state: str  # done | queued | running | failed | stopped | lost | not run
    host: str = ""
    log: str = ""
    detail: str = ""


def run_states(sweep: Sweep, queue: Callable[[Sweep], dict[int, str]], submitting: bool | None = None
               ) -> list[RunState]:
    """Each run's state: done when its experiment is in the repository; else as the
    scheduler's queue has it (`queue(sweep)`: run index -> queued | running, asked only when
    a run is not done); else running while a task holds the run's lock; else as its last
    attempt's task.json left it (running there, with no lock held: lost; queued there by a
    local submission: queued while one is `submitting`, by default while one holds the lock)."""
    done = [has_ref(sweep.repo, experiment_ref(sweep.baseline, run.name)) for run in sweep.runs]
    queued = queue(sweep) if not all(done) else {}
    submitting = lock_is_held(sweep.submit_lock) if submitting is None else submitting
    states = []
    for index, run in enumerate(sweep.runs):
        path = sweep.run_folder(run) / "task.json"
        record = json.loads(path.read_text()) if path.exists() else {}
        state = RunState(run, record.get("state", "not run"), record.get("host", ""), record.get("log") or "",
                         record.get("note", ""))
        if done[index]:
            state.state = "done"
        elif index in queued:
            state.state = queued[index]
        elif lock_is_held(sweep.run_folder(run) / "lock"):
            state.state = "running"
        elif state.state == "running":
            state.state, state.detail = "lost", "its task ended without a word: killed, out of time or its node lost"
        elif state.state == "queued" and not submitting:  # a local submission that ended before it
            state.state = "not run"
        states.append(state)
    return states


def to_submit(states: list[RunState]) -> list[int]:
    """The runs a resubmission runs: neither done nor queued or running."""
    return [index for index, state in enumerate(states) if state.state not in SETTLED]


def log_tail(path: str, lines: int) -> list[str]:
    """The last `lines` lines of a log, or why there are none."""
    if not path:
        return ["(no log recorded)"]
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as error:
        return [f"(log unreadable: {error})"]
    # Progress bars redraw with carriage returns: keep what each line showed last.
    return [line.rsplit("\r", 1)[-1] for line in text.splitlines()][-lines:]


# --- without a cluster: local processes, K at a time ------------------------------------------


def run_local(sweep: Sweep, indices: list[int], echo=print) -> list[int]:
    """Run the runs `indices` as local processes, `max_parallel` at a time, each into its own
    log; GPUs (when a task has some) dealt out from CUDA_VISIBLE_DEVICES (else 0, 1, ...).
    Returns the failed ones. The caller holds the sweep's submit lock throughout."""
    attempt = f"local-{len(sweep.submissions)}"
    sweep.submissions.append({"executor": "local", "job": attempt, "runs": indices, "at": time.time()})
    sweep.save()
    for index in indices:  # `facegan sweep status` shows them queued while this process lives
        write_json(sweep.run_folder(sweep.runs[index]) / "task.json", {"run": sweep.runs[index].name, "state": "queued"})
    gpus = sweep.resources.gpus_per_task
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if os.environ.get("CUDA_VISIBLE_DEVICES") \
        else [str(device) for device in range(gpus * sweep.resources.max_parallel)]
    slots = list(range(sweep.resources.max_parallel))
    children: dict[int, subprocess.Popen] = {}
    failed, stopping = [], False

    def one(index: int) -> None:
        slot = slots.pop()
        try:
            log = sweep.folder / "logs" / f"{index}-{attempt}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ",".join(visible[slot * gpus:(slot + 1) * gpus])}
                                    if gpus else {})}
            started = time.monotonic()
            with open(log, "w") as out:
                if stopping:
                    return
                children[index] = subprocess.Popen([str(FACEGAN), "sweep", "task", str(sweep.folder), str(index),
                                                    "--log", str(log)], stdout=out, stderr=subprocess.STDOUT, env=env)
                code = children[index].wait()
        finally:
            slots.append(slot)
        if code == 0:
            echo(f"{sweep.runs[index].name}: done in {time.monotonic() - started:.0f} s")
        else:
            failed.append(index)
            echo(f"{sweep.runs[index].name}: FAILED (exit {code}); its log: {log}")

    pool = ThreadPoolExecutor(sweep.resources.max_parallel)
    try:
        list(pool.map(one, indices))
    except Interrupted:
        stopping = True
        pool.shutdown(wait=False, cancel_futures=True)
        for child in list(children.values()):
            if child.poll() is None:
                child.terminate()  # each task passes it on to its DVC run and records "stopped"
        raise
    finally:
        pool.shutdown(wait=True)
    return failed


# --- gathered for `facegan compare` -----------------------------------------------------------


def sweep_runs(repo: Path, name: str, folder: Path | None = None):
    """The sweep's finished runs and its baseline commit, as `facegan compare` reads them
    (facegan.experiments.runs_table), and a line for each run that is not among them: no run
    leaves a silent gap."""
    from facegan import slurm
    from facegan.experiments import METRIC, exp_show, runs_table

    sweep = Sweep.load(sweep_folder(repo, name, folder))
    models = evaluated_models(reached_stages(sweep.targets, repo, _params(repo, sweep.baseline)))
    if not models:
        raise UserError(f"sweep {name}'s targets ({' '.join(sweep.targets)}) evaluate no model: its runs hold their "
                        f"baseline's metrics, so there is nothing to compare")
    table = runs_table(exp_show(sweep.baseline))
    table = table[table["baseline"] | table["name"].isin([run.name for run in sweep.runs])]
    kept = [column for column in table.columns
            if not column.startswith(METRIC) or column[len(METRIC):].split(".")[0] in models]
    table = table[kept]
    shown = set(table["name"])
    unknown = []

    def queue(plan: Sweep) -> dict[int, str]:  # the table needs no queue: without one, say so
        try:
            return slurm.queue(plan)
        except UserError as error:
            unknown.append(f"(which are queued or running is unknown: {error})")
            return {}

    missing = [state for state in run_states(sweep, queue) if state.run.name not in shown]
    if not missing:
        return table, []
    lines = [f"sweep {name}: {len(missing)} of its {len(sweep.runs)} runs are not in the table:", *unknown]
    for state in missing:
        why = state.state
        if state.state == "done":
            why = "done, but its experiment holds no metrics"
        elif state.log and state.state not in SETTLED:
            why += f"; log: {state.log}"
        lines.append(f"  {state.run.name} ({' '.join(state.run.overrides)}): {why}")
    lines.append(f"`facegan sweep status {name}` shows each one's last log lines")
    return table, lines
