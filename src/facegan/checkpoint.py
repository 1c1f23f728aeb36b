"""One checkpoint format for every model: tensors and plain Python values only, under the
keys `Checkpoint` declares.

Loads with `torch.load(weights_only=True)`, so a checkpoint from elsewhere cannot run
code. Written atomically (temporary file, fsync, rename): a crash never leaves a
half-written checkpoint where the next run would read it.
"""
from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch

from facegan.errors import UserError, cause
from facegan.io import atomic_write_bytes


class Checkpoint(TypedDict, total=False):
    """The keys of every checkpoint this project writes, beside which each network's and
    optimizer's state dict is stored flat under its part name ("G", "D", "G_ema", "C",
    "opt_G", ...). A train stage's model.pt holds MODEL_FIELDS and its networks; a working
    checkpoint adds "inputs", "seconds", "rng" and the optimizers; a HiFaceGAN snapshot holds
    "iteration" and "G"."""

    config: dict  # the architecture, which the model's `build_*` functions take
    fingerprint: str  # sha256 of `inputs`: everything the run was made from, in one
    choice: dict  # how the weights were chosen among snapshots (HiFaceGAN)
    iteration: int  # iterations trained (none in PGAN's untrained init: 0)
    inputs: dict  # {input: sha256} of each params key, code file and data dep the stage read: resume only from the same
    seconds: float  # training time so far
    rng: dict  # every random state (`rng_states`)


MODEL_FIELDS = ("config", "fingerprint", "choice", "iteration")  # what model.pt keeps beside its networks


class CheckpointError(UserError):
    """A checkpoint is missing, unreadable or from an incompatible run."""


def save_checkpoint(path: Path, state: Checkpoint | dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def missing_file(path: Path, writer: str | None) -> CheckpointError:
    """The error for a file that is not there. A pipeline file (`writer` names what writes
    it): run that, or, when the command runs outside the project, where the default paths
    mean nothing, go there. A user's own file (`writer` None): just that."""
    if writer is None:
        return CheckpointError(f"{path} not found")
    if not path.is_absolute() and not Path("dvc.yaml").exists():
        return CheckpointError(f"{path} not found: {Path.cwd()} is not the project folder (it has no dvc.yaml) and "
                               "the default paths are inside the project; run the command there, or give the file's "
                               "path (see --help)")
    return CheckpointError(f"{path} not found: run {writer} first")


def load_checkpoint(path: Path, writer: str | None = "the stage that writes it") -> Checkpoint:
    """The checkpoint at `path`; `writer` says, in an error, what makes the file (None: a
    user's own file, which an error describes and never tells them to delete)."""
    path = Path(path)
    if not path.exists():
        raise missing_file(path, writer)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        fix = f"delete it and run {writer} again" if writer else "the file is damaged or is not a facegan checkpoint"
        raise CheckpointError(f"checkpoint {path} cannot be read ({cause(error)}); {fix}") from error


def rng_states(generator: torch.Generator) -> dict[str, Any]:
    """Every random state a run draws from, as tensors and plain values."""
    _, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "generator": generator.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": position,
                  "has_gauss": has_gauss, "cached": cached},
        "python": random.getstate(),
    }  # fmt: skip


def restore_rng_states(states: dict[str, Any], generator: torch.Generator) -> None:
    generator.set_state(states["generator"])
    torch.set_rng_state(states["torch"])
    numpy = states["numpy"]
    keys = numpy["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, numpy["position"], numpy["has_gauss"], numpy["cached"]))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
