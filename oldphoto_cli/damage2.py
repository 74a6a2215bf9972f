"""A second, independent damage renderer: for VALIDATION of scratch detection only.

Training never imports this module, directly or through another module
(``tests/test_detection_data.py`` walks the imports): a detector trained on it could no
longer be measured by it. It is part of the package so that the detector benchmark
(``benchmarks/eval_detector.py``) and the tests import it like any other module. It shares
no drawing code with :mod:`oldphoto_cli.degrade.structured` and draws differently on
purpose:

* scratches: smooth cubic curves (straight-ish film scratches and wandering print
  scratches) drawn as a union of discs on a 4x supersampled canvas, so the width varies
  continuously along the stroke from 1 to 6 px; hard or soft (blurred) edges; light or
  dark; partly transparent with the opacity varying along the stroke; broken into dashes
  now and then; texture inside the stroke;
* crack networks: the zero set of band-limited noise inside an irregular region (a
  branching, connected net such as craquelure), modulated by a paper-fibre texture;
* dust (irregular specks, 0.5-3 px) and hairs / fibres (long curly 1 px curves);
* emulsion flaking (clusters of small irregular lost patches, paper-coloured) and tears
  (a jagged torn line from an edge, paper-white with a dark lip).

Before the damage the clean crop gets film grain, a slight blur and sometimes a sepia or
grey tone (all *not* damage: the mask stays empty there). The mask is exact on the saved
8-bit images: a pixel is 1 iff its value differs from the undamaged one by at least
:data:`MIN_LEVELS` (of 255) in some channel; smaller changes are reverted, so faint
halos that nobody would call damage are neither damage nor unmarked change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

SS = 4  # supersampling factor of the stroke canvases
MIN_LEVELS = 10  # a damaged pixel changed by at least this many 8-bit levels (4 %)
PAIR_SEED = 1606  # the fixed validation set's seed


@dataclass
class Damaged:
    image: np.ndarray  # uint8 HxWx3, damaged
    base: np.ndarray  # uint8 HxWx3, the same before damage (grain and tone included)
    mask: np.ndarray  # uint8 HxW {0, 1}
    kinds: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- shapes


def _bezier(rng: np.random.Generator, p0, p3, bend: float, n: int) -> np.ndarray:
    """A cubic Bezier from p0 to p3 whose inner control points are pushed sideways by
    ``bend`` times the chord length; ``n`` samples."""
    p0, p3 = np.asarray(p0, float), np.asarray(p3, float)
    chord = p3 - p0
    normal = np.array([-chord[1], chord[0]])
    p1 = p0 + chord / 3 + normal * rng.normal(0, bend)
    p2 = p0 + 2 * chord / 3 + normal * rng.normal(0, bend)
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def _smooth_noise(rng, n: int, knots: int) -> np.ndarray:
    """1-D smooth noise in about [-1, 1], ``n`` samples through ``knots`` random knots."""
    k = rng.uniform(-1, 1, max(2, knots))
    return np.interp(np.linspace(0, len(k) - 1, n), np.arange(len(k)), k)


def _field(rng, h: int, w: int, cells: int) -> np.ndarray:
    """2-D band-limited noise, zero mean, unit-ish scale."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _discs(shape, pts: np.ndarray, radii: np.ndarray, value=255) -> np.ndarray:
    """Union of discs (centre ``pts``, radius ``radii``, in pixels) on a supersampled
    canvas, area-averaged back to ``shape``: float32 coverage in [0, 1]."""
    h, w = shape
    canvas = np.zeros((h * SS, w * SS), np.uint8)
    for (x, y), r in zip(pts, radii, strict=True):
        cv2.circle(canvas, (int(x * SS + SS / 2), int(y * SS + SS / 2)),
                   max(1, int(round(r * SS))), value, -1)  # fmt: skip
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _colour(rng, light: bool) -> np.ndarray:
    if light:
        v = rng.uniform(0.75, 1.0)
        return np.array([v, v * rng.uniform(0.95, 1.0), v * rng.uniform(0.85, 1.0)])
    v = rng.uniform(0.0, 0.25)
    return np.array([v * rng.uniform(1.0, 1.3), v, v * rng.uniform(0.8, 1.0)])


