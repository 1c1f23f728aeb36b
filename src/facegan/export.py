"""Export a generator to TorchScript and ONNX, checked against PyTorch at export time.

The ONNX graph is run with onnxruntime on fresh random inputs at two batch sizes (the
batch axis is dynamic) and compared with the PyTorch module; a mismatch beyond the
tolerance fails the export instead of shipping a wrong model.
"""
from __future__ import annotations

import io
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from facegan.errors import UserError
from facegan.io import atomic_write_bytes, write_json


class ExportError(UserError):
    """The exported graph disagrees with the PyTorch module."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]  # without the batch axis
    description: str


def export_generator(
    module: torch.nn.Module,
    inputs: list[InputSpec],
    out_dir: Path,
    name: str,
    metadata: dict,
    tolerance: float = 1e-4,
    seed: int = 0,
) -> dict:
    """Write `name`.ts (TorchScript), `name`.onnx and `name`.json into out_dir."""
    module = module.eval().cpu()
    out_dir = Path(out_dir)
    example = _random_inputs(inputs, batch=2, seed=seed)
    with torch.no_grad():
        traced = torch.jit.trace(module, example)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    atomic_write_bytes(out_dir / f"{name}.ts", buffer.getvalue())

    onnx_path = out_dir / f"{name}.onnx"
    tmp = out_dir / f".{name}.onnx.tmp"
    dynamic = {spec.name: {0: "batch"} for spec in inputs} | {"images": {0: "batch"}}
    torch.onnx.export(
        module, example, str(tmp), dynamo=False, opset_version=17,
        input_names=[spec.name for spec in inputs], output_names=["images"], dynamic_axes=dynamic,
    )  # fmt: skip
    os.replace(tmp, onnx_path)
    difference = check_onnx(onnx_path, module, inputs, seed=seed + 1)
    if difference > tolerance:
        raise ExportError(f"{onnx_path}: ONNX output differs from PyTorch by {difference:.3g} (> {tolerance})")
    info = {
        **metadata,
        "inputs": [{"name": s.name, "shape": ["batch", *s.shape], "description": s.description} for s in inputs],
        "output": {"name": "images", "layout": "NCHW RGB", "range": [-1.0, 1.0]},
        "onnx_max_abs_difference": difference,
        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
    }  # fmt: skip
    write_json(out_dir / f"{name}.json", info)
    return info


def check_onnx(onnx_path: Path, module: torch.nn.Module, inputs: list[InputSpec], seed: int) -> float:
    """Largest absolute difference between onnxruntime and PyTorch at batch sizes 1 and 3."""
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch in (1, 3):
        tensors = _random_inputs(inputs, batch, seed + batch)
        with torch.no_grad():
            expected = module(*tensors).numpy()
        feed = {spec.name: t.numpy() for spec, t in zip(inputs, tensors)}
        (actual,) = session.run(["images"], feed)
        worst = max(worst, float(np.abs(actual - expected).max()))
    return worst


def _random_inputs(inputs: list[InputSpec], batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    rng = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, *spec.shape, generator=rng) for spec in inputs)
