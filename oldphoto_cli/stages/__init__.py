"""Pipeline stages: the registry of implementations per kind, and the built-in ones.

Built-ins, one module each (imported only when a stage is built: they import torch):

- :mod:`oldphoto_cli.stages.detect`: ``unet``, the U-Net scratch detector;
- :mod:`oldphoto_cli.stages.vae`: ``vae1`` (encoder E_RX) and ``vae2`` (decoder G_Y);
- :mod:`oldphoto_cli.stages.mapping`: ``mapping`` (T_Z) and ``identity`` translators.

Face enhancement lives in :mod:`oldphoto_cli.faces`. What each kind must be is
:mod:`oldphoto_cli.contract`. Plugins register with
``register(kind, name, factory, *, default=False, description="")`` in the
``oldphoto_register_stages`` hook; ``factory`` is a class (or callable) or a
``"module:attr"`` string imported when the stage is first built.
"""

from __future__ import annotations

from typing import Any

from oldphoto_cli.contract import KINDS
from oldphoto_cli.registry import FactorySpec, Registry, default_of

__all__ = ["KINDS", "all_stages", "build", "default_name", "get", "reset", "stages_of"]


registry: Registry[FactorySpec] = Registry("oldphoto_register_stages", FactorySpec, "stage",
                                           make=FactorySpec.stage)  # fmt: skip
reset = registry.reset
all_stages = registry.all


def stages_of(kind: str) -> list[FactorySpec]:
    return [spec for spec in all_stages() if spec.kind == kind]


def default_name(kind: str) -> str | None:
    """The default of ``kind``: a built-in's over a plugin's claim, else the first."""
    spec = default_of(stages_of(kind))
    return spec.name if spec is not None else None


def get(kind: str, name: str | None = None) -> FactorySpec:
    """Look up a stage; ``name=None`` means the default of its kind."""
    name = name or default_name(kind)
    for spec in stages_of(kind):
        if spec.name == name:
            return spec
    available = ", ".join(sorted(s.name for s in stages_of(kind))) or "none"
    raise KeyError(f"no {kind} stage named {name!r} (available: {available})")


def build(kind: str, name: str | None = None, **options: Any) -> Any:
    """Build the stage ``kind:name`` (None: the default), checked against the contract."""
    return get(kind, name).build(**options)
