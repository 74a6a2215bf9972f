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


# ------------------------------------------------------------------ wider distributions
#
# The ops below widen what the detector is trained on: real damage is wider,
# softer, fainter, more tinted and more curved than the ops above draw. They are off in
# the default config (their groups have p = 0 there, see ``compose._default_group_p``),
# so the default data stream, and the validation pairs built from it, are unchanged;
# ``compose.WIDE_GROUP_P`` switches them on. Changes below VISIBLE_CHANGE are not drawn,
# so a soft edge's faint halo is neither damage nor unmarked change: masks stay exact and
# hug what can be seen.

VISIBLE_CHANGE = 4.0 / 255.0
MIN_ALPHA = 0.15
"""A soft edge's tail below this coverage is not drawn: the stroke keeps a soft edge
(the step is at most 15 % of its contrast) and its mask the width one sees, instead of
the 2-3 px of faint halo on each side that a Gaussian leaves."""


def _soft_composite(img, canvas_f: np.ndarray, value) -> tuple[np.ndarray, np.ndarray]:
    """Blend ``value`` over ``img`` with float alpha ``canvas_f`` (HxW in [0, 1]); only
    changes of at least :data:`VISIBLE_CHANGE` are applied. Returns (image, exact mask)."""
    h, w = canvas_f.shape
    out = img.copy()
    mask = np.zeros((h, w), np.uint8)
    idx = np.flatnonzero(canvas_f > 0)
    if idx.size == 0:
        return out, mask
    flat = out.reshape(h * w, -1)
    src = flat[idx]
    a = canvas_f.reshape(-1)[idx].astype(np.float32)
    value = np.asarray(value, np.float32)
    target = value[idx] if value.ndim == 2 else value
    new = np.clip(src + (target - src) * a[:, None], 0.0, 1.0)
    keep = _max_channel(np.abs(new - src)) >= VISIBLE_CHANGE
    flat[idx[keep]] = new[keep]
    mask.reshape(-1)[idx[keep]] = 1
    return out, mask


def _cut(coverage: np.ndarray) -> np.ndarray:
    """A stroke's coverage without the tail below :data:`MIN_ALPHA` (before its opacity
    is applied, so a faint stroke keeps its whole width)."""
    return np.where(coverage >= MIN_ALPHA, coverage, np.float32(0)).astype(np.float32)


def _stroke_alpha(layer: np.ndarray, rng, blur: tuple[float, float]) -> np.ndarray:
    """A drawn uint8 stroke layer as float coverage: hard, or (half the time) soft edges
    blurred by a sigma in ``blur`` and kept opaque in the middle; the faint tail cut."""
    alpha = layer.astype(np.float32) / 255.0
    if rng.random() < 0.5:  # soft edges
        alpha = cv2.GaussianBlur(alpha, (0, 0), float(rng.uniform(*blur)))
        alpha = np.clip(alpha * np.float32(1.3), 0.0, 1.0)
    return _cut(alpha)


def _stroke_colour(rng, img: np.ndarray) -> tuple[np.ndarray, str]:
    """Light, dark, tinted (yellowed or bluish) or a relative shift of the photo itself
    (a scratch that lightens or darkens what is under it by 15-45 %): an RGB triple or a
    per-pixel (H*W, 3) target."""
    u = rng.random()
    if u < 0.35:
        return _tone(rng, True), "light"
    if u < 0.6:
        return _tone(rng, False), "dark"
    if u < 0.75:
        tint = rng.choice([[1.0, 0.93, 0.72], [0.86, 0.9, 1.0], [0.75, 0.62, 0.45]])
        return np.asarray(tint, np.float32) * np.float32(rng.uniform(0.6, 1.0)), "tinted"
    shift = np.float32(rng.uniform(0.15, 0.45) * (1 if rng.random() < 0.6 else -1))
    flat = img.reshape(-1, img.shape[-1])
    return np.clip(flat + shift, 0.0, 1.0), "relative"


