"""Pretrained weights the pipeline needs but cannot make: where they live, how they arrive.

Each file has one official URL and a sha256. They are kept in one cache folder,
`$FACEGAN_WEIGHTS_DIR`, else `~/.cache/facegan/weights`, filled by `facegan weights fetch`
(from the URL, or from a copy the user has) or by the `download_weights` stage, which
also links them into `data/weights/` with a manifest so that DVC sees them arrive. A
file that is absent or fails its checksum is never replaced by a guess: whatever needs
it reports it as missing, naming the file and where to put it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

from facegan.digests import digest_matches, file_digest
from facegan.errors import UserError
from facegan.fetch import DataSourceError, download_file, link_or_copy
from facegan.io import staged, write_json
from facegan.params import setting

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class WeightFile:
    name: str  # the short name commands take
    filename: str
    url: str
    sha256: str  # the whole digest, or the prefix the publisher gives (torchvision: 8 hex digits)
    purpose: str


WEIGHTS = {
    weight.name: weight
    for weight in (
        # pytorch-fid's port of the TensorFlow Inception graph of 2015-12-05 (the one FID was defined with).
        WeightFile(
            "inception", "pt_inception-2015-12-05-6726825d.pth",
            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
            "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
            "FID (InceptionV3 pool3 features, as pytorch-fid)",
        ),
        # torchvision's ImageNet VGG19 (IMAGENET1K_V1), whose name carries its sha256 prefix.
        WeightFile(
            "vgg19", "vgg19-dcbb9e9d.pth", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", "dcbb9e9d",
            "HiFaceGAN's perceptual loss (VGG19 relu1_1..relu5_1)",
        ),
        # torchvision's ImageNet AlexNet, LPIPS's feature network.
        WeightFile(
            "alexnet", "alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "7be5be79", "LPIPS (AlexNet relu1..relu5)",
        ),
        # LPIPS v0.1's linear layers for AlexNet; the digest is that of the same file in the
        # `lpips` 0.1.4 package (lpips/weights/v0.1/alex.pth), which `--from` can take.
        WeightFile(
            "lpips_alex", "lpips-v0.1-alex.pth",
            "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
            "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0", "LPIPS (v0.1 lin weights for AlexNet)",
        ),
    )
}  # fmt: skip


class MissingWeightsError(UserError):
    """Weights that are not in the cache (or not the official file): the message says how to get them."""


@dataclass(frozen=True)
class WeightsParams:
    """Pretrained weights the metrics need (this module): download the absent ones or not."""

    download: bool = setting()


def weights_dir() -> Path:
    return Path(os.environ.get("FACEGAN_WEIGHTS_DIR") or Path.home() / ".cache" / "facegan" / "weights")


def lookup(name: str) -> WeightFile:
    if name not in WEIGHTS:
        raise UserError(f"unknown weights {name!r}; known: {', '.join(sorted(WEIGHTS))}")
    return WEIGHTS[name]


def _shown(directory: Path) -> str:
    """`directory` with the home folder as ~, so that recorded reasons read the same on every machine."""
    home = str(Path.home())
    return "~" + str(directory)[len(home):] if str(directory).startswith(home + os.sep) else str(directory)


def _how_to_get(weight: WeightFile, directory: Path) -> str:
    """Which file, where it goes, and the one command that takes it there (checked)."""
    return (f"download {weight.url} by hand, then run `facegan weights fetch {weight.name} --from FILE`, "
            f"which checks it and puts it in {_shown(directory)}/ (FACEGAN_WEIGHTS_DIR moves that folder)")


def cached_path(name: str, directory: Path | None = None) -> Path:
    """The verified cached file of weights `name`; MissingWeightsError if absent or altered."""
    weight, directory = lookup(name), Path(directory or weights_dir())
    path = directory / weight.filename
    if not path.is_file():
        raise MissingWeightsError(f"{weight.filename} ({weight.purpose}) is not in {_shown(directory)}: "
                                  + _how_to_get(weight, directory))
    actual = file_digest(path, "sha256")
    if not digest_matches(actual, weight.sha256):
        raise MissingWeightsError(f"{path} has sha256 {actual}, not the official {weight.sha256} "
                                  "(a partial or different file): delete it, then " + _how_to_get(weight, directory))
    return path


def fetch(name: str, source: str | Path | None = None, directory: Path | None = None) -> Path:
    """Bring weights `name` into the cache from its official URL, or from `source` (a
    local file or a URL), verified; a file already cached and verified is kept."""
    weight, directory = lookup(name), Path(directory or weights_dir())
    try:
        return cached_path(name, directory)
    except MissingWeightsError:
        if (directory / weight.filename).exists():
            raise  # an altered file is the user's to inspect, never overwritten here
    url = weight.url if source is None else str(source)
    if source is not None and "://" not in url:
        url = Path(url).resolve().as_uri()
    try:
        return download_file(url, directory / weight.filename, weight.sha256, "sha256",
                             instead=_how_to_get(weight, directory))
    except DataSourceError as error:  # no network, a bad URL or a wrong file: the message says how to get it
        raise MissingWeightsError(str(error)) from error


def used_weights(perceptual_loss: bool) -> list[str]:
    """The weights the pipeline uses: all but VGG19 (548 MB), which only HiFaceGAN's
    perceptual loss needs."""
    return [name for name in WEIGHTS if name != "vgg19" or perceptual_loss]


def stage_weights(out: Path, *, download: Collection[str], directory: Path | None = None) -> dict:
    """Link every known weights file into `out` with a manifest of what is present and,
    for what is not, why; downloads the absent ones among the names in `download` first.
    Never fails for an absent file: the stages that need it record it as missing."""
    manifest = {}
    with staged(out, folder=True) as staging:
        for name, weight in WEIGHTS.items():
            try:
                path = fetch(name, directory=directory) if name in download else cached_path(name, directory)
            except MissingWeightsError as error:
                manifest[name] = {"file": weight.filename, "present": False, "reason": str(error)}
                continue
            link_or_copy(path, staging / weight.filename)
            manifest[name] = {"file": weight.filename, "present": True, "sha256": weight.sha256}
        write_json(staging / MANIFEST, manifest)
    return manifest


def staged_path(name: str, staged: Path) -> Path:
    """The file of weights `name` that `stage_weights` put in `staged`; MissingWeightsError
    with the recorded reason when it could not."""
    manifest_path = Path(staged) / MANIFEST
    if not manifest_path.is_file():
        raise MissingWeightsError(f"{manifest_path} does not exist: run `dvc repro download_weights` first")
    entry = json.loads(manifest_path.read_text()).get(name)
    if entry is None:
        raise MissingWeightsError(f"{manifest_path} has no entry for {name!r}: run `dvc repro download_weights`")
    if not entry["present"]:
        raise MissingWeightsError(entry["reason"])
    return Path(staged) / entry["file"]
