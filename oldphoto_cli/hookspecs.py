"""Plugin hook specifications (entry-point group ``oldphoto``).

Every hook receives a ``register`` callback instead of returning values, so one plugin
can contribute any number of implementations and the host controls bookkeeping. Its
keyword arguments are explicit: a misspelt one is an error naming the plugin. What the
registered objects must be is :mod:`oldphoto_cli.contract`; a guide is docs/plugins.md.
"""

from __future__ import annotations

from collections.abc import Callable

import click
import pluggy

hookspec = pluggy.HookspecMarker("oldphoto")
hookimpl = pluggy.HookimplMarker("oldphoto")


@hookspec
def oldphoto_register_stages(register: Callable[..., None]) -> None:
    """Register stages: ``register(kind, name, factory, *, default=False, description="")``.

    ``kind``: one of ``oldphoto_cli.contract.KINDS``; ``factory``: the stage class (or a
    callable returning a stage), or ``"module:Class"`` imported on first use.
    """


@hookspec
def oldphoto_register_degradations(register: Callable[..., None]) -> None:
    """Register degradations: ``register(name, fn, group=None, *, structured=False, p=0.5)``."""


@hookspec
def oldphoto_register_face_detectors(register: Callable[..., None]) -> None:
    """Register face detectors: ``register(name, factory, *, default=False, description="")``."""


@hookspec
def oldphoto_register_commands(cli: click.Group) -> None:
    """Add click subcommands to the ``oldphoto`` command group."""
