"""The packed format every data stage writes: memory-mappable uint8 `.npy` arrays and, beside
them, a `manifest.json` of what went in (the sources' hashes, the transform, the kept and
skipped files). One writer and one reader of the manifest.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from facegan.errors import UserError
from facegan.io import write_json

MANIFEST = "manifest.json"


def write_manifest(folder: Path, manifest: dict) -> None:
    write_json(Path(folder) / MANIFEST, manifest)


def read_manifest(folder: Path, stage: str) -> dict:
    """The manifest of a folder that the data stage `stage` writes; a missing or unreadable
    one is an error that says to run that stage."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise UserError(f"{path} is missing: run the {stage} stage (dvc repro {stage}) first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path} cannot be read ({error}): run the {stage} stage (dvc repro {stage}) again") from error


def truncate_npy(path: Path, count: int) -> None:
    """Shrink a .npy file's first axis to `count` in place (a stage allocates for every
    listed image and keeps the readable ones).

    NumPy pads every header with room for a 21-digit first axis so that the shape can
    change without moving the data; the rewritten header must end where the old one did.
    """
    with open(path, "r+b") as handle:
        version = np.lib.format.read_magic(handle)
        if version != (1, 0):
            raise ValueError(f"{path}: expected a version 1.0 .npy header, found {version}")
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        data_offset = handle.tell()
        if shape[0] == count:
            return
        new_shape = (count, *shape[1:])
        handle.seek(0)
        np.lib.format.write_array_header_1_0(
            handle, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": new_shape}
        )
        if handle.tell() != data_offset:
            raise RuntimeError(f"{path}: the shrunk header moved the data ({handle.tell()} != {data_offset})")
        handle.truncate(data_offset + math.prod(new_shape) * dtype.itemsize)
