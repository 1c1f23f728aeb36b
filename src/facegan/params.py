"""Typed, validated parameters: the one place that reads params.yaml.

Every section is a frozen dataclass. `load_params` checks the whole file before any
work: an unknown key, a missing key, a wrong type or an out-of-range value raises
`ParamsError` naming the dotted key, the value and what is allowed. Stages pass the
sections they need down explicitly; nothing in the library reads params.yaml.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import types
import typing
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from facegan.pgan.batch_groups import MINIBATCH_GROUP_SIZE, BatchSplitError, groups_per_process, stddev_group_size
from facegan.choices import (
    ATTRIBUTE_FILE_SUFFIXES, CELEBA_ATTRIBUTES, CELEBA_SOURCES, CROPS, CSV_SUFFIX, DEGRADATIONS, FFHQ_SOURCES,
)  # fmt: skip
from facegan.errors import UserError


class ParamsError(UserError, ValueError):
    """A params.yaml value is missing, unknown, mistyped or out of range."""


def _check(low=None, high=None, choices=None, power_of_two=False, positive=False):
    """Field metadata: the allowed range or choices, checked by the loader (`positive`: > 0)."""
    return {"low": low, "high": high, "choices": choices, "power_of_two": power_of_two, "positive": positive}


def _field(default=dataclasses.MISSING, **check):
    if default is dataclasses.MISSING:
        return field(metadata=_check(**check))
    return field(default=default, metadata=_check(**check))


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class CelebAParams:
    """Where the faces of PGAN and StarGAN come from, CelebA or a folder of photos, and how they are
    cropped (PGAN's "celeba_cropped", official `dataset_tool.py`, or each photo's centred square)."""

    source: str = _field(choices=CELEBA_SOURCES)
    sample_count: int = _field(low=8)
    sample_seed: int = _field(low=0)
    local_dir: str = _field()
    folder: str = _field()
    attributes_file: str = _field()
    crop: str = _field(choices=CROPS)
    image_size: list[int] = _field(low=1)
    crop_center: list[float] = _field()
    crop_size: int = _field(low=4, power_of_two=True)
    resolution: int = _field(low=4, high=1024, power_of_two=True)
    max_bad_fraction: float = _field(low=0.0, high=1.0)
    workers: int = _field(low=1, high=64)


@dataclass(frozen=True)
class FFHQParams:
    """Where FFHQ comes from and which of its folders of 1000 images are train and test."""

    source: str = _field(choices=FFHQ_SOURCES)
    sample_per_folder: int = _field(low=1, high=1000)
    sample_size: int = _field(low=16, high=1024)
    sample_seed: int = _field(low=0)
    local_dir: str = _field()
    train_folders: list[int] = _field(low=0, high=69000)
    test_folders: list[int] = _field(low=0, high=69000)

    @property
    def ranges(self) -> dict[str, list[int]]:
        return {"train": self.train_folders, "test": self.test_folders}


@dataclass(frozen=True)
class DataParams:
    celeba: CelebAParams
    ffhq: FFHQParams


# ---------------------------------------------------------------- PGAN


@dataclass(frozen=True)
class PGANScale:
    """One growing phase (one DVC stage): `prev` names the stage whose checkpoint it grows."""

    prev: str
    iterations: int = _field(low=1)
    fade_iterations: int = _field(low=0)
    batch: int = _field(low=1)
    lr: Optional[float] = _field(None, high=1.0, positive=True)


@dataclass(frozen=True)
class PGANModel:
    """Architecture: latent size and feature maps per scale (Karras et al. 2018, table 2)."""

    latent_dim: int = _field(low=1)
    channels: list[int] = _field(low=1)


@dataclass(frozen=True)
class PGANTrain:
    """Knobs shared by every scale's training (Karras et al. 2018, appendix A.1: loss, Adam, EMA)."""

    seed: int = _field(low=0)
    betas: list[float] = _field()
    adam_eps: float = _field(positive=True)
    gp_weight: float = _field(low=0.0)
    drift_weight: float = _field(low=0.0)
    ema_decay: float = _field(low=0.0, high=1.0)
    mirror: bool = _field()
    checkpoint_every: int = _field(low=1)
    log_every: int = _field(low=1)
    sample_grid: int = _field(low=1, high=256)


