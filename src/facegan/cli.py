"""The `facegan` command: user-facing work beside the pipeline (metrics on image folders,
pretrained weights)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from facegan.cliutil import command_app, run_cli
from facegan.errors import UserError
from facegan.metrics.cli import metrics_app
from facegan import weights

app = command_app(__doc__)
app.add_typer(metrics_app, name="metrics", help="Measure image folders with the pipeline's metric code.")
weights_app = typer.Typer(help="Pretrained weights in the cache ($FACEGAN_WEIGHTS_DIR, else ~/.cache/facegan/weights).",
                          no_args_is_help=True)
app.add_typer(weights_app, name="weights")


Names = Annotated[Optional[list[str]], typer.Argument(help=f"any of: {', '.join(weights.WEIGHTS)} (default: all)")]
Source = Annotated[Optional[str], typer.Option(
    "--from", help="a local copy or another URL to take the file from (one name only); checked all the same")]


@weights_app.command("fetch")
def fetch_command(names: Names = None, source: Source = None) -> None:
    """Bring weights into the cache from their official URL (or --from), verified by sha256."""
    names = names or list(weights.WEIGHTS)
    if source is not None and len(names) != 1:
        raise UserError("--from takes the file of one weights name: give exactly one name")
    for name in names:
        typer.echo(f"{name}: {weights.fetch(name, source)}")


@weights_app.command("list")
def list_command() -> None:
    """Each known weights file, what it is for, and whether the cache has it."""
    typer.echo(f"cache: {weights.weights_dir()}")
    for name, weight in weights.WEIGHTS.items():
        try:
            state = f"present: {weights.cached_path(name)}"
        except UserError as error:
            state = f"missing: {error}"
        typer.echo(f"{name} ({weight.purpose}): {state}")


def main() -> None:
    run_cli(app)