def _texture(rng, h: int, w: int, amount: float) -> np.ndarray:
    """Multiplicative texture in [1 - amount, 1]: fine grain and slow fading."""
    fine = rng.random((h, w), dtype=np.float32)
    slow = cv2.resize(rng.random((4, 4), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(1.0 - np.float32(amount) * (0.5 * fine + 0.5 * slow), 0.0, 1.0)


def scratches_varied(img, rng):
    """1-5 scratches over a wider range than :func:`scratches`: width 1-6 px changing
    along the stroke, straight to strongly curved, hard or soft (blurred) edges, opacity
    0.3-1 fading along the stroke, texture inside the stroke, light / dark / tinted /
    relative colour."""
    h, w = img.shape[:2]
    n = int(rng.integers(1, 6))
    diag = float(np.hypot(h, w))
    canvas = np.zeros((h, w), np.float32)
    for _ in range(n):
        layer = np.zeros((h, w), np.uint8)
        length = rng.uniform(0.2, 1.2) * diag
        steps = max(6, int(length / 5))
        turn = float(rng.choice([0.01, 0.04, 0.1, 0.2]))
        start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        pts = _walk(rng, start, rng.uniform(0, 2 * np.pi), steps, length / steps, turn)
        widest = int(rng.choice((1, 2, 3, 4, 5, 6), p=(0.35, 0.25, 0.15, 0.12, 0.08, 0.05)))
        seg = int(rng.integers(2, 6))
        for i in range(0, steps, seg):
            width = int(np.clip(widest + rng.integers(-1, 1), 1, 6))
            cv2.polylines(layer, [_poly(pts[i : i + seg + 1])], False, 255, width,
                          cv2.LINE_AA, shift=2)  # fmt: skip
        alpha = _stroke_alpha(layer, rng, (0.4, 1.0))
        fade = np.linspace(rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0), h, dtype=np.float32)
        alpha *= fade[:, None] * _texture(rng, h, w, float(rng.uniform(0.0, 0.5)))
        canvas = np.maximum(canvas, alpha * np.float32(rng.uniform(0.5, 1.0)))
    value, colour = _stroke_colour(rng, img)
    out, mask = _soft_composite(img, canvas, value)
    return out, mask, {"count": n, "colour": colour}


def film_scratches(img, rng):
    """1-3 film-transport scratches: nearly straight lines across the whole frame along
    one axis (mostly vertical), 1-6 px wide and swelling slowly, hard or soft, often
    faint (opacity 0.25-1, fading in and out along the line), sometimes worn into
    dashes; light, dark, tinted or relative. Real scans have them where the film was
    dragged past grit; :func:`scratches_varied` wanders and rarely spans the frame."""
    h, w = img.shape[:2]
    n = int(rng.integers(1, 4))
    across = rng.random() < 0.2  # a horizontal scan of a vertical scratch
    long, short = (w, h) if across else (h, w)
    canvas = np.zeros((h, w), np.float32)
    for _ in range(n):
        samples = max(8, long // 4)
        t = np.linspace(-0.05, 1.05, samples, dtype=np.float32)
        drift = rng.normal(0.0, 0.04) * long
        wobble = rng.uniform(0.0, 2.0) * np.sin(2 * np.pi * (t * rng.uniform(0.3, 2.0)
                                                               + rng.uniform(0, 1)))  # fmt: skip
        x = rng.uniform(0, short) + drift * t + wobble
        pts = np.stack([x, t * long], axis=1) if not across else np.stack([t * long, x], axis=1)
        widest = float(rng.choice((1, 1.5, 2, 3, 4, 6), p=(0.25, 0.2, 0.2, 0.15, 0.12, 0.08)))
        swell = 1 + 0.4 * np.sin(2 * np.pi * (t * rng.uniform(0.5, 3) + rng.uniform(0, 1)))
        layer = np.zeros((h, w), np.uint8)
        dashed = rng.random() < 0.3
        for i in range(0, samples - 1, 4):
            if dashed and rng.random() < 0.35:
                continue
            width = int(np.clip(round(widest * swell[i]), 1, 6))
            cv2.polylines(layer, [_poly(pts[i : i + 5])], False, 255, width, cv2.LINE_AA,
                          shift=2)  # fmt: skip
        alpha = _stroke_alpha(layer, rng, (0.5, 1.2))
        fade = np.linspace(rng.uniform(0.25, 1.0), rng.uniform(0.25, 1.0), long, dtype=np.float32)
        fade = fade[None, :] if across else fade[:, None]
        alpha *= fade * _texture(rng, h, w, float(rng.uniform(0.0, 0.4)))
        canvas = np.maximum(canvas, alpha * np.float32(rng.uniform(0.4, 1.0)))
    value, colour = _stroke_colour(rng, img)
    out, mask = _soft_composite(img, canvas, value)
    return out, mask, {"count": n, "across": bool(across), "colour": colour}


def cracks_varied(img, rng):
    """A crack network with wider strokes than :func:`cracks`: 1-3 px, opacity 0.4-1,
    soft or hard, textured, often dark with a light lip (cracked, lifted emulsion)."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.uint8)
    step = max(1.5, min(h, w) / 50)
    stack = [(np.array([rng.uniform(0, w), rng.uniform(0, h)]), rng.uniform(0, 2 * np.pi),
              int(rng.integers(20, 50)), int(rng.integers(1, 4)))
             for _ in range(int(rng.integers(1, 4)))]  # fmt: skip
    segments = 0
    while stack and segments < 60:
        start, angle, steps, width = stack.pop()
        pts = _walk(rng, start, angle, steps, step, 0.25)
        cv2.polylines(layer, [_poly(pts)], False, 255, width, cv2.LINE_AA, shift=2)
        segments += 1
        for f in np.nonzero(rng.random(steps) < 0.1)[0][:3]:
            child = angle + rng.choice((-1, 1)) * rng.uniform(0.4, 1.4)
            stack.append((pts[f], child, max(4, steps // 2), max(1, width - 1)))
        if not stack and not layer.any():  # every root walked off the picture: one more
            stack.append((np.array([w / 2, h / 2]), rng.uniform(0, 2 * np.pi), 20, 1))
    alpha = layer.astype(np.float32) / 255.0
    if rng.random() < 0.4:
        alpha = np.clip(cv2.GaussianBlur(alpha, (0, 0), 0.7) * np.float32(1.3), 0.0, 1.0)
    alpha = _cut(alpha)
    alpha *= _texture(rng, h, w, float(rng.uniform(0.0, 0.4))) * np.float32(rng.uniform(0.4, 1.0))
    value, colour = _stroke_colour(rng, img)
    out, mask = _soft_composite(img, alpha, value)
    return out, mask, {"segments": segments, "colour": colour}


def hairs(img, rng):
    """1-4 hairs or fibres lying on the print: long, thin (1-2 px), curly, mostly dark."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.uint8)
    n = int(rng.integers(1, 5))
    for _ in range(n):
        steps = int(rng.integers(20, 80))
        start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        pts = _walk(rng, start, rng.uniform(0, 2 * np.pi), steps, rng.uniform(1.0, 2.5),
                    float(rng.uniform(0.1, 0.4)))  # fmt: skip
        cv2.polylines(layer, [_poly(pts)], False, int(rng.integers(150, 256)),
                      int(rng.choice((1, 1, 2))), cv2.LINE_AA, shift=2)  # fmt: skip
    light = bool(rng.random() < 0.25)
    out, mask = _soft_composite(img, _cut(layer.astype(np.float32) / 255.0), _tone(rng, light))
    return out, mask, {"count": n, "light": light}


def flaking(img, rng):
    """Emulsion flaking: a cluster of small ragged lost patches (2-15 px), paper-white or
    dark where the base shows, often strung along a crack."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.uint8)
    n = int(rng.integers(3, 20))
    start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    path = _walk(rng, start, rng.uniform(0, 2 * np.pi), n, rng.uniform(3, 12), 0.5)
    for cx, cy in path:
        r = rng.uniform(1.0, 7.5)
        k = int(rng.integers(5, 10))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = r * rng.uniform(0.4, 1.2, k)
        poly = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)
        cv2.fillPoly(layer, [_poly(poly)], 255, cv2.LINE_AA, shift=2)
    light = bool(rng.random() < 0.7)
    out, mask = _soft_composite(img, _cut(layer.astype(np.float32) / 255.0), _tone(rng, light))
    return out, mask, {"patches": n, "light": light}
