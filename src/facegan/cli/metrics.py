"""`facegan metrics ...`: the pipeline's metrics on folders of PNG/JPEG images.

Each command prints one JSON object on stdout, progress on stderr, and exits with code 2
and a one-line message for an empty folder, an unreadable file, mismatched sizes,
unpaired names or absent weights.

torch and the metric code are imported when a command runs: `--help` and argument errors
come at once.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer

from facegan.entrypoints import group_app
from facegan.errors import UserError
from facegan.images import image_size, iter_image_batches, list_images, paired_images, select_images
from facegan.progress import progress
from facegan.weights import cached_path

if TYPE_CHECKING:
    import torch

metrics_app = group_app("Image-set metrics: SWD, MS-SSIM, PSNR/SSIM, FID, LPIPS.")

Folder = Annotated[Path, typer.Argument(exists=True, file_okay=False, dir_okay=True, show_default=False)]
Limit = Annotated[Optional[int], typer.Option(
    min=1, help="Use N images (pairs for psnr-ssim) drawn at random with --seed, kept in file-name order.")]
Seed = Annotated[int, typer.Option(min=0, help="Seeds the --limit subset (and SWD's patches and directions).")]
Device = Annotated[str, typer.Option(help="torch device: cpu, cuda, cuda:1, ...")]
BatchSize = Annotated[int, typer.Option(min=1, help="Images read and processed at a time.")]


def weights_option(what: str, name: str):
    return typer.Option(None, exists=True, dir_okay=False,
                        help=f"{what} weights file (default: the verified `{name}` one in the weights cache).")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _device(name: str) -> torch.device:
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise _fail(f"invalid --device {name!r}: {error}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise _fail(f"--device {name}: CUDA is not available on this machine")
    return device


def _checked(fn, *args):
    """fn(*args), a UserError turned into exit code 2 with its message."""
    try:
        return fn(*args)
    except UserError as error:
        raise _fail(str(error)) from error


def _images(folder: Path, limit: Optional[int], seed: int) -> list[Path]:
    """`limit` images of `folder` (all by default), checked to share one size before any work."""
    paths = select_images(_checked(list_images, folder), limit, seed)
    _checked(image_size, paths)
    return paths


def _same_size(names: tuple[str, str], first: list[Path], second: list[Path]) -> None:
    (h0, w0), (h1, w1) = _checked(image_size, first), _checked(image_size, second)
    if (h0, w0) != (h1, w1):  # written width x height, as image sizes are (CelebA's 178x218)
        raise _fail(f"{names[0]} images are {w0}x{h0} but {names[1]} images are {w1}x{h1} (width x height)")


def _batches(paths: list[Path], batch_size: int, desc: str):
    return progress(iter_image_batches(paths, batch_size), total=math.ceil(len(paths) / batch_size), desc=desc)


def _print(measure: Callable[[], dict], images: dict[str, int] | None = None) -> None:
    """Run a metric (`measure()`: its JSON object) and print it, with the image counts it
    used when given; user errors exit 2 with a message."""
    try:
        result = measure()
    except (UserError, ValueError) as error:
        raise _fail(str(error)) from error
    typer.echo(json.dumps(result | ({"images": images} if images else {})))


@metrics_app.command("swd")
def swd_command(real_dir: Folder, fake_dir: Folder, limit: Limit = None, seed: Seed = 0,
                device: Device = "cpu", batch_size: BatchSize = 64) -> None:
    """Sliced Wasserstein distance x1e3 per Laplacian level (Karras et al. 2018) between two
    folders, and the number of images of each set.

    Patches are drawn at random, independently for each set, so two sets of the same images
    do not give 0: a set samples its images' patch distribution, and a small set samples it
    coarsely (a dozen 256 px faces against themselves give about 48; the sample's
    real-vs-real floor, two sets of 1,000 32 px faces, is 14). Compare a distance with a
    real-vs-real pass of the same size."""
    real, fake = _checked(list_images, real_dir), _checked(list_images, fake_dir)
    count = min(len(real), len(fake), limit or len(real))
    if len(real) != len(fake):
        typer.echo(f"note: {len(real)} real and {len(fake)} fake images; using {count} of each, "
                   "drawn with --seed", err=True)
    real, fake = select_images(real, count, seed), select_images(fake, count, seed)
    _same_size(("real", "fake"), real, fake)
    from facegan.metrics.swd import sliced_wasserstein

    real_batches, fake_batches = _batches(real, batch_size, "swd real"), _batches(fake, batch_size, "swd fake")
    _print(lambda: {"swd": sliced_wasserstein(real_batches, fake_batches, seed=seed, device=_device(device))},
           {"real": count, "fake": count})


@metrics_app.command("ms-ssim")
def ms_ssim_command(image_dir: Folder, limit: Limit = None, seed: Seed = 0, device: Device = "cpu",
                    batch_size: BatchSize = 64) -> None:
    """Mean MS-SSIM over consecutive pairs (files sorted by name) of one folder: PGAN's diversity."""
    from facegan.metrics.ms_ssim import ms_ssim

    paths = _images(image_dir, limit, seed)
    _print(lambda: {"ms_ssim": ms_ssim(_batches(paths, batch_size, "ms-ssim"), device=_device(device))})


