"""The `facegan` command: user-facing work beside the pipeline: faces from the trained PGAN,
StarGAN edits, HiFaceGAN restorations, degradations, metrics on image folders, pretrained
weights.

Every command checks its paths and options first, and imports torch and the models only
then: `--help` and a mistake come back at once. Ctrl-C (or SIGTERM) stops a command with
one line saying how many of its files are complete; a rerun into the same folder finishes
the others (see OUT_RULE).
"""
from __future__ import annotations

from facegan.cli import experiments, models
from facegan.cli.metrics import metrics_app
from facegan.cli.params import params_app
from facegan.cli.sweep import sweep_app
from facegan.cli.weights import weights_app
from facegan.entrypoints import command_app, run_cli

app = command_app(__doc__)
app.registered_commands += models.commands.registered_commands + experiments.commands.registered_commands
app.add_typer(metrics_app, name="metrics", help="Measure image folders with the pipeline's metric code.")
app.add_typer(weights_app, name="weights")
app.add_typer(sweep_app, name="sweep")
app.add_typer(params_app, name="params")


def main() -> None:
    run_cli(app)
