"""Shared test helpers: tiny params that run the real stages in seconds."""
from __future__ import annotations

import ast
import atexit
import copy
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import yaml

from stage_server import StageServer

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
FIXTURES_ABSENT = "fixtures not present at"  # how every test that needs them starts its skip reason


# The longest tests here, minutes each. `make test` (pytest-xdist, --maxschedchunk 1) hands each
# worker two tests to start with, then one more each time it is down to one: so these go first,
# at every other place (the first and third start at once, on two workers), and the short tests
# last, so that no worker runs a long test alone at the end while the others wait.
LONGEST_FIRST = ("test_pipeline_dvc.py::", "test_hifacegan_learning.py::", "test_sweep.py::test_sweep_on_a_real_slurm")


def pytest_collection_modifyitems(items: list) -> None:
    """The longest tests first, each followed by a fast one; then the other slow tests, then
    the fast ones (each group in its own order)."""
    def longest(item) -> int | None:
        return next((i for i, name in enumerate(LONGEST_FIRST) if name in item.nodeid), None)

    longest_items = sorted((item for item in items if longest(item) is not None), key=longest)
    slow = [item for item in items if longest(item) is None and item.get_closest_marker("slow")]
    fast = [item for item in items if item.get_closest_marker("slow") is None]
    ordered = []
    for item in longest_items:
        ordered += [item, *fast[:1]]
        fast = fast[1:]
    items[:] = ordered + slow + fast


def pytest_terminal_summary(terminalreporter) -> None:
    """One line naming how many tests were skipped for want of the real CelebA and FFHQ
    samples (README, "Tests"), so that a clone without them knows what it did not test."""
    skipped = [report for report in terminalreporter.stats.get("skipped", [])
               if FIXTURES_ABSENT in str(getattr(report, "longrepr", ""))]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} test(s) skipped: the real CelebA and FFHQ samples are not at "
                                    f"{FIXTURES} (README, \"Tests\", says where they come from)", yellow=True)


def tiny_params_dict(resolution: int = 8) -> dict:
    """params.yaml cut down: a 64-image sample, narrow nets, a few dozen iterations per scale."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["celeba"].update(sample_count=64, resolution=resolution)
    params["pgan"]["model"].update(latent_dim=16, channels=[16, 16, 8, 8, 8, 8][: _depth(resolution)])
    params["pgan"]["train"].update(checkpoint_every=10, log_every=5, sample_grid=4)
    scales, prev = {}, "init"
    for index in range(_depth(resolution)):
        key = str(4 * 2**index)
        scales[key] = {"prev": prev, "iterations": 20, "fade_iterations": 10 if index else 0, "batch": 8, "lr": None}
        prev = key
    params["pgan"]["scales"] = scales
    params["eval"]["pgan"].update(num_images=32, batch=16, ms_ssim_pairs=8, swd_patches=16, swd_directions=16,
                                  fid_images=16)
    stargan = params["stargan"]
    stargan["data"].update(image_size=16, test_count=16)
    stargan["model"].update(g_conv_dim=8, d_conv_dim=8, g_repeat_num=2, d_repeat_num=3)
    stargan["train"].update(iterations=20, batch=8, decay_start=10, checkpoint_every=10, log_every=5, sample_images=4)
    stargan["classifier"].update(conv_dim=8, repeat_num=3, iterations=20, batch=8)
    params["eval"]["stargan"].update(batch=16, fid_images=16)
    params["data"]["ffhq"].update(sample_per_folder=2, sample_size=64)  # 20 train and 10 test faces
    params["hifacegan"]["data"].update(image_size=64, workers=1)
    params["hifacegan"]["model"].update(ngf=4, ndf=4, spade_hidden=8)
    params["hifacegan"]["train"].update(iterations=20, batch=2, decay_start=10, checkpoint_every=5, log_every=5,
                                        sample_images=4, snapshots=3, validation_images=4)
    params["eval"]["hifacegan"].update(batch=8, fid_images=8)
    params["weights"]["download"] = False  # tests never reach for the network
    return params


def _depth(resolution: int) -> int:
    return resolution.bit_length() - 2


def write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def run_in(*command: str, cwd: Path, columns: int | None = None, env: dict | None = None) -> str:
    """A command as a user runs it in a project repository (git identity set, the stages'
    `python` this one); its output; a failure shows both streams."""
    env = {
        **(env or os.environ),
        **({"COLUMNS": str(columns)} if columns else {}),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # stages call `python`
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "DVC_NO_ANALYTICS": "1",
    }  # fmt: skip
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def project_repo(destination: Path, params: dict) -> Path:
    """The project's files (as git sees them) in a fresh git repository at `destination`,
    with `params` as params.yaml, committed."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    write_params(destination / "params.yaml", params)
    run_in("git", "init", "-q", cwd=destination)
    run_in("git", "add", "-A", cwd=destination)
    run_in("git", "commit", "-qm", "tiny", cwd=destination)
    return destination


