"""Spare printed patterns: detected specks that sit on a regular lattice are content.

A dotted fabric (polka dots, a printed dot screen) is a lattice of small bright or dark
marks, and to a scratch detector each dot looks like dust. Inpainted, the pattern
vanishes (``1925Girl``'s dress in ``real_old``; ``benchmarks/RESULTS.md``). Dust is
scattered at random. This module tells them apart by the *image* around each small
detected mark, not by the mask (the detector marks only some of the dots):

1. **Lattice score** (:func:`lattice_scores`): the normalised autocorrelation of the
   luminance in a window around the mark must peak at some offset ``d`` (5-14 px) while
   staying low at ``d / 2`` (a repeat, not a smooth ramp), and do so in two directions
   at least 30 degrees apart; and it must fall within 3-4 px in every direction (isolated
   peaks of a 2-D lattice, not the ridge that stripes, fences and straight edges leave
   along their own direction).
2. **Growing over the pattern** (:func:`spare_patterns`): folds bend the lattice and
   light varies across it, so only part of the dots score high; a mark with at least
   ``votes`` spared marks within ``radius`` px is spared too (a few passes).

Measured with the shipped detector (``benchmarks/RESULTS.md``, "Printed patterns
spared"): 74 % of the pixels it marks on 1925Girl's dress are spared, against 0.11 % and
0.07 % of the true damage pixels of the two validation renderers; detection F1 unchanged.
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.imageio import luma

MAX_SPECK_AREA = 40  # pixels: dots and dust; scratches and cracks are larger and left alone
WINDOW = 40  # autocorrelation window side (pixels)
MIN_PERIOD, MAX_PERIOD = 5, 14  # lattice spacings looked for (pixels)
MIN_SCORE = 0.2  # autocorrelation peak (minus its half-offset value) in both directions


def _offsets() -> np.ndarray:
    """(K, 2) integer offsets (dx, dy) with MIN_PERIOD <= |d| <= MAX_PERIOD, one of each
    +-pair (the autocorrelation is symmetric)."""
    r = MAX_PERIOD
    dy, dx = np.mgrid[-r : r + 1, 0 : r + 1]
    dx, dy = dx.ravel(), dy.ravel()
    length = np.hypot(dx, dy)
    keep = (length >= MIN_PERIOD) & (length <= MAX_PERIOD) & ~((dx == 0) & (dy < 0))
    return np.stack([dx[keep], dy[keep]], axis=1)


OFFSETS = _offsets()
# Short offsets (3-4 px) along 16 directions over 180 degrees: a dot lattice decorrelates
# within a dot's width in every direction; stripes, edges and fences do not along their own
# direction (a ridge in the autocorrelation, not isolated peaks).
_ANGLES = np.linspace(0, np.pi, 16, endpoint=False)
RAYS = np.stack(
    [np.round(np.stack([r * np.cos(_ANGLES), r * np.sin(_ANGLES)], axis=1)) for r in (3, 4)]
).astype(int)  # (2 radii, 16 angles, (dx, dy))
MAX_RIDGE = 0.5  # mean autocorrelation along the most invariant short ray


def lattice_scores(lum: np.ndarray, centres: np.ndarray, chunk: int = 256) -> np.ndarray:
    """How strongly the image repeats on a 2-D lattice around each centre.

    Args:
        lum: (H, W) float luminance.
        centres: (N, 2) float (x, y) pixel positions.

    Returns:
        (N,) float scores; >= :data:`MIN_SCORE` reads as a lattice. 0 where the image is
        smaller than the window or flat.
    """
    h, w = lum.shape
    s = WINDOW
    scores = np.zeros(len(centres), np.float64)
    if h < s or w < s or not len(centres):
        return scores
    dx, dy = OFFSETS[:, 0], OFFSETS[:, 1]
    hx, hy = np.round(dx / 2).astype(int), np.round(dy / 2).astype(int)
    # the autocorrelation of a window with itself shifted by d overlaps (s-|dx|)(s-|dy|)
    overlap = (s * s) / ((s - np.abs(dx)) * (s - np.abs(dy)))
    overlap_half = (s * s) / ((s - np.abs(hx)) * (s - np.abs(hy)))
    angle = np.arctan2(dy, dx)
    x0 = np.clip(np.round(centres[:, 0]).astype(int) - s // 2, 0, w - s)
    y0 = np.clip(np.round(centres[:, 1]).astype(int) - s // 2, 0, h - s)
    for start in range(0, len(centres), chunk):
        sl = slice(start, start + chunk)
        windows = np.stack([lum[y : y + s, x : x + s] for x, y in zip(x0[sl], y0[sl], strict=True)])
        windows = windows.astype(np.float64) - windows.mean(axis=(1, 2), keepdims=True)
        energy = (windows**2).sum(axis=(1, 2))
        spectrum = np.fft.rfft2(windows, s=(2 * s, 2 * s))  # zero-padded: not circular
        ac = np.fft.irfft2(np.abs(spectrum) ** 2, s=(2 * s, 2 * s))
        ac = ac / np.maximum(energy, 1e-12)[:, None, None]
        peak = ac[:, dy % (2 * s), dx % (2 * s)] * overlap
        half = ac[:, hy % (2 * s), hx % (2 * s)] * overlap_half
        repeat = np.minimum(peak, peak - half)  # (n, K)
        best = repeat.argmax(axis=1)
        apart = np.abs((angle[None, :] - angle[best][:, None] + np.pi / 2) % np.pi - np.pi / 2)
        second = np.where(apart >= np.radians(30), repeat, -np.inf).max(axis=1)
        chunk_scores = np.minimum(repeat.max(axis=1), second)
        rx, ry = RAYS[..., 0], RAYS[..., 1]
        ray_overlap = (s * s) / ((s - np.abs(rx)) * (s - np.abs(ry)))
        ridge = (ac[:, ry % (2 * s), rx % (2 * s)] * ray_overlap).mean(axis=1).max(axis=1)
        chunk_scores[ridge > MAX_RIDGE] = 0.0
        chunk_scores[energy < 1e-6] = 0.0
        scores[sl] = chunk_scores
    return scores


def _neighbour_pairs(points: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i != j, with |p_i - p_j| <= radius (grid buckets: no N^2 matrix)."""
    cells = np.floor(points / radius).astype(np.int64)
    buckets: dict[tuple[int, int], list[int]] = {}
    for index, cell in enumerate(map(tuple, cells)):
        buckets.setdefault(cell, []).append(index)
    first, second = [], []
    for (cx, cy), members in buckets.items():
        around = [j for ox in (-1, 0, 1) for oy in (-1, 0, 1)
                  for j in buckets.get((cx + ox, cy + oy), ())]  # fmt: skip
        a, b = np.array(members), np.array(around)
        dist = np.linalg.norm(points[a][:, None] - points[b][None], axis=2)
        ii, jj = np.nonzero((dist <= radius) & (a[:, None] != b[None, :]))
        first.append(a[ii])
        second.append(b[jj])
    if not first:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(first), np.concatenate(second)


