"""Classical scratch detection and restoration (no learned weights).

All functions take and return float32 numpy images, HxWx3 RGB in [0, 1]; masks are HxW.
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.classical import classical_restore, estimate_noise_sigma
from oldphoto_cli.imageio import LUMA

__all__ = ["blackhat_scratch_map", "classical_restore", "estimate_noise_sigma", "line_response"]

_LUMA = np.array(LUMA, np.float32)


def _gray(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, np.float32)
    if rgb.ndim == 2:
        return rgb
    return rgb[..., :3] @ _LUMA


def _default_max_width(shape: tuple[int, ...]) -> int:
    return int(max(2, round(min(shape[:2]) / 128)))


def line_response(
    rgb: np.ndarray, max_width: int | None = None, smooth: float | None = None
) -> np.ndarray:
    """max(black-hat, top-hat) of the luminance: thin dark *and* thin light structures.

    Structures narrower than about ``max_width`` pixels respond with their contrast.
    ``smooth`` is the sigma of a Gaussian pre-blur (default: from the estimated noise).
    """
    gray = _gray(rgb)
    if smooth is None:
        # Noise-adaptive pre-smoothing: grain would otherwise merge into the lines.
        smooth = float(np.clip(estimate_noise_sigma(rgb) / 4.0, 0.0, 2.0))
    if smooth > 0.3:
        gray = cv2.GaussianBlur(gray, (0, 0), smooth)
    width = max_width or _default_max_width(gray.shape)
    size = 2 * width + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    black = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
    white = cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, kernel)
    return np.maximum(black, white)


def _line_kernels(length: int, angles: int = 12) -> list[np.ndarray]:
    """Binary line segments of ``length`` pixels through the centre, ``angles`` orientations."""
    size = length | 1
    centre = size // 2
    kernels = []
    for step in range(angles):
        theta = np.pi * step / angles
        dx, dy = np.cos(theta) * (size - 1) / 2, np.sin(theta) * (size - 1) / 2
        kernel = np.zeros((size, size), np.uint8)
        p0 = (int(round(centre - dx)), int(round(centre - dy)))
        p1 = (int(round(centre + dx)), int(round(centre + dy)))
        cv2.line(kernel, p0, p1, 1, 1)
        kernels.append(kernel)
    return kernels


def blackhat_scratch_map(
    rgb: np.ndarray,
    max_width: int | None = None,
    threshold: float | None = None,
    min_length: int | None = None,
    angles: int = 12,
) -> np.ndarray:
    """Probability-like scratch map, HxW float32 in [0, 1] (>= 0.5 means "scratch").

    1. ``line_response``: black-hat + top-hat of the (noise-adaptively pre-smoothed)
       luminance; only structures thinner than about ``2 * max_width`` respond at all.
    2. Threshold ``t`` (default: median + 6 MAD of the response, at least 0.04); the map
       ramps from 0 at ``t/2`` to 1 at ``3t/2``.
    3. Elongation filter: the ``3t/4`` mask is opened with straight line segments of
       ``min_length`` pixels (default ``max(15, min_side / 32)``) in ``angles`` orientations;
       only pixels on a thin *and* long (locally straight) structure survive, so dots, blobs
       and most texture are rejected while crossing scratches are kept. Surviving pieces
       are grown back within the mask (line ends) and must reach ``t`` somewhere.
    """
    smooth = float(np.clip(estimate_noise_sigma(rgb) / 4.0, 0.0, 2.0))
    response = line_response(rgb, max_width, smooth)
    height, width = response.shape
    if threshold is None:
        median = float(np.median(response))
        mad = float(np.median(np.abs(response - median))) * 1.4826
        threshold = max(0.04, median + 6.0 * mad)
    if min_length is None:
        min_length = int(max(15, round(min(height, width) / 32)))
    soft = np.clip((response - threshold / 2) / threshold, 0.0, 1.0).astype(np.float32)
    low = (response >= threshold).astype(np.uint8)
    lines = np.zeros_like(low)
    for kernel in _line_kernels(int(min_length), angles):
        lines |= cv2.morphologyEx(low, cv2.MORPH_OPEN, kernel)
    if not lines.any():
        return np.zeros_like(soft)
    # Grow the surviving segments back to the line ends (bounded reconstruction in ``low``).
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    for _ in range(3):
        lines = cv2.dilate(lines, grow) & low
    count, labels = cv2.connectedComponents(lines, connectivity=8)
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, labels.ravel(), response.ravel())
    keep = peak >= threshold
    keep[0] = False
    return np.where(keep[labels], soft, 0.0).astype(np.float32)
