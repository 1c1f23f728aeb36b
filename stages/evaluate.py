"""Evaluate stages: PGAN (SWD per pyramid level, MS-SSIM, FID) into metrics/pgan.json,
StarGAN (attribute accuracy of edits, cycle L1, FID) into metrics/stargan.json,
HiFaceGAN (PSNR/SSIM against the degraded baseline, FID, LPIPS) into metrics/hifacegan.json."""
from pathlib import Path

import typer

from facegan.data.degrade import load_ffhq_pairs
from facegan.data.prepare import load_prepared
from facegan.devices import pick_device
from facegan.cliutil import PARAMS_OPTION, command_app, run_cli
from facegan.data.stargan import load_stargan
from facegan.evaluation.hifacegan import evaluate_hifacegan, training_conditions
from facegan.evaluation.pgan import evaluate_pgan
from facegan.evaluation.stargan import evaluate_stargan
from facegan.io import write_json
from facegan.metrics.fid import staged_inception
from facegan.metrics.lpips import staged_lpips
from facegan.params import load_params
from facegan.training.classifier import load_classifier
from facegan.training.pgan import load_averaged_generator
from facegan.training import hifacegan as hifacegan_training
from facegan.training.stargan import load_generator, untrained_generator

app = command_app(__doc__)
WEIGHTS = typer.Option(Path("data/weights"), help="download_weights stage output (Inception, AlexNet, LPIPS lin)")
DEVICE = typer.Option("auto", help="auto, cpu or cuda[:N]")


@app.command("pgan")
def pgan(
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/celeba"), help="prepare stage output"),
    root: Path = typer.Option(Path("data/pgan"), help="folder of the per-scale outputs"),
    weights: Path = WEIGHTS,
    out: Path = typer.Option(Path("data/eval/pgan"), help="image grids go here"),
    metrics: Path = typer.Option(Path("metrics/pgan.json"), help="metrics file (tracked in git)"),
    device: str = DEVICE,
):
    """Compare the averaged generator's faces with the real ones."""
    params = load_params(params_file)
    resolution = params.pgan.resolution
    G, checkpoint = load_averaged_generator(root / str(resolution) / "model.pt")
    reals = load_prepared(data).images(resolution)
    device = pick_device(device)
    inception, fid_missing = staged_inception(weights, device)
    result = evaluate_pgan(G.to(device), reals, params.eval.pgan, out, inception, fid_missing)
    result["iterations"] = checkpoint["iteration"]
    write_json(metrics, result)
    typer.echo(f"wrote {metrics}: SWD avg {result['swd']['avg']:.2f} (x1e3), MS-SSIM {result['ms_ssim']}, "
               f"FID {result['fid']}")



@app.command("stargan")
def stargan(
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/stargan"), help="prepare_stargan output"),
    model: Path = typer.Option(Path("data/stargan/model.pt"), help="train_stargan output"),
    classifier: Path = typer.Option(Path("data/stargan/classifier/model.pt"), help="the attribute classifier"),
    weights: Path = WEIGHTS,
    out: Path = typer.Option(Path("data/eval/stargan"), help="the grid of edits goes here"),
    metrics: Path = typer.Option(Path("metrics/stargan.json"), help="metrics file (tracked in git)"),
    device: str = DEVICE,
):
    """Judge StarGAN's edits of the test faces with the attribute classifier; cycle L1; FID."""
    params, prepared = load_params(params_file), load_stargan(data)
    device = pick_device(device)
    G, checkpoint = load_generator(model)
    untrained = untrained_generator(checkpoint["config"], params.stargan.train.seed)
    judge, _ = load_classifier(classifier)
    inception, fid_missing = staged_inception(weights, device)
    test, train = prepared.indices("test"), prepared.indices("train")
    floor = prepared.images[train[: len(test) * len(prepared.attribute_names)]]  # as many as the edits
    result = evaluate_stargan(G.to(device), untrained.to(device), judge.to(device), prepared.images[test],
                              prepared.labels[test], floor, prepared.attribute_names, params.eval.stargan, out,
                              inception, fid_missing)
    result["iterations"] = checkpoint["iteration"]
    write_json(metrics, result)
    untrained = result["untrained"]
    typer.echo(f"wrote {metrics}: edit accuracy {result['attr_accuracy']['mean']:.3f} (real images: "
               f"{result['real_accuracy']['mean']:.3f}), self-reconstruction PSNR "
               f"{result['self_reconstruction_psnr']} dB (untrained {untrained['self_reconstruction_psnr']}), "
               f"fd_classifier {result['fd_classifier']:.2f} (untrained {untrained['fd_classifier']:.2f}, real floor "
               f"{result['fd_classifier_real_floor']:.2f}), FID {result['fid']}")


@app.command("hifacegan")
def hifacegan(
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/ffhq"), help="degrade_ffhq output"),
    model: Path = typer.Option(Path("data/hifacegan/model.pt"), help="train_hifacegan output"),
    weights: Path = WEIGHTS,
    out: Path = typer.Option(Path("data/eval/hifacegan"), help="the grid of restorations goes here"),
    metrics: Path = typer.Option(Path("metrics/hifacegan.json"), help="metrics file (tracked in git)"),
    device: str = DEVICE,
):
    """Restore the degraded test faces; PSNR/SSIM against the clean ones, beside the degraded baseline; FID, LPIPS."""
    params = load_params(params_file)
    device = pick_device(device)
    G, checkpoint = hifacegan_training.load_generator(model)
    inception, fid_missing = staged_inception(weights, device)
    lpips_model, lpips_missing = staged_lpips(weights, device)
    result = evaluate_hifacegan(G.to(device), load_ffhq_pairs(data).pairs["test"], params.eval.hifacegan, out,
                                inception, fid_missing, lpips_model, lpips_missing)
    result["iterations"] = checkpoint["iteration"]
    result |= training_conditions(params.hifacegan)
    write_json(metrics, result)
    typer.echo(f"wrote {metrics}: PSNR {result['psnr']} (degraded {result['degraded']['psnr']}), "
               f"SSIM {result['ssim']:.4f} (degraded {result['degraded']['ssim']:.4f}), FID {result['fid']}, "
               f"LPIPS {result['lpips']}")


if __name__ == "__main__":
    run_cli(app)