def _scratch_alpha(rng, h: int, w: int) -> np.ndarray:
    """One scratch: coverage times its varying opacity (float32 HxW)."""
    diag = float(np.hypot(h, w))
    if rng.random() < 0.5:  # film-transport scratch: long, nearly straight, vertical-ish
        x0 = rng.uniform(0, w)
        p0, p3 = (x0, -5.0), (x0 + rng.normal(0, 0.08) * w, h + 5.0)
        bend = 0.03
    else:  # a wandering print scratch anywhere
        a = rng.uniform(0, np.pi)
        length = rng.uniform(0.15, 0.9) * diag
        c = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        d = np.array([np.cos(a), np.sin(a)]) * length / 2
        p0, p3 = c - d, c + d
        bend = rng.uniform(0.05, 0.35)
    n = int(2 * diag) + 8  # samples every half pixel or so
    pts = _bezier(rng, p0, p3, bend, n)
    base_w = rng.choice([1.0, 1.5, 2.0, 3.0, 4.0, 5.5], p=[0.25, 0.2, 0.2, 0.15, 0.12, 0.08])
    width = np.clip(base_w * (1 + 0.45 * _smooth_noise(rng, n, int(rng.integers(3, 9)))), 1, 6)
    keep = np.ones(n, bool)
    if rng.random() < 0.4:  # dashed: a worn scratch that skips
        gaps = _smooth_noise(rng, n, int(rng.integers(6, 20))) > rng.uniform(0.2, 0.6)
        keep &= ~gaps
    if not keep.any():
        keep[: n // 2] = True
    cov = _discs((h, w), pts[keep], width[keep] / 2)
    if rng.random() < 0.5:  # soft edges
        cov = cv2.GaussianBlur(cov, (0, 0), rng.uniform(0.4, 1.2))
    opacity = rng.uniform(0.45, 1.0) * (1 - 0.4 * (_field(rng, h, w, 5) * 0.5 + 0.5).clip(0, 1)
                                        * rng.uniform(0, 1))  # fmt: skip
    texture = 1 - rng.uniform(0, 0.35) * np.abs(_field(rng, h, w, max(8, w // 3)))
    return (cov * opacity * texture.clip(0, 1)).astype(np.float32)


def _crack_alpha(rng, h: int, w: int) -> np.ndarray:
    """A branching crack net: thin ridges of |noise| inside an irregular region."""
    a = np.abs(_field(rng, h, w, int(rng.integers(4, 10))))
    b = np.abs(_field(rng, h, w, int(rng.integers(6, 14))))
    net = np.minimum(a, b * rng.uniform(0.8, 1.5))
    # |n| small on the zero set; gradient-normalised so the lines are ~1-2.5 px wide
    gy, gx = np.gradient(net)
    g = np.sqrt(gx * gx + gy * gy) + 1e-4
    dist = net / g
    half = rng.uniform(0.5, 1.3)
    cov = np.clip(half + 0.5 - dist, 0, 1)
    region = _field(rng, h, w, 3) + rng.uniform(-0.3, 0.8)
    cov *= np.clip(region * 3, 0, 1)
    fibre = 0.6 + 0.4 * (_field(rng, h, w, max(10, w // 4)) > rng.uniform(-0.8, 0.3))
    return (cov * fibre * rng.uniform(0.5, 0.95)).astype(np.float32)


def _dust_alpha(rng, h: int, w: int) -> np.ndarray:
    n = int(rng.integers(5, 80))
    canvas = np.zeros((h * SS, w * SS), np.uint8)
    for _ in range(n):
        cx, cy = rng.uniform(0, w) * SS, rng.uniform(0, h) * SS
        r = (0.25 + 1.25 * rng.random() ** 2.5) * SS
        k = int(rng.integers(5, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = r * rng.uniform(0.5, 1.3, k)
        poly = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(canvas, [poly], int(rng.integers(140, 256)))
    return cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def _hair_alpha(rng, h: int, w: int) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.integers(150, 500))
        turn = np.cumsum(rng.normal(0, 0.08, n)) + rng.uniform(0, 2 * np.pi)
        step = rng.uniform(0.2, 0.45)
        pts = np.cumsum(np.stack([np.cos(turn), np.sin(turn)], 1) * step, 0)
        pts += [rng.uniform(0, w), rng.uniform(0, h)]
        cov = _discs((h, w), pts, np.full(n, rng.uniform(0.35, 0.7)))
        out = np.maximum(out, cov * rng.uniform(0.5, 1.0))
    return out


def _flake_alpha(rng, h: int, w: int) -> np.ndarray:
    """Clusters of small lost-emulsion patches along a line (hard, ragged edges)."""
    out = np.zeros((h, w), np.float32)
    p0 = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    p3 = p0 + rng.normal(0, 0.35, 2) * [w, h]
    centres = _bezier(rng, p0, p3, 0.2, int(rng.integers(4, 15)))
    rough = _field(rng, h, w, max(6, w // 6))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for cx, cy in centres:
        rx, ry = rng.uniform(1.5, 12), rng.uniform(1.5, 12)
        f = 1 - ((xx - cx) / rx) ** 2 - ((yy - cy) / ry) ** 2 + 0.45 * rough
        out = np.maximum(out, np.clip(f * 4, 0, 1))
    return out


def _tear_alpha(rng, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A torn line in from an edge: (paper-white coverage, dark lip coverage)."""
    side = int(rng.integers(0, 4))
    t = rng.uniform(0.2, 0.8)
    start = [(t * w, -2), (t * w, h + 2), (-2, t * h), (w + 2, t * h)][side]
    inward = [(0, 1), (0, -1), (1, 0), (-1, 0)][side]
    length = rng.uniform(0.25, 0.7) * (h if side < 2 else w)
    n = int(length * 2) + 4
    lateral = np.cumsum(rng.normal(0, 0.6, n))
    along = np.linspace(0, length, n)
    ix, iy = inward
    pts = np.stack([start[0] + along * ix - lateral * iy, start[1] + along * iy + lateral * ix], 1)
    width = np.linspace(rng.uniform(2, 7), 0.8, n) * (1 + 0.3 * rng.uniform(-1, 1, n))
    paper = _discs((h, w), pts, width / 2)
    lip = _discs((h, w), pts + [1.5 * -iy, 1.5 * ix], width / 2 + 0.7) * (1 - paper)
    return paper, lip * rng.uniform(0.3, 0.7)


# ----------------------------------------------------------------------------- compose


def _prepare(rng, clean: np.ndarray) -> np.ndarray:
    """Film grain, slight blur and sometimes a tone: the undamaged old-looking base."""
    img = clean.astype(np.float32) / 255
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.0))
    u = rng.random()
    lum = img @ np.array([0.299, 0.587, 0.114], np.float32)
    if u < 0.3:
        img = np.repeat(lum[..., None], 3, 2)
    elif u < 0.55:
        img = lum[..., None] * np.array([1.07, 0.95, 0.76], np.float32)
    sigma = rng.uniform(0.005, 0.045)
    grain = cv2.GaussianBlur(rng.standard_normal(img.shape[:2]).astype(np.float32), (0, 0),
                             rng.uniform(0.5, 1.2))  # fmt: skip
    grain *= sigma / max(float(grain.std()), 1e-6)
    img = img + grain[..., None] * (0.5 + lum[..., None])
    return np.clip(np.round(np.clip(img, 0, 1) * 255), 0, 255).astype(np.uint8)


KINDS = ("scratch", "crack", "dust", "hair", "flake", "tear")


def damage(clean: np.ndarray, rng: np.random.Generator,
           only: tuple[str, ...] | None = None, prepare: bool = True) -> Damaged:  # fmt: skip
    """Damage a clean uint8 HxWx3 photo; at least one kind of damage is drawn (``only``:
    those kinds, each for sure: per-kind scores). ``prepare``: add grain, blur and tone
    first (off: the photo is already aged, e.g. by :mod:`oldphoto_cli.aging2`)."""
    base = _prepare(rng, clean) if prepare else clean
    h, w = base.shape[:2]
    img = base.astype(np.float32) / 255
    kinds: list[str] = []
    p = {"scratch": 0.75, "crack": 0.3, "dust": 0.5, "hair": 0.35, "flake": 0.2, "tear": 0.12}
    fire = {k: rng.random() < v for k, v in p.items()}
    if only is not None:
        fire = {k: k in only for k in p}
    if not any(fire.values()):
        fire["scratch"] = True
    order = [k for k in p if fire[k]]
    rng.shuffle(order)
    for kind in order:
        kinds.append(kind)
        if kind == "scratch":
            for _ in range(int(rng.integers(1, 6))):
                a = _scratch_alpha(rng, h, w)[..., None]
                img = img + (_colour(rng, rng.random() < 0.65) - img) * a
        elif kind == "crack":
            a = _crack_alpha(rng, h, w)[..., None]
            img = img + (_colour(rng, rng.random() < 0.5) - img) * a
        elif kind == "dust":
            a = _dust_alpha(rng, h, w)[..., None]
            img = img + (_colour(rng, rng.random() < 0.5) - img) * a
        elif kind == "hair":
            a = _hair_alpha(rng, h, w)[..., None]
            img = img + (_colour(rng, rng.random() < 0.25) - img) * a
        elif kind == "flake":
            a = _flake_alpha(rng, h, w)[..., None]
            paper = np.array([0.93, 0.9, 0.82]) * rng.uniform(0.9, 1.05)
            img = img + (paper - img) * a
        else:
            paper, lip = _tear_alpha(rng, h, w)
            img = img + (0.0 - img) * lip[..., None]
            img = img + (np.array([0.96, 0.95, 0.9]) - img) * paper[..., None]
    out = np.clip(np.round(np.clip(img, 0, 1) * 255), 0, 255).astype(np.uint8)
    diff = np.abs(out.astype(np.int16) - base.astype(np.int16)).max(axis=2)
    mask = (diff >= MIN_LEVELS).astype(np.uint8)
    out[mask == 0] = base[mask == 0]  # faint halos are reverted: the mask stays exact
    return Damaged(out, base, mask, kinds)


# ----------------------------------------------------------------------------- pairs


def _crop(img: np.ndarray, size: int, rng) -> np.ndarray:
    h, w = img.shape[:2]
    scale = rng.uniform(size / min(h, w), max(size / min(h, w), min(1.0, 2 * size / min(h, w))))
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    y, x = int(rng.integers(0, nh - size + 1)), int(rng.integers(0, nw - size + 1))
    return np.ascontiguousarray(img[y : y + size, x : x + size])


def make_pairs(sources: list[Path], out_dir: str | Path, per_image: int = 2, size: int = 256,
               seed: int = PAIR_SEED, only: tuple[str, ...] | None = None) -> list[str]:  # fmt: skip
    """Write ``degraded/``, ``clean/`` (the undamaged base: grain and tone, no damage) and
    ``mask/`` PNGs (0/255) for ``per_image`` crops of each source: the layout of
    ``oldphoto degrade``, so ``oldphoto eval`` reads it too. ``only``: draw just these
    kinds (see :func:`damage`). Returns the names."""

    def draw(crop: np.ndarray, rng: np.random.Generator):
        d = damage(crop, rng, only=only)
        return d.image, d.base, d.mask

    return write_pairs(sources, out_dir, draw, per_image, size, seed)


def write_pairs(sources: list[Path], out_dir: str | Path, draw, per_image: int, size: int,
                seed: int) -> list[str]:  # fmt: skip
    """The pairs layout ``oldphoto eval`` reads: for ``per_image`` random ``size`` px crops
    of each source (rng ``[seed, i, j]``), ``draw(crop, rng) -> (degraded, truth, mask)``
    (uint8 HxWx3, uint8 HxWx3, uint8 HxW {0, 1}) written to ``degraded/``, ``clean/`` and
    ``mask/`` (0/255) as ``<stem>_<j>.png``. Returns the names."""
    out = Path(out_dir)
    for sub in ("degraded", "clean", "mask"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    names = []
    for i, src in enumerate(sources):
        rgb = cv2.cvtColor(cv2.imread(str(src), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        for j in range(per_image):
            rng = np.random.default_rng([seed, i, j])
            degraded, truth, mask = draw(_crop(rgb, size, rng), rng)
            name = f"{Path(src).stem}_{j}.png"
            cv2.imwrite(str(out / "degraded" / name), cv2.cvtColor(degraded, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(out / "clean" / name), cv2.cvtColor(truth, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(out / "mask" / name), mask * 255)
            names.append(name)
    return names
