"""`facegan params check`: the whole params file validated in one pass. Each stage checks only
the sections it reads, so a problem in another model's section shows when that model's stage
runs; this shows every problem at once, before any stage does."""
from __future__ import annotations

from pathlib import Path

import typer

from facegan.entrypoints import group_app

params_app = group_app("The params file: check it whole.")


@params_app.command("check")
def check_command(params_file: Path = typer.Argument(Path("params.yaml"), help="the params file to check")):
    """Validate every section and every rule between sections; list every problem found (exit code 2)."""
    from facegan.params_file import EVERY_SECTION

    params = EVERY_SECTION.load(params_file)
    scales = ", ".join(params.pgan.scales)
    typer.echo(f"{params_file}: valid (every section and rule; PGAN scales {scales} px)")