@dataclass(frozen=True)
class PGANParams:
    """Progressive GAN (Karras et al. 2018): model, shared training knobs, one entry per scale."""

    model: PGANModel
    train: PGANTrain
    scales: dict[str, PGANScale] = _field()

    @property
    def resolution(self) -> int:
        return int(list(self.scales)[-1])

    def depth_of(self, key: str) -> int:
        """1 for the 4x4 scale, 2 for 8x8, ..."""
        if key not in self.scales:
            raise ParamsError(f"scale {key!r} is not in pgan.scales ({', '.join(self.scales)})")
        return list(self.scales).index(key) + 1


# ---------------------------------------------------------------- StarGAN


@dataclass(frozen=True)
class StarGANData:
    """StarGAN's CelebA view (official data loader): centre crop, resize, attributes, seeded test split."""

    attributes: list[str] = _field()  # CelebA's names, or a folder's CSV columns: checked in _validate_stargan
    crop_size: int = _field(low=1)
    image_size: int = _field(low=8, high=1024, power_of_two=True)
    test_count: int = _field(low=1)
    split_seed: int = _field(low=0)


@dataclass(frozen=True)
class StarGANModel:
    """Widths and depths of G and D (Choi et al. 2018, appendix: 64, 64, 6 residual blocks, 6 strided convs at 128 px)."""

    g_conv_dim: int = _field(low=1)
    d_conv_dim: int = _field(low=1)
    g_repeat_num: int = _field(low=0)
    d_repeat_num: int = _field(low=1)


@dataclass(frozen=True)
class ConditionalGANTrain:
    """What StarGAN's and HiFaceGAN's training share: a seed, the iterations, a G and a D Adam
    whose rates decay linearly from `decay_start`, mirroring, checkpoints, logs and samples."""

    seed: int = _field(low=0)
    iterations: int = _field(low=1)
    batch: int = _field(low=1)
    g_lr: float = _field(high=1.0, positive=True)
    d_lr: float = _field(high=1.0, positive=True)
    betas: list[float] = _field()
    decay_start: int = _field(low=0)
    mirror: bool = _field()
    checkpoint_every: int = _field(low=1)
    log_every: int = _field(low=1)
    sample_images: int = _field(low=1, high=64)


@dataclass(frozen=True)
class StarGANTrain(ConditionalGANTrain):
    """Losses, optimiser and schedule (Choi et al. 2018, section 4); `iterations` counts critic steps."""

    batch: int = _field(low=2)
    n_critic: int = _field(low=1)
    lambda_cls: float = _field(low=0.0)
    lambda_rec: float = _field(low=0.0)
    lambda_gp: float = _field(low=0.0)
    lambda_id: float = _field(low=0.0)  # identity loss: not in the paper (0 there)


@dataclass(frozen=True)
class AttributeClassifierParams:
    """The separately trained attribute classifier that judges edited images (Choi et al. 2018, section 5.2)."""

    conv_dim: int = _field(low=1)
    repeat_num: int = _field(low=1)
    iterations: int = _field(low=1)
    batch: int = _field(low=2)
    lr: float = _field(high=1.0, positive=True)
    seed: int = _field(low=0)


@dataclass(frozen=True)
class StarGANParams:
    data: StarGANData
    model: StarGANModel
    train: StarGANTrain
    classifier: AttributeClassifierParams


# ---------------------------------------------------------------- HiFaceGAN


@dataclass(frozen=True)
class HiFaceGANData:
    """The degraded pairs (Yang et al. 2020, official code): training size, degradation type, seed."""

    image_size: int = _field(low=64, high=1024, power_of_two=True)  # G starts at S/32: 2x2 at least
    degradation: str = _field(choices=DEGRADATIONS)
    scale_ranges: bool = _field()  # the blur's pixel ranges (given for 512 px) times image_size / 512
    seed: int = _field(low=0)
    workers: int = _field(low=1, high=64)
    max_bad_fraction: float = _field(low=0.0, high=1.0)


