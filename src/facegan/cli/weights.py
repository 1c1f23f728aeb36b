"""`facegan weights ...`: the pretrained weights in the cache, fetched and listed."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from facegan import weights
from facegan.entrypoints import group_app
from facegan.errors import UserError

weights_app = group_app("Pretrained weights in the cache ($FACEGAN_WEIGHTS_DIR, else ~/.cache/facegan/weights).")

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
    typer.echo("in the project, `dvc repro --force download_weights && dvc repro` brings them into the pipeline")


@weights_app.command("list")
def list_command() -> None:
    """Each known weights file, whether the cache has it (verified), and what it is for; then
    how to get the missing ones."""
    directory = weights.weights_dir()
    rows, absent = [("name", "state", "file", "for")], []
    for name, weight in weights.WEIGHTS.items():
        try:
            weights.cached_path(name)
            state = "present"
        except UserError:
            state = "ALTERED" if (directory / weight.filename).exists() else "missing"
            absent.append((weight, state))
        rows.append((name, state, weight.filename, weight.purpose))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    typer.echo(f"cache: {directory}")
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
    for weight, state in absent:
        first = f"delete {directory / weight.filename} (not the published file), then " if state == "ALTERED" else ""
        typer.echo(f"{weight.name}: {first}`facegan weights fetch {weight.name}` downloads it; offline, download "
                   f"{weight.url} by hand and add `--from FILE`")
