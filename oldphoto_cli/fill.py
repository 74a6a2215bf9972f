"""Filled holes that take the tone and colour of their neighbourhood.

Two things made a repaired scratch show as a ghost of itself:

* the chroma that ``keep_tone`` puts back comes from the *input*, and under a scratch the
  input is the scratch's own colour (paper-white, grey), so a fill on a sepia print came
  back cool grey (b* 14 against 23 around it);
* the network's fill can be a little lighter or darker than what surrounds it, and a thin
  line of slightly wrong brightness is exactly what an eye picks out.

Both are fixed with *normalised convolution*: a Gaussian average over the pixels outside the
mask only, ``blur(x * keep) / blur(keep)``, which is the colour of the neighbourhood at
every pixel, holes included. Where a hole is wider than the blur reaches, wider blurs fill
in. The fill keeps its own detail (its high frequencies); only its local mean moves.
"""

from __future__ import annotations

import cv2
import numpy as np

SIGMAS = (2.0, 4.0, 8.0, 16.0, 32.0)
MIN_WEIGHT = 0.05  # below this share of known neighbours, the next wider blur decides


def neighbourhood_mean(values: np.ndarray, mask: np.ndarray, sigmas=SIGMAS,
                       where: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Per-pixel Gaussian mean of ``values`` (HxW or HxWxC float32) over the pixels where
    ``mask`` (HxW) is 0; holes take the narrowest blur that reaches known pixels. Only the
    pixels of ``where`` (HxW bool; default all) are computed, the rest are 0."""
    values = np.asarray(values, np.float32)
    keep = (np.asarray(mask) == 0).astype(np.float32)
    out = np.zeros_like(values)
    settled = np.zeros(keep.shape, bool) if where is None else ~np.asarray(where, bool)
    for sigma in sigmas:
        weight = cv2.GaussianBlur(keep, (0, 0), sigma)
        total = cv2.GaussianBlur(values * (keep[..., None] if values.ndim == 3 else keep),
                                 (0, 0), sigma)  # fmt: skip
        fresh = ~settled & (weight >= MIN_WEIGHT)
        ratio = total / np.maximum(weight, 1e-6)[..., None] if values.ndim == 3 else (
            total / np.maximum(weight, 1e-6))  # fmt: skip
        out[fresh] = ratio[fresh]
        settled |= fresh
        if settled.all():
            break
    if not settled.all():  # a hole wider than every blur: the image's known mean
        known = keep > 0
        out[~settled] = values[known].mean(axis=0) if known.any() else values.mean(axis=(0, 1))
    return out


def _box(hole: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of ``hole`` grown by ``margin`` pixels, clipped to the image."""
    ys, xs = np.nonzero(hole)
    h, w = hole.shape
    return (slice(max(0, ys.min() - margin), min(h, ys.max() + margin + 1)),
            slice(max(0, xs.min() - margin), min(w, xs.max() + margin + 1)))  # fmt: skip


def harmonize_fill(restored: np.ndarray, mask: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """``restored`` (HxWx3 float32 [0, 1]) with the local mean of its masked pixels moved
    to the local mean of their unmasked neighbourhood; pixels outside ``mask`` unchanged."""
    hole = np.asarray(mask) > 0
    if not hole.any() or hole.all():
        return restored
    sigmas = (sigma, *[s for s in SIGMAS if s > sigma])
    box = _box(hole, int(4 * sigmas[-1]))  # blurs reach about 4 sigma: the rest is not needed
    part, part_hole = restored[box], hole[box]
    hole_u8 = part_hole.astype(np.uint8)
    around = neighbourhood_mean(part, hole_u8, sigmas, where=part_hole)
    inside = neighbourhood_mean(part, 1 - hole_u8, sigmas, where=part_hole)
    out = restored.copy()
    view = out[box]
    view[part_hole] = np.clip(part[part_hole] + (around[part_hole] - inside[part_hole]), 0, 1)
    return out
