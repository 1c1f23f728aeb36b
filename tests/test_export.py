"""export_generator writes TorchScript and ONNX only when both match the module at other
batch sizes than the traced one; a trace that baked in the example's batch writes nothing;
the same module gives the same bytes, whatever folder the code runs from."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

import facegan
from facegan.export import ExportError, export_generator
from facegan.inference import ExportSpec, InputSpec

INPUTS = [InputSpec("z", (4,), "latent")]


class Dense(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3 * 2 * 2)

    def forward(self, z):
        return torch.tanh(self.linear(z)).view(-1, 3, 2, 2)


class BatchBakedIn(Dense):
    """Traced at batch 2, the Python int below becomes a constant: right only at batch 2."""

    def forward(self, z):
        return super().forward(z) * int(z.shape[0] == 2)


def test_both_exports_reproduce_the_module_at_new_batch_sizes(tmp_path):
    module = Dense()
    info = export_generator(ExportSpec(module, INPUTS, {"model": "test"}), tmp_path)
    z = torch.randn(5, 4)
    traced = torch.jit.load(str(tmp_path / "generator.ts"))
    with torch.no_grad():
        expected = module(z).numpy()
        np.testing.assert_allclose(traced(z).numpy(), expected, atol=1e-6)
    session = onnxruntime.InferenceSession(str(tmp_path / "generator.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["images"], {"z": z.numpy()})[0], expected, atol=1e-5)
    assert info["onnx_max_abs_difference"] < 1e-5 and (tmp_path / "generator.json").exists()


def test_an_export_that_differs_from_the_module_writes_nothing(tmp_path):
    with pytest.raises(ExportError, match="TorchScript output differs from PyTorch.*nothing was written"):
        export_generator(ExportSpec(BatchBakedIn(), INPUTS, {"model": "test"}), tmp_path)
    assert list(tmp_path.iterdir()) == []


# A small PGAN generator exported by a fresh process from the checkout on sys.path[0].
EXPORT = """
import sys, torch
from facegan.export import export_generator
from facegan.inference import ExportSpec, InputSpec
from facegan.models.pgan import Generator
torch.manual_seed(0)
export_generator(ExportSpec(Generator(8, [8, 8], 2), [InputSpec("z", (8,), "latent")], {"model": "test"}), sys.argv[1])
"""


def test_another_checkout_exports_the_same_bytes(tmp_path):
    checkout = tmp_path / "another" / "src"
    shutil.copytree(Path(facegan.__file__).parent, checkout / "facegan")
    for source, out in ((Path(facegan.__file__).parents[1], "here"), (checkout, "there")):
        subprocess.run([sys.executable, "-c", EXPORT, str(tmp_path / out)], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(source)}, cwd=tmp_path)
    for name in ("generator.ts", "generator.onnx", "generator.json"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name
    # Nor does the archive name either folder, or torch's.
    folders = [str(tmp_path).encode(), str(Path(facegan.__file__).parents[1]).encode(),
               str(Path(torch.__file__).parent).encode()]
    with zipfile.ZipFile(tmp_path / "here" / "generator.ts") as archive:
        assert not [(record, folder) for record in archive.namelist() for folder in folders
                    if folder in archive.read(record)]
