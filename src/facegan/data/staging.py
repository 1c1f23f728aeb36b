"""Whole-folder atomic outputs: build a folder beside its final path, then rename it in.

A stage that is interrupted (Ctrl-C, out of memory, a full disk) leaves only a hidden
`.<name>.*.tmp` folder, never a half-filled output that the next stage would read.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yield an empty folder beside `final`; on success it replaces `final`, on error it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    os.chmod(staging, 0o755)  # mkdtemp makes it private; the output should read like any other folder
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace(staging, final)


def _replace(staging: Path, final: Path) -> None:
    """Swap `staging` in for `final`: the old folder is moved aside first, then deleted."""
    old = None
    if final.is_symlink() or final.is_file():
        final.unlink()
    elif final.exists():
        old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
        os.rename(final, old)
    os.rename(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
