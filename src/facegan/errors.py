"""Errors a user can fix: stage scripts and the `facegan` command print their message
(which says what was wrong and how to fix it) and exit with code 2, no traceback."""
from __future__ import annotations

import sys
from typing import Callable


class UserError(Exception):
    """Bad input, params or files; the message says what to change."""


def run_cli(app: Callable[[], object]) -> None:
    """Run a Typer app, turning a UserError into a one-line message and exit code 2."""
    try:
        app()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
