"""Discriminators: multiscale PatchGAN for images and D_RX for latents (LSGAN losses)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

ARCH = "multiscale_patchgan"


@dataclass
class PatchGANConfig:
    in_channels: int = 3
    width: int = 32  # official: 64
    n_layers: int = 3
    n_scales: int = 2


class PatchGAN(nn.Module):
    """Shapes: (B, C, H, W) -> list of intermediate features, last is (B, 1, H', W')."""

    def __init__(self, in_channels: int, width: int, n_layers: int) -> None:
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True))]
        c = width
        for i in range(1, n_layers):
            stride = 2 if i < n_layers - 1 else 1
            layers.append(nn.Sequential(nn.Conv2d(c, c * 2, 4, stride, 1), nn.LeakyReLU(0.2, True)))
            c *= 2
        layers.append(nn.Sequential(nn.Conv2d(c, 1, 4, 1, 1)))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class MultiscalePatchGAN(nn.Module):
    """PatchGANs on the image and its 2x, 4x ... downsamplings (pix2pixHD)."""

    def __init__(self, cfg: PatchGANConfig) -> None:
        super().__init__()
        self.nets = nn.ModuleList(
            PatchGAN(cfg.in_channels, cfg.width, cfg.n_layers) for _ in range(cfg.n_scales)
        )

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outs = []
        for i, net in enumerate(self.nets):
            if i:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            outs.append(net(x))
        return outs


def latent_discriminator(latent_channels: int, width: int = 64) -> nn.Module:
    """D_RX: tells real-old latents Z_R from synthetic ones Z_X, per latent patch.

    Shapes: (B, Cz, h, w) -> (B, 1, h/2, w/2).
    """
    return nn.Sequential(
        nn.Conv2d(latent_channels, width, 3, 1, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(width, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
        nn.Conv2d(width, 1, 3, 1, 1),
    )  # fmt: skip


def lsgan_loss(outputs, real: bool) -> torch.Tensor:
    """LSGAN: mean (D(x) - target)^2 over all scales' final maps."""
    if isinstance(outputs, torch.Tensor):
        outputs = [[outputs]]
    target = 1.0 if real else 0.0
    # fp32 losses whatever the activations (bf16 under autocast).
    maps = [o[-1].float() for o in outputs]
    return sum(F.mse_loss(m, torch.full_like(m, target)) for m in maps) / len(outputs)


def feature_matching_loss(fake_outs, real_outs) -> torch.Tensor:
    """L1 between discriminator features of fake and (detached) real, all scales/layers."""
    total, n = 0.0, 0
    for fake, real in zip(fake_outs, real_outs, strict=True):
        for f, r in zip(fake[:-1], real[:-1], strict=True):
            total = total + F.l1_loss(f.float(), r.detach().float())
            n += 1
    return total / max(n, 1)
