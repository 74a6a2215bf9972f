"""restore and detect --help list their options in sections: inputs, outputs, pipeline,
performance; every option sits in one of them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from oldphoto_cli.cli import cli


@pytest.mark.parametrize("command", ["restore", "detect"])
def test_help_groups_every_option_in_a_section(command):
    text = CliRunner().invoke(cli, [command, "--help"], terminal_width=200).output
    titles = [line[:-1] for line in text.splitlines() if line and line[0].isupper()
              and line.endswith(":")]  # fmt: skip
    assert titles[:5] == ["Inputs", "Outputs", "Pipeline", "Performance", "Other options"]
    other = text.split("Other options:")[1]
    assert [line.split()[0] for line in other.splitlines() if line.strip().startswith("-")] == [
        "-h,"]  # fmt: skip
    params = cli.commands[command].params
    for param in params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in text.split("Other options:")[0], opt
