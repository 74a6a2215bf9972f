"""A second, independent renderer of *unstructured* ageing (fading, blur, grain, JPEG):
for VALIDATION of restoration only, as :mod:`oldphoto_cli.damage2` is for scratches.

Training never imports this module (``tests/test_imports.py`` checks the import graph).
It shares no code with :mod:`oldphoto_cli.degrade.unstructured` and draws differently on
purpose:

* grain: two octaves of band-limited noise, multiplicative and strongest in the mid-tones
  (silver grain), 1-6 % of the signal;
* blur: a defocus disc (supersampled, fractional radius 0.6-2.2 px) or an anisotropic
  Gaussian (a shaken camera);
* resolution loss: down 1.5-3x by area, back up by Lanczos;
* JPEG through Pillow with 4:2:0 chroma subsampling, quality 15-60;
* fading: the print's dyes fade towards a paper colour along a shoulder curve, with a
  yellow or grey cast; blacks lifted.

Each pair's truth is the clean crop itself; :func:`make_pairs` can draw ``damage2``'s
structured damage on top (with its exact mask) for the structured set.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

PAIR_SEED = 2718  # the fixed validation sets' seed
OPS = ("grain", "blur", "resolution", "jpeg", "fading")
OP_P = {"grain": 0.8, "blur": 0.6, "resolution": 0.4, "jpeg": 0.6, "fading": 0.6}


def _grain(img: np.ndarray, rng) -> np.ndarray:
    h, w = img.shape[:2]
    amount = rng.uniform(0.01, 0.06)
    fine = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.6)
    coarse = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.8)
    noise = fine / max(float(fine.std()), 1e-6) + 0.5 * coarse / max(float(coarse.std()), 1e-6)
    lum = img.mean(axis=2, keepdims=True)
    weight = 4 * lum * (1 - lum) + 0.25  # silver grain shows most in the mid-tones
    return img * (1 + amount * noise[..., None] * weight)


def _disc(radius: float) -> np.ndarray:
    size = 2 * int(np.ceil(radius)) + 1
    ss = 8
    yy, xx = np.mgrid[0 : size * ss, 0 : size * ss]
    c = (size * ss - 1) / 2
    inside = ((yy - c) ** 2 + (xx - c) ** 2 <= (radius * ss) ** 2).astype(np.float32)
    kernel = cv2.resize(inside, (size, size), interpolation=cv2.INTER_AREA)
    return kernel / kernel.sum()


def _blur(img: np.ndarray, rng) -> np.ndarray:
    if rng.random() < 0.5:
        return cv2.filter2D(img, -1, _disc(rng.uniform(0.6, 2.2)), borderType=cv2.BORDER_REFLECT)
    sx, sy = rng.uniform(0.3, 1.8), rng.uniform(0.3, 1.8)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sx, sigmaY=sy)


def _resolution(img: np.ndarray, rng) -> np.ndarray:
    h, w = img.shape[:2]
    f = rng.uniform(1.5, 3.0)
    small = cv2.resize(img, (max(1, round(w / f)), max(1, round(h / f))),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LANCZOS4)


def _jpeg(img: np.ndarray, rng) -> np.ndarray:
    u8 = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, "JPEG", quality=int(rng.integers(15, 61)), subsampling=2)
    return np.asarray(Image.open(buf).convert("RGB"), np.float32) / 255


def _fading(img: np.ndarray, rng) -> np.ndarray:
    paper = np.array([0.95, 0.9, 0.78] if rng.random() < 0.6 else [0.88, 0.88, 0.86], np.float32)
    strength = rng.uniform(0.15, 0.5)
    shoulder = 1 - (1 - img) ** rng.uniform(1.2, 2.0)  # highlights wash out first
    faded = (1 - strength) * shoulder + strength * paper
    lift = rng.uniform(0.02, 0.12)
    return lift + (1 - lift) * faded


_FUNCS = {"grain": _grain, "blur": _blur, "resolution": _resolution, "jpeg": _jpeg,
          "fading": _fading}  # fmt: skip


def age(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Age a clean uint8 HxWx3 photo: a random subset (at least one) of :data:`OPS` in a
    random order, except that JPEG is always last (a scan saved as JPEG). Returns the
    uint8 result and the ops in order."""
    fire = [op for op in OPS if rng.random() < OP_P[op]] or [str(rng.choice(OPS))]
    rng.shuffle(fire)
    if "jpeg" in fire:
        fire = [op for op in fire if op != "jpeg"] + ["jpeg"]
    img = clean.astype(np.float32) / 255
    for op in fire:
        img = np.clip(_FUNCS[op](img, rng), 0, 1).astype(np.float32)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8), fire


def make_pairs(sources: list[Path], out_dir: str | Path, per_image: int = 2, size: int = 256,
               seed: int = PAIR_SEED, structured: bool = False) -> list[str]:  # fmt: skip
    """Write ``degraded/``, ``clean/`` (the clean crop: the truth) and ``mask/`` for
    ``per_image`` crops of each source, the layout ``oldphoto eval`` reads. With
    ``structured``, ``damage2``'s scratches, cracks, dust, hairs, flakes and tears are drawn
    on the aged crop (the mask is where they changed it); else the mask is empty."""
    from oldphoto_cli import damage2

    def draw(clean: np.ndarray, rng: np.random.Generator):
        aged, _ = age(clean, rng)  # both sets: the same crops, aged alike
        if not structured:
            return aged, clean, np.zeros(aged.shape[:2], np.uint8)
        damaged = damage2.damage(aged, rng, prepare=False)
        return damaged.image, clean, damaged.mask

    return damage2.write_pairs(sources, out_dir, draw, per_image, size, seed)
