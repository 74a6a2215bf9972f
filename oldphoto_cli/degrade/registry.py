"""Registry of degradations, collected from plugins through
``oldphoto_register_degradations(register)``.

``register(name, fn, group=None, *, structured=False, p=0.5)`` (``plugin=`` is added by
:func:`oldphoto_cli.plugins.call_register_hook`):

- unstructured ``fn(img, rng)`` returns ``image`` or ``(image, params)``;
- structured ``fn(img, rng)`` returns ``(image, mask)`` or ``(image, mask, params)``.

``fn`` is the function or its ``"module:function"`` name, imported on the first call (so
listing plugins imports no numpy). ``img`` is float32 HxWx3 RGB in [0, 1]. ``p`` is how
the op is weighted inside its group (and the group's probability when
:class:`DegradeConfig` does not name the group); see
:class:`oldphoto_cli.degrade.compose.DegradeConfig`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oldphoto_cli.contract import PluginError
from oldphoto_cli.registry import Registry, resolve


class LazyFunction:
    """A ``"module:function"`` name that imports its function on the first call."""

    def __init__(self, reference: str) -> None:
        module, sep, attr = reference.partition(":")
        if not (module and sep and attr):
            raise ValueError(f"{reference!r} is not of the form 'module:function'")
        self.reference, self._fn = reference, None

    def resolve(self) -> Callable[..., Any]:
        if self._fn is None:
            self._fn = resolve(self.reference)
        return self._fn

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LazyFunction({self.reference!r})"


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
        fn: Callable[..., Any] | str,
        group: str | None = None,
        *,
        structured: bool = False,
        p: float = 0.5,
        plugin: str,
    ) -> DegradationSpec:
        if isinstance(fn, str):
            try:
                fn = LazyFunction(fn)
            except ValueError as exc:
                raise PluginError(f"plugin {plugin!r} registered degradation {name!r}: {exc}") from None
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
