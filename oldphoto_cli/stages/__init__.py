"""The stage registry: which implementations exist for each pipeline kind.

A stage is built by a factory ``factory(device=..., **options) -> Stage``. Kinds:

- ``degrade``: image -> (image, mask) synthesis (training data; see ``oldphoto_cli.degrade``)
- ``detect``: image -> scratch probability / mask
- ``encode``: image -> latent (VAE1 encoder E_RX)
- ``translate``: latent (+ mask) -> latent (mapping T_Z) or, for ``space == "image"``
  translators, image (+ mask) -> image
- ``decode``: latent -> image (VAE2 decoder G_Y)
- ``face_enhance``: image -> image
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from oldphoto_cli.plugins import PluginError, call_register_hook

KINDS = ("degrade", "detect", "encode", "translate", "decode", "face_enhance")


@runtime_checkable
class Stage(Protocol):
    """What the runner needs from a stage: a name and a call on batched tensors."""

    kind: str
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class StageSpec:
    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    default: bool = False
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_registry: dict[tuple[str, str], StageSpec] | None = None


def _collect() -> dict[tuple[str, str], StageSpec]:
    registry: dict[tuple[str, str], StageSpec] = {}

    def register(
        kind: str,
        name: str,
        factory: Callable[..., Any],
        default: bool = False,
        description: str = "",
        plugin: str = "?",
        **extra: Any,
    ) -> None:
        if kind not in KINDS:
            raise PluginError(f"plugin {plugin!r} registered unknown stage kind {kind!r}")
        key = (kind, name)
        if key in registry:
            other = registry[key].plugin
            raise PluginError(
                f"stage {kind}:{name} is registered twice, by plugins {other!r} and {plugin!r}"
            )
        registry[key] = StageSpec(kind, name, factory, plugin, default, description, extra)

    call_register_hook("oldphoto_register_stages", register)
    return registry


def reset() -> None:
    """Forget collected stages (tests register and unregister plugins)."""
    global _registry
    _registry = None


def all_stages() -> list[StageSpec]:
    global _registry
    if _registry is None:
        _registry = _collect()
    return list(_registry.values())


def stages_of(kind: str) -> list[StageSpec]:
    return [spec for spec in all_stages() if spec.kind == kind]


def default_name(kind: str) -> str | None:
    specs = stages_of(kind)
    for spec in specs:
        if spec.default and spec.plugin == "builtin":
            return spec.name
    for spec in specs:
        if spec.default:
            return spec.name
    return specs[0].name if specs else None


def get(kind: str, name: str | None = None) -> StageSpec:
    """Look up a stage; ``name=None`` means the default of its kind."""
    name = name or default_name(kind)
    for spec in stages_of(kind):
        if spec.name == name:
            return spec
    available = ", ".join(sorted(s.name for s in stages_of(kind))) or "none"
    raise KeyError(f"no {kind} stage named {name!r} (available: {available})")
