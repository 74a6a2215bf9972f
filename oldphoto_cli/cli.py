"""The ``oldphoto`` command group. Commands are thin: logic lives in library modules."""

from __future__ import annotations

import json
import sys

import click

from oldphoto_cli import __version__, plugins, stages

EXIT_INTERRUPTED = 130  # as a shell reports a process ended by SIGINT


def interrupted(what: str = "interrupted") -> None:
    """Ctrl-C outside a batch (parsing, importing torch, loading models): one line, exit 130."""
    click.echo(f"oldphoto: {what}", err=True)
    sys.exit(EXIT_INTERRUPTED)


class InterruptibleGroup(click.Group):
    """A group where Ctrl-C anywhere ends with exit 130, the same as mid-batch, instead of
    click's "Aborted!" and 1: the first second of a run imports torch and loads models."""

    def make_context(self, *args, **kwargs) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            interrupted()
            raise  # unreachable: interrupted() exits

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()
            raise


@click.group(cls=InterruptibleGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oldphoto")
def cli() -> None:
    """Restore old, damaged photographs (Wan et al., "Bringing Old Photos Back to Life")."""


@cli.command(name="plugins")
def plugins_command() -> None:
    """List loaded plugins as JSON (name, version, distribution, hooks, what they provide)."""
    from oldphoto_cli import faces
    from oldphoto_cli.degrade import registry as degradations

    provided: dict[str, dict[str, list]] = {}
    for spec in stages.all_stages():
        entry = provided.setdefault(spec.plugin, {})
        entry.setdefault("stages", []).append({"kind": spec.kind, "name": spec.name})
    for what, registry in (("face_detectors", faces.registry),
                           ("degradations", degradations.registry)):  # fmt: skip
        for plugin, specs in registry.provided_by().items():
            provided.setdefault(plugin, {})[what] = [spec.name for spec in specs]
    from oldphoto_cli.weights import registered_weights_dirs

    for lookup in registered_weights_dirs():
        provided.setdefault(lookup.plugin, {}).setdefault("weights_dirs", []).append(
            str(lookup.path)
        )
    click.echo(json.dumps(plugins.plugin_info(provided), indent=2))


@cli.command(name="stages")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stages_command(as_json: bool) -> None:
    """Show, per kind, the registered implementations and the default: the pipeline's
    stages, face detectors and degradations (`oldphoto degrade --list` details those)."""
    from oldphoto_cli import catalog

    rows = catalog.stage_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for kind, specs in rows.items():
        names = ", ".join(s["name"] + (" (default)" if s["default"] else "") for s in specs)
        click.echo(click.wrap_text(names or "-", width=88, initial_indent=f"{kind:13s} ",
                                   subsequent_indent=" " * 14))  # fmt: skip


def _add_commands() -> None:
    from oldphoto_cli import (
        cli_degrade,
        cli_eval,
        cli_plugins,
        cli_restore,
        cli_train,
        cli_weights,
    )

    for module in (cli_restore, cli_degrade, cli_train, cli_weights, cli_eval, cli_plugins):
        for command in module.COMMANDS:
            cli.add_command(command)
    plugins.load_plugins()
    try:
        plugins.pm.hook.oldphoto_register_commands(cli=cli)
    except Exception as error:  # a plugin's commands must not break the CLI
        print(f"oldphoto: a plugin failed to add commands: {error}", file=sys.stderr)


_add_commands()


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:  # between click's handlers (e.g. its own start-up)
        interrupted()
