"""Layers shared by the architectures (cf. basicsr/archs/arch_util.py)."""

from __future__ import annotations

import torch
from torch import nn


def widened_state(old: dict[str, torch.Tensor], new: dict[str, torch.Tensor],
                  new_identity_suffixes: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:  # fmt: skip
    """``new`` (a wider network's freshly initialised state) carrying ``old`` (the same
    network, narrower or with fewer blocks) so that it computes exactly what ``old`` did.

    Old tensors fill the leading slice of each new one. New feature channels start at zero
    and stay zero until trained: every weight row that *writes* into a new channel (output
    dimension beyond the old one) is zero, while rows reading from new channels keep their
    random initialisation, harmless on zero inputs, which gives the zero rows a gradient.
    Tensors absent from ``old`` whose names end with ``new_identity_suffixes`` (the last
    convolution of an added residual block) are zeroed, so that the block starts as the
    identity. Needs channel layouts that keep old channels first (additive skips; a
    pixel shuffle keeps them first too: output channel c reads inputs 4c..4c+3).
    """
    state = {}
    for key, init in new.items():
        grown = init.clone()
        if key in old:
            grown[tuple(slice(0, n) for n in old[key].shape)] = old[key]
            grown[old[key].shape[0] :] = 0  # rows writing into new channels
        elif key.endswith(new_identity_suffixes):
            grown.zero_()
        state[key] = grown
    return state


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