@metrics_app.command("psnr-ssim")
def psnr_ssim_command(restored_dir: Folder, clean_dir: Folder, limit: Limit = None, seed: Seed = 0,
                      device: Device = "cpu", batch_size: BatchSize = 64) -> None:
    """Mean PSNR (dB) and SSIM of restored vs clean images paired by file name (HiFaceGAN's protocol)."""
    from facegan.metrics.psnr_ssim import psnr_ssim

    pairs = _pair_batches(restored_dir, clean_dir, limit, seed, batch_size, "psnr-ssim")
    _print(lambda: psnr_ssim(pairs, device=_device(device)))


@metrics_app.command("lpips")
def lpips_command(restored_dir: Folder, clean_dir: Folder,
                  alexnet: Optional[Path] = weights_option("AlexNet", "alexnet"),
                  lins: Optional[Path] = weights_option("LPIPS v0.1 AlexNet lin", "lpips_alex"),
                  limit: Limit = None, seed: Seed = 0, device: Device = "cpu", batch_size: BatchSize = 64) -> None:
    """Mean LPIPS (v0.1, AlexNet; lower is closer) of image pairs matched by file name."""
    from facegan.metrics.lpips import load_lpips, lpips

    alexnet, lins = alexnet or _checked(cached_path, "alexnet"), lins or _checked(cached_path, "lpips_alex")
    model = _checked(load_lpips, alexnet, lins, _device(device))
    pairs = _pair_batches(restored_dir, clean_dir, limit, seed, batch_size, "lpips")
    _print(lambda: lpips(pairs, model=model))


def _pair_batches(restored_dir: Path, clean_dir: Path, limit: Optional[int], seed: int, batch_size: int, desc: str):
    """Batches of (restored, clean) images paired by file name, checked to share one size."""
    pairs = select_images(_checked(paired_images, restored_dir, clean_dir), limit, seed)
    restored, clean = [a for a, _ in pairs], [b for _, b in pairs]
    _same_size(("restored", "clean"), restored, clean)
    return zip(_batches(restored, batch_size, desc), iter_image_batches(clean, batch_size))


@metrics_app.command("fid")
def fid_command(dir_a: Folder, dir_b: Folder, weights: Optional[Path] = weights_option("InceptionV3", "inception"),
                limit: Limit = None, seed: Seed = 0, device: Device = "cpu", batch_size: BatchSize = 64) -> None:
    """Frechet Inception Distance between two folders (pytorch-fid's network and weights)."""
    from facegan.metrics.fid import fid, is_official, load_inception

    paths_a, paths_b = _images(dir_a, limit, seed), _images(dir_b, limit, seed)
    if weights is None:
        weights = _checked(cached_path, "inception")
    elif not is_official(weights):
        typer.echo(f"note: {weights} is not pytorch-fid's 2015-12-05 file: FIDs are not comparable "
                   "with published ones", err=True)
    model = _checked(load_inception, weights, _device(device))
    _print(lambda: fid(_batches(paths_a, batch_size, "fid a"), _batches(paths_b, batch_size, "fid b"), model=model))
