"""Classical (non-learned) baselines for oldphoto: scratch detection and restoration."""

from oldphoto_classical.core import (
    blackhat_scratch_map,
    classical_restore,
    estimate_noise_sigma,
    line_response,
)

__all__ = ["blackhat_scratch_map", "classical_restore", "estimate_noise_sigma", "line_response"]
__version__ = "0.1.0"
