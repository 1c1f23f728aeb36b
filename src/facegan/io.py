"""Atomic outputs: a file or a whole folder is built beside its final path and renamed in.

A crash (Ctrl-C, out of memory, a full disk) never leaves a half-written output where a
reader looks, only a hidden `.<name>.*.tmp` beside it; on an error that is removed.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from facegan.errors import interrupts_held


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: os.umask can only be read by setting it


@contextmanager
def staged(final: Path, folder: bool = False) -> Iterator[Path]:
    """Yield a new temporary path beside `final`: an empty folder with `folder`, else an
    empty file. When the block succeeds it replaces `final`; when it fails it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = None
    try:
        with interrupts_held():  # an interrupt while the temporary is made waits until it has a name
            temporary = _new_temporary(final, folder)
        yield temporary
        with interrupts_held():  # a folder's rename is two steps: never stop between them
            _replace(temporary, final)
    except BaseException:
        if temporary is None:
            pass
        elif temporary.is_dir() and not temporary.is_symlink():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise


def _new_temporary(final: Path, folder: bool) -> Path:
    """A new, empty, hidden file (or folder) beside `final`, with normal permissions."""
    prefix, suffix = f".{final.name}.", ".tmp"
    if folder:
        temporary = Path(tempfile.mkdtemp(dir=final.parent, prefix=prefix, suffix=suffix))
        os.chmod(temporary, 0o777 & ~_UMASK)  # mkdtemp makes it private: give it normal permissions
    else:
        fd, name = tempfile.mkstemp(dir=final.parent, prefix=prefix, suffix=suffix)
        os.close(fd)
        temporary = Path(name)
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600
    return temporary


def _replace(temporary: Path, final: Path) -> None:
    """Rename `temporary` over `final`. A new folder replaces an old one whole: the old one
    is moved aside first (a rename cannot replace a non-empty folder) and deleted after. A
    file never replaces a folder (os.replace raises IsADirectoryError): nothing is lost."""
    old = None
    if temporary.is_dir() and (final.is_symlink() or final.is_file()):
        final.unlink()  # a rename cannot put a folder over a file
    elif temporary.is_dir() and final.is_dir() and not final.is_symlink():
        old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
        os.rename(final, old)
    os.replace(temporary, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write` on a temporary file beside `path`, fsync it, then rename it over `path`."""
    with staged(path) as temporary, open(temporary, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda handle: handle.write(data))


def write_json(path: Path, obj: Any) -> None:
    """Write `obj` as indented JSON (sorted keys, trailing newline) atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(path, text.encode())
