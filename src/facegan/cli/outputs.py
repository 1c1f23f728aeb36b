"""Where the `facegan` commands write: one `--out` rule, checked before any model loads, and
a folder of outputs that an interrupt leaves holding complete files only, which a rerun
finishes.

Light on purpose (no torch): the commands check their paths with it before they import
the heavy code.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence, TypeVar

from facegan.errors import Interrupted, UserError
from facegan.images import IMAGE_FORMATS

K = TypeVar("K")

OUT_RULE = ("a path ending in / or an existing folder: one PNG per image is written into it, and files already "
            "there are kept (a rerun finishes an interrupted one; --overwrite writes them again); any other path "
            "is the one file to write: PNG for .png, JPEG (quality 95) for .jpg or .jpeg")


def output_paths(out: str, names: Sequence[str], option: str = "--out",
                 formats: Mapping[str, str] = IMAGE_FORMATS) -> list[Path]:
    """The paths `names` are written to under OUT_RULE; raises, before any work is done, for
    a path that cannot take them: an existing file used as a folder, a folder where a file
    is to go, a file path for several images, an extension with no known format, a parent
    that is a file."""
    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir():
        if path.exists() and not path.is_dir():
            raise UserError(f"{option} {out}: {path} is an existing file, not a folder: give a folder path "
                            "(one that does not exist yet is made)")
        _check_parents(path, option, out)
        paths = [path / name for name in names]
        folders = [target.name for target in paths if target.is_dir()]
        if folders:
            raise UserError(f"{option} {out}: {path} holds folders named as the files to write "
                            f"({', '.join(folders[:3])}): move them, or write into another folder")
        return paths
    if len(names) != 1:
        raise UserError(f"{option} {out} is a file path, but there are {len(names)} images to write: "
                        "end it with / to write them into a folder")
    if path.suffix.lower() not in formats:
        raise UserError(f"{option} {out}: a file name must end in {' or '.join(formats)} (the format written), "
                        "or end the path with / to write into a folder")
    _check_parents(path.parent, option, out)
    return [path]


def _check_parents(folder: Path, option: str, out: str) -> None:
    """The nearest existing folder on the way to `folder` must be a folder, not a file."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{option} {out}: {parent} is an existing file, so nothing can be written under it")
            return


def photo_targets(photos: Sequence[Path], out: str, option: str = "--out") -> dict[Path, Path]:
    """{photo: where its output goes} under OUT_RULE: in a folder, the photo's name as PNG."""
    return dict(zip(photos, output_paths(out, [f"{path.stem}.png" for path in photos], option)))


def still_to_write(targets: Mapping[K, Sequence[Path]], overwrite: bool, out: str) -> tuple[list[K], str]:
    """The keys of `targets` whose files are not all there yet (all with `overwrite`), and a
    line for the user about the ones kept ("" when none). Files written by this module are
    complete or absent, so a present file is a finished one."""
    if overwrite or len(targets) <= 1:  # one named file is simply replaced
        return list(targets), ""
    todo = [key for key, paths in targets.items() if not all(Path(path).exists() for path in paths)]
    kept = len(targets) - len(todo)
    if not kept:
        return todo, ""
    if not todo:
        return todo, f"all {kept} output(s) are in {out} already: nothing to do (--overwrite writes them again)"
    return todo, (f"kept {kept} of {len(targets)} output(s) already in {out}, writing the other {len(todo)} "
                  "(--overwrite writes them all again)")


@contextmanager
def reporting_interrupts(targets: Mapping[K, Sequence[Path]]) -> Iterator[None]:
    """Ctrl-C or SIGTERM inside the block becomes an Interrupted error that says how many of
    `targets` (each output's files) are complete on disk: the one line `run_cli` prints.
    Counted on disk, not as written, as an interrupt can come between a rename and the count."""
    try:
        yield
    except Interrupted:
        done = sum(all(Path(path).exists() for path in paths) for paths in targets.values())
        raise Interrupted(f"interrupted: {done} of {len(targets)} written (complete files), "
                          "rerun to finish") from None
