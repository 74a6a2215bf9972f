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


@hookspec
def oldphoto_register_weights(register: Callable[..., None]) -> None:
    """Register folders of weights files: ``register(directory)``.

    Searched after ``--weights-dir``, ``$OLDPHOTO_WEIGHTS`` and the shipped weights (an
    earlier folder shadows a later one), so a package of weights can be installed or left
    out on its own, e.g. ``oldphoto-face-weights`` (research-use licence). The module with
    this hook must not import torch: it runs for ``--help`` and ``oldphoto stages``.
    """
