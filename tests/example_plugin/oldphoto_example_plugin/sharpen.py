"""A face enhancer: AlignedFaceEnhancer finds, aligns, colour-matches and pastes the faces
back; the plugin writes only ``enhance_crop``."""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli import AlignedFaceEnhancer


class ExampleSharpen(AlignedFaceEnhancer):
    name = "example-sharpen"
    amount = 0.8

    def enhance_crop(self, crop: np.ndarray, restore_fn=None) -> np.ndarray:
        blurred = cv2.GaussianBlur(crop, (0, 0), 2.0)
        return np.clip(crop + self.amount * (crop - blurred), 0, 1)
