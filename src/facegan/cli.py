"""The `facegan` command: user-facing work beside the pipeline (metrics on image folders)."""
from __future__ import annotations

from facegan.cliutil import command_app, run_cli
from facegan.metrics.cli import metrics_app

app = command_app(__doc__)
app.add_typer(metrics_app, name="metrics", help="Measure image folders with the pipeline's metric code.")


def main() -> None:
    run_cli(app)
