"""Sweeps (facegan.sweep, facegan.slurm): the grid and its seeds, each run's state, and real
sweeps end to end: local processes, and a one-node SLURM cluster started from Debian's
packages, with a task cancelled mid-run and resumed from its checkpoint by a resubmission."""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import facegan.sweep
from conftest import FACEGAN, REPO, built_once, checkpoint_iteration, evaluated_repo, run_in, tiny_params_dict
from facegan import pipeline
from facegan.errors import UserError
from facegan.slurm import array_spec, sbatch_command
from facegan.sweep import (Resources, Run, Sweep, evaluated_models, expand_runs, experiment_ref, held, parse_seeds,
                           plan_sweep, point_to, reached_stages, run_states, run_task, seed_keys, sweep_folder,
                           to_submit)
from slurm_cluster import ClusterUnavailable, one_node_cluster

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


# --- the grid ---------------------------------------------------------------------------------


def test_seeds_as_ranges_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,5") == [0, 2, 5]
    assert parse_seeds("0-1,7") == [0, 1, 7]
    for bad in ("4-0", "a", "1,1", "0-"):
        with pytest.raises(UserError, match="--seeds"):
            parse_seeds(bad)


def test_grid_times_seeds_as_dvc_expands_it():
    runs = expand_runs("lr", ["lr=0.002,0.003"], [0, 1], ["pgan.train.seed"], gpus_per_task=0)
    assert runs == (Run("lr-0", ("lr=0.002", "pgan.train.seed=0")), Run("lr-1", ("lr=0.002", "pgan.train.seed=1")),
                    Run("lr-2", ("lr=0.003", "pgan.train.seed=0")), Run("lr-3", ("lr=0.003", "pgan.train.seed=1")))
    # Hydra's range(), as `dvc exp run --queue -S` takes it; a plain setting without seeds
    assert [run.overrides for run in expand_runs("r", ["pgan.train.seed=range(0,3)"], [], [], 0)] == [
        ("pgan.train.seed=0",), ("pgan.train.seed=1",), ("pgan.train.seed=2",)]
    both = expand_runs("s", ["lr=0.002"], [3], ["pgan.train.seed", "stargan.train.seed"], 0)
    assert both[0].overrides == ("lr=0.002", "pgan.train.seed=3", "stargan.train.seed=3")


def test_grid_refuses_what_contradicts_itself():
    with pytest.raises(UserError, match="--seeds sets too"):
        expand_runs("x", ["pgan.train.seed=1,2"], [0], ["pgan.train.seed"], 0)
    with pytest.raises(UserError, match="disagrees with --gpus-per-task 2"):
        expand_runs("x", ["compute.nproc=1"], [], [], gpus_per_task=2)
    with pytest.raises(UserError, match="-S lr=0.1,,"):
        expand_runs("x", ["lr=0.1,,"], [], [], 0)
    # GPUs per task set compute.nproc: one training process per GPU
    assert expand_runs("g", ["lr=0.002"], [], [], gpus_per_task=4)[0].overrides == ("lr=0.002", "compute.nproc=4")


def test_seeds_reach_only_the_models_the_targets_train():
    def keys(*targets):
        return seed_keys(reached_stages(targets, REPO, PARAMS))

    assert keys("evaluate_pgan") == ["pgan.train.seed"]
    assert keys("train_pgan@8") == ["pgan.train.seed"]
    assert keys("evaluate_stargan") == ["stargan.train.seed"]  # its classifier's seed is the judge's, not the run's
    assert keys("train_hifacegan", "train_pgan") == ["pgan.train.seed", "hifacegan.train.seed"]
    assert keys() == ["pgan.train.seed", "stargan.train.seed", "hifacegan.train.seed"]
    with pytest.raises(UserError, match="no stage 'train_gan'"):
        keys("train_gan")
    assert evaluated_models(reached_stages(("evaluate_pgan",), REPO, PARAMS)) == {"pgan", "pgan.details"}
    assert evaluated_models(reached_stages(("train_pgan",), REPO, PARAMS)) == set()


def test_upstream_follows_outputs_to_the_stages_that_write_them():
    every = pipeline.stages(PARAMS)
    scales = [f"train_pgan@{key}" for key in PARAMS["pgan"]["scales"]]
    assert pipeline.upstream(["evaluate_pgan"], every) == {
        "evaluate_pgan", *scales, "train_pgan_init", "prepare_celeba", "download_celeba", "download_weights"}
    assert pipeline.upstream(["train_pgan@8"], every) == {
        "train_pgan@8", "train_pgan@4", "train_pgan_init", "prepare_celeba", "download_celeba"}


