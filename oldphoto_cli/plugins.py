"""Plugin loading, following simonw/llm: entry points are loaded once, broken plugins reported.

Built-in stages are an entry point (``builtin``) of this very distribution, so they go
through exactly the path a third-party package does. This module only loads entry points
and calls hooks; what plugins register is kept by :mod:`oldphoto_cli.registry`.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from oldphoto_cli import hookspecs
from oldphoto_cli.contract import PluginError

GROUP = "oldphoto"
OWN_DISTRIBUTION = "oldphoto"
BUILTIN_MODULES = {
    "builtin": "oldphoto_cli.builtin_plugins.builtin",
    "degradations": "oldphoto_cli.builtin_plugins.degradations",
    "faces": "oldphoto_cli.builtin_plugins.faces",
}


@dataclass
class BrokenPlugin:
    name: str
    error: str


pm = pluggy.PluginManager(GROUP)
pm.add_hookspecs(hookspecs)

BROKEN_PLUGINS: list[BrokenPlugin] = []
# plugin name -> its distribution (a metadata.Distribution, or (name, version) for built-ins
# imported from a source tree); filled as entry points load. Read by plugin_info only:
# parsing a distribution's METADATA costs milliseconds that most commands need not pay.
PLUGIN_DISTRIBUTIONS: dict[str, Any] = {}
_loaded = False


def _distribution_name(dist: metadata.Distribution | None) -> str:
    """Normalised project name, from the dist-info folder's name where the Python has that
    shortcut (no METADATA parsing), else from METADATA."""
    if dist is None:
        return "?"
    fast = getattr(dist, "_normalized_name", None)
    name = fast if isinstance(fast, str) else dist.metadata["Name"]
    return name.replace("-", "_").replace(".", "_").lower()  # PEP 503, as the fast path


def _name_and_version(dist: Any) -> tuple[str | None, str | None]:
    if dist is None:
        return None, None
    if isinstance(dist, tuple):
        return dist
    return dist.metadata["Name"], dist.version


def _report_broken(name: str, error: BaseException) -> None:
    message = f"{type(error).__name__}: {error}"
    BROKEN_PLUGINS.append(BrokenPlugin(name, message))
    print(f"oldphoto: plugin {name!r} failed to load: {message}", file=sys.stderr)


def _allowed_third_party() -> set[str] | None:
    """Names from OLDPHOTO_LOAD_PLUGINS, or None when unset (load all)."""
    raw = os.environ.get("OLDPHOTO_LOAD_PLUGINS")
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def load_plugins() -> pluggy.PluginManager:
    """Load every entry point of group ``oldphoto`` once; safe to call repeatedly."""
    global _loaded
    if _loaded:
        return pm
    _loaded = True
    allowed = _allowed_third_party()
    seen_builtin = set()
    for entry_point in metadata.entry_points(group=GROUP):
        dist = entry_point.dist
        is_builtin = _distribution_name(dist) == OWN_DISTRIBUTION
        if not is_builtin and allowed is not None and entry_point.name not in allowed:
            continue
        if pm.has_plugin(entry_point.name):
            continue
        try:
            module = entry_point.load()
            pm.register(module, name=entry_point.name)
        except (Exception, SystemExit) as error:  # a broken plugin never takes the CLI down
            _report_broken(entry_point.name, error)
            continue
        PLUGIN_DISTRIBUTIONS[entry_point.name] = dist if dist is not None else ("?", "?")
        if is_builtin:
            seen_builtin.add(entry_point.name)
    # Running from a source tree without installed metadata: import built-ins directly.
    for name, module_name in BUILTIN_MODULES.items():
        if name not in seen_builtin and not pm.has_plugin(name):
            pm.register(importlib.import_module(module_name), name=name)
            PLUGIN_DISTRIBUTIONS[name] = (OWN_DISTRIBUTION, _own_version())
    return pm


def _own_version() -> str:
    from oldphoto_cli import __version__

    return __version__


def call_register_hook(hook_name: str, register: Any) -> None:
    """Call ``hook_name`` on every plugin with a ``register`` bound to that plugin's name.

    Binding the name lets registries say *which* plugins collided.
    """
    load_plugins()
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):

        def bound(*args: Any, _plugin: str = impl.plugin_name, **kwargs: Any) -> None:
            register(*args, plugin=_plugin, **kwargs)

        try:
            impl.function(register=bound)
        except PluginError:
            raise
        except Exception as error:
            _report_broken(impl.plugin_name, error)


def plugin_info(provided: dict[str, dict[str, list[Any]]] | None = None) -> list[dict[str, Any]]:
    """Describe loaded plugins for ``oldphoto plugins``.

    ``provided``: plugin name -> {what: [names]} (e.g. ``{"stages": ["detect:unet"]}``),
    from the registries; merged into each plugin's entry.
    """
    load_plugins()
    provided = provided or {}
    infos = []
    for name, plugin in sorted(pm.list_name_plugin()):
        dist_name, version = _name_and_version(PLUGIN_DISTRIBUTIONS.get(name))
        infos.append(
            {
                "name": name,
                "version": version,
                "distribution": dist_name,
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
                "stages": [],
                **provided.get(name, {}),
            }
        )
    for broken in BROKEN_PLUGINS:
        infos.append({"name": broken.name, "error": broken.error})
    return infos
