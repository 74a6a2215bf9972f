"""Damage of the print itself: cracked emulsion, tears and flaked corners.

Film overlays (:mod:`oldphoto_cli.degrade.film_overlays`) show what lies on a negative;
a print that was folded, rolled or dried out cracks instead. What real cracked prints show
(the cracked portraits of ``real_old`` looked at 1:1, and the paper's own test photos):

* connected networks of lines that close into irregular polygons, with a few long
  fissures running through them and branching off;
* paper-white where the emulsion has gone (sometimes dark where dirt filled the crack);
* 1-10 px wide on a 256-1024 px scan, the width changing along a crack, with ragged,
  fibrous edges rather than the clean edge of a drawn line;
* lifted borders: the emulsion beside a crack curls up, so one side is shadowed and the
  other catches light;
* small flakes lost where cracks meet; tears that run in from the border, and corners
  that are missing or flaked away.

Every function is pure: ``fn(img, rng) -> (image, mask, params)`` with an exact mask (a
pixel is 1 iff it changed by at least :data:`~oldphoto_cli.degrade.structured.MIN_CHANGE`).
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.degrade.structured import _cut, _poly, _soft_composite, _walk, finalize

CRACK_WIDTHS = (1, 2, 3, 4, 5, 6, 8, 10)
# Most real cracks are hairlines: compared side by side with the cracked prints of real_old
# (benchmarks/crack_likeness.py), a flatter spread drew too many wide, opaque bands.
CRACK_WIDTH_P = (0.3, 0.25, 0.15, 0.1, 0.07, 0.05, 0.05, 0.03)


def _paper(rng, light: bool) -> np.ndarray:
    """Paper-white (slightly warm, sometimes grey-cream) or dirt-dark crack colour."""
    if light:
        v = rng.uniform(0.8, 1.0)
        warm = rng.uniform(0.0, 0.1)
        return np.array([v, v * (1 - warm / 2), v * (1 - warm)], np.float32)
    v = rng.uniform(0.03, 0.3)
    return np.array([v, v * 0.97, v * 0.93], np.float32)


def _smooth_noise(rng, h: int, w: int, sigma: float) -> np.ndarray:
    """Zero-mean, unit-ish noise blurred by ``sigma`` (the grain of a ragged edge)."""
    noise = rng.standard_normal((h, w), dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    return noise / max(float(noise.std()), 1e-6)


def _jagged(p0: np.ndarray, p1: np.ndarray, rng, roughness: float) -> np.ndarray:
    """A polyline from ``p0`` to ``p1`` that wanders sideways by about ``roughness`` of
    its length (cracks follow the paper's fibres, not a ruler)."""
    length = float(np.hypot(*(p1 - p0)))
    n = max(2, int(length / 4))
    t = np.linspace(0.0, 1.0, n + 1)[:, None]
    normal = np.array([p0[1] - p1[1], p1[0] - p0[0]]) / max(length, 1e-6)
    offset = np.cumsum(rng.normal(0.0, 1.0, n + 1))
    offset -= np.linspace(offset[0], offset[-1], n + 1)  # pinned at both ends
    offset *= roughness * length / max(float(np.abs(offset).max()), 1e-6)
    return p0 + t * (p1 - p0) + offset[:, None] * normal


def _voronoi_edges(rng, h: int, w: int, cells: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The edges of a Voronoi diagram of ``cells`` random seeds over a margin around the
    picture: the polygon network that emulsion cracks close into. Each edge once."""
    margin = 0.25 * max(h, w)
    rect = (int(-margin), int(-margin), int(w + 2 * margin), int(h + 2 * margin))
    subdiv = cv2.Subdiv2D(rect)
    xs = rng.uniform(-margin / 2, w + margin / 2, cells)
    ys = rng.uniform(-margin / 2, h + margin / 2, cells)
    for x, y in zip(xs, ys, strict=True):
        subdiv.insert((float(x), float(y)))
    facets, _ = subdiv.getVoronoiFacetList([])
    edges: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    for facet in facets:
        pts = np.asarray(facet, np.float64)
        for a, b in zip(pts, np.roll(pts, -1, axis=0), strict=True):
            key = tuple(sorted((tuple(np.round(a, 1)), tuple(np.round(b, 1)))))
            edges.setdefault(key, (a, b))
    return list(edges.values())


def _ragged(layer: np.ndarray, rng, width: float) -> np.ndarray:
    """A drawn uint8 line layer with ragged, fibrous edges: blur, add edge grain, cut at
    half. Returns float32 coverage, hard inside and softened by under a pixel at the
    border."""
    h, w = layer.shape
    soft = cv2.GaussianBlur(layer.astype(np.float32) / 255.0, (0, 0), 0.4 + 0.2 * width)
    grain = _smooth_noise(rng, h, w, float(rng.uniform(0.6, 1.5)))
    # grain only where the line is (a speck field away from it would be dust, not a crack)
    field = soft + np.float32(rng.uniform(0.12, 0.3)) * grain * np.minimum(soft * 4, 1.0)
    # the drawn core stays, so a hairline crack is ragged at its edges but never broken
    hard = ((field > 0.5) | (layer >= 160)).astype(np.float32)
    if rng.random() < 0.6:
        hard = np.clip(cv2.GaussianBlur(hard, (0, 0), 0.5) * np.float32(1.4), 0.0, 1.0)
    return _cut(hard)


def _lift(img: np.ndarray, crack: np.ndarray, rng) -> tuple[np.ndarray, dict]:
    """Lifted borders: the emulsion beside a crack curls, so a 1-2 px band on one side
    is shadowed and the opposite band catches light."""
    d = int(rng.integers(1, 3))
    angle = rng.uniform(0, 2 * np.pi)
    dx, dy = int(round(d * np.cos(angle))), int(round(d * np.sin(angle)))
    solid = (crack > 0.5).astype(np.uint8)
    m_shadow = np.float32([[1, 0, dx], [0, 1, dy]])
    m_light = np.float32([[1, 0, -dx], [0, 1, -dy]])
    h, w = solid.shape
    shadow = (cv2.warpAffine(solid, m_shadow, (w, h)) > 0) & (solid == 0)
    light = (cv2.warpAffine(solid, m_light, (w, h)) > 0) & (solid == 0) & ~shadow
    out = img.copy()
    dark, bright = np.float32(rng.uniform(0.1, 0.35)), np.float32(rng.uniform(0.05, 0.25))
    out[shadow] *= 1 - dark
    out[light] += (1 - out[light]) * bright
    return out, {"lift_px": d, "shadow": round(float(dark), 3)}


def _paint_crack(img, crack: np.ndarray, rng, light_share: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """Paint coverage ``crack`` into ``img``: paper-white (``light_share`` of the time) or
    dirt-dark, with a faint paper texture, lifted borders half the time. Returns (image,
    exact mask, params)."""
    h, w = img.shape[:2]
    light = bool(rng.random() < light_share)
    base, params = _lift(img, crack, rng) if rng.random() < 0.5 else (img, {})
    value = _paper(rng, light)
    texture = 1.0 - np.float32(rng.uniform(0.0, 0.15)) * rng.random((h, w), dtype=np.float32)
    out, _ = _soft_composite(base, crack, value[None, :] * texture.reshape(-1, 1))
    out, mask = finalize(img, out)
    return out, mask, {"light": light, **params}


def print_cracks(img, rng):
    """A network of emulsion cracks over part or all of the picture: Voronoi polygons
    (kept where they fall in a random elliptic region, some edges dropped so the network
    branches and ends) plus 0-3 long fissures with side branches; width 1-10 px, varying
    along each crack; ragged edges; paper-white (70 %) or dark; lifted borders half the
    time; flakes lost at some crack points a third of the time."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.uint8)
    widest = int(rng.choice(CRACK_WIDTHS, p=CRACK_WIDTH_P))
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    rx, ry = rng.uniform(0.3, 1.2) * w, rng.uniform(0.3, 1.2) * h
    keep = rng.uniform(0.45, 0.95)
    cells = int(rng.integers(6, 40))
    roughness = float(rng.uniform(0.02, 0.1))
    kept = 0
    for a, b in _voronoi_edges(rng, h, w, cells):
        mid = (a + b) / 2
        inside = ((mid[0] - cx) / rx) ** 2 + ((mid[1] - cy) / ry) ** 2 <= 1.0
        if not inside or rng.random() > keep:
            continue
        width = max(1, int(round(widest * rng.uniform(0.35, 1.0))))
        cv2.polylines(layer, [_poly(_jagged(a, b, rng, roughness))], False, 255, width,
                      cv2.LINE_AA, shift=2)  # fmt: skip
        kept += 1
    fissures = int(rng.integers(0, 4))
    for _ in range(fissures):
        start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        steps = int(rng.integers(20, 60))
        pts = _walk(rng, start, rng.uniform(0, 2 * np.pi), steps, max(h, w) / 40, 0.15)
        width = max(1, int(round(widest * rng.uniform(0.6, 1.0))))
        cv2.polylines(layer, [_poly(pts)], False, 255, width, cv2.LINE_AA, shift=2)
        for f in np.nonzero(rng.random(steps) < 0.08)[0][:4]:
            side = pts[f] + np.array([np.cos(t := rng.uniform(0, 2 * np.pi)), np.sin(t)]) * (
                rng.uniform(0.1, 0.4) * max(h, w)
            )
            cv2.polylines(layer, [_poly(_jagged(pts[f], side, rng, roughness))], False, 255,
                          max(1, width - 1), cv2.LINE_AA, shift=2)  # fmt: skip
    if not layer.any():  # the region missed the picture: one fissure through the middle
        pts = _walk(rng, np.array([w / 2, h / 2]), rng.uniform(0, 2 * np.pi), 40, max(h, w) / 40,
                    0.15)  # fmt: skip
        cv2.polylines(layer, [_poly(pts)], False, 255, widest, cv2.LINE_AA, shift=2)
    flakes = 0
    if rng.random() < 0.35:
        ys, xs = np.nonzero(layer > 128)
        for i in rng.choice(len(ys), size=min(len(ys), int(rng.integers(2, 12))), replace=False):
            r = rng.uniform(1.5, 2.5 + widest)
            k = int(rng.integers(5, 9))
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            rad = r * rng.uniform(0.4, 1.2, k)
            poly = np.stack([xs[i] + rad * np.cos(ang), ys[i] + rad * np.sin(ang)], axis=1)
            cv2.fillPoly(layer, [_poly(poly)], 255, cv2.LINE_AA, shift=2)
            flakes += 1
    crack = _ragged(layer, rng, widest)
    # Opacity wanders along the network (real cracks are faint in stretches, bright in
    # others); half the networks also fade out in places, which breaks them into dashes.
    h_, w_ = crack.shape
    wander = _smooth_noise(rng, h_, w_, max(h_, w_) / 12)
    low = 0.0 if rng.random() < 0.5 else 0.35
    crack *= np.clip(0.75 + 0.35 * wander, low, 1.0).astype(np.float32)
    out, mask, params = _paint_crack(img, _cut(crack), rng, light_share=0.7)
    return out, mask, {"edges": kept, "fissures": fissures, "widest": widest, "flakes": flakes,
                       **params}  # fmt: skip


def lone_crack(img, rng):
    """One crack across an otherwise sound print, as a bent or knocked print shows it: a
    single fissure (0-2 short side branches), 1-5 px wide, ragged, paper-white (75 %) or
    dark, lifted borders half the time, its opacity wandering so it is faint in stretches.

    Real prints mostly carry damage this sparse (the hand-traced real set: 0.3 % of the
    pixels); a detector that only ever saw whole networks learned "a photo full of cracks"
    and left a lone crack across a sound print unmarked (WWIHospital: probability 0.00 on
    its crack, 0.3-0.6 once a synthetic network is drawn beside it)."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.uint8)
    width = int(rng.choice((1, 2, 3, 4, 5), p=(0.3, 0.3, 0.2, 0.12, 0.08)))
    start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    steps = int(rng.integers(15, 50))
    pts = _walk(rng, start, rng.uniform(0, 2 * np.pi), steps, max(h, w) / 30, 0.12)
    # each step zigzags on its own (a fracture, not a brush stroke)
    roughness = float(rng.uniform(0.08, 0.25))
    path = np.vstack([_jagged(a, b, rng, roughness)[:-1] for a, b in zip(pts[:-1], pts[1:], strict=True)])
    cv2.polylines(layer, [_poly(path)], False, 255, width, cv2.LINE_AA, shift=2)
    branches = int(rng.integers(0, 3))
    for f in rng.integers(0, steps, branches):
        t = rng.uniform(0, 2 * np.pi)
        side = pts[f] + np.array([np.cos(t), np.sin(t)]) * rng.uniform(0.05, 0.25) * max(h, w)
        cv2.polylines(layer, [_poly(_jagged(pts[f], side, rng, 0.06))], False, 255,
                      max(1, width - 1), cv2.LINE_AA, shift=2)  # fmt: skip
    crack = _ragged(layer, rng, width)
    wander = _smooth_noise(rng, h, w, max(h, w) / 10)
    crack *= np.clip(0.8 + 0.3 * wander, 0.3, 1.0).astype(np.float32)
    out, mask, params = _paint_crack(img, _cut(crack), rng, light_share=0.75)
    return out, mask, {"width": width, "branches": branches, **params}


def _torn_edge(rng, p0, p1, roughness: float) -> np.ndarray:
    """A torn paper edge: jagged at two scales (the tear's course and its fibres)."""
    coarse = _jagged(np.asarray(p0, float), np.asarray(p1, float), rng, roughness)
    return coarse + rng.normal(0.0, 0.6, coarse.shape)


def tears(img, rng):
    """A torn-off corner (the missing part shows the mount: white, cream, grey or black,
    with a 1-4 px band of white paper fibre along the tear) or a tear running in from the
    border (a jagged paper-white line 2-6 px wide)."""
    h, w = img.shape[:2]
    out = img.copy()
    if rng.random() < 0.5:
        corner = int(rng.integers(4))
        a = rng.uniform(0.1, 0.5) * w
        b = rng.uniform(0.1, 0.5) * h
        cx, cy = (0 if corner in (0, 3) else w), (0 if corner in (0, 1) else h)
        sx, sy = (1 if cx == 0 else -1), (1 if cy == 0 else -1)
        edge = _torn_edge(rng, (cx + sx * a, cy), (cx, cy + sy * b), rng.uniform(0.05, 0.2))
        region = np.zeros((h, w), np.uint8)
        cv2.fillPoly(region, [_poly(np.vstack([[cx, cy], edge]))], 255, cv2.LINE_AA, shift=2)
        fibre = np.zeros((h, w), np.uint8)
        cv2.polylines(fibre, [_poly(edge)], False, 255, int(rng.integers(1, 5)), cv2.LINE_AA,
                      shift=2)  # fmt: skip
        mount = _paper(rng, True) * np.float32(rng.choice([1.0, 1.0, 0.6, 0.08]))
        out, _ = _soft_composite(out, _cut(region.astype(np.float32) / 255), mount)
        out, _ = _soft_composite(out, _ragged(fibre, rng, 2.0), _paper(rng, True))
        params = {"kind": "corner", "corner": corner}
    else:
        side = int(rng.integers(4))
        t = rng.uniform(0.1, 0.9)
        start = [(t * w, 0), (w, t * h), (t * w, h), (0, t * h)][side]
        inward = [np.pi / 2, np.pi, -np.pi / 2, 0.0][side] + rng.normal(0, 0.4)
        length = rng.uniform(0.15, 0.7) * max(h, w)
        end = (start[0] + length * np.cos(inward), start[1] + length * np.sin(inward))
        layer = np.zeros((h, w), np.uint8)
        width = int(rng.integers(2, 7))
        edge = _torn_edge(rng, start, end, rng.uniform(0.03, 0.12))
        for i in range(0, len(edge) - 1, 3):  # the tear narrows towards its end
            wi = max(1, int(round(width * (1 - i / len(edge)) + 0.5)))
            cv2.polylines(layer, [_poly(edge[i : i + 4])], False, 255, wi, cv2.LINE_AA, shift=2)
        out, _ = _soft_composite(out, _ragged(layer, rng, width), _paper(rng, True))
        params = {"kind": "tear", "side": side, "width": width}
    out, mask = finalize(img, out)
    return out, mask, params