def test_array_and_resources_as_sbatch_takes_them(tmp_path):
    assert array_spec([0, 1, 2, 3, 6], 2) == "0-3,6%2"
    assert array_spec([5], 1) == "5%1"
    assert array_spec([4, 1, 2, 9, 10], 3) == "1-2,4,9-10%3"
    sweep = Sweep("lr", tmp_path, tmp_path, "a" * 40, (), (), "cache",
                  Resources(max_parallel=3, cpus_per_task=8, gpus_per_task=2, partition="gpu", time="2-00:00:00",
                            sbatch_args=("--account=vision",)))
    command = sbatch_command(sweep, [0, 2])
    for option in ("--array=0,2%3", "--cpus-per-task=8", "--gres=gpu:2", "--partition=gpu", "--time=2-00:00:00",
                   "--account=vision", "--requeue", "--job-name=facegan-lr", f"--output={tmp_path}/logs/%a-%A.log"):
        assert option in command
    script = (tmp_path / "job.sh").read_text()
    assert command[-1] == str(tmp_path / "job.sh") and f"sweep task {tmp_path} \"$SLURM_ARRAY_TASK_ID\"" in script


# --- where runs stand -------------------------------------------------------------------------


@pytest.fixture
def small_repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "params.yaml").write_text("lr: 0.002\n")
    (repo / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python train.py\n    params: [lr]\n    outs: [model]\n")
    run_in("git", "init", "-q", cwd=repo)
    run_in("dvc", "init", "-q", cwd=repo)
    run_in("git", "add", "-A", cwd=repo)
    run_in("git", "commit", "-qm", "baseline", cwd=repo)
    return repo


def _sweep(repo: Path, runs: int) -> Sweep:
    baseline = run_in("git", "rev-parse", "HEAD", cwd=repo).strip()
    return Sweep("s", repo / "sweep", repo, baseline, (), tuple(Run(f"s-{i}", (f"lr={i}",)) for i in range(runs)),
                 "cache")


def _record(sweep: Sweep, index: int, record: dict) -> None:
    (sweep.run_folder(sweep.runs[index])).mkdir(parents=True, exist_ok=True)
    (sweep.run_folder(sweep.runs[index]) / "task.json").write_text(json.dumps(record))


def test_each_state_and_what_a_resubmission_runs(small_repo):
    sweep = _sweep(small_repo, 8)
    run_in("git", "update-ref", experiment_ref(sweep.baseline, "s-0"), sweep.baseline, cwd=small_repo)  # pushed
    _record(sweep, 2, {"state": "failed", "exit_code": 1, "note": "`dvc exp run` exited with 1", "log": "l2",
                       "host": "n1"})
    _record(sweep, 3, {"state": "stopped", "note": "SIGTERM", "log": "l3", "host": "n1"})
    _record(sweep, 4, {"state": "running", "host": "n2", "log": "l4"})  # no task holds its lock
    _record(sweep, 5, {"state": "running", "host": "n2", "log": "l5"})
    _record(sweep, 6, {"state": "queued"})  # by a local submission
    queue = {1: "running", 3: "queued"}  # s-3 was requeued since it stopped
    with held(sweep.run_folder(sweep.runs[5]) / "lock", "a task"):  # one runs s-5, on some node
        states = run_states(sweep, lambda _: queue, submitting=False)
        assert run_states(sweep, lambda _: queue, submitting=True)[6].state == "queued"
    assert [state.state for state in states] == ["done", "running", "failed", "queued", "lost", "running",
                                                 "not run", "not run"]
    assert states[2].detail == "`dvc exp run` exited with 1" and states[2].log == "l2" and states[2].host == "n1"
    assert "killed, out of time or its node lost" in states[4].detail
    assert to_submit(states) == [2, 4, 6, 7]
    assert run_states(sweep, lambda _: queue)[6].state == "not run"  # no submission holds the sweep's lock
    everything_done = _sweep(small_repo, 1)
    run_in("git", "update-ref", experiment_ref(everything_done.baseline, "s-0"), everything_done.baseline,
           cwd=small_repo)
    assert run_states(everything_done, lambda _: pytest.fail("asked the queue with every run done"))[0].state == "done"


def test_one_task_a_run(small_repo, monkeypatch):
    """A second task for a run that one runs fails at once and leaves the first one's record."""
    sweep = _sweep(small_repo, 1)
    sweep.save()
    _record(sweep, 0, {"state": "running", "host": "n1"})
    monkeypatch.setattr(facegan.sweep, "LOCK_WAIT", 0.5)
    with held(sweep.run_folder(sweep.runs[0]) / "lock", "the first task"):
        with pytest.raises(UserError, match="run s-0 is running in another task"):
            run_task(sweep.folder, 0)
    assert json.loads((sweep.run_folder(sweep.runs[0]) / "task.json").read_text()) == {"state": "running",
                                                                                    "host": "n1"}


def test_a_sweep_starts_only_from_a_commit_and_keeps_its_runs(small_repo, tmp_path):
    (small_repo / "params.yaml").write_text("lr: 0.003\n")
    with pytest.raises(UserError, match="not in it:\n M params.yaml\ncommit them"):
        plan_sweep(small_repo, "s", ["lr=1,2"], [], (), {})
    run_in("git", "checkout", "--", "params.yaml", cwd=small_repo)
    with pytest.raises(UserError, match="sweep name 'a b'"):
        plan_sweep(small_repo, "a b", ["lr=1,2"], [], (), {})
    with pytest.raises(UserError, match="sweep s is new: give its settings"):
        plan_sweep(small_repo, "s", [], [], (), {})
    with pytest.raises(UserError, match="--sbatch-arg --job-name=x: the sweep sets that option itself"):
        plan_sweep(small_repo, "s", ["lr=1,2"], [], (), {"sbatch_args": ("--qos=low", "--job-name=x")})
    planned = plan_sweep(small_repo, "s", ["lr=1,2"], [], (), {"max_parallel": 3})
    assert [run.overrides for run in planned.runs] == [("lr=1",), ("lr=2",)]
    assert planned.cache_dir == str(small_repo / ".dvc/cache") and planned.folder == small_repo / ".dvc/tmp/sweeps/s"
    assert run_in("git", "rev-parse", "refs/sweeps/s", cwd=small_repo).strip() == planned.baseline  # kept reachable
    planned.save()
    with pytest.raises(UserError, match="sweep s exists with other runs"):
        plan_sweep(small_repo, "s", ["lr=1,3"], [], (), {})
    with pytest.raises(UserError, match="GPUs per task cannot change"):
        plan_sweep(small_repo, "s", [], [], (), {"gpus_per_task": 2})
    again = plan_sweep(small_repo, "s", [], [], (), {"time": "1:00:00"})  # a resubmission may change resources
    assert again.runs == planned.runs and again.resources == Resources(max_parallel=3, time="1:00:00")
    run_in("git", "commit", "-qm", "later", "--allow-empty", cwd=small_repo)
    with pytest.raises(UserError, match="sweep s started from .*, and HEAD is now"):
        plan_sweep(small_repo, "s", ["lr=1,2"], [], (), {})
    assert plan_sweep(small_repo, "s", [], [], (), {}).baseline == planned.baseline  # a resubmission: still the same
    run_in("git", "update-ref", experiment_ref(run_in("git", "rev-parse", "HEAD", cwd=small_repo).strip(), "t-1"),
           "HEAD", cwd=small_repo)
    with pytest.raises(UserError, match="experiments t-1 of HEAD exist already"):
        plan_sweep(small_repo, "t", ["lr=1,2"], [], (), {})
    elsewhere = plan_sweep(small_repo, "u", ["lr=1"], [], (), {}, folder=tmp_path / "scratch")
    point_to(small_repo, elsewhere)
    assert sweep_folder(small_repo, "u") == tmp_path / "scratch"  # status and compare find it without --folder


# --- real sweeps ------------------------------------------------------------------------------


def _sweep_params() -> dict:
    """Tiny params whose last scale trains long enough (300 iterations, a checkpoint every
    10) to be cancelled in the middle."""
    params = tiny_params_dict(16)
    params["pgan"]["scales"]["16"]["iterations"] = 300
    return params


@pytest.fixture
def baseline(tmp_path_factory, tmp_path) -> Path:
    """A project repository on tiny params whose baseline commit holds its PGAN evaluation
    (made once, copied for each test)."""
    built = built_once(tmp_path_factory, "sweep-baseline", lambda folder: evaluated_repo(folder, _sweep_params()))
    return shutil.copytree(built, tmp_path / "repo", symlinks=True)


def _facegan(*args: str, cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(FACEGAN), *args], cwd=cwd, env={**(env or os.environ), "COLUMNS": "120"},
                            capture_output=True, text=True)
    if check:
        assert result.returncode == 0, f"facegan {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _wait(condition, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.5)


