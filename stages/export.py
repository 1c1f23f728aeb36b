"""Export stage: a generator with torch.export (.pt2) and to ONNX (PGAN: the averaged generator of the
last scale), checked with onnxruntime, with a JSON record of its inputs and origin."""
# Each command imports its own code first thing, so that a stage loads, and depends on,
# only that code (tests/test_stage_deps.py checks dvc.yaml against what it loads).
from pathlib import Path

import typer

from facegan.entrypoints import PARAMS_OPTION, command_app, run_cli

app = command_app(__doc__)
CPU = "cpu"  # exports are traced on the CPU, where they are checked


@app.command("pgan")
def pgan(
    params_file: Path = PARAMS_OPTION,
    root: Path = typer.Option(Path("data/pgan"), help="folder of the per-scale outputs"),
    out: Path = typer.Option(Path("data/export/pgan"), help="where the exported files go"),
):
    """Write generator.pt2, generator.onnx and generator.json: input a latent vector, output a face."""
    from facegan.data.celeba_params import CelebAParams
    from facegan.export import export_generator
    from facegan.params import Sections
    from facegan.pgan.inference import export_spec, load_pgan
    from facegan.pgan.params import LR, PGANParams, resolution_matches_data
    from facegan.pipeline import params_fingerprint

    # data.celeba: dvc.yaml names the model this reads by data.celeba.resolution.
    params = Sections({"lr": LR, "pgan": PGANParams, "data.celeba": CelebAParams},
                      rules=(resolution_matches_data,)).load(params_file)
    model = load_pgan(root / str(params.pgan.resolution) / "model.pt", CPU)
    info = export_generator(export_spec(model, params_fingerprint("export_pgan", params)), out)
    typer.echo(f"exported to {out}; ONNX max |difference| {info['onnx_max_abs_difference']:.2e}")


@app.command("stargan")
def stargan(
    params_file: Path = PARAMS_OPTION,
    model: Path = typer.Option(Path("data/stargan/model.pt"), help="train_stargan output"),
    out: Path = typer.Option(Path("data/export/stargan"), help="where the exported files go"),
):
    """Write generator.pt2, generator.onnx and generator.json: inputs image and target labels."""
    from facegan.export import export_generator
    from facegan.params import Sections
    from facegan.pipeline import params_fingerprint
    from facegan.stargan.inference import export_spec, load_stargan
    from facegan.stargan.params import StarGANParams

    params = Sections({"stargan": StarGANParams}).load(params_file)
    info = export_generator(export_spec(load_stargan(model, CPU), params_fingerprint("export_stargan", params)), out)
    typer.echo(f"exported to {out}; ONNX max |difference| {info['onnx_max_abs_difference']:.2e}")


@app.command("hifacegan")
def hifacegan(
    params_file: Path = PARAMS_OPTION,
    model: Path = typer.Option(Path("data/hifacegan/model.pt"), help="train_hifacegan output"),
    out: Path = typer.Option(Path("data/export/hifacegan"), help="where the exported files go"),
):
    """Write generator.pt2, generator.onnx and generator.json: input a degraded face, output the restoration."""
    from facegan.export import export_generator
    from facegan.hifacegan.inference import export_spec, load_hifacegan
    from facegan.hifacegan.params import HiFaceGANParams
    from facegan.params import Sections
    from facegan.pipeline import params_fingerprint

    params = Sections({"hifacegan": HiFaceGANParams}).load(params_file)
    fingerprint = params_fingerprint("export_hifacegan", params)
    info = export_generator(export_spec(load_hifacegan(model, CPU), fingerprint), out)
    typer.echo(f"exported to {out}; ONNX max |difference| {info['onnx_max_abs_difference']:.2e}")


if __name__ == "__main__":
    run_cli(app)
