"""Synthetic old-photo degradation (Wan et al., "Bringing Old Photos Back to Life").

>>> rng = rng_for(seed=0, index=12)
>>> res = degrade_image(img, rng, DegradeConfig())  # img float32 HxWx3 in [0, 1]
>>> res.image, res.mask, res.ops

Degradations are registered by plugins (``oldphoto_register_degradations``); the
built-ins live in ``oldphoto_cli.builtin_plugins.degradations``. See :class:`DegradeConfig` for the
probabilities.
"""

from __future__ import annotations

import importlib

# Names resolve on first use (PEP 562): ``oldphoto plugins`` lists the degradations
# through ``oldphoto_cli.degrade.registry`` without importing numpy and OpenCV.
_LAZY = {
    "DegradeConfig": "compose",
    "DegradeResult": "compose",
    "check_only": "compose",
    "degrade_image": "compose",
    "rng_for": "compose",
    "wide_config": "compose",
    "real_config": "compose",
    "PairRecord": "dataset",
    "load_image": "dataset",
    "make_contact_sheet": "dataset",
    "make_pairs": "dataset",
    "get_degradations": "registry",
    "reset": "registry",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))


__all__ = [
    "DegradeConfig",
    "DegradeResult",
    "PairRecord",
    "check_only",
    "degrade_image",
    "get_degradations",
    "load_image",
    "make_contact_sheet",
    "make_pairs",
    "real_config",
    "reset",
    "rng_for",
    "wide_config",
]
