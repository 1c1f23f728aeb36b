"""Metric registry: one name -> one function returning a dict (after stylegan2-ada's
`metric_main`), so the CLI and the tests ask for metrics by name.

Each metric lives in its own module; the functions registered here only adapt it to a
`{"<name>": value}` result that is written as JSON as it is. Not imported by the package:
a stage that needs one metric loads (and depends on) that metric's module alone.
"""
from __future__ import annotations

from typing import Callable

from facegan.metrics.fid import fid
from facegan.metrics.lpips import lpips
from facegan.metrics.ms_ssim import ms_ssim
from facegan.metrics.psnr_ssim import psnr_ssim
from facegan.metrics.swd import sliced_wasserstein

MetricFn = Callable[..., dict]
METRICS: dict[str, MetricFn] = {}


def register_metric(name: str) -> Callable[[MetricFn], MetricFn]:
    def register(fn: MetricFn) -> MetricFn:
        if name in METRICS:
            raise ValueError(f"metric {name!r} is already registered")
        METRICS[name] = fn
        return fn

    return register


def compute(name: str, **kwargs) -> dict:
    """Run the metric `name` with its keyword arguments; its result dict."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    return METRICS[name](**kwargs)


@register_metric("swd")
def swd_metric(*, real_batches, fake_batches, seed: int, device="cpu", **options) -> dict:
    """PGAN's SWD x1e3 per pyramid level and their mean, real vs fake uint8 NHWC batches."""
    return {"swd": sliced_wasserstein(real_batches, fake_batches, seed=seed, device=device, **options)}


@register_metric("ms_ssim")
def ms_ssim_metric(*, batches, device="cpu") -> dict:
    """PGAN's MS-SSIM over consecutive pairs of uint8 NHWC batches."""
    return {"ms_ssim": ms_ssim(batches, device=device)}


@register_metric("psnr_ssim")
def psnr_ssim_metric(*, pairs, device="cpu") -> dict:
    """HiFaceGAN's mean PSNR and SSIM over (restored, clean) uint8 NHWC batch pairs."""
    return psnr_ssim(pairs, device=device)


@register_metric("fid")
def fid_metric(*, batches_a, batches_b, model) -> dict:
    """FID between two streams of uint8 NHWC batches with the FID InceptionV3 `model`."""
    return fid(batches_a, batches_b, model=model)


@register_metric("lpips")
def lpips_metric(*, pairs, model) -> dict:
    """Mean LPIPS (AlexNet, v0.1) over (a, b) uint8 NHWC batch pairs with the LPIPS `model`."""
    return lpips(pairs, model=model)
