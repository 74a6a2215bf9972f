"""Global tone curve: a blind estimate of the monotone curve that undoes a print's fading.

A faded print is not an affine change of the photo: dyes fade highlights first (a
saturating curve), toward the paper's colour, and lift the blacks. The affine part is
free (any per-channel gain and offset); the curved part costs structure that no tone fit
undoes (aged crops: the independent renderer's fading alone leaves 35 dB after the best
affine fit). This network looks at a small thumbnail of the whole photo and returns, per
channel, a monotone curve on the photo's own range (its 1st to 99th percentile), which
restore applies pixel by pixel: one global map, so it cannot draw shadows or blotches.

With ``levels`` the network also sets the photo's black and white points, one pair for
all channels (the print's colour stays): a faded print's lifted blacks and greyed whites
go back to black and white, which no affine-free curve does (the curve maps its frame
onto itself). Joint, not per channel, so a sepia print stays sepia.

Shapes: a thumbnail (B, 3, T, T) in [0, 1] -> the frame ``lo``, ``hi`` (B, 3, 1, 1), the
curve's knots (B, 3, K + 1): the curve's values at ``k / K`` of the frame, from 0 to 1,
increasing, and the levels (B, 2): the values that become black and white after the
curve ((0, 1) without ``levels``). The last layers start at zero: a new network is the
identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

ARCH = "tone_curve"
QUANTILES = 33  # per-channel quantiles of the thumbnail fed to the head (0, 1/32, ..., 1)
FRAME = (0.01, 0.99)  # the curve's frame: these quantiles of each channel map to 0 and 1
LEVELS_RANGE = 0.3  # black and white points move at most this far from 0 and 1


@dataclass
class ToneCurveConfig:
    knots: int = 16  # segments of the piecewise-linear curve
    thumbnail: int = 64  # side of the square thumbnail the network sees (area-resized)
    widths: tuple[int, ...] = (16, 32, 64, 64)  # stride-2 convolutions over the thumbnail
    hidden: int = 256  # width of the head's hidden layers
    levels: bool = False  # also set black and white points (absolute tone)

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)  # from JSON metadata: a list


def frame(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, H, W) -> the per-channel range the curve is drawn on: ``lo``, ``hi`` at the
    :data:`FRAME` quantiles, (B, 3, 1, 1) each, at least 0.01 apart."""
    flat = x.flatten(2).float()
    lo = torch.quantile(flat, FRAME[0], dim=2)
    hi = torch.maximum(torch.quantile(flat, FRAME[1], dim=2), lo + 0.01)
    return lo[..., None, None], hi[..., None, None]


def apply_curve(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                knots: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Map ``x`` (B, 3, H, W) through the curves ``knots`` (B, 3, K + 1) drawn on the
    frame ``lo``..``hi`` (B, 3, 1, 1); outside the frame the identity (the curve meets it
    at both ends), so a few clipped or outlying pixels keep their values."""
    segments = knots.shape[-1] - 1
    scaled = (x - lo) / (hi - lo)
    t = scaled.clamp(0, 1) * segments
    index = t.floor().clamp(max=segments - 1).long()
    frac = t - index
    b, c, h, w = x.shape
    flat = index.view(b, c, h * w)
    g0 = torch.gather(knots, 2, flat).view_as(x)
    g1 = torch.gather(knots, 2, flat + 1).view_as(x)
    curved = g0 + (g1 - g0) * frac
    inside = (scaled >= 0) & (scaled <= 1)
    return lo + (hi - lo) * torch.where(inside, curved, scaled)


def apply_levels(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """``x`` (B, 3, H, W) with ``levels[:, 0]`` made black and ``levels[:, 1]`` white
    (levels (B, 2)); not clipped."""
    black, white = levels[:, :1, None, None], levels[:, 1:, None, None]
    return (x - black) / (white - black)


class ToneCurveNet(nn.Module):
    """Thumbnail (B, 3, T, T) in [0, 1] -> (lo, hi, knots, levels): see the module docstring.

    Two views of the thumbnail: a small convolutional encoder of it stretched to its frame
    (what the scene is: sky, skin, night), and its quantiles and frame (how the values are
    spread: a faded print has lifted blacks and crowded highlights)."""

    def __init__(self, cfg: ToneCurveConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = (3, *cfg.widths)
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, 3, 2, 1) for a, b in zip(chans[:-1], chans[1:], strict=True)
        )
        features = 2 * cfg.widths[-1] + 4 * QUANTILES + 9  # pooled, quantiles, lo/hi/mean
        self.head = nn.Sequential(
            nn.Linear(features, cfg.hidden), nn.LeakyReLU(0.2),
            nn.Linear(cfg.hidden, cfg.hidden), nn.LeakyReLU(0.2),
            nn.Linear(cfg.hidden, 3 * cfg.knots),
        )  # fmt: skip
        nn.init.zeros_(self.head[-1].weight)  # equal segments: the identity
        nn.init.zeros_(self.head[-1].bias)
        if cfg.levels:
            self.levels_head = nn.Linear(cfg.hidden, 2)
            nn.init.zeros_(self.levels_head.weight)  # black 0, white 1: the identity
            nn.init.zeros_(self.levels_head.bias)

    def forward(self, thumb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        lo, hi = frame(thumb)
        stretched = ((thumb - lo) / (hi - lo)).clamp(0, 1)
        h = stretched * 2 - 1
        for layer in self.convs:
            h = F.leaky_relu(layer(h), 0.2)
        probs = torch.linspace(0, 1, QUANTILES, device=thumb.device)
        flat = stretched.flatten(2)
        per_channel = torch.quantile(flat, probs, dim=2).permute(1, 2, 0).flatten(1)
        luma = torch.quantile(flat.mean(1), probs, dim=1).T
        stats = [lo.flatten(1), hi.flatten(1), thumb.mean((2, 3))]
        feats = torch.cat([h.mean((2, 3)), h.amax((2, 3)), per_channel * 2 - 1, luma * 2 - 1, *stats], 1)
        hidden = self.head[:-1](feats)
        logits = self.head[-1](hidden).view(-1, 3, self.cfg.knots)
        rise = torch.softmax(logits, dim=-1)  # positive segments summing to 1: monotone
        knots = torch.cat([torch.zeros_like(rise[..., :1]), torch.cumsum(rise, -1)], -1)
        identity = torch.tensor([0.0, 1.0], device=thumb.device).expand(thumb.shape[0], 2)
        if not self.cfg.levels:
            return lo, hi, knots, identity
        return lo, hi, knots, identity + LEVELS_RANGE * torch.tanh(self.levels_head(hidden))


def thumbnail(x: torch.Tensor, side: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, side, side) by area averaging (grain averages out)."""
    return F.interpolate(x, size=(side, side), mode="area")
