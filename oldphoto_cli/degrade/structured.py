"""Structured defects: scratches, cracks, dust, stains, worn/torn edges, fold lines.

Every function is pure: ``fn(img, rng) -> (image, mask, params)``. ``mask`` is uint8 HxW
in {0, 1} and is *exact*: a pixel is 1 iff its value changed by at least
:data:`MIN_CHANGE` in some channel, and every other pixel is bit-identical to the input.
Shapes are drawn with cv2 on an 8-bit alpha canvas and then composited, which is much
faster than per-pixel Python.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_CHANGE = 1.5 / 255.0
"""Smallest change that counts as damage; smaller ones are reverted so the mask stays
exact even after quantising to 8 bits."""


def _r(x: float) -> float:
    return round(float(x), 4)


def _max_channel(d: np.ndarray) -> np.ndarray:
    """Per-pixel max over the last axis (much faster than ``ndarray.max(axis=-1)``)."""
    m = d[..., 0]
    for c in range(1, d.shape[-1]):
        m = np.maximum(m, d[..., c])
    return m


def finalize(img: np.ndarray, out: np.ndarray, min_change: float = MIN_CHANGE):
    """Clip ``out`` in place, revert changes below ``min_change``; return ``(out, mask)``."""
    np.clip(out, 0.0, 1.0, out=out)
    diff = cv2.absdiff(out, img)
    diff = _max_channel(diff) if diff.ndim == 3 else diff
    changed = diff >= min_change
    small = np.flatnonzero((diff > 0) & ~changed)  # usually few pixels
    if small.size:
        c = out.shape[2] if out.ndim == 3 else 1
        out.reshape(-1, c)[small] = img.reshape(-1, c)[small]
    return out, changed.view(np.uint8)


def composite(img: np.ndarray, canvas: np.ndarray, value, opacity: float = 1.0):
    """Blend ``value`` (scalar or RGB triple) over ``img`` where the uint8 ``canvas`` is
    non-zero (alpha = canvas / 255 * opacity). Only touched pixels are computed."""
    h, w = canvas.shape
    idx = np.flatnonzero(canvas)
    out = img.copy()
    mask = np.zeros((h, w), np.uint8)
    if idx.size == 0:
        return out, mask
    flat = out.reshape(h * w, -1)
    src = flat[idx]
    a = canvas.reshape(-1)[idx].astype(np.float32) * np.float32(opacity / 255)
    new = src + (np.asarray(value, np.float32) - src) * a[:, None]
    np.clip(new, 0.0, 1.0, out=new)
    keep = _max_channel(np.abs(new - src)) >= MIN_CHANGE
    flat[idx[keep]] = new[keep]
    mask.reshape(-1)[idx[keep]] = 1
    return out, mask


def _canvas(img: np.ndarray) -> np.ndarray:
    return np.zeros(img.shape[:2], np.uint8)


def _tone(rng, light: bool) -> np.ndarray:
    """A light (paper-white, slightly warm) or dark (near-black) defect colour."""
    if light:
        v = rng.uniform(0.85, 1.0)
        return np.array([v, v * 0.98, v * 0.93], np.float32)
    v = rng.uniform(0.0, 0.15)
    return np.array([v, v, v], np.float32)


def _walk(rng, start, angle, steps, step_len, turn) -> np.ndarray:
    """A smooth random-walk polyline (angles drift by ``turn`` radians per step)."""
    angles = angle + np.cumsum(rng.normal(0.0, turn, steps))
    d = np.stack([np.cos(angles), np.sin(angles)], axis=1) * step_len
    pts = np.vstack([start, start + np.cumsum(d, axis=0)])
    return pts


def _poly(pts: np.ndarray) -> np.ndarray:
    # 2 fractional bits for sub-pixel anti-aliased drawing
    return np.round(pts * 4).astype(np.int32).reshape(-1, 1, 2)


def scratches(img, rng):
    """1-6 long thin curved scratches, mostly near-vertical (film transport) or random,
    width 1-3 px varying along the curve, light or dark, opacity 0.5-1."""
    h, w = img.shape[:2]
    n = int(rng.integers(1, 7))
    light = bool(rng.random() < 0.7)
    canvas = _canvas(img)
    diag = float(np.hypot(h, w))
    for _ in range(n):
        vertical = rng.random() < 0.5
        angle = np.pi / 2 + rng.normal(0, 0.15) if vertical else rng.uniform(0, np.pi)
        length = rng.uniform(0.3, 1.2) * diag
        steps = max(4, int(length / 8))
        start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        if vertical:
            start[1] = rng.uniform(-0.2, 0.3) * h
        pts = _walk(rng, start, angle, steps, length / steps, 0.04)
        opacity = int(255 * rng.uniform(0.5, 1.0))
        chunk = max(2, steps // int(rng.integers(1, 4)))
        for i in range(0, steps, chunk):
            width = int(rng.choice((1, 1, 2, 2, 3)))
            seg = _poly(pts[i : i + chunk + 1])
            cv2.polylines(canvas, [seg], False, opacity, width, cv2.LINE_AA, shift=2)
    out, mask = composite(img, canvas, _tone(rng, light))
    return out, mask, {"count": n, "light": light}


def cracks(img, rng):
    """A branching crack network like creased, flaking emulsion: 1-3 roots, each a
    jagged walk that forks with probability 0.15 per step; thin 1 px lines, opacity
    0.35-0.8."""
    h, w = img.shape[:2]
    canvas = _canvas(img)
    roots = int(rng.integers(1, 4))
    light = bool(rng.random() < 0.6)
    step = max(1.5, min(h, w) / 60)
    segments = 0
    stack = []
    for _ in range(roots):
        start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        stack.append((start, rng.uniform(0, 2 * np.pi), int(rng.integers(15, 40)), 1))
    while stack and segments < 40:
        start, angle, steps, width = stack.pop()
        pts = _walk(rng, start, angle, steps, step, 0.35)
        cv2.polylines(canvas, [_poly(pts)], False, 255, width, cv2.LINE_AA, shift=2)
        segments += 1
        forks = np.nonzero(rng.random(steps) < 0.15)[0]
        for f in forks[:3]:
            child = angle + rng.choice((-1, 1)) * rng.uniform(0.5, 1.2)
            stack.append((pts[f], child, max(3, steps // 2), 1))
    opacity = float(rng.uniform(0.35, 0.8))
    out, mask = composite(img, canvas, _tone(rng, light), opacity)
    return out, mask, {"roots": roots, "segments": segments, "light": light}


def dust(img, rng):
    """10-150 specks (radius 0.4-2 px, anti-aliased) and 0-4 short hairs, light or dark."""
    h, w = img.shape[:2]
    n = int(rng.integers(10, 151))
    hairs = int(rng.integers(0, 5))
    light = bool(rng.random() < 0.6)
    canvas = _canvas(img)
    xs = rng.uniform(0, w, n)
    ys = rng.uniform(0, h, n)
    radii = 0.4 + 1.6 * rng.random(n) ** 2  # mostly sub-pixel specks, a few 2 px
    vals = rng.integers(120, 256, n)
    for x, y, r, v in zip(xs, ys, radii, vals, strict=True):
        cv2.circle(canvas, (int(x * 4), int(y * 4)), round(r * 4), int(v), -1, cv2.LINE_AA, 2)
    for _ in range(hairs):
        start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        pts = _walk(rng, start, rng.uniform(0, 2 * np.pi), 12, rng.uniform(1, 3), 0.4)
        cv2.polylines(canvas, [_poly(pts)], False, 255, 1, cv2.LINE_AA, shift=2)
    out, mask = composite(img, canvas, _tone(rng, light))
    return out, mask, {"specks": n, "hairs": hairs, "light": light}


def _blob_field(rng, h, w, cx, cy, rx, ry, cells=6):
    """Irregular blob membership (> 0 inside): an ellipse with low-frequency noise."""
    y = (np.arange(h, dtype=np.float32)[:, None] - np.float32(cy)) / np.float32(ry)
    x = (np.arange(w, dtype=np.float32)[None, :] - np.float32(cx)) / np.float32(rx)
    noise = cv2.resize(
        rng.standard_normal((cells, cells), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    return 1.0 - (x * x + y * y) + np.float32(0.3) * np.clip(noise, -2.0, 2.0)


def stains(img, rng):
    """1-3 blotches: brownish water/chemical stains (tinted, darker dried rim) or light
    patches of lost emulsion, with soft irregular edges."""
    h, w = img.shape[:2]
    n = int(rng.integers(1, 4))
    out = img.copy()
    kinds = []
    for _ in range(n):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx = max(2.0, rng.uniform(0.04, 0.15) * w)
        ry = max(2.0, rng.uniform(0.04, 0.15) * h)
        # the field is <= 0 beyond 1.3 radii, so work on that box only
        x0, x1 = max(0, int(cx - 1.3 * rx)), min(w, int(cx + 1.3 * rx) + 1)
        y0, y1 = max(0, int(cy - 1.3 * ry)), min(h, int(cy + 1.3 * ry) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        field = _blob_field(rng, y1 - y0, x1 - x0, cx - x0, cy - y0, rx, ry)
        alpha = np.clip(field * np.float32(rng.uniform(2.0, 6.0)), 0.0, 1.0)
        strength = np.float32(rng.uniform(0.3, 0.8))
        roi = out[y0:y1, x0:x1]
        if rng.random() < 0.6:
            kinds.append("brown")
            colour = np.array([0.72, 0.52, 0.29], np.float32) * np.float32(rng.uniform(0.8, 1.2))
            target = roi * colour
            rim = np.exp(-(((field - np.float32(0.05)) / np.float32(0.06)) ** 2))
            target *= (1.0 - np.float32(0.35) * rim)[..., None]
            alpha = np.maximum(alpha, rim * np.float32(0.8))
        else:
            kinds.append("light")
            target = np.full_like(roi, np.float32(rng.uniform(0.8, 0.97)))
        roi += (target - roi) * (alpha * strength)[..., None]
    out, mask = finalize(img, out)
    return out, mask, {"count": n, "kinds": kinds}


def worn_edges(img, rng):
    """Worn borders (an irregular paper-coloured band 1-6 % wide on 1-4 sides) and/or a
    torn corner (jagged polygon filled with paper or dark background)."""
    h, w = img.shape[:2]
    canvas = _canvas(img)
    sides = [s for s in ("top", "bottom", "left", "right") if rng.random() < 0.5]
    for side in sides:
        along = w if side in ("top", "bottom") else h
        depth = rng.uniform(0.01, 0.06) * min(h, w)
        cells = max(4, along // 8)
        prof = cv2.resize(
            rng.random((1, cells), dtype=np.float32), (along, 1), interpolation=cv2.INTER_LINEAR
        )[0]
        prof = depth * (0.3 + prof)
        if side in ("top", "bottom"):
            dist = np.arange(h, dtype=np.float32)[:, None]
            dist = dist if side == "top" else h - 1 - dist
            band = dist < prof[None, :]
        else:
            dist = np.arange(w, dtype=np.float32)[None, :]
            dist = dist if side == "left" else w - 1 - dist
            band = dist < prof[:, None]
        canvas[band] = 255
    torn = None
    if not sides or rng.random() < 0.5:
        torn = ("tl", "tr", "bl", "br")[int(rng.integers(0, 4))]
        size = rng.uniform(0.08, 0.3) * min(h, w)
        m = 10
        t = np.linspace(0, 1, m)
        jag = rng.uniform(-0.15, 0.15, m) * size
        edge = np.stack([size * (1 - t) + jag * 0.5, size * t + jag * 0.5], axis=1)
        pts = np.vstack([[0.0, 0.0], edge])
        if torn in ("tr", "br"):
            pts[:, 0] = w - 1 - pts[:, 0]
        if torn in ("bl", "br"):
            pts[:, 1] = h - 1 - pts[:, 1]
        cv2.fillPoly(canvas, [_poly(pts)], 255, cv2.LINE_AA, shift=2)
    light = bool(rng.random() < 0.75)
    out, mask = composite(img, canvas, _tone(rng, light))
    return out, mask, {"sides": sides, "torn_corner": torn, "light": light}


def fold_lines(img, rng):
    """1-2 fold creases across the photo: a light 1-4 px line (cracked emulsion) with a
    faint dark shadow along one side."""
    h, w = img.shape[:2]
    n = int(rng.integers(1, 3))
    light_c = _canvas(img)
    dark_c = _canvas(img)
    for _ in range(n):
        if rng.random() < 0.5:  # roughly horizontal or vertical fold
            x0, x1 = -5.0, w + 5.0
            y0 = rng.uniform(0.15, 0.85) * h
            y1 = y0 + rng.normal(0, 0.05) * h
            off = np.array([0.0, 1.5])
        else:
            y0, y1 = -5.0, h + 5.0
            x0 = rng.uniform(0.15, 0.85) * w
            x1 = x0 + rng.normal(0, 0.05) * w
            off = np.array([1.5, 0.0])
        steps = 24
        t = np.linspace(0, 1, steps + 1)[:, None]
        pts = np.array([x0, y0]) * (1 - t) + np.array([x1, y1]) * t
        pts = pts + rng.normal(0, 0.6, pts.shape)
        width = int(rng.integers(1, 5))
        cv2.polylines(
            light_c, [_poly(pts)], False, int(rng.integers(150, 256)), width, cv2.LINE_AA, shift=2
        )
        cv2.polylines(dark_c, [_poly(pts + off * (width + 1))], False, 90, 2, cv2.LINE_AA, shift=2)
    out, m1 = composite(img, dark_c, 0.0, 0.6)
    out, m2 = composite(out, light_c, _tone(rng, True))
    # a pixel shaded then re-lit could in principle land back on its input value
    idx = np.flatnonzero(m1 | m2)
    changed = _max_channel(np.abs(out.reshape(-1, 3)[idx] - img.reshape(-1, 3)[idx]))
    changed = changed >= MIN_CHANGE
    out.reshape(-1, 3)[idx[~changed]] = img.reshape(-1, 3)[idx[~changed]]
    mask = np.zeros(img.shape[:2], np.uint8)
    mask.reshape(-1)[idx[changed]] = 1
    return out, mask, {"count": n}
