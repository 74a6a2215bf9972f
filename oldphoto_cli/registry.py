"""One registry class for everything plugins register: stages, face detectors, degradations.

A :class:`Registry` calls its hook on every plugin with a ``register`` callback bound to
that plugin's name (so collisions name both plugins), builds one spec per call (explicit
keyword arguments: a typo raises, naming the plugin) and keeps the specs by key, collected
once and cached until :meth:`reset`.

Everything registered as a factory, pipeline stages and face detectors alike, is one
:class:`FactorySpec`; degradations register functions (``oldphoto_cli.degrade.registry``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from oldphoto_cli.contract import KINDS, PluginError, check_stage
from oldphoto_cli.plugins import BUILTIN_MODULES, call_register_hook

S = TypeVar("S")

REGISTRIES: list[Registry[Any]] = []  # every registry made, for ``oldphoto plugins``


def resolve(factory: Callable[..., Any] | str) -> Callable[..., Any]:
    """A factory, or ``"package.module:attr"`` imported now (lazy registration)."""
    if not isinstance(factory, str):
        return factory
    module, _, attr = factory.partition(":")
    return getattr(importlib.import_module(module), attr)


FACE_DETECTOR = "face_detector"  # the kind of a FactorySpec registered as a face detector


@dataclass(frozen=True)
class FactorySpec:
    """A registered factory: a pipeline stage (``kind`` one of ``contract.KINDS``, hook
    ``oldphoto_register_stages``) or a face detector (``kind`` :data:`FACE_DETECTOR`, hook
    ``oldphoto_register_face_detectors``).

    ``factory`` is a class or callable, or ``"module:attr"`` imported when first built.
    ``default``: the plugin claims the default of its kind (:func:`default_of` decides).
    """

    kind: str
    name: str
    factory: Callable[..., Any] | str
    plugin: str
    default: bool = False
    description: str = ""

    @classmethod
    def stage(
        cls,
        kind: str,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        default: bool = False,
        description: str = "",
        plugin: str,
    ) -> FactorySpec:
        """``register(kind, name, factory, *, default=False, description="")``."""
        if kind not in KINDS:
            raise PluginError(
                f"plugin {plugin!r} registered unknown stage kind {kind!r} "
                f"(kinds: {', '.join(KINDS)})"
            )
        spec = cls(kind, name, factory, plugin, bool(default), description)
        spec._check_factory()
        # A class declares its kind and name: they must be the ones it is registered as.
        for attr, expected in (("kind", kind), ("name", name)):
            declared = getattr(factory, attr, expected) if isinstance(factory, type) else expected
            if declared != expected:
                raise PluginError(
                    f"plugin {plugin!r} registered {factory.__name__} as {kind}:{name}, "
                    f"but it declares {attr} = {declared!r}"
                )
        return spec

    @classmethod
    def face_detector(
        cls,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        default: bool = False,
        description: str = "",
        plugin: str,
    ) -> FactorySpec:
        """``register(name, factory, *, default=False, description="")``."""
        spec = cls(FACE_DETECTOR, name, factory, plugin, bool(default), description)
        spec._check_factory()
        return spec

    def _check_factory(self) -> None:
        factory = self.factory
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise PluginError(f"plugin {self.plugin!r}: {self.label} has no factory")

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.name

    @property
    def label(self) -> str:
        if self.kind == FACE_DETECTOR:
            return f"face detector {self.name!r}"
        return f"stage {self.kind}:{self.name}"

    def build(self, *, precision: str | None = None, **options: Any) -> Any:
        """Build it with ``options`` (see :mod:`oldphoto_cli.contract`) and check the result:
        a stage keeps its kind's contract, a face detector is callable. ``precision`` is
        passed on only to a factory that declares ``supports_precision`` (every
        TorchStage); others get ``fp16`` alone."""
        factory = resolve(self.factory)
        if precision is not None and getattr(factory, "supports_precision", False) is True:
            options["precision"] = precision
        built = factory(**options)
        if self.kind != FACE_DETECTOR:
            return check_stage(built, self.kind, self.name, self.plugin)
        if not callable(built):
            raise PluginError(f"plugin {self.plugin!r}: {self.label} is not callable")
        return built


class Registry(Generic[S]):
    """Specs registered through hook ``hook``, keyed by ``spec.key``.

    ``make(*args, plugin=..., **kwargs)`` builds one spec from one ``register`` call (its
    signature *is* the hook's ``register`` signature; default: ``spec_cls``'s
    ``from_registration``). A spec has ``key``, ``label`` (for messages), ``plugin`` and
    ``name``.
    """

    def __init__(self, hook: str, spec_cls: Any, what: str,
                 make: Callable[..., S] | None = None) -> None:  # fmt: skip
        self.hook, self.spec_cls, self.what = hook, spec_cls, what
        self.make = make or spec_cls.from_registration
        self._specs: dict[Hashable, S] | None = None
        REGISTRIES.append(self)

    def _collect(self) -> dict[Hashable, S]:
        specs: dict[Hashable, S] = {}

        def register(*args: Any, plugin: str = "?", **kwargs: Any) -> None:
            try:
                spec = self.make(*args, plugin=plugin, **kwargs)
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