@dataclass(frozen=True)
class HiFaceGANModel:
    """Widths (official HiFaceGAN code: ngf 64, or 48 on small GPUs; ndf 64; 2 scales of 4 layers; SPADE hidden 128)."""

    ngf: int = _field(low=1)
    ndf: int = _field(low=1)
    num_d: int = _field(low=1, high=4)
    n_layers_d: int = _field(low=1, high=6)
    spade_hidden: int = _field(low=1)


@dataclass(frozen=True)
class HiFaceGANTrain(ConditionalGANTrain):
    """Losses, TTUR Adam and schedule (official HiFaceGAN code): one G step and one D step per iteration."""

    lambda_feat: float = _field(low=0.0)
    lambda_vgg: float = _field(low=0.0)
    lambda_l1: float = _field(low=0.0)  # pixel L1: not in the paper (0 there)
    snapshots: int = _field(low=1)  # generator snapshots kept, one per checkpoint_every; the best is the model
    validation_images: int = _field(low=0)  # training pairs held out to choose among the snapshots


@dataclass(frozen=True)
class HiFaceGANParams:
    data: HiFaceGANData
    model: HiFaceGANModel
    train: HiFaceGANTrain


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class PGANEvalParams:
    """How PGAN is evaluated (Karras et al. 2018, sections 5 and 6): image counts and seeds."""

    num_images: int = _field(low=2)
    batch: int = _field(low=1)
    seed: int = _field(low=0)
    swd_patches: int = _field(low=1)
    swd_directions: int = _field(low=1)
    swd_repeats: int = _field(low=1)
    ms_ssim_pairs: int = _field(low=1)
    fid_images: int = _field(low=2)


@dataclass(frozen=True)
class StarGANEvalParams:
    """How StarGAN is evaluated: test images per batch, edited images for FID."""

    batch: int = _field(low=1)
    fid_images: int = _field(low=2)


@dataclass(frozen=True)
class HiFaceGANEvalParams:
    """How HiFaceGAN is evaluated: test pairs per batch, restored images for FID."""

    batch: int = _field(low=1)
    fid_images: int = _field(low=2)


@dataclass(frozen=True)
class EvalParams:
    pgan: PGANEvalParams
    stargan: StarGANEvalParams
    hifacegan: HiFaceGANEvalParams


@dataclass(frozen=True)
class WeightsParams:
    """Pretrained weights the metrics need (`facegan.weights`): download the absent ones or not."""

    download: bool = _field()


@dataclass(frozen=True)
class ComputeParams:
    """How every train stage computes, not what it learns (`facegan.training.compute`)."""

    nproc: int = _field(low=1, high=64)  # per machine
    amp: bool = _field()
    channels_last: bool = _field()
    compile: bool = _field()
    loader_workers: int = _field(low=0, high=64)
    nnodes: int = _field(1, low=1, high=4096)
    rdzv_endpoint: str = _field("")  # host:port where the machines meet (torchrun's c10d rendezvous)


@dataclass(frozen=True)
class Params:
    lr: float = _field(high=1.0, positive=True)
    data: DataParams = _field()
    pgan: PGANParams = _field()
    stargan: StarGANParams = _field()
    hifacegan: HiFaceGANParams = _field()
    weights: WeightsParams = _field()
    eval: EvalParams = _field()
    compute: ComputeParams = _field()


