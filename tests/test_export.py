"""export_generator writes TorchScript and ONNX only when both match the module at other
batch sizes than the traced one; a trace that baked in the example's batch writes nothing."""
import numpy as np
import onnxruntime
import pytest
import torch

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
