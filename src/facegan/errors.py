"""Errors a user can fix: stage scripts and the `facegan` command print their message
(which says what was wrong and how to fix it) and exit with code 2, no traceback."""
from __future__ import annotations


class UserError(Exception):
    """Bad input, params or files; the message says what to change."""