# ---------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key written twice in one mapping: PyYAML would keep the
    last value without a word, so that `lr:` written twice trains with whichever came last."""

    def construct_mapping(self, node, deep=False):
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key, Hashable):
                continue  # merges and unhashable keys: SafeLoader's own handling
            line = key_node.start_mark.line + 1
            if key in lines:
                raise ParamsError(f"the key {key!r} is written twice, on lines {lines[key]} and {line}: keep one")
            lines[key] = line
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Any:
    """The YAML file at `path`, which exists; a key written twice in one mapping is an error."""
    try:
        with path.open() as stream:
            return yaml.load(stream, Loader=_UniqueKeyLoader)
    except ParamsError as error:
        raise ParamsError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from error


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and validate params.yaml; raise ParamsError listing every problem found.

    Each value is checked on its own first (key, type, range); the rules between values
    run once every value is valid."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path} not found: run from the repository root or pass --params")
    raw = read_yaml(path)
    problems = _renamed_blocks(raw)
    try:
        params = _build(Params, raw, "", problems)
    except ParamsError as error:
        problems.append(str(error))
    except _Reported:
        pass
    else:
        _validate_pgan(params.pgan, params.data.celeba, problems)
        _validate_folder_source(params.data.celeba, problems)
        _validate_stargan(params.stargan, params.data.celeba, problems)
        _validate_ffhq(params.data.ffhq, problems)
        _validate_adam_schedule("hifacegan.train", params.hifacegan.train, problems)
        _validate_snapshot_choice(params.hifacegan.train, problems)
        _validate_batch_split(params, problems)
        _validate_machines(params.compute, problems)
    if len(problems) == 1:
        raise ParamsError(f"{path}: {problems[0]}")
    if problems:
        raise ParamsError(f"{path}: {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))
    return params


# Top-level blocks that were renamed: the old name is an error that names the new one.
RENAMED_BLOCKS = {"train": "compute"}


def _renamed_blocks(raw: Any) -> list[str]:
    """A problem for each block of `raw` under its old name; the block is then read under
    the new name, so that its own problems are found in the same pass."""
    problems = []
    for old, new in RENAMED_BLOCKS.items():
        if isinstance(raw, dict) and old in raw and new not in raw:
            raw[new] = raw.pop(old)
            problems.append(f"{old}: renamed {new} (the same keys inside): rename the block to `{new}:`")
    return problems


class _Reported(Exception):
    """A part of params.yaml whose problems are already in the list."""


def _build(cls, raw: Any, prefix: str, problems: list[str]):
    """The dataclass `cls` from its mapping, each field's problem added to `problems`
    (then _Reported is raised once every field was looked at)."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{prefix or 'params'} = {raw!r}: must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    for name in unknown:
        problems.append(f"{_join(prefix, name)}: unknown key; allowed keys here: {', '.join(fields)}")
    makers = {name: functools.partial(_field_value, spec, hints[name], raw, name, _join(prefix, name), problems)
              for name, spec in fields.items()}
    return cls(**_collect(makers, problems, failed=bool(unknown)))


def _field_value(spec: dataclasses.Field, hint, raw: dict, name: str, key: str, problems: list[str]):
    if name not in raw:
        if spec.default is dataclasses.MISSING:
            raise ParamsError(f"{key}: missing; add it")
        return spec.default
    value = _convert(hint, raw[name], key, problems)
    _check_range(value, spec.metadata, key)
    return value


def _collect(makers: dict[str, Callable[[], Any]], problems: list[str], failed: bool = False) -> dict:
    """Every maker's value by name, each one's problem added to `problems`; then _Reported
    if there was any (or `failed` already)."""
    values = {}
    for name, make in makers.items():
        try:
            values[name] = make()
        except ParamsError as error:
            problems.append(str(error))
            failed = True
        except _Reported:
            failed = True
    if failed:
        raise _Reported
    return values


def _convert(hint, value, key: str, problems: list[str]):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _convert(next(a for a in args if a is not type(None)), value, key, problems)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, problems)
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{key} = {value!r}: must be a list of {args[0].__name__}")
        return [_convert(args[0], item, f"{key}[{i}]", problems) for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not value:
            raise ParamsError(f"{key} = {value!r}: must be a non-empty mapping")
        return _collect({str(name): functools.partial(_convert, args[1], item, _join(key, str(name)), problems)
                         for name, item in value.items()}, problems)
    return _scalar(hint, value, key)


def _scalar(hint, value, key: str):
    # YAML reads 1e-3 as a string and 1 as an int: accept ints for floats, never bools.
    if hint is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):
        raise ParamsError(f"{key} = {value!r}: must be a finite number")
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ParamsError(f"{key} = {value!r}: must be {hint.__name__}, got {type(value).__name__}")


