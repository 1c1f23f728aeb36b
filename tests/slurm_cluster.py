"""A one-node SLURM cluster for tests, from Debian's packages (slurm-wlm, munge): munged,
slurmctld and slurmd under a folder of their own, with a key, sockets, ports, state and logs
there, so nothing in /etc is touched. Stopped by their process ids when the test ends."""
from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from conftest import free_endpoint

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel")
INSTALL = "apt-get install slurm-wlm munge (make system-packages)"


class ClusterUnavailable(Exception):
    """Why SLURM cannot start here, in one line."""


def _free_port() -> int:
    return int(free_endpoint().rsplit(":", 1)[1])


def _config(folder: Path) -> str:
    host, user = socket.gethostname(), getpass.getuser()
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2
    return "\n".join([
        "ClusterName=facegan-test", f"SlurmctldHost={host}", f"SlurmUser={user}", f"SlurmdUser={user}",
        "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={folder / 'munge.socket'}",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'slurmd.log'}",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU", "ReturnToService=2", "MpiDefault=none",
        "KillWait=10",  # seconds between a cancelled task's SIGTERM and SIGKILL
        f"NodeName={host} CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""])


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stop(pid: int | None, wait: float = 15) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return lines[-1] if lines else f"{path.name} is empty"


@contextmanager
def one_node_cluster(folder: Path) -> Iterator[dict]:
    """Start the cluster under `folder`; yield the environment that reaches it (SLURM_CONF).
    Raises ClusterUnavailable, with the reason, where it cannot start."""
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        raise ClusterUnavailable(f"SLURM is not installed here (no {', '.join(missing)}): {INSTALL}")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # munged refuses a key or socket in a folder others may write
    for name in ("state", "spool"):
        (folder / name).mkdir(exist_ok=True)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o600)
    (folder / "slurm.conf").write_text(_config(folder))
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}
    try:
        _start(folder, env)
        yield env
    finally:
        subprocess.run(["scancel", f"--user={getpass.getuser()}"], env=env, capture_output=True)
        _wait_empty(env)
        for name in ("slurmd", "slurmctld", "munged"):
            _stop(_pid(folder / f"{name}.pid"))


def _start(folder: Path, env: dict) -> None:
    munged = subprocess.run(["munged", "--force", f"--key-file={folder / 'munge.key'}",
                             f"--socket={folder / 'munge.socket'}", f"--pid-file={folder / 'munged.pid'}",
                             f"--log-file={folder / 'munged.log'}", f"--seed-file={folder / 'munged.seed'}"],
                            capture_output=True, text=True)
    if munged.returncode != 0:
        raise ClusterUnavailable(f"munged did not start: {munged.stderr.strip() or _last_line(folder / 'munged.log')}")
    for daemon in ("slurmctld", "slurmd"):
        if subprocess.run([daemon], env=env, capture_output=True, text=True).returncode != 0:
            raise ClusterUnavailable(f"{daemon} did not start: {_last_line(folder / f'{daemon}.log')}")
    _wait_idle(folder, env)


def _wait_idle(folder: Path, env: dict, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "--noheader", "--format=%t"], env=env, capture_output=True, text=True)
        if state.stdout.strip() == "idle":
            return
        time.sleep(0.5)
    raise ClusterUnavailable(f"the node did not become idle in {timeout:.0f} s: {_last_line(folder / 'slurmd.log')}")


def _wait_empty(env: dict, timeout: float = 60) -> None:
    """Until SLURM holds no job (a stopped slurmd leaves its jobs' steps running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = subprocess.run(["squeue", "--noheader"], env=env, capture_output=True, text=True)
        if queued.returncode != 0 or not queued.stdout.strip():
            return
        time.sleep(0.5)
