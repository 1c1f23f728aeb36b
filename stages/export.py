"""Export stage: a generator to TorchScript and ONNX (PGAN: the averaged generator of the last scale)."""
from pathlib import Path

import typer

from facegan.cliutil import PARAMS_OPTION, command_app, run_cli
from facegan.export import InputSpec, export_generator
from facegan.params import fingerprint, load_params
from facegan.training.pgan import load_averaged_generator
from facegan.models.hifacegan import baked
from facegan.training import hifacegan as hifacegan_training
from facegan.training.stargan import load_generator

app = command_app(__doc__)


@app.command("pgan")
def pgan(
    params_file: Path = PARAMS_OPTION,
    root: Path = typer.Option(Path("data/pgan"), help="folder of the per-scale outputs"),
    out: Path = typer.Option(Path("data/export/pgan"), help="where the exported files go"),
):
    """Write generator.ts, generator.onnx and generator.json (checked with onnxruntime)."""
    params = load_params(params_file)
    G, checkpoint = load_averaged_generator(root / str(params.pgan.resolution) / "model.pt")
    config = checkpoint["config"]
    latent = InputSpec("z", (config["latent_dim"],), "latent vector, N(0, 1) per entry")
    metadata = {"model": "pgan", "weights": "G_ema (averaged generator)", "resolution": G.resolution,
                "config": config, "params_fingerprint": fingerprint(params.lr, params.pgan),
                "checkpoint_fingerprint": checkpoint["fingerprint"], "iterations": checkpoint["iteration"]}  # fmt: skip
    info = export_generator(G, [latent], out, "generator", metadata)
    typer.echo(f"exported to {out}; ONNX max |difference| {info['onnx_max_abs_difference']:.2e}")



@app.command("stargan")
def stargan(
    params_file: Path = PARAMS_OPTION,
    model: Path = typer.Option(Path("data/stargan/model.pt"), help="train_stargan output"),
    out: Path = typer.Option(Path("data/export/stargan"), help="where the exported files go"),
):
    """Write generator.ts, generator.onnx and generator.json: inputs image and target labels."""
    params = load_params(params_file)
    G, checkpoint = load_generator(model)
    config = checkpoint["config"]
    size, attributes = config["image_size"], config["attributes"]
    inputs = [InputSpec("image", (3, size, size), "RGB face in [-1, 1], centre-cropped and resized as in training"),
              InputSpec("labels", (len(attributes),), f"target attributes, 0 or 1: {', '.join(attributes)}")]
    metadata = {"model": "stargan", "attributes": attributes, "resolution": size, "config": config,
                "params_fingerprint": fingerprint(params.stargan), "checkpoint_fingerprint": checkpoint["fingerprint"],
                "iterations": checkpoint["iteration"]}  # fmt: skip
    info = export_generator(G, inputs, out, "generator", metadata)
    typer.echo(f"exported to {out}; ONNX max |difference| {info['onnx_max_abs_difference']:.2e}")


@app.command("hifacegan")
def hifacegan(
    params_file: Path = PARAMS_OPTION,
    model: Path = typer.Option(Path("data/hifacegan/model.pt"), help="train_hifacegan output"),
    out: Path = typer.Option(Path("data/export/hifacegan"), help="where the exported files go"),
):
    """Write generator.ts, generator.onnx and generator.json: input a degraded face, output the restoration."""
    params = load_params(params_file)
    G, checkpoint = hifacegan_training.load_generator(model)
    config = checkpoint["config"]
    size = config["image_size"]
    inputs = [InputSpec("image", (3, size, size), "degraded RGB face in [-1, 1], resized to the model's size")]
    metadata = {"model": "hifacegan", "resolution": size, "config": config,
                "normalisation": "per-image statistics (instance norm), as in training",
                "params_fingerprint": fingerprint(params.hifacegan),
                "checkpoint_fingerprint": checkpoint["fingerprint"], "iterations": checkpoint["iteration"]}  # fmt: skip
    info = export_generator(baked(G), inputs, out, "generator", metadata)
    typer.echo(f"exported to {out}; ONNX max |difference| {info['onnx_max_abs_difference']:.2e}")


if __name__ == "__main__":
    run_cli(app)