def _check_range(value, check, key: str) -> None:
    if value is None or not check:
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        if check["choices"] is not None and item not in check["choices"]:
            raise ParamsError(f"{key} = {item!r}: must be one of {', '.join(check['choices'])}")
        if check["positive"] and item <= 0:
            raise ParamsError(f"{key} = {item!r}: must be > 0")
        if check["low"] is not None and item < check["low"]:
            raise ParamsError(f"{key} = {item!r}: must be >= {check['low']}")
        if check["high"] is not None and item > check["high"]:
            raise ParamsError(f"{key} = {item!r}: must be <= {check['high']}")
        if check["power_of_two"] and (item & (item - 1)):
            raise ParamsError(f"{key} = {item!r}: must be a power of two")


def _validate_pgan(pgan: PGANParams, celeba: CelebAParams, problems: list[str]) -> None:
    """Cross-field rules: scales double from 4, chain through `prev`, fit the data."""
    previous = "init"
    for index, (key, scale) in enumerate(pgan.scales.items()):
        if key != str(4 * 2**index):
            problems.append(f"pgan.scales: key {key!r} at position {index}: scales must be 4, 8, 16, ... in order")
            return  # the rules below name scales by their place
        if scale.prev != previous:
            problems.append(f"pgan.scales.{key}.prev = {scale.prev!r}: must be {previous!r}")
        if scale.fade_iterations > scale.iterations or (index == 0 and scale.fade_iterations):
            allowed = "0 (nothing to fade in at 4x4)" if index == 0 else f"<= iterations ({scale.iterations})"
            problems.append(f"pgan.scales.{key}.fade_iterations = {scale.fade_iterations}: must be {allowed}")
        previous = key
    if len(pgan.model.channels) < len(pgan.scales):
        problems.append(f"pgan.model.channels = {pgan.model.channels}: needs one entry per scale ({len(pgan.scales)})")
    _validate_betas("pgan.train.betas", pgan.train.betas, problems)
    if pgan.resolution != celeba.resolution:
        problems.append(f"pgan.scales ends at {pgan.resolution} px but data.celeba.resolution = "
                        f"{celeba.resolution}: make them equal")
    if celeba.resolution > celeba.crop_size:
        problems.append(f"data.celeba.resolution = {celeba.resolution}: must be <= crop_size ({celeba.crop_size})")
    for name in ("crop_center", "image_size"):
        if len(getattr(celeba, name)) != 2:
            problems.append(f"data.celeba.{name} = {getattr(celeba, name)}: must be two numbers [x, y]")


def _validate_folder_source(celeba: CelebAParams, problems: list[str]) -> None:
    if celeba.source == "folder" and not celeba.folder:
        problems.append("data.celeba.source = 'folder' with data.celeba.folder empty: set it to the folder of your "
                        "photos")
    if celeba.attributes_file and not celeba.attributes_file.lower().endswith(ATTRIBUTE_FILE_SUFFIXES):
        problems.append(f"data.celeba.attributes_file = {celeba.attributes_file!r}: must be a .csv (a file column, "
                        "then one column per attribute) or a .txt in the format of CelebA's list_attr_celeba.txt")


def _validate_stargan(stargan: StarGANParams, celeba: CelebAParams, problems: list[str]) -> None:
    data, model, train = stargan.data, stargan.model, stargan.train
    if not data.attributes or len(set(data.attributes)) != len(data.attributes):
        problems.append(f"stargan.data.attributes = {data.attributes}: must be one or more distinct names")
    # A folder's CSV names its own columns, which prepare_stargan checks; everything else has CelebA's 40.
    if not (celeba.source == "folder" and celeba.attributes_file.lower().endswith(CSV_SUFFIX)):
        problems += [f"stargan.data.attributes = {name!r}: must be one of {', '.join(CELEBA_ATTRIBUTES)}"
                     for name in data.attributes if name not in CELEBA_ATTRIBUTES]
    for name, depth in (("stargan.model.d_repeat_num", model.d_repeat_num),
                        ("stargan.classifier.repeat_num", stargan.classifier.repeat_num)):
        if 2**depth > data.image_size:
            problems.append(f"{name} = {depth}: {depth} stride-2 convs need images of at least {2**depth} px, "
                            f"stargan.data.image_size is {data.image_size}")
    if data.image_size % 4:
        problems.append(f"stargan.data.image_size = {data.image_size}: G halves it twice, must divide by 4")
    _validate_adam_schedule("stargan.train", train, problems)


