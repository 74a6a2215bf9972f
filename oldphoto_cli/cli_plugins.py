"""``oldphoto install`` and ``oldphoto uninstall``: thin wrappers over :mod:`oldphoto_cli.install`."""

from __future__ import annotations

import sys

import click

from oldphoto_cli import install


@click.command(name="install")
@click.argument("packages", nargs=-1)
@click.option("-e", "--editable", multiple=True, metavar="PATH",
              help="Install a local project in editable mode (repeatable).")  # fmt: skip
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the packages to the newest version.")
@click.option("--force-reinstall", is_flag=True, help="Reinstall even if up to date.")
@click.option("--no-cache-dir", is_flag=True, help="Do not use pip's cache.")
@click.option("--pre", is_flag=True, help="Include pre-release versions.")
def install_command(packages, editable, upgrade, force_reinstall, no_cache_dir, pre) -> None:
    """Install plugins (package names, paths or -e PATH) into oldphoto's own environment.

    Runs pip with the Python that runs oldphoto; `oldphoto plugins` then lists them.
    """
    try:
        args = install.pip_install_args(packages, editable, upgrade, force_reinstall,
                                        no_cache_dir, pre)  # fmt: skip
    except install.InstallError as error:
        raise click.UsageError(str(error)) from None
    sys.exit(install.run_pip(args))


@click.command(name="uninstall")
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall_command(packages, yes) -> None:
    """Uninstall plugins from oldphoto's own environment (pip uninstall)."""
    try:
        args = install.pip_uninstall_args(packages, yes)
    except install.InstallError as error:
        raise click.UsageError(str(error)) from None
    sys.exit(install.run_pip(args))


COMMANDS: list[click.Command] = [install_command, uninstall_command]
