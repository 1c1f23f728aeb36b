"""Errors a user can fix: stage scripts and the `facegan` command print their message
(which says what was wrong and how to fix it) and exit with code 2, no traceback."""
from __future__ import annotations

import pickle


class UserError(Exception):
    """Bad input, params or files; the message says what to change."""


def cause(error: BaseException) -> str:
    """The first line of another library's error message, for a one-line UserError
    (torch's load errors run to a dozen lines of advice meant for its own developers), and
    of a long line its first sentence."""
    if isinstance(error, pickle.UnpicklingError):  # torch's weights_only refusal: its text suggests unsafe loading
        return "not a file of tensors that torch loads without running code"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > 120 and ". " in first:  # torch's one-line paragraphs: their first sentence says what failed
        first = first[: first.index(". ") + 1]
    return f"{type(error).__name__}: {first}"


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM stopped a command; the message, when there is one, says what is
    complete on disk. A BaseException, as KeyboardInterrupt is, so that no `except
    Exception` takes it for a damaged file; and not a KeyboardInterrupt, which Click
    would turn into "Aborted!"."""