@pytest.mark.slow
def test_local_sweep_fails_visibly_and_resubmits_only_the_failed_run(baseline):
    """Without a cluster: two runs as local processes at once, one with a param its stage
    refuses. The failure is its log's last lines, and a resubmission runs it alone again."""
    args = ("sweep", "submit", "bad", "train_pgan@4", "-S", "pgan.train.gp_weight=10,-1", "--executor", "local")
    first = _facegan(*args, cwd=baseline, check=False)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "running 2 run(s) (bad-0, bad-1) here, 2 at a time" in first.stdout
    assert re.search(r"bad-0: done in \d+ s", first.stdout)
    assert re.search(r"bad-1: FAILED \(exit \d+\)", first.stdout)
    status = _facegan("sweep", "status", "bad", cwd=baseline).stdout
    assert re.search(r"bad-0 +pgan.train.gp_weight=10 +done", status)
    assert re.search(r"bad-1 +pgan.train.gp_weight=-1 +failed", status)
    assert re.search(r"\| .*pgan.train.gp_weight = -1(\.0)?: must be >= 0.0", status), status
    assert "bad-1 failed: `dvc exp run` exited with" in status
    assert "bad-0" in run_in("git", "for-each-ref", "refs/exps", cwd=baseline)  # pushed to the repository
    again = _facegan("sweep", "submit", "bad", cwd=baseline, check=False)
    assert "running 1 run(s) (bad-1) here" in again.stdout and again.returncode == 1
    compared = _facegan("compare", "--sweep", "bad", cwd=baseline, check=False)
    assert compared.returncode == 2 and "evaluate no model" in compared.stderr


