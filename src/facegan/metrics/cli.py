"""`facegan metrics ...`: PGAN's SWD and MS-SSIM on folders of PNG/JPEG images.

Each command prints one JSON object on stdout, progress on stderr, and exits with code 2
and a one-line message for an empty folder, an unreadable file or mismatched sizes.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer

from facegan.errors import UserError
from facegan.imagefolder import image_size, iter_image_batches, list_images
from facegan.metrics import compute
from facegan.progress import progress

metrics_app = typer.Typer(help="Image-set metrics of the PGAN protocol (SWD, MS-SSIM).", no_args_is_help=True)

Folder = Annotated[Path, typer.Argument(exists=True, file_okay=False, dir_okay=True, show_default=False)]
Limit = Annotated[Optional[int], typer.Option(min=1, help="Use only the first N images (by file name).")]
Device = Annotated[str, typer.Option(help="torch device: cpu, cuda, cuda:1, ...")]
BatchSize = Annotated[int, typer.Option(min=1, help="Images read and processed at a time.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise _fail(f"invalid --device {name!r}: {error}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise _fail(f"--device {name}: CUDA is not available on this machine")
    return device


def _images(folder: Path, limit: Optional[int]) -> tuple[list[Path], tuple[int, int]]:
    """The first `limit` images of `folder` and their common size, checked before any work."""
    try:
        paths = list_images(folder)[:limit]
        return paths, image_size(paths)
    except UserError as error:
        raise _fail(str(error)) from error


def _batches(paths: list[Path], batch_size: int, desc: str):
    return progress(iter_image_batches(paths, batch_size), total=math.ceil(len(paths) / batch_size), desc=desc)


def _run(name: str, **kwargs) -> None:
    """Compute a registered metric and print its JSON; user errors exit 2 with a message."""
    try:
        result = compute(name, **kwargs)
    except (UserError, ValueError) as error:
        raise _fail(str(error)) from error
    typer.echo(json.dumps(result))


@metrics_app.command("swd")
def swd_command(real_dir: Folder, fake_dir: Folder, limit: Limit = None,
                seed: Annotated[int, typer.Option(min=0, help="Seeds patch positions and directions.")] = 0,
                device: Device = "cpu", batch_size: BatchSize = 64) -> None:
    """Sliced Wasserstein distance x1e3 per Laplacian level (Karras et al. 2018) between two folders."""
    (real, real_size), (fake, fake_size) = _images(real_dir, limit), _images(fake_dir, limit)
    if real_size != fake_size:
        raise _fail(f"real images are {real_size[0]}x{real_size[1]} but fake images are {fake_size[0]}x{fake_size[1]}")
    count = min(len(real), len(fake))
    if len(real) != len(fake):
        typer.echo(f"note: {len(real)} real and {len(fake)} fake images; using the first {count} of each", err=True)
    _run("swd", real_batches=_batches(real[:count], batch_size, "swd real"),
         fake_batches=_batches(fake[:count], batch_size, "swd fake"), seed=seed, device=_device(device))


@metrics_app.command("ms-ssim")
def ms_ssim_command(image_dir: Folder, limit: Limit = None, device: Device = "cpu",
                    batch_size: BatchSize = 64) -> None:
    """Mean MS-SSIM over consecutive pairs (files sorted by name) of one folder: PGAN's diversity."""
    paths, _ = _images(image_dir, limit)
    _run("ms_ssim", batches=_batches(paths, batch_size, "ms-ssim"), device=_device(device))
