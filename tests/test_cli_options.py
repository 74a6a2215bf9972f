"""restore and detect receive their options bundled in dataclasses (cli_options.bundled):
every option lands in exactly one of them, and the options both take are the same."""

from __future__ import annotations

import dataclasses

import click
import pytest

from oldphoto_cli.cli import cli
from oldphoto_cli.cli_options import BatchOptions, bundled


@pytest.mark.parametrize("command", ["restore", "detect"])
def test_every_option_lands_in_exactly_one_group(command):
    groups = cli.commands[command].callback.option_groups
    fields = [field.name for group in groups.values() for field in dataclasses.fields(group)]
    assert len(fields) == len(set(fields)), "an option in two groups"
    assert sorted(fields) == sorted(param.name for param in cli.commands[command].params)


def test_the_options_both_commands_take_are_declared_alike():
    ctx = click.Context(cli.commands["restore"])
    params = {
        name: {p.name: p for p in cli.commands[name].params} for name in ("restore", "detect")
    }
    for field in dataclasses.fields(BatchOptions):
        restore, detect = params["restore"][field.name], params["detect"][field.name]
        assert restore.get_help_record(ctx) == detect.get_help_record(ctx), field.name
        assert restore.default == detect.default, field.name


def test_an_option_in_no_group_is_an_error():
    @dataclasses.dataclass
    class Group:
        kept: int

    @bundled(group=Group)
    def command(group):
        return group

    assert command(kept=1) == Group(1)
    with pytest.raises(TypeError, match="options in no group: stray"):
        command(kept=1, stray=2)
