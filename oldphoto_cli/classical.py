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


NOISE_ESTIMATES = ("laplacian_median", "flat_blocks")
_LAPLACIAN_DIFF = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_FLAT_BLOCK = 16  # side of the blocks of the flat-block estimate, in pixels
_FLAT_QUANTILE = 25.0  # the flattest quarter of the blocks measures the noise
# The 25th percentile of 256-sample medians of pure noise lies below the noise's own median:
# measured on flat grey with Gaussian noise (sigma 2-20), the estimate divided by the true
# sigma is 0.93; this puts it back on scale.
_FLAT_BIAS = 0.93


def _keep_outside(mask: np.ndarray | None) -> np.ndarray | None:
    """Pixels of the Laplacian response (borders cut) that no masked pixel reaches."""
    if mask is None:
        return None
    keep = cv2.dilate(np.asarray(mask, np.uint8), np.ones((3, 3), np.uint8)) == 0
    keep = keep[1:-1, 1:-1]
    return keep if keep.sum() > 64 else None


def _flat_block_response(response: np.ndarray, channel: np.ndarray,
                         keep: np.ndarray | None) -> float | None:  # fmt: skip
    """The |response| of the flattest blocks: its median in each 16 px block, then the 25th
    percentile of those (bias-corrected). Blocks touching the mask or mostly clipped (paper-white or black,
    where no noise survives 8 bits) are left out; None when fewer than 4 blocks remain."""
    b = _FLAT_BLOCK
    h, w = (response.shape[0] // b) * b, (response.shape[1] // b) * b
    if h == 0 or w == 0:
        return None
    as_blocks = lambda a: a[:h, :w].reshape(h // b, b, w // b, b).swapaxes(1, 2).reshape(-1, b * b)  # noqa: E731
    medians = np.median(as_blocks(response), axis=1)
    inner = channel[1:-1, 1:-1]
    clipped = as_blocks((inner <= 1.0 / 255) | (inner >= 254.0 / 255)).mean(axis=1) > 0.5
    usable = ~clipped
    if keep is not None:
        usable &= as_blocks(keep).all(axis=1)
    if usable.sum() < 4:
        return None
    return float(np.percentile(medians[usable], _FLAT_QUANTILE)) / _FLAT_BIAS


def estimate_noise_sigma(rgb: np.ndarray, mask: np.ndarray | None = None,
                         method: str = "laplacian_median") -> float:  # fmt: skip
    """Noise standard deviation on a 0-255 scale (channel mean), ignoring pixels under ``mask``.

    Both methods measure the 3x3 Laplacian-difference response, which cancels locally
    linear image content (Immerkaer). ``laplacian_median`` takes the median of its absolute
    value over the whole image: edges and scratches do not inflate it, but fine texture
    (fabric, foliage, hair) does, and a textured photo with mild grain reads as noisy.
    ``flat_blocks`` takes the median in each 16 px block and then the flattest quarter of
    the blocks, where texture is absent and only the noise remains (the whole-image median
    when the image has fewer than four usable blocks).
    """
    if method not in NOISE_ESTIMATES:
        raise ValueError(f"unknown noise estimate {method!r}; expected one of {NOISE_ESTIMATES}")
    rgb = np.asarray(rgb, np.float32)
    channels = [rgb] if rgb.ndim == 2 else [rgb[..., c] for c in range(min(3, rgb.shape[2]))]
    keep = _keep_outside(mask)
    sigmas = []
    for channel in channels:
        response = cv2.filter2D(channel * 255.0, cv2.CV_32F, _LAPLACIAN_DIFF,
                                borderType=cv2.BORDER_REFLECT)  # fmt: skip
        response = np.abs(response[1:-1, 1:-1])
        # |N(0, 6 sigma)| has median 0.6745 * 6 sigma.
        if method == "flat_blocks":
            flat = _flat_block_response(response, channel, keep)
            if flat is not None:
                sigmas.append(flat / (0.6745 * 6.0))
                continue
        if keep is not None:
            response = response[keep]
        if response.size:
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
