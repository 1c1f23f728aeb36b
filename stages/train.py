"""Train stages: `pgan-init` writes the untrained 4x4 networks, `pgan SCALE` trains one scale,
`stargan` trains StarGAN, `stargan-classifier` the attribute classifier that judges it,
`hifacegan` trains HiFaceGAN. With compute.nproc > 1 in params each one relaunches itself
under torchrun with that many processes (batches in params are global)."""
# Each command imports its own code first thing, so that a stage loads, and depends on,
# only that code (tests/test_stage_deps.py checks dvc.yaml against what it loads).
import sys
from pathlib import Path

import typer

from facegan.entrypoints import PARAMS_OPTION, command_app, run_cli

app = command_app(__doc__)


@app.command("pgan-init")
def pgan_init(params_file: Path = PARAMS_OPTION, out: Path = Path("data/pgan/init/model.pt")):
    """Write the seeded, untrained 4x4 PGAN networks (the first scale grows from them)."""
    from facegan.checkpoint import save_checkpoint
    from facegan.pgan.train import TRAINING_SECTIONS, init_networks
    from facegan.training.inputs import stage_inputs

    params = TRAINING_SECTIONS.load(params_file)
    save_checkpoint(out, init_networks(params.pgan, stage_inputs("train_pgan_init", params, {})))


@app.command("pgan")
def pgan(
    scale: str = typer.Argument(..., help="resolution key in pgan.scales, e.g. 8"),
    params_file: Path = PARAMS_OPTION,
    data: Path = typer.Option(Path("data/prepared/celeba"), help="prepare stage output"),
    root: Path = typer.Option(Path("data/pgan"), help="folder of the per-scale outputs"),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:N]"),
):
    """Train PGAN at one scale, resuming from its working checkpoint when there is one."""
    from facegan.data.prepared_celeba import load_prepared
    from facegan.pgan.train import TRAINING_SECTIONS, ScalePaths, train_scale
    from facegan.training.compute import computing, relaunch_under_torchrun
    from facegan.training.inputs import stage_inputs

    params = TRAINING_SECTIONS.load(params_file)
    relaunch_under_torchrun(params, sys.argv)
    params.pgan.depth_of(scale)  # fails with the list of scales when SCALE is unknown
    previous = params.pgan.scales[scale].prev
    images = load_prepared(data).images(int(scale))
    paths = ScalePaths(previous=root / previous / "model.pt", out_dir=root / scale)
    inputs = stage_inputs(f"train_pgan@{scale}", params,
                          {"data/prepared/celeba": data, f"data/pgan/{previous}/model.pt": paths.previous})
    with computing(params.compute, device) as compute:
        summary = train_scale(params.pgan, params.lr, scale, images, paths, inputs, compute)
    if compute.main:
        typer.echo(f"scale {scale}: {summary}")


STARGAN_DATA = typer.Option(Path("data/prepared/stargan"), help="prepare_stargan output")
DEVICE = typer.Option("auto", help="auto, cpu or cuda[:N]")


@app.command("stargan")
def stargan(params_file: Path = PARAMS_OPTION, data: Path = STARGAN_DATA,
            out: Path = typer.Option(Path("data/stargan"), help="model.pt, curves/, samples.png, work/"),
            device: str = DEVICE):
    """Train StarGAN on the training split, resuming from its working checkpoint when there is one."""
    from facegan.stargan.data import load_stargan
    from facegan.stargan.train import TRAINING_SECTIONS, train_stargan
    from facegan.training.compute import computing, relaunch_under_torchrun
    from facegan.training.inputs import stage_inputs
    from facegan.training.loop import RunPaths

    params = TRAINING_SECTIONS.load(params_file)
    relaunch_under_torchrun(params, sys.argv)
    prepared = load_stargan(data)
    inputs = stage_inputs("train_stargan", params, {"data/prepared/stargan": data})
    with computing(params.compute, device) as compute:
        summary = train_stargan(params.stargan, prepared, RunPaths(out), inputs, compute)
    if compute.main:
        typer.echo(f"stargan: {summary}")


@app.command("stargan-classifier")
def stargan_classifier(params_file: Path = PARAMS_OPTION, data: Path = STARGAN_DATA,
                       out: Path = typer.Option(Path("data/stargan/classifier"), help="model.pt, curves/, work/"),
                       device: str = DEVICE):
    """Train the attribute classifier on real training images (it judges StarGAN's edits)."""
    from facegan.stargan.classifier import TRAINING_SECTIONS, train_classifier
    from facegan.stargan.data import load_stargan
    from facegan.training.compute import computing, relaunch_under_torchrun
    from facegan.training.inputs import stage_inputs
    from facegan.training.loop import RunPaths

    params = TRAINING_SECTIONS.load(params_file)
    relaunch_under_torchrun(params, sys.argv)
    prepared = load_stargan(data)
    inputs = stage_inputs("train_stargan_classifier", params, {"data/prepared/stargan": data})
    with computing(params.compute, device) as compute:
        summary = train_classifier(params.stargan.classifier, prepared, RunPaths(out), inputs, compute)
    if compute.main:
        typer.echo(f"attribute classifier: {summary}")


@app.command("hifacegan")
def hifacegan(params_file: Path = PARAMS_OPTION,
              data: Path = typer.Option(Path("data/prepared/ffhq"), help="degrade_ffhq output"),
              weights: Path = typer.Option(Path("data/weights"), help="download_weights output (VGG19)"),
              out: Path = typer.Option(Path("data/hifacegan"), help="model.pt, curves/, samples.png, work/"),
              device: str = DEVICE):
    """Train HiFaceGAN on the degraded pairs, resuming from its working checkpoint when there is one.
    With hifacegan.train.lambda_vgg > 0 it needs VGG19's weights and stops at once without them."""
    from facegan.hifacegan.data import load_ffhq_pairs
    from facegan.hifacegan.train import TRAINING_SECTIONS, train_hifacegan
    from facegan.pretrained import load_vgg19
    from facegan.training.compute import computing, relaunch_under_torchrun
    from facegan.training.inputs import stage_inputs
    from facegan.training.loop import RunPaths
    from facegan.weights import staged_path

    params = TRAINING_SECTIONS.load(params_file)
    relaunch_under_torchrun(params, sys.argv)
    pairs = load_ffhq_pairs(data)
    # Of data/weights, the one file this stage reads (none at lambda_vgg 0).
    vgg_file = staged_path("vgg19", weights) if params.hifacegan.train.lambda_vgg else None
    inputs = stage_inputs("train_hifacegan", params, {"data/prepared/ffhq": data, "data/weights": vgg_file})
    with computing(params.compute, device) as compute:
        vgg = load_vgg19(vgg_file, compute.device) if vgg_file else None
        summary = train_hifacegan(params.hifacegan, pairs, RunPaths(out), inputs, compute, vgg)
    if compute.main:
        typer.echo(f"hifacegan: {summary}")


if __name__ == "__main__":
    run_cli(app)
