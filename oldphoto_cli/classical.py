"""Classical restoration building blocks (OpenCV, no learned weights): a robust noise
estimate, Telea inpainting and noise-adaptive non-local means.

They are the baseline every learned stage is measured against (``oldphoto eval``'s
classical rows, through the ``oldphoto-classical`` plugin) and the first estimate the
``restorer`` translator refines. Images are float32 HxWx3 RGB in [0, 1]; masks HxW.
"""

from __future__ import annotations

import cv2
import numpy as np

# NL-means windows: OpenCV's defaults (7 px patches, 21 px search) for the baseline; the
# restorer's first estimate uses smaller ones (5, 11): 2.6x faster, and the network
# recovers what the smaller search leaves.
BASELINE_WINDOWS = (7, 21)
FAST_WINDOWS = (5, 11)
MAX_NLM_H = 25.0  # the filter strength is capped: beyond it NL-means paints flat patches


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(rgb, np.float32) * 255.0), 0, 255).astype(np.uint8)


def estimate_noise_sigma(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Noise standard deviation on a 0-255 scale (robust Immerkaer estimate, channel mean).

    The 3x3 Laplacian-difference kernel cancels locally linear image content; the median of
    its absolute response (instead of the mean) keeps edges and scratches from inflating it.
    Pixels under ``mask`` are ignored.
    """
    rgb = np.asarray(rgb, np.float32)
    channels = [rgb] if rgb.ndim == 2 else [rgb[..., c] for c in range(min(3, rgb.shape[2]))]
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    keep = None
    if mask is not None:
        keep = cv2.dilate(np.asarray(mask, np.uint8), np.ones((3, 3), np.uint8)) == 0
        keep = keep[1:-1, 1:-1]
        if keep.sum() <= 64:
            keep = None
    sigmas = []
    for channel in channels:
        response = cv2.filter2D(channel * 255.0, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
        response = np.abs(response[1:-1, 1:-1])
        if keep is not None:
            response = response[keep]
        if response.size:
            # |N(0, 6 sigma)| has median 0.6745 * 6 sigma.
            sigmas.append(float(np.median(response)) / (0.6745 * 6.0))
    return float(np.mean(sigmas)) if sigmas else 0.0


def telea_fill(u8: np.ndarray, mask: np.ndarray | None, radius: int = 3) -> np.ndarray:
    """Telea inpainting of a uint8 HxWx3 image under ``mask`` (returned as is without one)."""
    if mask is None or not np.any(mask):
        return u8
    return cv2.inpaint(u8, (np.asarray(mask) > 0).astype(np.uint8) * 255, radius,
                       cv2.INPAINT_TELEA)  # fmt: skip


def nl_means(u8: np.ndarray, h: float, windows: tuple[int, int] = BASELINE_WINDOWS) -> np.ndarray:
    """OpenCV's coloured NL-means at strength ``h`` (0-255 scale; below 1: unchanged)."""
    h = float(np.clip(h, 0.0, MAX_NLM_H))
    if h < 1.0:
        return u8
    return cv2.fastNlMeansDenoisingColored(u8, None, h, h, *windows)


def classical_restore(
    rgb: np.ndarray,
    mask: np.ndarray | None = None,
    nlm_scale: float = 0.75,
    inpaint_radius: int = 3,
    sigma: float | None = None,
    windows: tuple[int, int] = BASELINE_WINDOWS,
) -> np.ndarray:
    """Telea inpainting under ``mask`` then non-local means with noise-adaptive strength.

    ``sigma`` (0-255 scale) defaults to ``estimate_noise_sigma`` outside the mask; the NLM
    filter strength is ``h = nlm_scale * sigma`` (skipped below 1). The result keeps the
    float precision of the input where nothing changed (only the 8-bit delta is applied).
    """
    rgb = np.clip(np.asarray(rgb, np.float32)[..., :3], 0.0, 1.0)
    u8 = to_uint8(rgb)
    has_mask = mask is not None and np.any(mask)
    work = telea_fill(u8, mask if has_mask else None, inpaint_radius)
    if sigma is None:
        sigma = estimate_noise_sigma(rgb, mask if has_mask else None)
    work = nl_means(work, nlm_scale * sigma, windows)
    delta = (work.astype(np.float32) - u8.astype(np.float32)) / 255.0
    return np.clip(rgb + delta, 0.0, 1.0).astype(np.float32)


def first_estimate(
    rgb: np.ndarray, mask: np.ndarray | None, sigma: float, nlm_scale: float = 0.75,
    windows: tuple[int, int] = FAST_WINDOWS,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """What the ``restorer`` network refines, both float32 HxWx3 in [0, 1]: the damaged
    photo with its holes Telea-filled (elsewhere its own pixels, at full precision), and
    that fill after NL-means at ``h = nlm_scale * sigma``.

    ``sigma`` is the whole photo's noise level (0-255 scale), passed in so that the tiles
    of one photo all use the same strength.
    """
    rgb = np.asarray(rgb, np.float32)
    has_mask = mask is not None and bool(np.any(mask))
    filled = telea_fill(to_uint8(rgb), mask if has_mask else None)
    estimate = nl_means(filled, nlm_scale * sigma, windows).astype(np.float32) / 255
    damaged = rgb.copy()
    if has_mask:
        hole = np.asarray(mask) > 0
        damaged[hole] = filled[hole] / np.float32(255)
    return damaged, estimate