def evaluated_repo(destination: Path, params: dict) -> Path:
    """project_repo with its PGAN branch reproduced (`dvc repro evaluate_pgan`) and committed:
    a baseline that experiments of PGAN are compared with."""
    repo = project_repo(destination, params)
    run_in("dvc", "repro", "evaluate_pgan", cwd=repo)
    run_in("git", "add", "-A", cwd=repo)
    run_in("git", "commit", "-qm", "baseline", cwd=repo)
    return repo


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """The folder `name` that `build(folder)` fills, once in the test session whichever
    pytest-xdist worker asks first (the others wait for it). Shared: copy it to change it."""
    session = tmp_path_factory.getbasetemp()
    shared = session.parent if os.environ.get("PYTEST_XDIST_WORKER") else session  # the workers' common folder
    folder, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():  # a build that failed is tried again by the next test that asks
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(autouse=True, scope="session")
def empty_weights_cache(tmp_path_factory):
    """Every test (and every process it starts) sees its own empty weights cache, never
    the user's ~/.cache: tests that want weights put them there."""
    directory = tmp_path_factory.mktemp("weights-cache")
    previous = os.environ.get("FACEGAN_WEIGHTS_DIR")
    os.environ["FACEGAN_WEIGHTS_DIR"] = str(directory)
    yield directory
    if previous is None:
        del os.environ["FACEGAN_WEIGHTS_DIR"]
    else:
        os.environ["FACEGAN_WEIGHTS_DIR"] = previous


@pytest.fixture
def tiny_params():
    return copy.deepcopy(tiny_params_dict())


