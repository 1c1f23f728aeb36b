"""export_generator writes the torch.export program and ONNX only when both match the module
at other batch sizes than the example's; a module whose graph depends on the example's
batch, or whose export differs from it, writes nothing; the same module gives the same
bytes, whatever folder the code runs from; the export prints no warning."""
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
    """The Python int below would make the graph right only at the example's batch."""

    def forward(self, z):
        return super().forward(z) * int(z.shape[0] == 2)


class CountsCalls(Dense):
    """Python state: the exported graph holds its value at export time, the module moves on."""

    calls = 0

    def forward(self, z):
        self.calls += 1
        return super().forward(z) * self.calls


def test_both_exports_reproduce_the_module_at_new_batch_sizes(tmp_path):
    module = Dense()
    info = export_generator(ExportSpec(module, INPUTS, {"model": "test"}), tmp_path)
    z = torch.randn(5, 4)
    exported = torch.export.load(tmp_path / "generator.pt2").module()
    with torch.no_grad():
        expected = module(z).numpy()
        np.testing.assert_allclose(exported(z).numpy(), expected, atol=1e-6)
    session = onnxruntime.InferenceSession(str(tmp_path / "generator.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["images"], {"z": z.numpy()})[0], expected, atol=1e-5)
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("z", ["batch", 4])]
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("images", ["batch", 3, 2, 2])]
    assert info["onnx_max_abs_difference"] < 1e-5 and (tmp_path / "generator.json").exists()


def test_an_export_that_differs_from_the_module_writes_nothing(tmp_path):
    with pytest.raises(ExportError, match="torch.export cannot export.*dynamic batch.*nothing was written"):
        export_generator(ExportSpec(BatchBakedIn(), INPUTS, {"model": "test"}), tmp_path)
    with pytest.raises(ExportError, match="torch.export output differs from PyTorch.*nothing was written"):
        export_generator(ExportSpec(CountsCalls(), INPUTS, {"model": "test"}), tmp_path)
    assert list(tmp_path.iterdir()) == []


# A small PGAN generator exported by a fresh process from the checkout on sys.path[0].
EXPORT = """
import sys, torch
from facegan.export import export_generator
from facegan.inference import ExportSpec, InputSpec
from facegan.pgan.model import Generator
torch.manual_seed(0)
export_generator(ExportSpec(Generator(8, [8, 8], 2), [InputSpec("z", (8,), "latent")], {"model": "test"}), sys.argv[1])
"""


def test_another_checkout_exports_the_same_bytes_without_a_warning(tmp_path):
    checkout = tmp_path / "another" / "src"
    shutil.copytree(Path(facegan.__file__).parent, checkout / "facegan")
    for source, out in ((Path(facegan.__file__).parents[1], "here"), (checkout, "there")):
        run = subprocess.run([sys.executable, "-W", "always", "-c", EXPORT, str(tmp_path / out)], check=True,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(source)}, cwd=tmp_path)
        assert run.stdout == run.stderr == "", "the export prints nothing: no warning, no exporter progress"
    for name in ("generator.pt2", "generator.onnx", "generator.json"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes(), name
    # Nor does the archive name either folder, or torch's.
    folders = [str(tmp_path).encode(), str(Path(facegan.__file__).parents[1]).encode(),
               str(Path(torch.__file__).parent).encode()]
    with zipfile.ZipFile(tmp_path / "here" / "generator.pt2") as archive:
        assert not [(record, folder) for record in archive.namelist() for folder in folders
                    if folder in archive.read(record)]
    onnx_bytes = (tmp_path / "here" / "generator.onnx").read_bytes()
    assert not [folder for folder in folders if folder in onnx_bytes]
