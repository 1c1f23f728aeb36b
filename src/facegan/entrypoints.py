"""What every command-line entry point shares: a Typer app that always keeps its
sub-commands (`stages/download.py celeba` stays valid when a second dataset is added),
and clean failure on a UserError."""
from __future__ import annotations

import sys
from pathlib import Path

import typer

from facegan.errors import Interrupted, UserError, install_interrupts


# The one way every stage script takes its params file.
PARAMS_OPTION = typer.Option(Path("params.yaml"), "--params", help="params file to read")


# Help texts are Markdown: a docstring's hard line breaks then join into reflowed paragraphs.
HELP_FORMAT = "markdown"


def command_app(help: str) -> typer.Typer:
    app = typer.Typer(help=help, no_args_is_help=True, add_completion=False, rich_markup_mode=HELP_FORMAT)
    # A callback makes Typer keep the sub-command level even with a single command.
    app.callback()(lambda: None)
    return app


def group_app(help: str) -> typer.Typer:
    """A group of sub-commands under another app (`facegan metrics ...`)."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=HELP_FORMAT)


# What an interrupt leaves when the command did not count its outputs: every file is
# written beside its place and renamed in when complete (facegan.io), and the temporary
# one is removed on the way out.
NOTHING_HALF_WRITTEN = ("interrupted: no output is half-written (each one appears whole when complete); "
                        "rerun to go on")


def run_cli(app: typer.Typer) -> None:
    """Run a Typer app: a UserError becomes a one-line message and exit code 2; Ctrl-C or
    SIGTERM one line on what is complete and exit code 130, with no traceback."""
    install_interrupts()  # unwind, removing temporary files, and say so
    try:
        app()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as error:
        print(str(error) or NOTHING_HALF_WRITTEN, file=sys.stderr)
        sys.exit(130)
