"""Classical (non-learned) baselines for oldphoto: scratch detection and restoration.

The functions live in :mod:`oldphoto_classical.core` (OpenCV, numpy), imported on first
use: loading the plugin for ``oldphoto --help`` must not pay for OpenCV.
"""

from typing import Any

__all__ = ["blackhat_scratch_map", "classical_restore", "estimate_noise_sigma", "line_response"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from oldphoto_classical import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
