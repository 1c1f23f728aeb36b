"""StarGAN's params: the `stargan` section (data view, networks, training, the attribute
classifier) and `eval.stargan`, with their rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facegan.batch_shares import batch_split_problems
from facegan.choices import CELEBA_ATTRIBUTES
from facegan.conditional_gan_params import ConditionalGANTrain
from facegan.data.celeba_params import CSV_SUFFIX
from facegan.params import setting


@dataclass(frozen=True)
class StarGANData:
    """StarGAN's CelebA view (official data loader): centre crop, resize, attributes, seeded test split."""

    attributes: list[str] = setting()  # CelebA's names, or a folder's CSV columns: checked by `attributes_known`
    crop_size: int = setting(low=1)
    image_size: int = setting(low=8, high=1024, power_of_two=True)
    test_count: int = setting(low=1)
    split_seed: int = setting(low=0)


@dataclass(frozen=True)
class StarGANModel:
    """Widths and depths of G and D (Choi et al. 2018, appendix: 64, 64, 6 residual blocks, 6 strided convs at 128 px)."""

    g_conv_dim: int = setting(low=1)
    d_conv_dim: int = setting(low=1)
    g_repeat_num: int = setting(low=0)
    d_repeat_num: int = setting(low=1)


@dataclass(frozen=True)
class StarGANTrain(ConditionalGANTrain):
    """Losses, optimiser and schedule (Choi et al. 2018, section 4); `iterations` counts critic steps."""

    batch: int = setting(low=2)
    n_critic: int = setting(low=1)
    lambda_cls: float = setting(low=0.0)
    lambda_rec: float = setting(low=0.0)
    lambda_gp: float = setting(low=0.0)
    lambda_id: float = setting(low=0.0)  # identity loss: not in the paper (0 there)


@dataclass(frozen=True)
class AttributeClassifierParams:
    """The separately trained attribute classifier that judges edited images (Choi et al. 2018, section 5.2)."""

    conv_dim: int = setting(low=1)
    repeat_num: int = setting(low=1)
    iterations: int = setting(low=1)
    batch: int = setting(low=2)
    lr: float = setting(high=1.0, positive=True)
    seed: int = setting(low=0)


@dataclass(frozen=True)
class StarGANParams:
    data: StarGANData
    model: StarGANModel
    train: StarGANTrain
    classifier: AttributeClassifierParams

    def rules(self, prefix: str) -> list[str]:
        data, problems = self.data, []
        if not data.attributes or len(set(data.attributes)) != len(data.attributes):
            problems.append(f"{prefix}.data.attributes = {data.attributes}: must be one or more distinct names")
        for name, depth in ((f"{prefix}.model.d_repeat_num", self.model.d_repeat_num),
                            (f"{prefix}.classifier.repeat_num", self.classifier.repeat_num)):
            if 2**depth > data.image_size:
                problems.append(f"{name} = {depth}: {depth} stride-2 convs need images of at least {2**depth} px, "
                                f"{prefix}.data.image_size is {data.image_size}")
        if data.image_size % 4:
            problems.append(f"{prefix}.data.image_size = {data.image_size}: G halves it twice, must divide by 4")
        return problems


@dataclass(frozen=True)
class StarGANEvalParams:
    """How StarGAN is evaluated: test images per batch, edited images for FID."""

    batch: int = setting(low=1)
    fid_images: int = setting(low=2)


def attributes_known(params: Any, problems: list[str]) -> None:
    """The attributes are CelebA's, except for a folder whose CSV names its own columns (which
    prepare_stargan checks)."""
    celeba = params.data.celeba
    if not (celeba.source == "folder" and celeba.attributes_file.lower().endswith(CSV_SUFFIX)):
        problems += [f"stargan.data.attributes = {name!r}: must be one of {', '.join(CELEBA_ATTRIBUTES)}"
                     for name in params.stargan.data.attributes if name not in CELEBA_ATTRIBUTES]


def batch_split(params: Any, problems: list[str]) -> None:
    """StarGAN's and its classifier's batches split into equal shares, one per process."""
    problems += batch_split_problems(params.compute, [
        ("stargan.train.batch", params.stargan.train.batch, 1, 1),
        ("stargan.classifier.batch", params.stargan.classifier.batch, 1, 1)])
