"""U-Net scratch/crack detector (paper section 3.3).

Grayscale in, per-pixel defect logit out. BatchNorm, LeakyReLU and anti-aliased
(blur-pool) downsampling as in the official detector; width and depth are config fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

ARCH = "unet"


@dataclass
class UNetConfig:
    in_channels: int = 1
    width: int = 16  # official: 64
    depth: int = 4  # number of downsamplings; official: 4
    norm: str = "batch"


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling (Zhang 2019): [1 2 1] blur, then subsample.

    Shapes: (B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2)).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        kernel = (k[:, None] * k[None, :]) / 16.0
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone(), persistent=False)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, self.kernel, stride=2, groups=self.channels)


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect", bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, padding_mode="reflect", bias=False),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.2, inplace=True),
    )


class UNet(nn.Module):
    """Shapes: (B, 1, H, W), H and W divisible by 2**depth -> logits (B, 1, H, W)."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.width * 2**i for i in range(cfg.depth + 1)]
        self.inc = _double_conv(cfg.in_channels, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(BlurPool(widths[i]), _double_conv(widths[i], widths[i + 1]))
            for i in range(cfg.depth)
        )
        self.reduce = nn.ModuleList(
            nn.Conv2d(widths[i + 1], widths[i], 1) for i in range(cfg.depth)
        )
        self.up = nn.ModuleList(_double_conv(2 * widths[i], widths[i]) for i in range(cfg.depth))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]  # widths[0] at full resolution
        for down in self.down:
            skips.append(down(skips[-1]))
        h = skips.pop()
        for i in reversed(range(self.cfg.depth)):
            skip = skips.pop()
            h = F.interpolate(
                self.reduce[i](h), size=skip.shape[-2:], mode="bilinear", align_corners=False
            )
            h = self.up[i](torch.cat([skip, h], dim=1))
        return self.head(h)


LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601, as the grey detector's input