def kill_mid_run(*args: str, cwd: Path, work: Path, at_least: int, total: int, machines: int = 1) -> int:
    """Start a stage, SIGKILL it once its working checkpoint `work` has passed `at_least`
    iterations; the iteration the checkpoint holds afterwards. `machines` > 1 starts that
    many copies of the command, as the machines of one run would, and kills them all."""
    from facegan.training.loop import previous_checkpoint

    processes = [subprocess.Popen([sys.executable, str(REPO / "stages" / args[0]), *args[1:]], cwd=cwd,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(machines)]
    deadline = time.monotonic() + 120
    while checkpoint_iteration(work) < at_least:
        assert all(p.poll() is None for p in processes), "training ended before it could be killed"
        assert time.monotonic() < deadline, "no working checkpoint appeared"
        time.sleep(0.05)
    workers = [pid for p in processes for pid in child_pids(p.pid)]  # torchrun's, for several processes
    for process in processes:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    killed_by = time.monotonic() + 30
    while any(running(pid) for pid in workers):  # they die with it, and write nothing more
        assert time.monotonic() < killed_by, f"processes {workers} outlived their killed launcher"
        time.sleep(0.05)
    killed_at = checkpoint_iteration(work)  # killed between the two renames: the previous one is the last
    killed_at = killed_at if killed_at >= 0 else checkpoint_iteration(previous_checkpoint(work))
    assert at_least <= killed_at < total
    return killed_at


def checkpoint_iteration(work: Path) -> int:
    """The iteration of the working checkpoint `work`; -1 while there is none (a run renames
    the last one aside before it writes the next)."""
    from facegan.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(work)["iteration"]
    except CheckpointError:
        return -1


def free_endpoint() -> str:
    """host:port of a free port on 127.0.0.1, where test machines can meet."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


STAGE_SERVER = StageServer()
atexit.register(STAGE_SERVER.close)


def run_stage(*args: str, cwd: Path, check: bool = True, code: Path = REPO, **kwargs) -> subprocess.CompletedProcess:
    """Run a stage script as DVC would: a separate Python process in `cwd`, with the stage
    scripts, library and dvc.yaml of `code` (a checkout: this one, or an `edited_copy`).
    This checkout's stages run as children forked from tests/stage_server.py's process,
    which has imported the library once; another checkout's, or a run with subprocess
    options (`kwargs`), in a new interpreter."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **({"PYTHONPATH": str(code / "src")} if code != REPO else {})}
    argv = [sys.executable, str(code / "stages" / args[0]), *args[1:]]
    result = None if code != REPO or kwargs else STAGE_SERVER.run(argv[1:], cwd, env)
    if result is None:
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def edited_copy(destination: Path, edited: str) -> Path:
    """This checkout's code (stages/, src/facegan/, dvc.yaml) copied to `destination`, with a
    comment appended to the file `edited` (a path in the checkout): a code change, as DVC sees one."""
    for folder in ("stages", "src/facegan"):
        shutil.copytree(REPO / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "dvc.yaml", destination / "dvc.yaml")
    with open(destination / edited, "a") as handle:
        handle.write("# an edit\n")
    return destination


def check_resumes_only_the_same_inputs(args: tuple[str, ...], what: str, workdir: Path, tmp_path: Path,
                                       changes: dict[str, Callable[[], None] | None]) -> None:
    """The train stage `args`, run to the end in `workdir`, then run again: unchanged, it
    resumes its finished working checkpoint and trains nothing. Then each of `changes` in
    turn, {input as dvc.yaml names it: a function that changes it in `workdir`, or None for
    a code file, edited in a copy of the code that the later runs use}: each run trains afresh (all iterations) and
    says in one line that this input, and only it, changed since the last run."""
    first = run_stage(*args, cwd=workdir)
    total = _summary(first)["iterations"]
    again = run_stage(*args, cwd=workdir)
    assert f"resuming {what} from iteration {total}" in again.stderr and _summary(again)["trained_now"] == 0, again
    code = REPO
    for changed, change in changes.items():
        if change is None:
            code = edited_copy(tmp_path / "edited", changed)
        else:
            change()
        run = run_stage(*args, cwd=workdir, code=code)
        line = f"made from other {changed}; training {what} afresh"
        assert line in run.stderr and "resuming" not in run.stderr, (changed, run.stderr)
        assert _summary(run)["trained_now"] == total, (changed, run.stdout)


def _summary(run: subprocess.CompletedProcess) -> dict:
    """The dict a train stage prints last ("scale 8: {'iterations': 20, ...}")."""
    return ast.literal_eval(run.stdout.strip().splitlines()[-1].split(": ", 1)[1])


def perturb_array(path: Path) -> None:
    """One value of the .npy array at `path` changed in place (a prepared input made anew)."""
    import numpy as np

    array = np.load(path, mmap_mode="r+")
    array.flat[0] = 255 - array.flat[0]
    array.flush()


def perturb_model(path: Path) -> None:
    """One weight of the checkpoint at `path` (its generator's first tensor) moved."""
    from facegan.checkpoint import load_checkpoint, save_checkpoint

    checkpoint = load_checkpoint(path)
    first = next(iter(checkpoint["G"]))
    checkpoint["G"][first] = checkpoint["G"][first] + 1e-3
    save_checkpoint(path, checkpoint)


FACEGAN = Path(sys.executable).parent / "facegan"  # the installed command, as a user runs it


def write_photos(folder: Path, count: int, size: int = 24, seed: int = 0) -> Path:
    """`count` seeded noise photos (PNG, size x size) in `folder`: many small inputs, so that a
    command over them runs long enough to be interrupted."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{index:05d}.png")
    return folder


def complete_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def interrupt(command: list, folder: Path, cwd: Path | None = None, after: int = 1,
              also: Path | None = None) -> subprocess.CompletedProcess:
    """Run `command` and send SIGINT to its process group, as Ctrl-C in a terminal does, once
    `folder` (and `also`) holds `after` files; its result."""
    process = subprocess.Popen([str(part) for part in command], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while min(len(complete_files(path)) for path in (folder, also or folder)) < after:
        assert process.poll() is None, f"it ended before it could be interrupted: {process.communicate()}"
        assert time.monotonic() < deadline, "no output appeared"
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def interrupt_and_rerun(args: list, out: Path, total: int, cwd: Path | None = None, also: Path | None = None
                        ) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """`facegan ARGS`, interrupted with Ctrl-C mid-run, then run again: the interrupt leaves
    complete files only in `out` (and `also`, a second folder an output writes into), with
    no temporary file and no traceback, and says in one line how many outputs are complete
    (files of that name in both folders); the rerun keeps them and writes the rest. The two
    runs."""
    from PIL import Image

    folders = [out, *([also] if also else [])]
    stopped = interrupt([FACEGAN, *args], out, cwd, also=also)
    assert stopped.returncode == 130 and "Traceback" not in stopped.stderr, stopped.stderr
    names = [{p.name for p in complete_files(folder)} for folder in folders]
    complete = set.intersection(*names)
    assert stopped.stderr.splitlines()[-1] == (
        f"interrupted: {len(complete)} of {total} written (complete files), rerun to finish"), stopped.stderr
    assert 0 < len(complete) < total, "interrupted mid-run"
    for folder in folders:
        assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")], "no temporary file left"
        for path in complete_files(folder):
            Image.open(path).load()  # complete
    rerun = subprocess.run([str(part) for part in [FACEGAN, *args]], cwd=cwd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"kept {len(complete)} of {total} output(s) already in" in rerun.stderr, rerun.stderr
    assert all(len(complete_files(folder)) == total for folder in folders)
    return stopped, rerun
