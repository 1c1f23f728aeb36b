"""Export a generator with torch.export (`.pt2`) and, from the same exported program, to
ONNX (torch.onnx's torch.export-based exporter), both checked against PyTorch at export
time.

The batch axis is dynamic: torch.export fails on a module whose graph depends on the
example's batch size. Both exports are then run (the ONNX graph with onnxruntime) on fresh
random inputs at two batch sizes other than the example's and compared with the PyTorch
module; a mismatch beyond the tolerance fails the export instead of shipping a wrong model.

The files are the same bytes from any checkout: the example inputs are seeded, and the
source locations torch.export records for each op (`stack_trace`, absolute paths of this
checkout and of the environment) are dropped before anything is saved or converted.
"""
from __future__ import annotations

import io
import json
import platform
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime
import torch
from torch.export import Dim, ExportedProgram

from facegan.errors import UserError, cause
from facegan.inference import RECORD_FILE, ExportSpec, InputSpec
from facegan.io import atomic_write_bytes, write_json

MAX_BATCH = 4096  # the batch axis' bound, recorded in the program: far above any batch that fits in memory here
OPSET = 20  # the ONNX opset torch 2.14's exporter writes by default, pinned: a torch upgrade does not change it unasked


class ExportError(UserError):
    """The module cannot be exported, or its export disagrees with it."""


def export_generator(spec: ExportSpec, out_dir: Path, name: str = "generator", tolerance: float = 1e-4,
                     seed: int = 0) -> dict:
    """Write `name`.pt2 (torch.export, carrying its record: `spec.metadata`, the inputs and
    the output), `name`.onnx and `name`.json (the record and the ONNX check, for people)
    into out_dir, once both exports match the module; otherwise write nothing and raise
    ExportError."""
    module, inputs, metadata = spec.module.eval().cpu(), spec.inputs, spec.metadata
    out_dir = Path(out_dir)
    record = {
        **metadata,
        "inputs": [{"name": s.name, "shape": ["batch", *s.shape], "description": s.description} for s in inputs],
        "output": {"name": "images", "layout": "NCHW RGB", "range": [-1.0, 1.0]},
        "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
    }  # fmt: skip
    example = _random_inputs(inputs, batch=2, seed=seed)
    program = exported_program(module, example, out_dir / f"{name}.pt2")
    pt2 = io.BytesIO()
    torch.export.save(program, pt2, extra_files={RECORD_FILE: json.dumps(record, indent=2, sort_keys=True)})
    loaded = torch.export.load(io.BytesIO(pt2.getvalue())).module()
    checks = module_outputs(module, inputs, seed + 1)
    with torch.no_grad():
        _fail_if_different("torch.export", out_dir / f"{name}.pt2", max_difference(
            lambda tensors: loaded(*tensors).numpy(), checks), tolerance)

    onnx_bytes = onnx_model(program, example, inputs)
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    difference = max_difference(
        lambda tensors: session.run(["images"], {spec.name: t.numpy() for spec, t in zip(inputs, tensors)})[0],
        checks)
    _fail_if_different("ONNX", out_dir / f"{name}.onnx", difference, tolerance)

    atomic_write_bytes(out_dir / f"{name}.pt2", pt2.getvalue())
    atomic_write_bytes(out_dir / f"{name}.onnx", onnx_bytes)
    info = {**record, "onnx_max_abs_difference": difference}
    write_json(out_dir / f"{name}.json", info)
    return info


def exported_program(module: torch.nn.Module, example: tuple[torch.Tensor, ...], path: Path) -> ExportedProgram:
    """`module` exported by torch.export with a dynamic batch axis on every input, without
    the source locations of its ops. `path`: the file it is for, named in an ExportError."""
    batch = Dim("batch", min=1, max=MAX_BATCH)
    try:
        with torch.no_grad():
            program = torch.export.export(module, example, dynamic_shapes=tuple({0: batch} for _ in example))
    except Exception as error:  # torch.export's refusals come in many types; the first line says which
        raise ExportError(f"{path}: torch.export cannot export the module with a dynamic batch "
                          f"({cause(error)}); nothing was written") from error
    for node in program.graph.nodes:
        node.meta.pop("stack_trace", None)
    return program


def onnx_model(program: ExportedProgram, example: tuple[torch.Tensor, ...], inputs: list[InputSpec]) -> bytes:
    """The serialized ONNX model of an exported program, inputs named as `inputs`, the
    output "images", the batch axis named "batch"."""
    converted = torch.onnx.export(program, example, dynamo=True, opset_version=OPSET, verbose=False,
                                  input_names=[spec.name for spec in inputs], output_names=["images"])
    model = converted.model_proto  # made anew at each access: edited and serialized as this one
    graph = model.graph
    symbol = graph.input[0].type.tensor_type.shape.dim[0].dim_param  # torch.export's name, e.g. "s68"
    for value in [*graph.input, *graph.output, *graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param == symbol:
                dim.dim_param = "batch"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def module_outputs(module: torch.nn.Module, inputs: list[InputSpec], seed: int
                   ) -> list[tuple[tuple[torch.Tensor, ...], np.ndarray]]:
    """Seeded random inputs at batch sizes 1 and 3 (neither the example's), each with the
    module's output: what every export is checked against, computed once."""
    checks = []
    for batch in (1, 3):
        tensors = _random_inputs(inputs, batch, seed + batch)
        with torch.no_grad():
            checks.append((tensors, module(*tensors).numpy()))
    return checks


def max_difference(exported: Callable[[tuple[torch.Tensor, ...]], np.ndarray],
                   checks: list[tuple[tuple[torch.Tensor, ...], np.ndarray]]) -> float:
    """Largest absolute difference between an export (`exported`: input tensors -> output
    array) and the module's outputs in `checks` (module_outputs)."""
    return max(float(np.abs(exported(tensors) - expected).max()) for tensors, expected in checks)


def _fail_if_different(kind: str, path: Path, difference: float, tolerance: float) -> None:
    if difference > tolerance:
        raise ExportError(f"{path}: {kind} output differs from PyTorch by {difference:.3g} (> {tolerance}); "
                          "nothing was written")


def _random_inputs(inputs: list[InputSpec], batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    rng = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, *spec.shape, generator=rng) for spec in inputs)
