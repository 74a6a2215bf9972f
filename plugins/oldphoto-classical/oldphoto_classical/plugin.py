"""oldphoto plugin: registers the classical detect and translate stages.

OpenCV and numpy are imported when a stage runs, not when the plugin is loaded: every
``oldphoto`` command loads the plugins (``--help`` too), and they should start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oldphoto_cli import Detector, ImageTranslator, hookimpl

if TYPE_CHECKING:
    import numpy as np


class ClassicalDetector(Detector):
    """``detect`` stage: morphological line detector (see ``blackhat_scratch_map``)."""

    name = "classical"
    fills_holes = True  # Telea's fill is kept as it is (moving its local mean cost 1.4 dB)

    def __init__(self, device: Any = None, weights_dir: str | None = None, fp16: bool = False,
                 compile: bool = False, **options: Any) -> None:  # fmt: skip
        """``options``: keyword arguments of :func:`blackhat_scratch_map` (None: its default)."""
        super().__init__(device)
        self.options = {k: v for k, v in options.items() if v is not None}

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        from oldphoto_classical.core import blackhat_scratch_map

        return blackhat_scratch_map(rgb, **self.options)


class ClassicalTranslator(ImageTranslator):
    """``translate`` stage in image space: Telea inpainting + non-local means denoising."""

    name = "classical"
    fills_holes = True  # Telea's fill is kept as it is (moving its local mean cost 1.4 dB)

    def __init__(self, device: Any = None, weights_dir: str | None = None, fp16: bool = False,
                 compile: bool = False, **options: Any) -> None:  # fmt: skip
        """``options``: keyword arguments of :func:`classical_restore` (None: its default)."""
        super().__init__(device)
        self.options = {k: v for k, v in options.items() if v is not None}

    def __call__(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        from oldphoto_classical.core import classical_restore

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
