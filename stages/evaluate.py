"""Evaluate stage: PGAN's SWD per pyramid level, MS-SSIM and FID into metrics/pgan.json."""
from pathlib import Path

import typer

from facegan.data.prepare import load_prepared
from facegan.devices import pick_device
from facegan.cliutil import PARAMS_OPTION, command_app, run_cli
from facegan.evaluation.pgan import evaluate_pgan
from facegan.io import write_json
from facegan.metrics.fid import staged_inception
from facegan.params import load_params
from facegan.training.pgan import load_averaged_generator

app = command_app(__doc__)


@app.command("pgan")
def pgan(
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/celeba"), help="prepare stage output"),
    root: Path = typer.Option(Path("data/pgan"), help="folder of the per-scale outputs"),
    weights: Path = typer.Option(Path("data/weights"), help="download_weights stage output (Inception for FID)"),
    out: Path = typer.Option(Path("data/eval/pgan"), help="image grids go here"),
    metrics: Path = typer.Option(Path("metrics/pgan.json"), help="metrics file (tracked in git)"),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:N]"),
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


if __name__ == "__main__":
    run_cli(app)
