"""Photo-like test images without data files: the 1/f spectrum of natural photos."""

from __future__ import annotations

import numpy as np


def natural(seed: int, size: int = 128) -> np.ndarray:
    """A size x size colour image in [0, 1] (float32) with natural photos' 1/f spectrum,
    stretched over the range; the channels share most of their structure."""
    rng = np.random.default_rng(seed)
    freq = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size)))
    freq[0, 0] = 1.0
    pink = lambda: np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((size, size))) / freq))  # noqa: E731
    shared = pink()
    img = np.stack([shared + 0.4 * pink() for _ in range(3)], axis=-1)
    lo, hi = np.percentile(img, 0.5), np.percentile(img, 99.5)
    return np.clip((img - lo) / (hi - lo), 0, 1).astype(np.float32)
