"""Global tone damage for training the tone-curve network (:mod:`oldphoto_cli.archs.tone_arch`).

Pure functions of an HxWx3 float image in [0, 1] and a seeded ``numpy.random.Generator``.
Two kinds of curve:

* :func:`fade_print`: a print whose dyes faded toward the paper: highlights compress
  first (a saturating curve ``(1 + k) x / (1 + k x)``), colour weakens, the image blends
  toward a warm or neutral paper colour and the blacks lift. This is the physics of the
  damage the network is for; the curve family is this module's own (the validation
  renderer :mod:`oldphoto_cli.aging2` draws its fading with another one).
* :func:`random_curve`: generic monotone curves (gamma, toe or shoulder, S or inverse-S
  contrast, smooth random ones), in either direction, so that the network does not learn
  that every photo has faded.

:func:`age_tone` draws a training sample's tone: one of those or none, sometimes the
degradation registry's own ``fade``, ``tint`` and ``contrast_gamma``, a little per-channel
gain, and grain or blur as nuisances (the network must read tone through them).
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.degrade import unstructured

LUT_SIZE = 256


def fade_print(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dye fading: a saturating highlight curve (k 0.3-3), 0-70 % colour loss, 5-45 %
    blend toward a paper colour, blacks lifted 0-0.15."""
    k = rng.uniform(0.3, 3.0)
    out = (1 + k) * img / (1 + k * img)
    grey = out.mean(axis=2, keepdims=True)
    out = grey + (out - grey) * rng.uniform(0.3, 1.0)
    paper = np.array([1.0, rng.uniform(0.85, 1.0), rng.uniform(0.65, 1.0)])
    share = rng.uniform(0.05, 0.45)
    out = (1 - share) * out + share * paper
    lift = rng.uniform(0.0, 0.15)
    return (lift + (1 - lift) * out).astype(np.float32)


def random_curve(rng: np.random.Generator) -> np.ndarray:
    """A monotone map of [0, 1] onto itself as a :data:`LUT_SIZE` lookup table, mixed
    30-100 % with the identity: a gamma (0.5-2), a toe or shoulder, an S or inverse-S
    contrast curve centred at 0.3-0.7, or a smooth random curve."""
    x = np.linspace(0.0, 1.0, LUT_SIZE)
    kind = int(rng.integers(4))
    if kind == 0:
        y = x ** np.exp(rng.uniform(-0.7, 0.7))
    elif kind == 1:
        y = 1 - (1 - x) ** np.exp(rng.uniform(-0.7, 0.7))
    elif kind == 2:
        centre, steepness = rng.uniform(0.3, 0.7), rng.uniform(1.0, 8.0)
        s = 1 / (1 + np.exp(-steepness * (x - centre)))
        y = (s - s[0]) / (s[-1] - s[0])
        if rng.random() < 0.5:  # contrast lowered: the S's inverse
            y = np.interp(x, y, x)
    else:  # log-slopes a smoothed random walk
        noise = rng.standard_normal((1, LUT_SIZE))
        log_slope = cv2.GaussianBlur(noise, (0, 0), 25)[0]
        log_slope *= rng.uniform(0.1, 0.8) / (log_slope.std() + 1e-9)
        y = np.cumsum(np.exp(log_slope))
        y = (y - y[0]) / (y[-1] - y[0])
    mix = rng.uniform(0.3, 1.0)
    return (mix * y + (1 - mix) * x).astype(np.float32)


def apply_lut(img: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``img`` through a lookup table over [0, 1], linearly interpolated."""
    pos = np.clip(img, 0, 1) * (len(lut) - 1)
    lower = np.floor(pos).astype(np.int64)
    upper = np.minimum(lower + 1, len(lut) - 1)
    frac = pos - lower
    return (lut[lower] * (1 - frac) + lut[upper] * frac).astype(np.float32)


def curve_tone(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A :func:`random_curve` on all channels, or (30 %) a slightly different one each."""
    lut = random_curve(rng)
    if rng.random() < 0.3:
        return np.stack([apply_lut(img[..., c], 0.8 * lut + 0.2 * random_curve(rng))
                         for c in range(3)], axis=-1)  # fmt: skip
    return apply_lut(img, lut)


def age_tone(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """A training sample's global tone damage: faded (50 %), a random curve (25 %) or
    neither; then each of ``fade``, ``tint``, ``contrast_gamma`` with probability 0.25, a
    per-channel gain and offset (20 %), grain (50 %) and blur (30 %). Returns the image,
    clipped to [0, 1], and the names of what was applied."""
    ops: list[str] = []
    out = img.astype(np.float32)
    roll = rng.random()
    if roll < 0.5:
        out, ops = fade_print(out, rng), ["fade_print"]
    elif roll < 0.75:
        out, ops = curve_tone(out, rng), ["curve"]
    for op in (unstructured.fade, unstructured.tint, unstructured.contrast_gamma):
        if rng.random() < 0.25:
            out, _ = op(out, rng)
            ops.append(op.__name__)
    if rng.random() < 0.2:
        gain = rng.uniform(0.85, 1.0, 3)
        out = out * gain + rng.uniform(0, 1 - gain)
        ops.append("gain")
    if rng.random() < 0.5:
        out = out + rng.normal(0, rng.uniform(0, 0.04), out.shape[:2] + (1,))
        ops.append("grain")
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out.astype(np.float32), (0, 0), rng.uniform(0.5, 2.0))
        ops.append("blur")
    return np.clip(out, 0, 1).astype(np.float32), ops
