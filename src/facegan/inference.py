"""Running trained models: a network from a train stage's `model.pt` or from an export's
`generator.pt2`, and what the user commands and the evaluate stages do with it (generate,
edit, restore), one module per model.

Training code is never imported here: a network is rebuilt from the architecture its
checkpoint records (`config`), with the builders in `facegan.models`.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.export.passes import move_to_device_pass

from facegan.checkpoint import CheckpointError, load_checkpoint, missing_file
from facegan.errors import UserError, cause


@dataclass(frozen=True)
class InputSpec:
    """One input of a generator as its user feeds it."""

    name: str
    shape: tuple[int, ...]  # without the batch axis
    description: str


@dataclass(frozen=True)
class TrainedModel:
    """A network in inference mode and what its checkpoint or export says about it."""

    network: nn.Module  # a PyTorch module, or an ExportedGenerator
    config: dict  # the architecture, as the checkpoint records it
    iterations: int
    fingerprint: str  # of the inputs the checkpoint was trained from
    choice: dict | None = None  # how the weights were chosen among snapshots (HiFaceGAN), when they were


def from_checkpoint(path: Path, build: Callable[[dict], nn.Module], weights: str, stage: str | None) -> TrainedModel:
    """The network that `build(config)` makes, with the checkpoint's `weights` entry (e.g.
    "G_ema"). `stage`: the DVC stage that writes `path`, for an error's fix; None for a
    user's own file, which an error only describes."""
    checkpoint = load_checkpoint(path, f"`dvc repro {stage}`" if stage else None)
    try:
        network = build(checkpoint["config"])
        network.load_state_dict(checkpoint[weights])
        return TrainedModel(network.eval(), checkpoint["config"], checkpoint.get("iteration", 0),  # pgan init: none
                            checkpoint["fingerprint"], checkpoint.get("choice"))
    except (KeyError, RuntimeError, TypeError) as error:  # a checkpoint of another model or version
        what = f"a {stage} model.pt" if stage else "a checkpoint of this command's model"
        raise CheckpointError(f"{path} is not {what} ({type(error).__name__}: {error})") from error


class ExportedGenerator(nn.Module):
    """The module of a torch.export program, as inference code uses a network. The program
    was exported in inference mode and holds that mode's graph: train() and eval() (which
    the exported module refuses) only set the flag."""

    def __init__(self, program: torch.export.ExportedProgram):
        super().__init__()
        self.graph_module = program.module()

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.graph_module(*inputs)

    def train(self, mode: bool = True) -> "ExportedGenerator":
        self.training = mode
        return self


RECORD_FILE = "facegan.json"  # the export's record, stored inside the .pt2 (torch.export.save's extra_files)


def from_export(path: Path, device: torch.device | str, stage: str | None) -> TrainedModel:
    """An exported `generator.pt2`, on `device`, described by the record it carries.
    `stage`: the DVC stage that writes `path`, for an error's fix; None for a user's file."""
    path = Path(path)
    if not path.exists():
        raise missing_file(path, f"`dvc repro {stage}`" if stage else None)
    record = {RECORD_FILE: ""}
    try:
        if not _is_pt2_archive(path):  # checked first: torch.export.load logs a traceback per refusal
            raise ValueError("not a torch.export archive")
        program = torch.export.load(path, extra_files=record)
        if not record[RECORD_FILE]:
            raise ValueError(f"no {RECORD_FILE} record inside: exported by an earlier facegan")
        info = json.loads(record[RECORD_FILE])
        fields = info["config"], info["iterations"], info["checkpoint_fingerprint"], info.get("choice")
    except (RuntimeError, ValueError, KeyError, zipfile.BadZipFile) as error:  # a damaged or foreign file
        fix = f"; run `dvc repro {stage}` again" if stage else ""
        raise CheckpointError(f"{path} cannot be read as a facegan export ({cause(error)}){fix}") from error
    return TrainedModel(ExportedGenerator(move_to_device_pass(program, torch.device(device))), *fields)


def _is_pt2_archive(path: Path) -> bool:
    """A zip archive with torch.export's format record (model.pt, also a zip, has none)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/archive_format") for name in archive.namelist())


def load_trained(path: Path, build: Callable[[dict], nn.Module], weights: str, device: torch.device | str,
                 stages: tuple[str, str], pipeline: bool = True) -> TrainedModel:
    """From a `.pt2` export, else from a model.pt; on `device`. `stages`: (train stage, export
    stage) of the model; `pipeline`: the file is the one they write, which an error may tell
    to rewrite, not a user's own, which an error only describes. A `.ts` (the TorchScript
    exports of earlier versions; torch.jit is deprecated) is refused with what writes its
    successor."""
    train_stage, export_stage = stages if pipeline else (None, None)
    suffix = Path(path).suffix
    if suffix == ".ts":
        raise UserError(f"{path} is a TorchScript export, which facegan no longer reads (torch.jit is "
                        f"deprecated): `dvc repro {stages[1]}` exports generator.pt2 in its place")
    if suffix == ".pt2":
        return from_export(path, device, export_stage)
    model = from_checkpoint(path, build, weights, train_stage)
    return replace(model, network=model.network.to(device))


@dataclass(frozen=True)
class ExportSpec:
    """What the export stage traces (`module`), its inputs, and the record written beside it."""

    module: nn.Module
    inputs: list[InputSpec]
    metadata: dict


def export_metadata(model: TrainedModel, name: str, params_fingerprint: str, **details) -> dict:
    """The record every export carries: which model, trained from what, for how long, and
    which snapshot it is when it was chosen among several."""
    chosen = {"choice": model.choice} if model.choice is not None else {}
    return {"model": name, "config": model.config, "params_fingerprint": params_fingerprint,
            "checkpoint_fingerprint": model.fingerprint, "iterations": model.iterations, **chosen, **details}
