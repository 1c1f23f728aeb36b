"""`--help` reads as prose: a docstring's hard line breaks do not break its sentences."""
import inspect
import re

import pytest
from typer.testing import CliRunner

from facegan.cli import app

COMMANDS = [command for command in app.registered_commands if (command.callback.__doc__ or "").count("\n") > 0]


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_a_docstring_paragraph_is_one_line_of_help(command):
    paragraph = inspect.getdoc(command.callback).split("\n\n")[0]
    joined = re.sub(r"\s+", " ", paragraph.replace("`", ""))
    result = CliRunner().invoke(app, [command.name, "--help"], env={"COLUMNS": "2000"})
    assert result.exit_code == 0
    assert joined in re.sub(r"[ \t]+", " ", result.output), result.output
