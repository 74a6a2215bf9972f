"""The VAE of Wan et al. (used twice: VAE1 = E_RX/G_RX, VAE2 = E_Y/G_Y).

Encoder: conv7x7 + two stride-2 convs + residual blocks -> a *spatial* Gaussian latent
(mu, logvar) of ``latent_channels`` at H/4 x W/4. Decoder mirrors it back to an image
with tanh. Images inside the model live in [-1, 1].

``pixel_skip`` adds a linear path around both convolutional stacks: the encoder's mean
gets ``Linear(pixel_unshuffle(x, 4))`` (48 numbers per 4x4 cell into 64 latent
channels) and the decoder's image gets ``pixel_shuffle(Linear(z), 4)``. The two maps start
as each other's inverse and the convolutional branches start at zero, so the untrained
VAE already reconstructs exactly; training then only has to keep it so under the KL
prior and the sampling noise. Without it a small CPU-sized VAE plateaus at ~27 dB and
every restored photo passes through that blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from oldphoto_cli.archs.blocks import ResBlock, conv, make_norm

ARCH = "vae"


@dataclass
class VAEConfig:
    in_channels: int = 3
    base_channels: int = 32  # width at full resolution; doubles once per stride-2 step
    latent_channels: int = 64  # official: 64
    n_res: int = 2  # residual blocks on each side of the latent
    norm: str = "none"  # official: instance; "none" makes tiling exact
    pixel_skip: bool = False  # linear unshuffle/shuffle path around both stacks (see top)


SKIP_FACTOR = 4  # the latent is at H/4 x W/4


def _skip_init(enc: nn.Conv2d, dec: nn.Conv2d) -> None:
    """Encoder 1x1 (48 -> Cz) and decoder 1x1 (Cz -> 48) as an identity pair: the first 48
    latent channels carry the 4x4 cell's pixels, the rest start at zero."""
    n = min(enc.in_channels, enc.out_channels)
    with torch.no_grad():
        enc.weight.zero_()
        enc.bias.zero_()
        dec.weight.zero_()
        dec.bias.zero_()
        for i in range(n):
            enc.weight[i, i, 0, 0] = 1.0
            dec.weight[i, i, 0, 0] = 1.0


def _zero(layer: nn.Conv2d) -> nn.Conv2d:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class VAEEncoder(nn.Module):
    """E: image (B, 3, H, W) in [-1, 1] -> mu, logvar (B, Cz, H/4, W/4)."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c1, c2 = cfg.base_channels, cfg.base_channels * 2
        self.body = nn.Sequential(
            conv(cfg.in_channels, c1, 7), make_norm(cfg.norm, c1), _act(),
            conv(c1, c2, 3, 2), make_norm(cfg.norm, c2), _act(),
            conv(c2, c2, 3, 2), make_norm(cfg.norm, c2), _act(),
            *[ResBlock(c2, cfg.norm) for _ in range(cfg.n_res)],
        )  # fmt: skip
        self.to_mu = nn.Conv2d(c2, cfg.latent_channels, 1)
        self.to_logvar = nn.Conv2d(c2, cfg.latent_channels, 1)
        self.skip = None
        if cfg.pixel_skip:
            cells = cfg.in_channels * SKIP_FACTOR**2
            self.skip = nn.Conv2d(cells, cfg.latent_channels, 1)
            _zero(self.to_mu)
            # Start with little sampling noise (sigma ~0.02): the skip path is exact at init.
            nn.init.zeros_(self.to_logvar.weight)
            nn.init.constant_(self.to_logvar.bias, -8.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)  # (B, 2*base, H/4, W/4)
        mu = self.to_mu(h)
        if self.skip is not None:
            mu = mu + self.skip(F.pixel_unshuffle(x, SKIP_FACTOR))
        return mu, self.to_logvar(h).clamp(-16.0, 8.0)


class VAEDecoder(nn.Module):
    """G: latent (B, Cz, H/4, W/4) -> image (B, 3, H, W) in [-1, 1]."""

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c1, c2 = cfg.base_channels, cfg.base_channels * 2
        self.body = nn.Sequential(
            conv(cfg.latent_channels, c2), _act(),
            *[ResBlock(c2, cfg.norm) for _ in range(cfg.n_res)],
        )  # fmt: skip
        # Upsample + conv instead of transposed conv: no checkerboard artefacts.
        self.up1 = nn.Sequential(
            conv(c2, c1 * 4), nn.PixelShuffle(2), make_norm(cfg.norm, c1), _act()
        )
        self.up2 = nn.Sequential(
            conv(c1, c1 * 4), nn.PixelShuffle(2), make_norm(cfg.norm, c1), _act()
        )
        self.to_image = conv(c1, cfg.in_channels, 7)
        self.skip = None
        if cfg.pixel_skip:
            self.skip = nn.Conv2d(cfg.latent_channels, cfg.in_channels * SKIP_FACTOR**2, 1)
            _zero(self.to_image)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.up2(self.up1(self.body(z)))  # (B, base, H, W)
        if self.skip is None:
            return torch.tanh(self.to_image(h))
        # No tanh on the skip path: it would bend the exact linear reconstruction.
        return self.to_image(h) + F.pixel_shuffle(self.skip(z), SKIP_FACTOR)


class VAE(nn.Module):
    """Encoder + decoder with reparameterised sampling.

    Shapes: x (B, 3, H, W), H and W divisible by 4 -> recon (B, 3, H, W),
    mu/logvar (B, Cz, H/4, W/4).
    """

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = VAEEncoder(cfg)
        self.decoder = VAEDecoder(cfg)
        if cfg.pixel_skip:
            _skip_init(self.encoder.skip, self.decoder.skip)

    def forward(self, x: torch.Tensor, sample: bool = True):
        mu, logvar = self.encoder(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return self.decoder(z), mu, logvar, z


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean KL(N(mu, sigma^2) || N(0, I)) per latent element."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean()


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (B, C, H, W) so H, W divide ``multiple``; returns the original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)
