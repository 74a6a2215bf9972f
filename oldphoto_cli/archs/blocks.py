"""Layers shared by the architectures (cf. basicsr/archs/arch_util.py)."""

from __future__ import annotations

import torch
from torch import nn


def make_norm(kind: str, channels: int) -> nn.Module:
    """``none`` keeps tiled inference exact: per-tile statistics would differ between tiles."""
    if kind == "none":
        return nn.Identity()
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    raise ValueError(f"unknown norm {kind!r}")


def conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    """Reflect-padded convolution (the official networks pad by reflection)."""
    return nn.Conv2d(cin, cout, kernel, stride, kernel // 2, padding_mode="reflect")


class ResBlock(nn.Module):
    """conv-norm-act-conv-norm with identity skip.

    Args:
        channels: C.
        norm: see :func:`make_norm`.

    Shapes: (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, norm: str = "none") -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(channels, channels),
            make_norm(norm, channels),
            nn.LeakyReLU(0.2, inplace=True),
            conv(channels, channels),
            make_norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
