"""The smallest stage: an image-space translator (it replaces encode/translate/decode)."""

from __future__ import annotations

import numpy as np

from oldphoto_cli import ImageTranslator


class ExampleInvert(ImageTranslator):
    name = "example-invert"

    def __call__(self, rgb: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return 1.0 - np.asarray(rgb, dtype=np.float32)
