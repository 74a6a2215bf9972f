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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oldphoto_cli.contract import KINDS, PluginError, check_stage
from oldphoto_cli.registry import Registry, default_of, resolve

__all__ = ["KINDS", "StageSpec", "all_stages", "build", "default_name", "get", "reset",
           "stages_of"]  # fmt: skip


@dataclass(frozen=True)
class StageSpec:
    kind: str
    name: str
    factory: Callable[..., Any] | str
    plugin: str
    default: bool = False
    description: str = ""

    @classmethod
    def from_registration(
        cls,
        kind: str,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        default: bool = False,
        description: str = "",
        plugin: str,
    ) -> StageSpec:
        if kind not in KINDS:
            raise PluginError(
                f"plugin {plugin!r} registered unknown stage kind {kind!r} "
                f"(kinds: {', '.join(KINDS)})"
            )
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise PluginError(f"plugin {plugin!r}: stage {kind}:{name} has no factory")
        # A class declares its kind and name: they must be the ones it is registered as.
        for attr, expected in (("kind", kind), ("name", name)):
            declared = getattr(factory, attr, expected) if isinstance(factory, type) else expected
            if declared != expected:
                raise PluginError(
                    f"plugin {plugin!r} registered {factory.__name__} as {kind}:{name}, "
                    f"but it declares {attr} = {declared!r}"
                )
        return cls(kind, name, factory, plugin, bool(default), description)

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.name

    @property
    def label(self) -> str:
        return f"stage {self.kind}:{self.name}"

    def build(self, *, precision: str | None = None, **options: Any) -> Any:
        """Build the stage (``options``: see :mod:`oldphoto_cli.contract`) and check it
        keeps its kind's contract. ``precision`` is passed on only to a factory that
        declares ``supports_precision`` (every TorchStage); others get ``fp16`` alone."""
        factory = resolve(self.factory)
        if precision is not None and getattr(factory, "supports_precision", False) is True:
            options["precision"] = precision
        stage = factory(**options)
        return check_stage(stage, self.kind, self.name, self.plugin)


registry: Registry[StageSpec] = Registry("oldphoto_register_stages", StageSpec, "stage")
reset = registry.reset
all_stages = registry.all


def stages_of(kind: str) -> list[StageSpec]:
    return [spec for spec in all_stages() if spec.kind == kind]


def default_name(kind: str) -> str | None:
    """The default of ``kind``: a built-in's over a plugin's claim, else the first."""
    spec = default_of(stages_of(kind))
    return spec.name if spec is not None else None


def get(kind: str, name: str | None = None) -> StageSpec:
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
