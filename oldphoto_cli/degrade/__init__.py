"""Synthetic old-photo degradation (Wan et al., "Bringing Old Photos Back to Life").

>>> rng = rng_for(seed=0, index=12)
>>> res = degrade_image(img, rng, DegradeConfig())  # img float32 HxWx3 in [0, 1]
>>> res.image, res.mask, res.ops

Degradations are registered by plugins (``oldphoto_register_degradations``); the
built-ins live in ``oldphoto_plugins.degradations``. See :class:`DegradeConfig` for the
probabilities.
"""

from oldphoto_cli.degrade.compose import (
    DegradeConfig,
    DegradeResult,
    check_only,
    degrade_image,
    rng_for,
    wide_config,
)
from oldphoto_cli.degrade.dataset import (
    PairRecord,
    load_image,
    make_contact_sheet,
    make_pairs,
)
from oldphoto_cli.degrade.registry import get_degradations, reset

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
    "reset",
    "rng_for",
    "wide_config",
]
