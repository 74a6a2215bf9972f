"""One registry class for everything plugins register: stages, face detectors, degradations.

A :class:`Registry` calls its hook on every plugin with a ``register`` callback bound to
that plugin's name (so collisions name both plugins), builds one spec per call with the
spec class's ``from_registration`` (explicit keyword arguments: a typo raises, naming the
plugin) and keeps the specs by key, collected once and cached until :meth:`reset`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from oldphoto_cli.contract import PluginError
from oldphoto_cli.plugins import BUILTIN_MODULES, call_register_hook

S = TypeVar("S")

REGISTRIES: list[Registry[Any]] = []  # every registry made, for ``oldphoto plugins``


def resolve(factory: Callable[..., Any] | str) -> Callable[..., Any]:
    """A factory, or ``"package.module:attr"`` imported now (lazy registration)."""
    if not isinstance(factory, str):
        return factory
    module, _, attr = factory.partition(":")
    return getattr(importlib.import_module(module), attr)


class Registry(Generic[S]):
    """Specs registered through hook ``hook``, keyed by ``spec.key``.

    The spec class provides ``from_registration(*args, plugin=..., **kwargs)`` (its
    signature *is* the hook's ``register`` signature), ``key``, ``label`` (for messages),
    ``plugin`` and ``name``.
    """

    def __init__(self, hook: str, spec_cls: Any, what: str) -> None:
        self.hook, self.spec_cls, self.what = hook, spec_cls, what
        self._specs: dict[Hashable, S] | None = None
        REGISTRIES.append(self)

    def _collect(self) -> dict[Hashable, S]:
        specs: dict[Hashable, S] = {}

        def register(*args: Any, plugin: str = "?", **kwargs: Any) -> None:
            try:
                spec = self.spec_cls.from_registration(*args, plugin=plugin, **kwargs)
            except TypeError as error:  # unknown keyword, missing argument
                raise PluginError(
                    f"plugin {plugin!r}: bad {self.what} registration: {error}"
                ) from None
            if spec.key in specs:
                other = specs[spec.key].plugin
                raise PluginError(
                    f"{spec.label} is registered twice, by plugins {other!r} and {plugin!r}"
                )
            specs[spec.key] = spec

        call_register_hook(self.hook, register)
        return specs

    def reset(self) -> None:
        """Forget collected specs (tests register and unregister plugins)."""
        self._specs = None

    def all(self) -> list[S]:
        if self._specs is None:
            self._specs = self._collect()
        return list(self._specs.values())

    def provided_by(self) -> dict[str, list[S]]:
        """Specs per plugin name."""
        out: dict[str, list[S]] = {}
        for spec in self.all():
            out.setdefault(spec.plugin, []).append(spec)
        return out


def default_of(specs: list[S]) -> S | None:
    """The default among ``specs``: a built-in's claim (``default=True``) over a plugin's,
    else the first claim, else the first spec; None when there are none."""
    claims = [spec for spec in specs if spec.default]
    builtin = [spec for spec in claims if spec.plugin in BUILTIN_MODULES]
    return (builtin or claims or specs or [None])[0]


def reset_all() -> None:
    for registry in REGISTRIES:
        registry.reset()
