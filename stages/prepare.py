"""Prepare stage: crop (CelebA) or degrade (FFHQ) and pack a raw dataset into
memory-mappable uint8 arrays + a manifest."""
# Each command imports its own code first thing, so that a stage loads, and depends on,
# only that code (tests/test_stage_deps.py checks dvc.yaml against what it loads).
from pathlib import Path

import typer

from facegan.entrypoints import PARAMS_OPTION, command_app, run_cli

app = command_app(__doc__)


@app.command("celeba")
def celeba(
    params_file: Path = PARAMS_OPTION,
    raw: Path = typer.Option(Path("data/raw/celeba"), help="download stage output"),
    out: Path = typer.Option(Path("data/prepared/celeba"), help="where the packed arrays go"),
):
    """The celeba_cropped box or each photo's centred square, exact 2x2 box downscales to every PGAN scale."""
    from facegan.data.celeba import prepare_celeba
    from facegan.data.celeba_params import CELEBA_SECTIONS

    c = CELEBA_SECTIONS.load(params_file).data.celeba
    manifest = prepare_celeba(
        raw, out, crop=c.crop, crop_center=tuple(c.crop_center), crop_size=c.crop_size,
        resolution=c.resolution, max_bad_fraction=c.max_bad_fraction,
        image_size=tuple(c.image_size), workers=c.workers,
    )  # fmt: skip
    typer.echo(f"packed {manifest['counts']} into {out}; skipped {len(manifest['skipped'])}")


@app.command("stargan")
def stargan(
    params_file: Path = PARAMS_OPTION,
    raw: Path = typer.Option(Path("data/raw/celeba"), help="download stage output"),
    out: Path = typer.Option(Path("data/prepared/stargan"), help="where the packed arrays, labels and split go"),
):
    """StarGAN's view: centre crop, bilinear resize, selected attributes, seeded test split."""
    from facegan.data.celeba_params import CelebAParams
    from facegan.params import Sections
    from facegan.stargan.data import prepare_stargan
    from facegan.stargan.params import StarGANParams, attributes_known

    params = Sections({"data.celeba": CelebAParams, "stargan": StarGANParams},
                      rules=(attributes_known,)).load(params_file)
    c = params.data.celeba
    manifest = prepare_stargan(raw, out, params.stargan.data, max_bad_fraction=c.max_bad_fraction, workers=c.workers,
                               image_size=tuple(c.image_size), crop=c.crop)
    split = manifest["stargan"]["split_counts"]
    typer.echo(f"packed {manifest['counts']['kept']} images ({split['train']} train, {split['test']} test) at "
               f"{manifest['resolutions'][0]} px into {out}; skipped {len(manifest['skipped'])}")


@app.command("ffhq")
def ffhq(
    params_file: Path = PARAMS_OPTION,
    raw: Path = typer.Option(Path("data/raw/ffhq"), help="download stage output"),
    out: Path = typer.Option(Path("data/prepared/ffhq"), help="where the packed (degraded, clean) pairs go"),
):
    """HiFaceGAN's pairs: each train/test image resized, degraded with imgaug (seeded per image), packed."""
    from facegan.data.ffhq import select_splits
    from facegan.data.ffhq_params import FFHQParams
    from facegan.hifacegan.data import Degrader, degrade_ffhq
    from facegan.hifacegan.params import HiFaceGANParams
    from facegan.params import Sections

    params = Sections({"data.ffhq": FFHQParams, "hifacegan": HiFaceGANParams}).load(params_file)
    d = params.hifacegan.data
    manifest = degrade_ffhq(select_splits(raw, params.data.ffhq.ranges), out,
                            Degrader(d.degradation, d.image_size, d.seed, d.scale_ranges),
                            max_bad_fraction=d.max_bad_fraction, workers=d.workers)
    typer.echo(f"packed {manifest['counts']} '{d.degradation}' pairs at {d.image_size} px into {out}")


if __name__ == "__main__":
    run_cli(app)
