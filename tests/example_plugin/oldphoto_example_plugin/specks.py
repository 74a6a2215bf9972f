"""A detector without weights: dust specks are pixels far from their 5x5 median (up to 3x3 px)."""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli import Detector


class ExampleSpecks(Detector):
    name = "example-specks"
    gain = 6.0  # a difference of 1/6 of the range from the median is certainly a speck

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(np.ascontiguousarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)
        median = cv2.medianBlur(gray, 5)
        return np.clip(np.abs(gray - median) * self.gain, 0, 1).astype(np.float32)