@pytest.mark.slow
def test_sweep_on_a_real_slurm_cluster(baseline, tmp_path):
    """2 settings x 2 seeds, 2 tasks at a time, on a one-node SLURM cluster. One task is
    cancelled mid-run; the resubmission runs that one alone and resumes it from its working
    checkpoint; `facegan compare --sweep` then sees all four runs."""
    cluster = contextlib.ExitStack()
    try:
        env = cluster.enter_context(one_node_cluster(tmp_path / "slurm"))
    except ClusterUnavailable as why:
        if os.environ.get("FACEGAN_REQUIRE_SLURM"):
            pytest.fail(f"SLURM is required here (FACEGAN_REQUIRE_SLURM) and did not start: {why}")
        pytest.skip(str(why))
    with cluster:
        submitted = _facegan("sweep", "submit", "grid", "evaluate_pgan", "-S", "lr=0.002,0.004", "--seeds", "0-1",
                             "--max-parallel", "2", cwd=baseline, env=env).stdout
        job = re.search(r"as SLURM job array (\d+), 2 at a time", submitted).group(1)
        print(submitted, subprocess.run(["squeue"], env=env, capture_output=True, text=True).stdout)
        sweep = Sweep.load(baseline / ".dvc/tmp/sweeps/grid")
        work = sweep.run_folder(sweep.runs[1]) / "workspace/data/pgan/16/work/checkpoint.pt"
        _wait(lambda: checkpoint_iteration(work) >= 10, "grid-1's first checkpoint at 16 px")
        print(subprocess.run(["squeue"], env=env, capture_output=True, text=True).stdout)
        subprocess.run(["scancel", f"{job}_1"], env=env, check=True)
        cancelled_at = checkpoint_iteration(work)
        print(f"scancel {job}_1 at iteration {cancelled_at}")

        def status() -> str:
            return _facegan("sweep", "status", "grid", cwd=baseline, env=env).stdout

        _wait(lambda: " queued " not in status() and " running " not in status(), "the other runs")
        stopped = status()
        assert re.search(r"grid-1 +lr=0.002 pgan.train.seed=1 +stopped", stopped) and "3 done, 1 stopped" in stopped
        assert cancelled_at < 300
        again = _facegan("sweep", "submit", "grid", cwd=baseline, env=env).stdout
        assert "submitted 1 run(s) (grid-1)" in again
        _wait(lambda: "4 done" in status(), "the resubmitted run")
        print(stopped, again, status())
        log = Path(re.search(r"grid-1 .* done +\S+ +(\S+)", status()).group(1)).read_text()
        resumed = int(re.search(r"resuming scale 16 from iteration (\d+)", log).group(1))
        assert resumed >= cancelled_at and f"'trained_now': {300 - resumed}" in log
        assert "nothing to submit (4 done, 0 queued or running)" in _facegan(
            "sweep", "submit", "grid", cwd=baseline, env=env).stdout
        record = json.loads((sweep.run_folder(sweep.runs[1]) / "task.json").read_text())
        assert record["slurm"]["array_task_id"] == "1" and record["state"] == "done"

    # all four are done: `compare` needs no queue (the cluster is gone)
    table = _facegan("compare", "--sweep", "grid", "--model", "pgan", cwd=baseline)
    print(table.stdout)
    assert table.stderr == ""  # no run missing
    assert "A (baseline): 3 run(s), lr=0.002" in table.stdout and "B: 2 run(s), lr=0.004" in table.stdout
    # seed 0 at lr 0.002 is the baseline's own model, restored by DVC's run cache: counted once
    assert re.search(r"pgan.swd.avg +A +\S+ ± \S+ \(2\)\n +B +\S+ ± \S+ \(2\) ", table.stdout), table.stdout
