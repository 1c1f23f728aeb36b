"""Download stage: bring a dataset into data/raw/DATASET/ in its original on-disk format,
and pretrained weights into data/weights/."""
# Each command imports its own code first thing, so that a stage loads, and depends on,
# only that code (tests/test_stage_deps.py checks dvc.yaml against what it loads).
from pathlib import Path

import typer

from facegan.entrypoints import PARAMS_OPTION, command_app, run_cli

app = command_app(__doc__)


@app.command("celeba")
def celeba(
    params_file: Path = PARAMS_OPTION,
    out: Path = typer.Option(Path("data/raw/celeba"), help="where the dataset goes"),
):
    """CelebA from data.celeba.source: the synthetic sample, a local copy or the official files; or a folder of
    photos."""
    from facegan.data.celeba_params import CELEBA_SECTIONS
    from facegan.data.sources import fetch_celeba

    c = CELEBA_SECTIONS.load(params_file).data.celeba
    fetch_celeba(c.source, out, count=c.sample_count, seed=c.sample_seed, local_dir=c.local_dir or None,
                 folder=c.folder or None, attributes_file=c.attributes_file or None)
    typer.echo(f"data.celeba ({c.source}) is in {out}")


@app.command("ffhq")
def ffhq(
    params_file: Path = PARAMS_OPTION,
    out: Path = typer.Option(Path("data/raw/ffhq"), help="where the dataset goes"),
):
    """The FFHQ images of the train and test folder ranges from data.ffhq.source, as NNNNN/NNNNN.png."""
    from facegan.data.ffhq import fetch_ffhq, folder_range_ids
    from facegan.data.ffhq_params import FFHQParams
    from facegan.params import Sections

    f = Sections({"data.ffhq": FFHQParams}).load(params_file).data.ffhq
    ids = [i for folders in f.ranges.values() for i in folder_range_ids(folders)]
    fetch_ffhq(f.source, out, ids, per_folder=f.sample_per_folder, sample_size=f.sample_size,
               seed=f.sample_seed, local_dir=f.local_dir or None)
    typer.echo(f"FFHQ ({f.source}) is in {out}")


@app.command("weights")
def weights(
    params_file: Path = PARAMS_OPTION,
    out: Path = typer.Option(Path("data/weights"), help="where the weights and their manifest go"),
):
    """Pretrained weights from the cache, those the params use downloaded first if weights.download.

    Absent weights do not fail the stage: the manifest says why, and the metrics that
    need them are recorded as missing. VGG19 (548 MB) is fetched only when
    hifacegan.train.lambda_vgg turns the perceptual loss on."""
    from facegan.hifacegan.params import HiFaceGANTrain
    from facegan.params import Sections
    from facegan.weights import WeightsParams, stage_weights, used_weights, weights_dir

    params = Sections({"weights": WeightsParams, "hifacegan.train": HiFaceGANTrain}).load(params_file)
    used = used_weights(perceptual_loss=params.hifacegan.train.lambda_vgg > 0)
    manifest = stage_weights(out, download=used if params.weights.download else ())
    for name, entry in manifest.items():
        typer.echo(f"{name}: " + ("present" if entry["present"] else f"MISSING: {entry['reason']}"))
    typer.echo(f"cache: {weights_dir()}; manifest: {out / 'manifest.json'}")


if __name__ == "__main__":
    run_cli(app)
