"""Everything a train stage reads, as one digest each: what a working checkpoint must have
been made from to be resumed.

The list is the stage's own in dvc.yaml (`facegan.pipeline`): its params keys, its code
(the stage script and every library file it loads: tests/test_stage_deps.py keeps them
exact) and its data (prepared arrays, the previous scale's model, weights). So a run never
resumes from a checkpoint made from other data, params, code or previous model, and a
stage cannot leave out an input that DVC re-runs it for.

One declared input is left out: the `compute` params. They say how a run computes
(processes, machines, memory format), not what it learns: batches are global and no random
draw depends on them, so a run killed in two processes resumes in one
(tests/test_pgan_stages.py).
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from facegan.digests import file_digest
from facegan.errors import UserError
from facegan.params import Loaded, fingerprint
from facegan.pipeline import ROOT, lookup, stage

NOT_INPUTS = ("compute",)
NOT_READ = "not read"  # a declared data dep that these params never open (VGG19 at lambda_vgg 0)


def stage_inputs(name: str, params: Loaded, data: Mapping[str, Path | None], root: Path = ROOT) -> dict[str, str]:
    """{input: digest} for the train stage `name` of dvc.yaml: each params key it declares
    (but `compute`), each code file, and each data dep, read at the path the command was
    given: `data` maps every data dep dvc.yaml declares to that path (None: these params do
    not read it)."""
    declared = stage(name, params, root)
    if set(data) != set(declared.data):
        raise ValueError(f"{name}: dvc.yaml declares the data deps {sorted(declared.data)}, the command gave "
                         f"{sorted(data)}: the two must name the same")
    inputs = {key: fingerprint(lookup(params, key)) for key in declared.params
              if key.split(".")[0] not in NOT_INPUTS}
    inputs |= {path: file_digest(root / path, "sha256") for path in declared.code}
    for dep, path in data.items():
        if path is not None and not Path(path).exists():
            raise UserError(f"{path} is missing: {name} reads it ({dep} in dvc.yaml); run the stages before it "
                            f"(dvc repro {name})")
        inputs[dep] = NOT_READ if path is None else path_digest(Path(path))
    return inputs


def path_digest(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's files (names and bytes, links followed)."""
    if not path.is_dir():
        return file_digest(path, "sha256")
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{file_digest(file, 'sha256')}\n".encode())
    return digest.hexdigest()


def changed_inputs(made_from: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """The inputs whose digest differs, or that only one of the two has, in `now`'s order."""
    return [key for key in {**now, **made_from} if made_from.get(key) != now.get(key)]


def describe_change(changed: list[str], shown: int = 3) -> str:
    """'data/prepared/celeba', 'lr, pgan.train and 2 more': a line's worth of names."""
    named = ", ".join(changed[:shown])
    return f"{named} and {len(changed) - shown} more" if len(changed) > shown else named
