"""Export a generator to TorchScript and ONNX, checked against PyTorch at export time.

Both exports are run (the ONNX graph with onnxruntime) on fresh random inputs at two
batch sizes other than the traced one (the batch axis is dynamic) and compared with the
PyTorch module; a mismatch beyond the tolerance fails the export instead of shipping a
wrong model. That check replaces torch.jit.trace's own, which traces the model a second
time.
"""
from __future__ import annotations

import io
import platform
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime
import torch

from facegan.errors import UserError
from facegan.inference import ExportSpec, InputSpec
from facegan.io import atomic_write_bytes, write_json


class ExportError(UserError):
    """The exported graph disagrees with the PyTorch module."""


def export_generator(spec: ExportSpec, out_dir: Path, name: str = "generator", tolerance: float = 1e-4,
                     seed: int = 0) -> dict:
    """Write `name`.ts (TorchScript), `name`.onnx and `name`.json (`spec.metadata` and the
    inputs) into out_dir, once both exports match the module; otherwise write nothing and
    raise ExportError."""
    module, inputs, metadata = spec.module.eval().cpu(), spec.inputs, spec.metadata
    out_dir = Path(out_dir)
    example = _random_inputs(inputs, batch=2, seed=seed)
    with torch.no_grad():
        torchscript, loaded = portable_torchscript(torch.jit.trace(module, example, check_trace=False))
    _fail_if_different("TorchScript", out_dir / f"{name}.ts", max_difference(
        lambda tensors: loaded(*tensors).numpy(), module, inputs, seed + 1), tolerance)

    onnx = io.BytesIO()
    dynamic = {spec.name: {0: "batch"} for spec in inputs} | {"images": {0: "batch"}}
    torch.onnx.export(
        module, example, onnx, dynamo=False, opset_version=17,
        input_names=[spec.name for spec in inputs], output_names=["images"], dynamic_axes=dynamic,
    )  # fmt: skip
    session = onnxruntime.InferenceSession(onnx.getvalue(), providers=["CPUExecutionProvider"])
    difference = max_difference(
        lambda tensors: session.run(["images"], {spec.name: t.numpy() for spec, t in zip(inputs, tensors)})[0],
        module, inputs, seed + 1)
    _fail_if_different("ONNX", out_dir / f"{name}.onnx", difference, tolerance)

    atomic_write_bytes(out_dir / f"{name}.ts", torchscript)
    atomic_write_bytes(out_dir / f"{name}.onnx", onnx.getvalue())
    info = {
        **metadata,
        "inputs": [{"name": s.name, "shape": ["batch", *s.shape], "description": s.description} for s in inputs],
        "output": {"name": "images", "layout": "NCHW RGB", "range": [-1.0, 1.0]},
        "onnx_max_abs_difference": difference,
        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
    }  # fmt: skip
    write_json(out_dir / f"{name}.json", info)
    return info


def portable_torchscript(module: torch.jit.ScriptModule) -> tuple[bytes, torch.jit.ScriptModule]:
    """`module`'s TorchScript archive, the same bytes from any checkout, and the module loaded
    from it. torch.jit.save maps every op to its source line by absolute path (this
    checkout's, the environment's) in .debug_pkl records, and derives the archive's id from
    them; saved, stripped of those records, loaded and saved again, the archive maps its
    ops into its own code instead."""
    first = io.BytesIO()
    torch.jit.save(module, first)
    stripped = io.BytesIO()
    with zipfile.ZipFile(first) as source, zipfile.ZipFile(stripped, "w") as target:
        for record in source.infolist():
            if not record.filename.endswith(".debug_pkl"):
                target.writestr(record, source.read(record))
    stripped.seek(0)
    loaded = torch.jit.load(stripped)
    archive = io.BytesIO()
    torch.jit.save(loaded, archive)
    return archive.getvalue(), loaded


def max_difference(exported: Callable[[tuple[torch.Tensor, ...]], np.ndarray], module: torch.nn.Module,
                   inputs: list[InputSpec], seed: int) -> float:
    """Largest absolute difference between an export (`exported`: input tensors -> output
    array) and the PyTorch module, at batch sizes 1 and 3."""
    worst = 0.0
    for batch in (1, 3):
        tensors = _random_inputs(inputs, batch, seed + batch)
        with torch.no_grad():
            expected = module(*tensors).numpy()
            worst = max(worst, float(np.abs(exported(tensors) - expected).max()))
    return worst


def _fail_if_different(kind: str, path: Path, difference: float, tolerance: float) -> None:
    if difference > tolerance:
        raise ExportError(f"{path}: {kind} output differs from PyTorch by {difference:.3g} (> {tolerance}); "
                          "nothing was written")


def _random_inputs(inputs: list[InputSpec], batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    rng = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, *spec.shape, generator=rng) for spec in inputs)
