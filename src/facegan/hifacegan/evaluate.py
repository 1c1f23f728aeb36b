"""HiFaceGAN evaluation on the test pairs, with the measures the paper and the official code
report (Yang et al. 2020, section 4).

- `psnr`, `ssim`: restored against clean test faces, as HiFaceGAN reports them (RGB in
  [0, 1], per image, then the mean; `facegan.metrics.psnr_ssim`);
- `degraded`: the same for the degraded inputs against the clean faces: the baseline
  that restoration must beat; `gain`: restored minus degraded;
- `fid`: restored against clean test faces, when the Inception weights are present;
- `lpips`: restored against clean test faces (and for the degraded ones, beside the
  baseline), when AlexNet and LPIPS's lin weights are present.
Each number is `null` with the reason under `missing` when it cannot be computed.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facegan.hifacegan.model import Generator, restoration_grid, restore
from facegan.hifacegan.params import HiFaceGANEvalParams, HiFaceGANParams
from facegan.images import save_image
from facegan.inference import TrainedModel
from facegan.metrics.fid import fid
from facegan.metrics.lpips import LPIPSAlex, lpips
from facegan.metrics.psnr_ssim import psnr_ssim

if TYPE_CHECKING:
    from facegan.metrics.inception import FIDInceptionV3


# metrics/hifacegan.json: what changes with the model (the degraded baseline and conditions in the details).
HEADLINE = ("fid", "gain", "lpips", "psnr", "ssim")


def evaluate_hifacegan(G: Generator, pairs: np.ndarray, params: HiFaceGANEvalParams, out_dir: Path,
                       fid_model: FIDInceptionV3 | None = None, fid_missing: str = "no FID network given",
                       lpips_model: LPIPSAlex | None = None, lpips_missing: str = "no LPIPS network given") -> dict:
    """Measure the restorations of (N, 2, S, S, 3) uint8 test `pairs`; save a grid of them."""
    degraded, clean = pairs[:, 0], pairs[:, 1]
    restored = restore(G, degraded, params.batch)

    def against_clean(images: np.ndarray):
        return ((images[i : i + params.batch], clean[i : i + params.batch]) for i in range(0, len(pairs), params.batch))

    ours, baseline = psnr_ssim(against_clean(restored)), psnr_ssim(against_clean(degraded))
    result = {
        "psnr": ours["psnr"], "ssim": ours["ssim"],
        "degraded": {"psnr": baseline["psnr"], "ssim": baseline["ssim"]},
        "gain": {"psnr": _difference(ours["psnr"], baseline["psnr"]), "ssim": ours["ssim"] - baseline["ssim"]},
        "fid": None, "lpips": None,
        "images": {"test": len(pairs)},
        "missing": {},
    }  # fmt: skip
    for name, scores in (("psnr", ours), ("degraded.psnr", baseline)):
        if "psnr" in scores.get("missing", {}):
            result["missing"][name] = scores["missing"]["psnr"]
    if fid_model is not None:
        count = min(params.fid_images, len(pairs))
        result["fid"] = fid([restored[:count]], [clean[:count]], model=fid_model)["fid"]
        result["images"]["fid"] = count
    else:
        result["missing"]["fid"] = fid_missing
    if lpips_model is not None:
        result["lpips"] = lpips(against_clean(restored), model=lpips_model)["lpips"]
        result["degraded"]["lpips"] = lpips(against_clean(degraded), model=lpips_model)["lpips"]
    else:
        result["missing"]["lpips"] = lpips_missing
    save_image(restoration_grid(pairs[:8], restored[:8]), out_dir / "restorations.png", min_side=512)
    return result


def hifacegan_metrics(model: TrainedModel, pairs: np.ndarray, params: HiFaceGANEvalParams, hifacegan: HiFaceGANParams,
                      out_dir: Path, fid_model: FIDInceptionV3 | None, fid_missing: str,
                      lpips_model: LPIPSAlex | None, lpips_missing: str) -> dict:
    """The record of metrics/hifacegan.json: `evaluate_hifacegan` on the test pairs, the
    iterations trained, which snapshot the model is (chosen on validation pairs), and the
    conditions the numbers were made under."""
    result = evaluate_hifacegan(model.network, pairs, params, out_dir, fid_model, fid_missing, lpips_model,
                                lpips_missing)
    return {**result, "iterations": model.iterations, "checkpoint_choice": model.choice,
            **training_conditions(hifacegan)}


def summary(result: dict) -> str:
    return (f"PSNR {result['psnr']} (degraded {result['degraded']['psnr']}), SSIM {result['ssim']:.4f} "
            f"(degraded {result['degraded']['ssim']:.4f}), FID {result['fid']}, LPIPS {result['lpips']}")


def training_conditions(hifacegan: HiFaceGANParams) -> dict:
    """What the numbers were made under that a reader must know: the degradation, and
    whether the perceptual loss and the (non-paper) pixel loss were on."""
    data, train = hifacegan.data, hifacegan.train
    return {"degradation": data.degradation,
            "degradation_ranges": "the blur's scaled by image_size / 512" if data.scale_ranges else
            "the reference's, in pixels of the training size",
            "perceptual_loss": f"on (lambda_vgg {train.lambda_vgg})" if train.lambda_vgg > 0 else
            "off: hifacegan.train.lambda_vgg is 0 (runs without the VGG19 weights)",
            "pixel_loss": f"on (lambda_l1 {train.lambda_l1}; not in the paper)" if train.lambda_l1 > 0 else "off"}


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b
