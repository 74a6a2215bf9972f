"""Registry of degradations, collected from plugins through
``oldphoto_register_degradations(register)``.

``register(name, fn, group=None, *, structured=False, p=0.5)`` (``plugin=`` is added by
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

from oldphoto_cli.contract import PluginError
from oldphoto_cli.registry import Registry


@dataclass(frozen=True)
class DegradationSpec:
    name: str
    fn: Callable[..., Any]
    group: str
    structured: bool
    p: float
    plugin: str

    @classmethod
    def from_registration(
        cls,
        name: str,
        fn: Callable[..., Any],
        group: str | None = None,
        *,
        structured: bool = False,
        p: float = 0.5,
        plugin: str,
    ) -> DegradationSpec:
        if not callable(fn):
            raise PluginError(f"plugin {plugin!r} registered degradation {name!r} with no callable")
        if not 0.0 <= float(p) <= 1.0:
            raise PluginError(f"plugin {plugin!r} registered degradation {name!r} with p={p}")
        return cls(name, fn, group or name, bool(structured), float(p), plugin)

    @property
    def key(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return f"degradation {self.name!r}"


registry: Registry[DegradationSpec] = Registry(
    "oldphoto_register_degradations", DegradationSpec, "degradation"
)
reset = registry.reset


def get_degradations() -> dict[str, DegradationSpec]:
    """All registered degradations by name (collected once, then cached)."""
    return {spec.name: spec for spec in registry.all()}
