"""PGAN inference: faces from the averaged generator, the one the paper evaluates and shows
(Karras et al. 2018, appendix A.1), from a scale's model.pt or from the export.

Latents are drawn on the CPU by torch's generator seeded with `seed`, `LATENT_BATCH` rows
at a time, and only then moved to the device: a seed gives the same latents on any
machine, and `facegan generate --n 64 --seed S` draws the faces of the evaluation's
fakes.png when S is its seed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from facegan.images import to_uint8
from facegan.inference import ExportSpec, InputSpec, TrainedModel, export_metadata, load_trained
from facegan.pgan.model import build_generator, resolution_of

LATENT_BATCH = 64
STAGES = ("train_pgan", "export_pgan")


def load_pgan(path: Path, device: torch.device | str, pipeline: bool = True) -> TrainedModel:
    """The averaged generator (G_ema) of a scale's model.pt, or an exported generator.pt2.
    `pipeline`: the file is the pipeline's (an error says which stage writes it), not a
    user's own."""
    return load_trained(path, build_generator, "G_ema", device, STAGES, pipeline)


def resolution(model: TrainedModel) -> int:
    return resolution_of(model.config["depth"])


@torch.no_grad()
def generated_batches(G, latent_dim: int, count: int, batch: int, seed: int) -> Iterator[np.ndarray]:
    """`count` uint8 NHWC faces from latents drawn with `seed`, `batch` at a time."""
    rng = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    for start in range(0, count, batch):
        z = torch.randn(min(batch, count - start), latent_dim, generator=rng)
        yield to_uint8(G(z.to(device)))


def generate(model: TrainedModel, count: int, seed: int) -> np.ndarray:
    """(count, S, S, 3) uint8 faces for `seed`."""
    batches = generated_batches(model.network, model.config["latent_dim"], count, LATENT_BATCH, seed)
    return np.concatenate(list(batches))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of rows `a` to `b` at fractions `t` (White 2016, "Sampling
    Generative Networks"): the path keeps the norm a Gaussian latent typically has, which
    a straight line between two latents does not."""
    a_unit, b_unit = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.arccos((a_unit * b_unit).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    sin_omega = torch.sin(omega)
    straight = sin_omega.abs() < 1e-6  # (anti)parallel ends: the sphere gives no direction
    safe = torch.where(straight, torch.ones_like(sin_omega), sin_omega)
    curved = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / safe
    return torch.where(straight, (1 - t) * a + t * b, curved)


@torch.no_grad()
def interpolations(model: TrainedModel, rows: int, steps: int, seed: int, spherical: bool = True) -> np.ndarray:
    """(rows, steps, S, S, 3) uint8: each row walks from one random latent to another in
    `steps` evenly spaced points, ends included (the paper's interpolation figures and video)."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    ends = torch.randn(rows, 2, model.config["latent_dim"], generator=torch.Generator().manual_seed(seed))
    t = torch.linspace(0.0, 1.0, steps)[None, :, None]
    a, b = ends[:, :1], ends[:, 1:]
    z = slerp(a, b, t) if spherical else (1 - t) * a + t * b
    device = next(model.network.parameters()).device
    faces = [to_uint8(model.network(chunk.to(device))) for chunk in z.flatten(0, 1).split(LATENT_BATCH)]
    return np.concatenate(faces).reshape(rows, steps, *faces[0].shape[1:])


def export_spec(model: TrainedModel, params_fingerprint: str) -> ExportSpec:
    """The averaged generator, fed one latent vector per face."""
    latent = InputSpec("z", (model.config["latent_dim"],), "latent vector, N(0, 1) per entry")
    return ExportSpec(model.network, [latent], export_metadata(
        model, "pgan", params_fingerprint, weights="G_ema (averaged generator)", resolution=resolution(model)))
