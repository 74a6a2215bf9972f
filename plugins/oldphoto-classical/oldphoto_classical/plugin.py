"""oldphoto plugin: registers the classical detect and translate stages."""

from __future__ import annotations

from typing import Any

import numpy as np

from oldphoto_classical.core import blackhat_scratch_map, classical_restore
from oldphoto_cli.hookspecs import hookimpl


class ClassicalDetector:
    """``detect`` stage: morphological line detector (see ``blackhat_scratch_map``)."""

    kind = "detect"
    name = "classical"

    def __init__(self, device: Any = None, **options: Any) -> None:
        self.device = device
        known = ("max_width", "threshold", "min_length", "min_elongation")
        self.options = {k: options[k] for k in known if options.get(k) is not None}

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return blackhat_scratch_map(rgb, **self.options)


class ClassicalTranslator:
    """``translate`` stage in image space: Telea inpainting + non-local means denoising."""

    kind = "translate"
    name = "classical"
    space = "image"

    def __init__(self, device: Any = None, **options: Any) -> None:
        self.device = device
        known = ("nlm_scale", "inpaint_radius", "sigma")
        self.options = {k: options[k] for k in known if options.get(k) is not None}

    def __call__(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return classical_restore(rgb, mask, **self.options)


@hookimpl
def oldphoto_register_stages(register):
    register(
        "detect",
        "classical",
        ClassicalDetector,
        description="morphological black-hat/top-hat line detector (no weights)",
    )
    register(
        "translate",
        "classical",
        ClassicalTranslator,
        description="Telea inpainting + non-local means denoising, image space (no weights)",
    )
