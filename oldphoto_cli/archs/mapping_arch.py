"""Latent mapping T_Z: translates VAE1 latents (old photos) to VAE2 latents (clean).

Local branch: residual blocks. Global branch: :class:`PartialNonLocal`, which lets
damaged positions borrow from intact context only. The two are fused under the mask as
in the official "combine" mode, ``z = (1 - m) * local + m * global``, then refined by
more residual blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from oldphoto_cli.archs.blocks import ResBlock, conv, widened_state
from oldphoto_cli.archs.nonlocal_arch import PartialNonLocal

ARCH = "mapping"


@dataclass
class MappingConfig:
    latent_channels: int = 64  # must equal the VAEs' latent_channels
    width: int = 96  # official: 512
    n_pre: int = 2  # residual blocks before the branches
    n_local: int = 1  # local-branch blocks
    n_post: int = 2  # blocks after fusion
    nonlocal_inner: int = 64
    max_grid: int = 64  # bound on pooled key grid (keys <= max_grid^2)
    norm: str = "none"
    # Output z + T(z) with T's last conv starting at zero: the untrained mapping is the
    # identity, so intact photos pass through and training only learns the repair.
    residual: bool = False

    def receptive_radius(self) -> int:
        """Latent pixels of context one output needs (3x3 convs; the global branch reads
        whole-image context tokens instead): the tile halo of tiled inference."""
        return 1 + 2 * (self.n_pre + self.n_local + self.n_post) + 1


class LatentMapping(nn.Module):
    """T_Z.

    Shapes: z (B, Cz, h, w), mask (B, 1, h, w) in {0, 1} at latent resolution (or None)
    -> (B, Cz, h, w).
    """

    def __init__(self, cfg: MappingConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.head = conv(cfg.latent_channels, cfg.width)
        self.pre = nn.Sequential(*[ResBlock(cfg.width, cfg.norm) for _ in range(cfg.n_pre)])
        self.local = nn.Sequential(*[ResBlock(cfg.width, cfg.norm) for _ in range(cfg.n_local)])
        self.nonlocal_block = PartialNonLocal(cfg.width, cfg.nonlocal_inner, cfg.max_grid)
        self.post = nn.Sequential(*[ResBlock(cfg.width, cfg.norm) for _ in range(cfg.n_post)])
        self.tail = conv(cfg.width, cfg.latent_channels)
        if cfg.residual:
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """Features the global branch attends over: (B, Cz, h, w) -> (B, width, h, w)."""
        return self.pre(F.leaky_relu(self.head(z), 0.2))

    def forward(
        self,
        z: torch.Tensor,
        mask: torch.Tensor | None = None,
        context: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        f = self.features(z)  # (B, W, h, w)
        fused = self.local(f)
        if mask is not None and (mask > 0.5).any():
            glob = self.nonlocal_block(f, mask, context)
            fused = (1 - mask) * fused + mask * glob  # official "combine"
        out = self.tail(self.post(fused))
        return z + out if self.cfg.residual else out


def grown_state(old: dict[str, torch.Tensor], old_cfg: MappingConfig,
                new: LatentMapping) -> dict[str, torch.Tensor]:  # fmt: skip
    """Weights for ``new``, wider and/or deeper than ``old_cfg``, that compute exactly what
    the old mapping computed, so training goes on from it instead of from scratch
    (:func:`blocks.widened_state`: new channels start at zero; new residual blocks, appended
    after the old ones of each stage, start as identities).
    """
    cfg = new.cfg
    same = ("latent_channels", "nonlocal_inner", "max_grid", "norm", "residual")
    if any(getattr(cfg, k) != getattr(old_cfg, k) for k in same):
        raise ValueError("only width and block counts can grow")
    if cfg.width < old_cfg.width or any(getattr(cfg, k) < getattr(old_cfg, k)
                                        for k in ("n_pre", "n_local", "n_post")):  # fmt: skip
        raise ValueError(f"cannot shrink {old_cfg} to {cfg}")
    return widened_state(old, new.state_dict(), (".body.3.weight", ".body.3.bias"))


def latent_mask(mask: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Pixel mask (B, 1, H, W) -> latent mask (B, 1, H/f, W/f): a cell is a hole if any
    pixel in it is damaged (a damaged pixel must never serve as context)."""
    return F.max_pool2d(mask, factor, factor)
