"""The face refinement network (paper section 3.4), sized for a CPU.

A progressive generator: the degraded aligned face, downsampled to the coarsest scale,
is encoded into the starting features; each of ``n_up`` SPADE residual blocks doubles the
resolution, and every normalisation inside them is modulated (per pixel scale and shift,
"spatially-adaptive normalisation", Park et al. 2019) by maps computed from the degraded
face resized to that block's scale, so the degraded face is injected at every scale. The
official network is 92 M parameters at 512 px; the default config here is ~3 M at 256 px.

With ``residual`` the output is ``x + head(features)`` (the network starts near the
identity, which trains much faster on a CPU); the head is initialised at zero then.

Shapes: (B, 3, S, S) in [-1, 1] -> (B, 3, S, S), S divisible by ``2 ** n_up``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

ARCH = "face-spade-v1"


@dataclass
class FaceConfig:
    base_width: int = 32  # channels at full resolution
    max_width: int = 192  # channels at the coarsest scales
    n_up: int = 4  # SPADE blocks, each doubling the resolution (256 px: start at 16 px)
    hidden: int = 64  # SPADE's shared hidden channels (at most the block's width)
    residual: bool = True


def _width(cfg: FaceConfig, level: int) -> int:
    """Channels at ``level`` (0: full resolution, n_up: the coarsest)."""
    return min(cfg.max_width, cfg.base_width * 2**level)


class SPADE(nn.Module):
    """InstanceNorm (no affine) modulated by gamma/beta maps computed from ``face``."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(3, hidden, 3, 1, 1), nn.ReLU(True))
        self.gamma = nn.Conv2d(hidden, channels, 3, 1, 1)
        self.beta = nn.Conv2d(hidden, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        face = F.interpolate(face, size=x.shape[-2:], mode="bilinear", align_corners=False)
        h = self.shared(face)
        return self.norm(x) * (1 + self.gamma(h)) + self.beta(h)


class SPADEResBlock(nn.Module):
    """SPADE-ReLU-conv, SPADE-ReLU-conv, with a (SPADE-conv 1x1) learned skip."""

    def __init__(self, cin: int, cout: int, hidden: int) -> None:
        super().__init__()
        mid = min(cin, cout)
        self.norm0, self.conv0 = SPADE(cin, hidden), nn.Conv2d(cin, mid, 3, 1, 1)
        self.norm1, self.conv1 = SPADE(mid, hidden), nn.Conv2d(mid, cout, 3, 1, 1)
        self.skip = None
        if cin != cout:
            self.norm_s, self.skip = SPADE(cin, hidden), nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
        skip = x if self.skip is None else self.skip(self.norm_s(x, face))
        h = self.conv0(F.leaky_relu(self.norm0(x, face), 0.2))
        h = self.conv1(F.leaky_relu(self.norm1(h, face), 0.2))
        return skip + h


class FaceGenerator(nn.Module):
    def __init__(self, cfg: FaceConfig) -> None:
        super().__init__()
        self.cfg = cfg
        top = _width(cfg, cfg.n_up)
        self.head_in = nn.Sequential(
            nn.Conv2d(3, top, 3, 1, 1), nn.LeakyReLU(0.2, True), nn.Conv2d(top, top, 3, 1, 1)
        )
        self.bottom = SPADEResBlock(top, top, cfg.hidden)
        # SPADE's hidden width is capped by the block's output width: the full-resolution
        # blocks dominate the cost on a CPU.
        self.ups = nn.ModuleList(
            SPADEResBlock(_width(cfg, level), _width(cfg, level - 1),
                          min(cfg.hidden, _width(cfg, level - 1)))
            for level in range(cfg.n_up, 0, -1)
        )  # fmt: skip
        self.out = nn.Conv2d(cfg.base_width, 3, 3, 1, 1)
        if cfg.residual:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = 2**self.cfg.n_up
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"face crop {tuple(x.shape[-2:])} not divisible by {factor}")
        small = F.interpolate(x, scale_factor=1 / factor, mode="area")
        h = self.bottom(self.head_in(small), x)
        for block in self.ups:
            h = block(F.interpolate(h, scale_factor=2, mode="nearest"), x)
        out = self.out(F.leaky_relu(h, 0.2))
        return (x + out if self.cfg.residual else torch.tanh(out)).clamp(-1, 1)


def build(cfg: FaceConfig) -> FaceGenerator:
    return FaceGenerator(cfg)
