"""Plugin hook specifications (entry-point group ``oldphoto``).

Every hook receives a ``register`` callback instead of returning values, so one plugin
can contribute any number of implementations and the host controls bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import pluggy

hookspec = pluggy.HookspecMarker("oldphoto")
hookimpl = pluggy.HookimplMarker("oldphoto")


@hookspec
def oldphoto_register_stages(register: Callable[..., None]) -> None:
    """Register stages: ``register(kind, name, factory, default=False, description="")``."""


@hookspec
def oldphoto_register_degradations(register: Callable[..., None]) -> None:
    """Register degradations: ``register(name, fn, group, structured=False, p=...)``."""


@hookspec
def oldphoto_register_face_detectors(register: Callable[..., None]) -> None:
    """Register face detectors: ``register(name, factory, default=False)``."""


@hookspec
def oldphoto_register_commands(cli: click.Group) -> None:
    """Add click subcommands to the ``oldphoto`` command group."""


Register = Callable[..., Any]
