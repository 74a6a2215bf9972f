"""Real film damage: alpha masks of dust, hair, scratches, dirt, lint and stains composited
onto the photo, with an exact mask.

The overlays are the synthetic artefacts of Ivanova, Williamson and Henderson, *Simulating
analogue film damage to analyse and improve artefact restoration on high-resolution scans*
(Eurographics 2023; MIT licence, copyright 2022 Daniela Ivanova). Their statistical model
was fitted to artefacts hand-annotated on real scans, so shapes, widths and clustering are
those of real damage, which hand-drawn strokes are not. The overlays are data, not code:
they are read from a folder (``../shared/data/damage_overlays`` in a checkout, or
``$OLDPHOTO_DAMAGE_OVERLAYS``) and never shipped; the licence notice travels with the
folder.

Layout of the folder: one sub-folder per kind (``scratches``, ``hair``, ``hair-short``,
``dirt``, ``dots``, ``spots``, ``sprinkles``, ``lint``, ``smut``, ``stain``), each holding
400x400 single-channel PNGs whose value is the artefact's opacity.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from oldphoto_cli.degrade.structured import _cut, _soft_composite, _tone

ENV_VAR = "OLDPHOTO_DAMAGE_OVERLAYS"

KIND_WEIGHTS = {
    # Thin line damage first: it is what the detector must find and what content mimics.
    "scratches": 0.24,
    "hair": 0.16,
    "hair-short": 0.1,
    "lint": 0.1,
    "dirt": 0.1,
    "spots": 0.1,
    "sprinkles": 0.05,
    "dots": 0.05,
    "smut": 0.05,
    "stain": 0.05,
}
"""How often each kind is drawn (normalised over the kinds present in the folder)."""

# Kinds that cover large soft areas: drawn smaller and fainter, since a detector that marks
# whole blotches would have restore repaint large parts of a photo.
SOFT_KINDS = ("dots", "smut", "stain", "sprinkles")


class OverlaysNotFound(FileNotFoundError):
    pass


def default_folder() -> Path | None:
    """``$OLDPHOTO_DAMAGE_OVERLAYS``, else ``shared/data/damage_overlays`` beside the
    checkout (the layout of this project's machines), else None."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents[2:4]:
        candidate = parent / "shared" / "data" / "damage_overlays"
        if candidate.is_dir():
            return candidate
    return None


@lru_cache(maxsize=4)
def overlay_index(folder: str) -> dict[str, tuple[str, ...]]:
    """Kind -> sorted PNG paths (sorted, so a seeded draw picks the same file anywhere)."""
    root = Path(folder)
    index = {}
    for kind in KIND_WEIGHTS:
        files = sorted(str(p) for p in (root / kind).glob("*.png"))
        if files:
            index[kind] = tuple(files)
    if not index:
        raise OverlaysNotFound(f"no damage overlays under {root} (expected {list(KIND_WEIGHTS)})")
    return index


@lru_cache(maxsize=4096)
def _load_alpha(path: str) -> np.ndarray:
    alpha = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if alpha is None:
        raise OverlaysNotFound(f"cannot read damage overlay {path}")
    alpha.setflags(write=False)
    return alpha


def _resolve(folder: str | Path | None) -> str:
    folder = folder or default_folder()
    if folder is None:
        raise OverlaysNotFound(
            f"damage overlays not found: set ${ENV_VAR} to the damage_overlays folder"
        )
    return str(folder)


def place_overlay(alpha: np.ndarray, shape: tuple[int, int], rng: np.random.Generator,
                  scale: float) -> np.ndarray:  # fmt: skip
    """One overlay (uint8 opacity) scaled, rotated, flipped and placed at a random spot of
    an ``shape`` canvas; returns float32 coverage in [0, 1] (mostly zeros)."""
    h, w = shape
    a = alpha.astype(np.float32) / 255.0
    if rng.random() < 0.5:
        a = a[:, ::-1]
    if rng.random() < 0.5:
        a = a[::-1]
    side = a.shape[0]
    angle = float(rng.uniform(0, 360))
    cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
    m = cv2.getRotationMatrix2D((side / 2, side / 2), angle, scale)
    m[0, 2] += cx - side / 2
    m[1, 2] += cy - side / 2
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(np.ascontiguousarray(a), m, (w, h), flags=interp,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)  # fmt: skip


def film_overlays(img, rng, folder: str | Path | None = None):
    """1-4 real film-damage overlays composited light (dust and scratches on a negative
    print white) or dark (dirt on a print), at opacity 0.35-1, sometimes softened.

    Scale: the 400 px overlays are drawn at 0.25-1.1 of the crop's short side, so a hair
    is 1-4 px wide whatever the crop size. Returns (image, exact mask, params)."""
    index = overlay_index(_resolve(folder))
    h, w = img.shape[:2]
    kinds = sorted(index)
    p = np.array([KIND_WEIGHTS[k] for k in kinds], np.float64)
    canvas = np.zeros((h, w), np.float32)
    drawn = []
    for _ in range(int(rng.integers(1, 5))):
        kind = str(rng.choice(kinds, p=p / p.sum()))
        files = index[kind]
        path = files[int(rng.integers(len(files)))]
        rel = rng.uniform(0.25, 1.1) * (0.6 if kind in SOFT_KINDS else 1.0)
        cover = place_overlay(_load_alpha(path), (h, w), rng, rel * min(h, w) / 400.0)
        if rng.random() < 0.3:
            cover = cv2.GaussianBlur(cover, (0, 0), float(rng.uniform(0.3, 0.8)))
        opacity = rng.uniform(0.35, 1.0) * (0.7 if kind in SOFT_KINDS else 1.0)
        canvas = np.maximum(canvas, _cut(cover) * np.float32(opacity))
        drawn.append(kind)
    light = bool(rng.random() < 0.65)
    out, mask = _soft_composite(img, canvas, _tone(rng, light))
    return out, mask, {"kinds": drawn, "light": light}