def colour_state(grey_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A grey detector's weights for a colour (``in_channels=3``) U-Net that computes
    exactly what the grey one computes: the first convolution's single input channel is
    spread over R, G and B by the luma weights (the luma of [-1, 1] RGB is [-1, 1] grey).
    Training then starts from the grey detector and can learn what colour adds, e.g. the
    neutral paper white of a crack in a sepia print, which grey shows as a highlight."""
    state = dict(grey_state)
    first = state["inc.0.weight"]  # (C, 1, 3, 3)
    if first.shape[1] != 1:
        raise ValueError(f"not a grey detector: its first conv takes {first.shape[1]} channels")
    luma = first.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    state["inc.0.weight"] = first * luma
    return state


def _copies(new: int, old: int) -> torch.Tensor:
    """Old channel of each of ``new`` channels: the old ones in order, then copies of the
    first ``new - old`` of them, again in order, as many rounds as it takes."""
    if new < old:
        raise ValueError(f"cannot narrow {old} channels to {new}")
    return torch.arange(new) % old


def widened_state(old: dict[str, torch.Tensor], new: UNet, seed: int = 0,
                  spread: float = 0.1) -> dict[str, torch.Tensor]:  # fmt: skip
    """Weights for ``new``, a U-Net wider than the one of ``old`` (same depth), that
    compute what the old one computes (Net2Net, Chen et al. 2016): channels are copied,
    BatchNorm statistics with them, and each layer reads a copied channel with its old
    weight shared among the copies. Zero-initialised new channels would leave the old
    BatchNorm statistics in charge and learn slowly; plain copies would stay copies
    forever (the same inputs, the same gradients). So the shares differ: ``spread`` x the
    layer's weight scale of seeded noise, summing to zero over the copies of each channel,
    keeps the output exact and lets the copies drift apart.

    The first half of each up block's input is the skip, the second the upsampled path:
    each half is copied on its own. The input planes and the single output are not."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, target in new.state_dict().items():
        source = old[key]
        if target.shape == source.shape:
            state[key] = source.clone()
            continue
        out_idx = _copies(target.shape[0], source.shape[0])
        if source.dim() == 1:  # BatchNorm parameters and statistics, conv biases
            state[key] = source[out_idx].clone()
            continue
        weight = source[out_idx]  # (O_new, I_old, k, k)
        n_in, o_in = target.shape[1], source.shape[1]
        if n_in == o_in:  # the input planes
            state[key] = weight.clone()
            continue
        parts = 2 if key.startswith("up.") and key.endswith(".0.weight") else 1
        in_idx = torch.cat([_copies(n_in // parts, o_in // parts) + p * (o_in // parts)
                            for p in range(parts)])  # fmt: skip
        count = torch.bincount(in_idx, minlength=o_in).to(weight.dtype)  # copies of each
        weight = weight[:, in_idx] / count[in_idx].view(1, -1, 1, 1)
        noise = torch.randn(weight.shape, generator=generator) * spread * weight.std()
        # zero-sum over the copies of each old input channel: the output stays exact
        mean = torch.zeros(noise.shape[0], o_in, *noise.shape[2:], dtype=noise.dtype)
        mean.index_add_(1, in_idx, noise)
        mean /= count.view(1, -1, 1, 1)
        state[key] = weight + noise - mean[:, in_idx]
    return state


def grown_state(old: dict[str, torch.Tensor], old_cfg: UNetConfig,
                new: UNet) -> dict[str, torch.Tensor]:  # fmt: skip
    """Weights for ``new`` from a detector of ``old_cfg`` that is grey where ``new`` is
    colour (:func:`colour_state`) and/or narrower (:func:`widened_state`), computing
    exactly what the old one computes. Depth and norm must match."""
    cfg = new.cfg
    if old_cfg.depth != cfg.depth or old_cfg.norm != cfg.norm:
        raise ValueError(f"depth and norm must match ({old_cfg} -> {cfg})")
    if old_cfg.in_channels == 1 and cfg.in_channels == 3:
        old = colour_state(old)
    elif old_cfg.in_channels != cfg.in_channels:
        raise ValueError(f"cannot grow {old_cfg.in_channels} input planes into {cfg.in_channels}")
    return widened_state(old, new) if old_cfg.width != cfg.width else old


def fuse_batchnorm(model: UNet) -> UNet:
    """Fold every eval-mode BatchNorm into the conv before it (inference only).

    Same outputs up to float rounding, one memory pass less per layer: BatchNorm on a
    full-resolution map costs about as much as a thin conv on a CPU.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    for block in model.modules():
        if not isinstance(block, nn.Sequential):
            continue
        layers = list(block)
        for i in range(len(layers) - 1):
            if isinstance(layers[i], nn.Conv2d) and isinstance(layers[i + 1], nn.BatchNorm2d):
                block[i] = fuse_conv_bn_eval(layers[i], layers[i + 1])
                block[i + 1] = nn.Identity()
    return model


def weighted_bce(logits: torch.Tensor, target: torch.Tensor,
                 known: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """Paper's class-balanced BCE, alpha_i = share of scratch pixels in image i.

    L = mean_i [ (1 - alpha_i) * sum_scratch -log p  +  alpha_i * sum_clean -log(1 - p) ] / HW

    The rare class (scratches, share alpha small) gets the *large* weight 1 - alpha; the
    formula as the task first stated it, read literally, would weight scratches by alpha and make
    the rare class nearly free, so we take the direction the paper intends.

    Shapes: logits, target (B, 1, H, W); target in {0, 1}. ``known`` (the same shape,
    {0, 1}) leaves the pixels where it is 0 out (unlabelled regions of traced photos):
    alpha and the mean are then taken over the known pixels.
    """
    if known is None:
        known = torch.ones_like(target)
    count = known.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1)
    alpha = (target * known).sum(dim=(1, 2, 3), keepdim=True) / count  # (B, 1, 1, 1)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    per_pixel = ((1 - alpha) * bce * target + alpha * bce * (1 - target)) * known
    return (per_pixel.sum(dim=(1, 2, 3), keepdim=True) / count).mean()
