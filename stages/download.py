"""Download stage: bring a dataset into data/raw/<dataset>/ in its original on-disk format."""
from pathlib import Path

import typer

from facegan.data.sources import fetch_celeba
from facegan.cliutil import PARAMS_OPTION, command_app, run_cli
from facegan.params import load_params

app = command_app(__doc__)


@app.command("celeba")
def celeba(
    params_file: Path = PARAMS_OPTION,
    out: Path = typer.Option(Path("data/raw/celeba"), help="where the dataset goes"),
):
    """CelebA from data.celeba.source: the synthetic sample, a local folder or the official files."""
    c = load_params(params_file).data.celeba
    fetch_celeba(c.source, out, count=c.sample_count, seed=c.sample_seed, local_dir=c.local_dir or None)
    typer.echo(f"CelebA ({c.source}) is in {out}")


if __name__ == "__main__":
    run_cli(app)
