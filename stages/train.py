"""Train stages: `pgan-init` writes the untrained 4x4 networks, `pgan SCALE` trains one scale."""
from pathlib import Path

import typer

from facegan.data.prepare import load_prepared
from facegan.devices import pick_device
from facegan.cliutil import PARAMS_OPTION, command_app, run_cli
from facegan.params import load_params
from facegan.training.checkpoint import save_checkpoint
from facegan.training.pgan import ScalePaths, init_networks, train_scale

app = command_app(__doc__)


@app.command("pgan-init")
def pgan_init(params_file: Path = PARAMS_OPTION, out: Path = Path("data/pgan/init/model.pt")):
    """Write the seeded, untrained 4x4 PGAN networks (the first scale grows from them)."""
    save_checkpoint(out, init_networks(load_params(params_file).pgan))


@app.command("pgan")
def pgan(
    scale: str = typer.Argument(..., help="resolution key in pgan.scales, e.g. 8"),
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/celeba"), help="prepare stage output"),
    root: Path = typer.Option(Path("data/pgan"), help="folder of the per-scale outputs"),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:N]"),
):
    """Train PGAN at one scale, resuming from its working checkpoint when there is one."""
    params = load_params(params_file)
    params.pgan.depth_of(scale)  # fails with the list of scales when SCALE is unknown
    previous = params.pgan.scales[scale].prev
    images = load_prepared(data).images(int(scale))
    paths = ScalePaths(previous=root / previous / "model.pt", out_dir=root / scale)
    summary = train_scale(params.pgan, params.lr, scale, images, paths, pick_device(device))
    typer.echo(f"scale {scale}: {summary}")


if __name__ == "__main__":
    run_cli(app)
