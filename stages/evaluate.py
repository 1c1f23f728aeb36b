"""Evaluate stages: PGAN (SWD per pyramid level, MS-SSIM, FID) into metrics/pgan.json,
StarGAN (attribute accuracy of edits, cycle L1, FID) into metrics/stargan.json,
HiFaceGAN (PSNR/SSIM against the degraded baseline, FID, LPIPS) into metrics/hifacegan.json."""
# Each command imports its own code first thing, so that a stage loads, and depends on,
# only that code (tests/test_stage_deps.py checks dvc.yaml against what it loads).
from pathlib import Path

import typer

from facegan.entrypoints import PARAMS_OPTION, command_app, run_cli

app = command_app(__doc__)
WEIGHTS = typer.Option(Path("data/weights"), help="download_weights stage output (Inception, AlexNet, LPIPS lin)")
METRICS_HELP = "metrics file (tracked in git); the whole record goes beside it, in NAME.details.json"
DEVICE = typer.Option("auto", help="auto, cpu or cuda[:N]")


@app.command("pgan")
def pgan(
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/celeba"), help="prepare stage output"),
    root: Path = typer.Option(Path("data/pgan"), help="folder of the per-scale outputs"),
    weights: Path = WEIGHTS,
    out: Path = typer.Option(Path("data/eval/pgan"), help="image grids go here"),
    metrics: Path = typer.Option(Path("metrics/pgan.json"), help=METRICS_HELP),
    device: str = DEVICE,
):
    """Compare the averaged generator's faces with the real ones."""
    from facegan.data.celeba_params import CelebAParams
    from facegan.data.prepared_celeba import load_prepared
    from facegan.evaluation import write_record
    from facegan.machine import pick_device
    from facegan.metrics.fid import staged_inception
    from facegan.params import Sections
    from facegan.pgan.evaluate import HEADLINE, pgan_metrics, summary
    from facegan.pgan.inference import load_pgan
    from facegan.pgan.params import PGANEvalParams, PGANParams, resolution_matches_data

    params = Sections({"eval.pgan": PGANEvalParams, "pgan": PGANParams, "data.celeba": CelebAParams},
                      rules=(resolution_matches_data,)).load(params_file)
    device = pick_device(device)
    resolution = params.pgan.resolution
    model = load_pgan(root / str(resolution) / "model.pt", device)
    inception, fid_missing = staged_inception(weights, device)
    result = pgan_metrics(model, load_prepared(data).images(resolution), params.eval.pgan, out, inception, fid_missing)
    details = write_record(metrics, result, HEADLINE)
    typer.echo(f"wrote {metrics} and {details}: {summary(result)}")


@app.command("stargan")
def stargan(
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/stargan"), help="prepare_stargan output"),
    model: Path = typer.Option(Path("data/stargan/model.pt"), help="train_stargan output"),
    classifier: Path = typer.Option(Path("data/stargan/classifier/model.pt"), help="the attribute classifier"),
    weights: Path = WEIGHTS,
    out: Path = typer.Option(Path("data/eval/stargan"), help="the grid of edits goes here"),
    metrics: Path = typer.Option(Path("metrics/stargan.json"), help=METRICS_HELP),
    device: str = DEVICE,
):
    """Judge StarGAN's edits of the test faces with the attribute classifier; cycle L1; FID."""
    from facegan.evaluation import write_record
    from facegan.machine import pick_device
    from facegan.metrics.fid import staged_inception
    from facegan.params import Sections
    from facegan.stargan.data import load_stargan as load_stargan_data
    from facegan.stargan.evaluate import HEADLINE, stargan_metrics, summary
    from facegan.stargan.inference import load_judge, load_stargan
    from facegan.stargan.params import StarGANEvalParams, StarGANParams

    params = Sections({"eval.stargan": StarGANEvalParams, "stargan": StarGANParams}).load(params_file)
    device = pick_device(device)
    G = load_stargan(model, device)
    judge = load_judge(classifier, G.config["attributes"], device)
    inception, fid_missing = staged_inception(weights, device)
    result = stargan_metrics(G, judge, load_stargan_data(data), params.stargan.train.seed, params.eval.stargan, out,
                             inception, fid_missing)
    details = write_record(metrics, result, HEADLINE)
    typer.echo(f"wrote {metrics} and {details}: {summary(result)}")


@app.command("hifacegan")
def hifacegan(
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/ffhq"), help="degrade_ffhq output"),
    model: Path = typer.Option(Path("data/hifacegan/model.pt"), help="train_hifacegan output"),
    weights: Path = WEIGHTS,
    out: Path = typer.Option(Path("data/eval/hifacegan"), help="the grid of restorations goes here"),
    metrics: Path = typer.Option(Path("metrics/hifacegan.json"), help=METRICS_HELP),
    device: str = DEVICE,
):
    """Restore the degraded test faces; PSNR/SSIM against the clean ones, beside the degraded baseline; FID, LPIPS."""
    from facegan.evaluation import write_record
    from facegan.hifacegan.data import load_ffhq_pairs
    from facegan.hifacegan.evaluate import HEADLINE, hifacegan_metrics, summary
    from facegan.hifacegan.inference import load_hifacegan
    from facegan.hifacegan.params import HiFaceGANEvalParams, HiFaceGANParams
    from facegan.machine import pick_device
    from facegan.metrics.fid import staged_inception
    from facegan.metrics.lpips import staged_lpips
    from facegan.params import Sections

    params = Sections({"eval.hifacegan": HiFaceGANEvalParams, "hifacegan": HiFaceGANParams}).load(params_file)
    device = pick_device(device)
    G = load_hifacegan(model, device)
    inception, fid_missing = staged_inception(weights, device)
    lpips_model, lpips_missing = staged_lpips(weights, device)
    result = hifacegan_metrics(G, load_ffhq_pairs(data).pairs["test"], params.eval.hifacegan, params.hifacegan, out,
                               inception, fid_missing, lpips_model, lpips_missing)
    details = write_record(metrics, result, HEADLINE)
    typer.echo(f"wrote {metrics} and {details}: {summary(result)}")


if __name__ == "__main__":
    run_cli(app)