def spare_patterns(
    mask: np.ndarray,
    rgb: np.ndarray,
    radius: float = 16.0,
    votes: int = 2,
    passes: int = 3,
) -> tuple[np.ndarray, int]:
    """Drop the small marks of ``mask`` that lie on a printed lattice of ``rgb``.

    Args:
        mask: (H, W) uint8 {0, 1} detected defects (before any dilation).
        rgb: (H, W, 3) float32 [0, 1], the photo the mask was detected on.
        radius, votes, passes: growing over the pattern (module docstring, step 2).

    Returns:
        (the mask without the spared marks, number of pixels spared).
    """
    if not mask.any():
        return mask, 0
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] <= MAX_SPECK_AREA) + 1
    if len(small) == 0:
        return mask, 0
    lum = luma(rgb)  # uint8 or float, band by band
    points = centroids[small]
    spared = lattice_scores(lum, points) >= MIN_SCORE
    first, second = _neighbour_pairs(points, radius)
    for _ in range(passes):
        support = np.bincount(first, weights=spared[second], minlength=len(small))
        grown = spared | (support >= votes)
        if (grown == spared).all():
            break
        spared = grown
    drop = np.zeros(count, bool)
    drop[small[spared]] = True
    if not drop.any():
        return mask, 0
    pixels = int(stats[drop, cv2.CC_STAT_AREA].sum())
    return (~drop[labels] & (mask > 0)).astype(np.uint8), pixels