def _validate_betas(key: str, betas: list[float], problems: list[str]) -> None:
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        problems.append(f"{key} = {betas}: must be two numbers in [0, 1)")


def _validate_adam_schedule(prefix: str, train: ConditionalGANTrain, problems: list[str]) -> None:
    """Adam's two betas in [0, 1), and a linear decay that starts within the run."""
    _validate_betas(f"{prefix}.betas", train.betas, problems)
    if train.decay_start > train.iterations:
        problems.append(f"{prefix}.decay_start = {train.decay_start}: must be <= iterations ({train.iterations})")


def _validate_snapshot_choice(train: HiFaceGANTrain, problems: list[str]) -> None:
    if train.snapshots > 1 and train.validation_images == 0:
        problems.append(f"hifacegan.train.snapshots = {train.snapshots} needs validation pairs to choose among them: "
                        "set hifacegan.train.validation_images above 0, or snapshots to 1 (the last weights)")


def _validate_batch_split(params: Params, problems: list[str]) -> None:
    """Every global batch splits into compute.nproc x compute.nnodes equal shares (PGAN's: whole
    stddev groups)."""
    nproc = params.compute.nproc * params.compute.nnodes
    setting = "compute.nproc" if params.compute.nnodes == 1 else "compute.nproc x compute.nnodes"
    # (key, batch, its group size, the batch unit that always splits: PGAN's full groups)
    batches = [(f"pgan.scales.{key}.batch", scale.batch, stddev_group_size(scale.batch), MINIBATCH_GROUP_SIZE)
               for key, scale in params.pgan.scales.items()]
    batches += [("stargan.train.batch", params.stargan.train.batch, 1, 1),
                ("stargan.classifier.batch", params.stargan.classifier.batch, 1, 1),
                ("hifacegan.train.batch", params.hifacegan.train.batch, 1, 1)]
    for key, batch, group_size, unit in batches:
        try:
            groups_per_process(batch, nproc, group_size)
        except BatchSplitError:
            groups = f" in whole minibatch-stddev groups (of {group_size} images here)" if unit > 1 else ""
            problems.append(f"{key} = {batch} with {setting} = {nproc}: cannot be shared equally{groups}; "
                            f"make it a multiple of {unit * nproc}, or change {setting}")


def _validate_machines(compute: ComputeParams, problems: list[str]) -> None:
    """Several machines need the host:port where they meet; one machine needs none."""
    host, _, port = compute.rdzv_endpoint.rpartition(":")
    if compute.nnodes > 1 and not (host and port.isdigit()):
        problems.append(f"compute.rdzv_endpoint = {compute.rdzv_endpoint!r} with compute.nnodes = {compute.nnodes}: "
                        "must be HOST:PORT, a machine of the run that every other one reaches (e.g. node001:29500)")
    elif compute.nnodes == 1 and compute.rdzv_endpoint:
        problems.append(f"compute.rdzv_endpoint = {compute.rdzv_endpoint!r} with compute.nnodes = 1: one machine needs "
                        "no rendezvous; set it to \"\" or raise compute.nnodes")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def fingerprint(*parts: Any) -> str:
    """A stable sha256 of JSON-able parts (dataclasses included): what a run was made from."""

    def plain(obj):
        return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj

    text = json.dumps([plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _validate_ffhq(ffhq: FFHQParams, problems: list[str]) -> None:
    """Folder ranges: [first, last] folders (multiples of 1000), train and test apart."""
    malformed = False
    for split, folders in ffhq.ranges.items():
        if len(folders) != 2 or folders[0] > folders[1] or any(folder % 1000 for folder in folders):
            problems.append(f"data.ffhq.{split}_folders = {folders}: must be [first, last] folders, "
                            "multiples of 1000, first <= last")
            malformed = True
    if malformed:
        return
    (a0, a1), (b0, b1) = ffhq.train_folders, ffhq.test_folders
    if a0 <= b1 and b0 <= a1:
        problems.append(f"data.ffhq.train_folders {ffhq.train_folders} and test_folders {ffhq.test_folders} "
                        "overlap: an image must not be in both")
