"""Stage runs for the tests without an interpreter's start-up each (3 to 5 s of imports here,
more than a tiny stage's work): a server process imports torch and the library's stage code
once, then forks one child per run, which runs the stage script as `python stages/x.py ...`
would (as __main__, in its folder, with its environment, its own stdout and stderr, its exit
code). Each run is still a process of its own, made from an interpreter that has imported
modules and run nothing else. The children share the server's hash seed: that outputs are
the same bytes from any interpreter is checked where stages run under DVC (tests/
test_pipeline_dvc.py) or from another checkout (tests/test_export.py).

    python tests/stage_server.py    # reads one JSON request a line, answers {"returncode": n}
"""
from __future__ import annotations

import atexit
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

# torch._dynamo: what training imports when it starts (2 s here). Not facegan.export: onnxruntime
# starts a thread on import, and a child forked from a process with other threads can hang on a
# lock that one of them held.
PRELOADED = ("torch._dynamo", "facegan.pgan.train", "facegan.pgan.evaluate", "facegan.stargan.train",
             "facegan.stargan.classifier", "facegan.stargan.evaluate", "facegan.hifacegan.train",
             "facegan.hifacegan.evaluate", "facegan.data.celeba", "facegan.data.ffhq", "facegan.hifacegan.data",
             "facegan.stargan.data")


def serve() -> None:
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    control_in, control_out = sys.stdin, sys.stdout
    threads = int(Path("/proc/self/status").read_text().split("Threads:")[1].split()[0])
    if threads > 1:  # e.g. numpy's BLAS pool without OMP_NUM_THREADS=1: forking would not be safe
        control_out.write(json.dumps({"unavailable": f"{threads} threads after the imports"}) + "\n")
        return
    control_out.write(json.dumps({"ready": True}) + "\n")
    control_out.flush()
    for line in control_in:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run_child(request)
        _, status = os.waitpid(pid, 0)
        control_out.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        control_out.flush()


def _run_child(request: dict) -> None:
    """In the forked child: become `python argv...` in cwd with env. Never returns."""
    code: object = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, mode in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], os.O_WRONLY),
                               (2, request["stderr"], os.O_WRONLY)):
            opened = os.open(path, mode)
            os.dup2(opened, fd)
            os.close(opened)
        sys.argv = list(request["argv"])
        sys.path[0] = str(Path(sys.argv[0]).resolve().parent)  # as `python script` sets it
        runpy.run_path(sys.argv[0], run_name="__main__")
        code = 0
    except SystemExit as leaving:
        code = leaving.code
    except BaseException:
        traceback.print_exc()
    _leave(code)


def _leave(code: object) -> None:
    """Exit as the interpreter does (threads joined, atexit handlers run, SystemExit's code
    read the same way), without tearing down every module: that takes 2 s here, more than
    a tiny stage's work."""
    threading._shutdown()  # what the interpreter's exit runs first: joins the threads left running
    atexit._run_exitfuncs()
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


class StageServer:
    """The test process's end: one server, started on first use, one run at a time. None
    (the caller starts a process of its own) for a run asked for while another is in flight,
    from another thread, and for every run where the server cannot fork safely."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._unavailable = False
        self._lock = threading.Lock()
        self._scratch = Path(tempfile.mkdtemp(prefix="stage-runs-"))  # each run's stdout and stderr

    def run(self, argv: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess | None:
        """`argv` run by a forked child, or None."""
        if self._unavailable or not self._lock.acquire(blocking=False):
            return None
        try:
            if self._process is None:
                self._process = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                                 stdout=subprocess.PIPE, text=True, env=env)
                if "unavailable" in json.loads(self._process.stdout.readline() or '{"unavailable": 1}'):
                    self._unavailable = True
                    return None
            out, err = self._scratch / "stdout", self._scratch / "stderr"
            for path in (out, err):
                path.write_text("")
            request = {"argv": argv, "cwd": str(cwd), "env": env, "stdout": str(out), "stderr": str(err)}
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            reply = self._process.stdout.readline()
            if not reply:
                raise RuntimeError(f"the stage server ended (exit code {self._process.wait()})")
            return subprocess.CompletedProcess(argv, json.loads(reply)["returncode"], out.read_text(),
                                               err.read_text())
        finally:
            self._lock.release()

    def close(self) -> None:
        if self._process is not None:
            self._process.stdin.close()
            self._process.wait()
        shutil.rmtree(self._scratch, ignore_errors=True)


if __name__ == "__main__":
    serve()
