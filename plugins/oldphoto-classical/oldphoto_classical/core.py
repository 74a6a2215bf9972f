"""Classical scratch detection and restoration (no learned weights).

All functions take and return float32 numpy images, HxWx3 RGB in [0, 1]; masks are HxW.
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.imageio import LUMA

_LUMA = np.array(LUMA, np.float32)


def _gray(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, np.float32)
    if rgb.ndim == 2:
        return rgb
    return rgb[..., :3] @ _LUMA


def _to_u8(rgb: np.ndarray) -> np.ndarray:
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


def classical_restore(
    rgb: np.ndarray,
    mask: np.ndarray | None = None,
    nlm_scale: float = 0.75,
    inpaint_radius: int = 3,
    sigma: float | None = None,
) -> np.ndarray:
    """Telea inpainting under ``mask`` then non-local means with noise-adaptive strength.

    ``sigma`` (0-255 scale) defaults to ``estimate_noise_sigma`` outside the mask; the NLM
    filter strength is ``h = nlm_scale * sigma`` (skipped below 1). The result keeps the
    float precision of the input where nothing changed (only the 8-bit delta is applied).
    """
    rgb = np.clip(np.asarray(rgb, np.float32)[..., :3], 0.0, 1.0)
    u8 = _to_u8(rgb)
    work = u8
    has_mask = mask is not None and np.any(mask)
    if has_mask:
        mask_u8 = (np.asarray(mask) > 0).astype(np.uint8) * 255
        work = cv2.inpaint(work, mask_u8, inpaint_radius, cv2.INPAINT_TELEA)
    if sigma is None:
        sigma = estimate_noise_sigma(rgb, mask if has_mask else None)
    h = float(np.clip(nlm_scale * sigma, 0.0, 25.0))
    if h >= 1.0:
        work = cv2.fastNlMeansDenoisingColored(work, None, h, h, 7, 21)
    delta = (work.astype(np.float32) - u8.astype(np.float32)) / 255.0
    return np.clip(rgb + delta, 0.0, 1.0).astype(np.float32)
