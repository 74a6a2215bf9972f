"""The global tone curve at restore time: one monotone curve per channel, undoing fading,
and (networks trained with levels) the black and white points that fading moved.

:class:`ToneCurve` loads the tone-curve network (:mod:`oldphoto_cli.archs.tone_arch`,
weights ``tone_curve.safetensors``), looks at a thumbnail of the restored photo and
returns a :class:`Curve`, which maps pixels band by band (a large photo is never copied
whole). The network is tiny (a 64 px thumbnail): it always runs on the CPU in float32.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from oldphoto_cli.archs import tone_arch
from oldphoto_cli.archs.tone_arch import ToneCurveConfig, ToneCurveNet
from oldphoto_cli.imageio import bands, to_float
from oldphoto_cli.weights import find_weights, load_model

WEIGHTS_NAME = "tone_curve"
# A curve whose largest change is d (0-1) is applied at 1 - DEAD_ZONE / d of its strength,
# not at all below DEAD_ZONE: the network's small curves on unfaded photos are its noise.
# Measured on the independent validation sets' inputs (benchmarks/RESULTS.md, the tone
# curve): clean crops 55.6 -> 59.6 dB on average, the worst 32.3 -> 35.0, sharp photos
# with damage -0.07 -> -0.05 dB, the aged crops' gain kept (+0.27 -> +0.29).
DEAD_ZONE = 0.01
GREY_TOLERANCE = 2.0 / 255  # channels of a thumbnail this close: a grey photo
# An image whose luminance spans less than this (1st to 99th percentile of the thumbnail)
# gets no levels, and full levels only from the second value on: a flat colour or a blank
# scan has no black and white to restore, and the network, which saw only photos, takes
# its lack of range for the worst fading (a flat grey got its black point at 0.29).
LEVELS_SPREAD = (0.05, 0.15)
IDENTITY_LEVELS = np.array([0.0, 1.0])  # black stays 0, white stays 1


@dataclass
class Curve:
    """Per channel: the frame ``lo``, ``hi`` (3,) and the knots (3, K + 1) of a monotone
    piecewise-linear curve from 0 to 1 over it, the identity outside the frame; then, on
    all channels alike, ``levels`` (black, white): the values that become 0 and 1."""

    lo: np.ndarray
    hi: np.ndarray
    knots: np.ndarray
    levels: np.ndarray = field(default_factory=IDENTITY_LEVELS.copy)

    def __call__(self, rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """HxWx3 (uint8 or float [0, 1]) -> float32, band by band into ``out`` (may be
        ``rgb`` itself when it is float32)."""
        out = np.empty(rgb.shape, np.float32) if out is None else out
        if self.deviation() == 0:  # the identity (an untrained network): no rounding either
            if out is not rgb:
                for y0, y1 in bands(rgb.shape[0]):
                    out[y0:y1] = to_float(rgb[y0:y1])
            return out
        for y0, y1 in bands(rgb.shape[0]):
            band = to_float(rgb[y0:y1])
            for c in range(3):
                out[y0:y1, ..., c] = self.channel(band[..., c], c)
        return out

    def channel(self, values: np.ndarray, c: int) -> np.ndarray:
        """Channel ``c``'s map applied to ``values`` (float, any shape)."""
        grid = np.linspace(0.0, 1.0, self.knots.shape[1])
        span = self.hi[c] - self.lo[c]
        scaled = (values - self.lo[c]) / span
        # np.interp holds the end values outside the grid: add back what lies beyond
        curved = np.interp(scaled, grid, self.knots[c]) + scaled - np.clip(scaled, 0, 1)
        black, white = self.levels
        return (self.lo[c] + span * curved - black) / (white - black)

    def shrunk(self, amount: float) -> Curve:
        """This curve with its largest change reduced by ``amount`` (the identity when it
        was smaller): every knot moves toward the identity in the same proportion."""
        grid = np.linspace(0.0, 1.0, self.knots.shape[1])
        change = self.deviation()
        keep = max(0.0, 1.0 - amount / change) if change > 0 else 0.0
        levels = IDENTITY_LEVELS + (np.asarray(self.levels) - IDENTITY_LEVELS) * keep
        return Curve(self.lo, self.hi, grid + (self.knots - grid) * keep, levels)

    def deviation(self) -> float:
        """Largest distance of the map from the identity over [0, 1], in pixel values."""
        grid = np.linspace(0.0, 1.0, self.knots.shape[1])
        if np.array_equal(self.levels, IDENTITY_LEVELS):  # exact: the identity gives 0
            return float(np.max(np.abs(self.knots - grid) * (self.hi - self.lo)[:, None]))
        worst = 0.0
        for c in range(3):  # the map is piecewise linear: its extremes lie at the knots
            x = np.concatenate([[0.0, 1.0], self.lo[c] + grid * (self.hi[c] - self.lo[c])])
            worst = max(worst, float(np.max(np.abs(self.channel(x, c) - x))))
        return worst


class ToneCurve:
    """Call: rgb HxWx3 (uint8 or float [0, 1]) -> its :class:`Curve`, shrunk by
    ``dead_zone`` (:data:`DEAD_ZONE`; 0: the network's curve as it is)."""

    def __init__(self, weights_dir: str | Path | None = None, dead_zone: float = DEAD_ZONE) -> None:
        self.dead_zone = dead_zone
        path = find_weights(WEIGHTS_NAME, weights_dir)
        self.model, self.meta = load_model(path, ToneCurveNet, ToneCurveConfig, tone_arch.ARCH)
        self.model.eval()
        self.side = self.model.cfg.thumbnail

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray) -> Curve:
        # the network was trained on thumbnails of 128 px crops, area-averaged to its side
        small = cv2.resize(np.ascontiguousarray(rgb), (self.side, self.side), interpolation=cv2.INTER_AREA)
        thumb = torch.from_numpy(to_float(small).transpose(2, 0, 1).copy())[None]
        lo, hi, knots, levels = self.model(thumb)
        knots = knots[0].double().numpy()
        if float((thumb - thumb.mean(1, keepdim=True)).abs().max()) <= GREY_TOLERANCE:
            # a grey photo: its three curves differ a little (up to 0.012 on a real one),
            # which would tint it; it gets their mean on every channel
            knots = np.repeat(knots.mean(axis=0, keepdims=True), 3, axis=0)
        luma = thumb.mean(1).flatten()
        spread = float(torch.quantile(luma, 0.99) - torch.quantile(luma, 0.01))
        trust = float(np.clip((spread - LEVELS_SPREAD[0]) / (LEVELS_SPREAD[1] - LEVELS_SPREAD[0]), 0, 1))
        levels = IDENTITY_LEVELS + (levels[0].double().numpy() - IDENTITY_LEVELS) * trust
        curve = Curve(lo.flatten().double().numpy(), hi.flatten().double().numpy(), knots, levels)
        return curve.shrunk(self.dead_zone) if self.dead_zone else curve
