"""Registry of degradations, collected from plugins through
``oldphoto_register_degradations(register)``.

``register(name, fn, group, structured=False, p=0.5)`` (``plugin=`` is added by
:func:`oldphoto_cli.plugins.call_register_hook`):

- unstructured ``fn(img, rng)`` returns ``image`` or ``(image, params)``;
- structured ``fn(img, rng)`` returns ``(image, mask)`` or ``(image, mask, params)``.

``img`` is float32 HxWx3 RGB in [0, 1]. ``p`` is how the op is weighted inside its group
(and the group's probability when :class:`DegradeConfig` does not name the group); see
:class:`oldphoto_cli.degrade.compose.DegradeConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oldphoto_cli.plugins import PluginError, call_register_hook


@dataclass(frozen=True)
class DegradationSpec:
    name: str
    fn: Callable[..., Any]
    group: str
    structured: bool
    p: float
    plugin: str


_registry: dict[str, DegradationSpec] | None = None


def _collect() -> dict[str, DegradationSpec]:
    registry: dict[str, DegradationSpec] = {}

    def register(
        name: str,
        fn: Callable[..., Any],
        group: str | None = None,
        structured: bool = False,
        p: float = 0.5,
        plugin: str = "?",
    ) -> None:
        if not callable(fn):
            raise PluginError(f"plugin {plugin!r} registered degradation {name!r} with no callable")
        if not 0.0 <= float(p) <= 1.0:
            raise PluginError(f"plugin {plugin!r} registered degradation {name!r} with p={p}")
        if name in registry:
            other = registry[name].plugin
            raise PluginError(
                f"degradation {name!r} is registered twice, by plugins {other!r} and {plugin!r}"
            )
        registry[name] = DegradationSpec(
            name, fn, group or name, bool(structured), float(p), plugin
        )

    call_register_hook("oldphoto_register_degradations", register)
    return registry


def reset() -> None:
    """Forget collected degradations (tests register and unregister plugins)."""
    global _registry
    _registry = None


def get_degradations() -> dict[str, DegradationSpec]:
    """All registered degradations by name (collected once, then cached)."""
    global _registry
    if _registry is None:
        _registry = _collect()
    return dict(_registry)
