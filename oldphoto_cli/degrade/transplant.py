"""Real damage moved from one photo to another (copy-paste augmentation).

A hand-traced real photo shows real cracks, flakes, stains and dust with their real
edges, widths and tones, but only on that photo's content: trained on it alone, a
detector can learn the photo instead of the damage. Cutting the damage out as a signed
*layer* (the photo minus an inpainting of the photo under the traced damage) and adding
that layer to other photos puts the same real damage on new content, with an exact mask
(Ghiasi et al. 2021, "Simple copy-paste is a strong data augmentation method for instance
segmentation", for the idea).

:func:`cut_damage_pieces` turns one traced photo into pieces (groups of nearby damage
components, each a small layer and its mask); :func:`paste_damage` adds a few of them,
rotated, flipped, rescaled and re-weighted, to an image. Both are pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GROUP_RADIUS = 12  # px: damage components closer than this form one piece (a dotted scratch)
MARGIN = 3  # px: the inpainted region reaches this far past the trace (ragged edges, halos)
VISIBLE = 0.05  # a pasted pixel that changes the image by less than this is not labelled
# ... and one that changes it by more is labelled even where the rescaled trace covers
# less than 40 % of it (a crack's blurred end): a clear change unlabelled teaches misses
STRONG = 0.15
AREA_CAP = 1000  # px: one big blotch must not crowd out a hundred cracks and specks
SMOOTH_DEPTH = 4.0  # px inside a wide trace from which its layer is a smooth offset


@dataclass(frozen=True)
class DamagePiece:
    """One group of traced damage: ``layer`` (h, w, 3) float32, what the damage added to
    the photo ([-1, 1] per channel, 0 away from it), ``mask`` (h, w) bool, the traced
    pixels."""

    layer: np.ndarray
    mask: np.ndarray

    @property
    def area(self) -> int:
        return int(self.mask.sum())


def cut_damage_pieces(img: np.ndarray, damage: np.ndarray, min_area: int = 3) -> list[DamagePiece]:
    """The traced damage of ``img`` (uint8 HxWx3) as pieces; ``damage`` is the HxW bool
    trace. The layer is ``img - inpaint(img)`` over the trace grown by :data:`MARGIN`
    (Telea, radius 5): what the damage changed, without the content under it.

    Inside wide damage (a stain, a hazy blotch, a flake) Telea's fill is a smooth guess
    and the difference holds the content's texture as well as the damage; there the layer
    fades, with the depth inside the trace, into its low-pass (Gaussian, sigma 4): the
    damage's tone, not the photo's texture. Thin cracks keep their full detail."""
    damage = np.asarray(damage, bool)
    if not damage.any():
        return []
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * MARGIN + 1, 2 * MARGIN + 1))
    region = cv2.dilate(damage.astype(np.uint8), kernel)
    fill = cv2.inpaint(np.ascontiguousarray(img), region, 5, cv2.INPAINT_TELEA)
    layer = (img.astype(np.float32) - fill.astype(np.float32)) / 255.0
    layer[region == 0] = 0.0
    depth = cv2.distanceTransform(damage.astype(np.uint8), cv2.DIST_L2, 3)
    if depth.max() > 1.0:
        inside = region.astype(np.float32)
        norm = np.maximum(cv2.GaussianBlur(inside, (0, 0), 4.0), 1e-3)[..., None]
        smooth = cv2.GaussianBlur(layer, (0, 0), 4.0) / norm
        weight = np.clip((depth - 1.0) / SMOOTH_DEPTH, 0.0, 1.0)[..., None]
        layer = (1.0 - weight) * layer + weight * smooth
    group = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * GROUP_RADIUS + 1,) * 2)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(region, group), 8)
    pieces = []
    for k in range(1, count):
        x, y, w, h = (int(v) for v in stats[k, :4])
        window = np.s_[y : y + h, x : x + w]
        inside = labels[window] == k
        mask = damage[window] & inside
        if mask.sum() < min_area:
            continue
        piece_layer = layer[window] * inside[..., None]
        pieces.append(DamagePiece(np.ascontiguousarray(piece_layer), np.ascontiguousarray(mask)))
    return pieces


def _transform(piece: DamagePiece, rng: np.random.Generator,
               scale: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The piece turned by a multiple of 90 degrees, maybe mirrored, and rescaled: its
    layer and its trace's coverage of each pixel (in [0, 1])."""
    layer, mask = piece.layer, piece.mask.astype(np.float32)
    turns = int(rng.integers(4))
    layer, mask = np.rot90(layer, turns), np.rot90(mask, turns)
    if rng.random() < 0.5:
        layer, mask = layer[:, ::-1], mask[:, ::-1]
    s = rng.uniform(*scale)
    h, w = mask.shape
    size = (max(1, round(w * s)), max(1, round(h * s)))
    if size != (w, h):
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        layer = cv2.resize(np.ascontiguousarray(layer), size, interpolation=interp)
        mask = cv2.resize(np.ascontiguousarray(mask), size, interpolation=interp)
    return np.ascontiguousarray(layer), np.ascontiguousarray(mask)


def paste_damage(img: np.ndarray, pieces: list[DamagePiece], rng: np.random.Generator,
                 count: int = 2, scale: tuple[float, float] = (0.6, 1.4),
                 gain: tuple[float, float] = (0.7, 1.15)) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``count`` pieces drawn from ``pieces`` (bigger ones more often, by the square root
    of their area up to :data:`AREA_CAP`) added to ``img`` (HxWx3 float in [0, 1]) at
    random places, each turned, mirrored, rescaled by a factor in ``scale`` and weighted
    by one in ``gain``.

    Returns (new image, HxW bool mask): the pasted damage pixels that visibly changed the
    image (a white crack pasted on white paper is not damage anyone can find), and the
    pixels the trace reaches that it clearly changed.
    """
    out = np.asarray(img, np.float32).copy()
    h, w = out.shape[:2]
    mask = np.zeros((h, w), bool)
    if not pieces or count <= 0:
        return out, mask
    weights = np.sqrt(np.minimum([p.area for p in pieces], AREA_CAP).astype(np.float64))
    weights /= weights.sum()
    for _ in range(count):
        piece = pieces[int(rng.choice(len(pieces), p=weights))]
        layer, coverage = _transform(piece, rng, scale)
        ph, pw = coverage.shape
        # the piece's centre lands inside the image; the rest may fall off its edges
        top = int(rng.integers(0, h)) - ph // 2
        left = int(rng.integers(0, w)) - pw // 2
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + ph, h), min(left + pw, w)
        if y1 <= y0 or x1 <= x0:
            continue
        src = np.s_[y0 - top : y1 - top, x0 - left : x1 - left]
        dst = np.s_[y0:y1, x0:x1]
        before = out[dst].copy()
        out[dst] = np.clip(before + rng.uniform(*gain) * layer[src], 0.0, 1.0)
        change = np.abs(out[dst] - before).max(axis=2)
        # a pixel counts as traced where the trace covers 40 % of it (a 1 px line stays
        # marked when shrunk), or where the change is clear and the trace reaches it
        traced = (coverage[src] > 0.4) | ((coverage[src] > 0) & (change > STRONG))
        mask[dst] |= traced & (change > VISIBLE)
    return out, mask
