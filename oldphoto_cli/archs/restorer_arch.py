"""Image-space restorer: a residual over a classical first estimate.

The network sees the damaged photo (holes pre-filled by Telea), the classical estimate
(that fill, then NL-means), the defect mask and the estimated noise level (one constant
plane, as FFDNet's noise map), and returns the estimate plus a learned correction. With
``photo_under_mask`` it also sees the photo as it came, holes unfilled: what lies under
the mask, so that it can keep content a detector marked by mistake. Starting
from NL-means it only has to learn what NL-means gets wrong (blur, JPEG blocks, the
detail it smooths away, the texture of a filled hole), which two CPU cores can train.

Everything runs below full resolution: a 2x pixel-unshuffle first (4 pixels -> 1 vector),
then a small U-Net with ``len(blocks)`` levels, and a pixel-shuffle back: ~35 k
multiply-adds per output pixel at the default size. No normalisation layers, so tiles
give the whole image's result.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from oldphoto_cli.archs.blocks import ResBlock, conv, widened_state

ARCH = "restorer"
IN_CHANNELS = 8  # damaged (3), first estimate (3), mask (1), noise level (1)
PHOTO_CHANNELS = 3  # the photo as it came (photo_under_mask), after those
SIGMA_SCALE = 25.0  # noise level plane = sigma (0-255 scale) / this


@dataclass
class RestorerConfig:
    width: int = 32  # channels of the first (half-resolution) level; x2 per level below
    blocks: tuple[int, ...] = (2, 2, 2)  # residual blocks per level, finest first
    # How the noise level (NL-means strength and the network's noise plane) is measured:
    # one of classical.NOISE_ESTIMATES; inference must use the estimate training used.
    noise_estimate: str = "laplacian_median"
    # NL-means runs for the first estimate only from this noise level up (0-255 scale):
    # below it NL-means smooths texture more than it removes grain, and the network sees
    # the photo itself as its estimate.
    nlm_min_sigma: float = 0.0
    # Also feed the photo with its holes unfilled: the network can then tell a wrong mask
    # (content under it) from a defect; without it, a mask on a tripod's leg erases it.
    photo_under_mask: bool = False

    def __post_init__(self) -> None:
        self.blocks = tuple(int(b) for b in self.blocks)  # from JSON metadata: a list

    @property
    def in_channels(self) -> int:
        return IN_CHANNELS + (PHOTO_CHANNELS if self.photo_under_mask else 0)

    def nlm_sigma(self, sigma: float) -> float:
        """The noise level NL-means is run at for a photo whose estimate is ``sigma``."""
        return sigma if sigma >= self.nlm_min_sigma else 0.0

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (unshuffle x2, then a stride 2 per level)."""
        return 2 ** len(self.blocks)

    def receptive_radius(self) -> int:
        """Receptive-field radius in input pixels (tiles need this halo): each 3x3 conv
        at a level where one pixel stands for ``s`` input pixels adds ``s``, and every
        change of scale (the shuffles, each stride-2 conv) adds its grid's granularity."""
        radius = 2 + 2 + 2  # head and tail convs at scale 2, the pixel (un)shuffle
        last = len(self.blocks) - 1
        for level, count in enumerate(self.blocks):
            s = 2 * 2**level
            radius += 2 * count * s  # encoder blocks: two convs each
            if level < last:
                radius += 2 * s + 2 * count * s  # the stride-2 conv, decoder blocks
        return radius


class Restorer(nn.Module):
    """Shapes: damaged, estimate (B, 3, H, W) in [0, 1]; mask (B, 1, H, W) in {0, 1};
    sigma (B,) noise level on a 0-255 scale; photo (B, 3, H, W) in [0, 1], the input with
    its holes unfilled (``cfg.photo_under_mask`` only); H, W multiples of ``cfg.multiple``
    -> restored (B, 3, H, W), the estimate plus a correction (not clipped)."""

    def __init__(self, cfg: RestorerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.width * 2**i for i in range(len(cfg.blocks))]
        self.head = conv(4 * cfg.in_channels, widths[0])
        self.encoders = nn.ModuleList(
            nn.Sequential(*(ResBlock(w) for _ in range(n)))
            for w, n in zip(widths, cfg.blocks, strict=True)
        )
        self.downs = nn.ModuleList(conv(a, b, 3, 2) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.ups = nn.ModuleList(nn.Conv2d(b, a * 4, 1) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.decoders = nn.ModuleList(
            nn.Sequential(*(ResBlock(w) for _ in range(n)))
            for w, n in zip(widths[:-1], cfg.blocks[:-1], strict=True)
        )
        self.tail = conv(widths[0], 4 * 3)
        nn.init.zeros_(self.tail.weight)  # starts as the identity on the estimate
        nn.init.zeros_(self.tail.bias)

    def forward(self, damaged: torch.Tensor, estimate: torch.Tensor, mask: torch.Tensor,
                sigma: torch.Tensor, photo: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        level = (sigma.to(damaged.dtype) / SIGMA_SCALE).view(-1, 1, 1, 1)
        planes = [damaged * 2 - 1, estimate * 2 - 1, mask, level.expand_as(mask)]
        if self.cfg.photo_under_mask:
            if photo is None:
                raise ValueError("this restorer sees the photo under the mask: pass photo")
            planes.append(photo * 2 - 1)
        inputs = torch.cat(planes, dim=1)
        x = F.leaky_relu(self.head(F.pixel_unshuffle(inputs, 2)), 0.2)
        skips = []
        for i, encoder in enumerate(self.encoders):
            x = encoder(x)
            if i < len(self.downs):
                skips.append(x)
                x = F.leaky_relu(self.downs[i](x), 0.2)
        for i in reversed(range(len(self.decoders))):
            x = skips[i] + F.pixel_shuffle(self.ups[i](x), 2)
            x = self.decoders[i](x)
        return estimate + F.pixel_shuffle(self.tail(x), 2)


def grown_state(old: dict[str, torch.Tensor], old_cfg: RestorerConfig,
                new: Restorer) -> dict[str, torch.Tensor]:  # fmt: skip
    """Weights for ``new``, wider and/or with more blocks per level than ``old_cfg``, or
    seeing the photo under the mask where the old one did not, that compute exactly what
    the old restorer computed (:func:`blocks.widened_state`: new channels start at zero,
    added residual blocks as identities, the head's weights on the new photo planes at
    zero). The levels must match; the noise estimate may differ (training adapts the
    network to the new one)."""
    cfg = new.cfg
    if len(cfg.blocks) != len(old_cfg.blocks):
        raise ValueError(f"the number of levels cannot change ({old_cfg.blocks} -> {cfg.blocks})")
    if cfg.width < old_cfg.width or any(n < o for n, o in zip(cfg.blocks, old_cfg.blocks, strict=True)):
        raise ValueError(f"cannot shrink {old_cfg} to {cfg}")
    if old_cfg.photo_under_mask and not cfg.photo_under_mask:
        raise ValueError("cannot drop the photo under the mask from the inputs")
    state = widened_state(old, new.state_dict(), (".body.3.weight", ".body.3.bias"))
    # the head reads the unshuffled input planes in order (plane c -> 4c..4c+3): the new
    # photo planes come last and would otherwise start with random weights on real input
    state["head.weight"][:, old["head.weight"].shape[1] :] = 0
    return state
