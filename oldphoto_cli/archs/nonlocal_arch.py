"""Partial non-local block with bounded memory (global branch of the mapping T_Z).

The paper's affinity lets hole positions attend only to intact ones:

    s_ij = (1 - m_j) f_ij / sum_k (1 - m_k) f_ik,   f_ij = exp(theta(x_i)^T phi(x_j))

i.e. a softmax over unmasked keys. The official block materialises the full (HW x HW)
matrix. Here:

* **Queries only at holes.** Outside the mask the mapping takes its local branch, so
  only hole positions need a global answer (the output elsewhere is ``x``).
* **Keys pooled to a bounded grid.** Keys/values are mask-aware averages over at most
  ``max_grid x max_grid`` cells: ``k_c = sum_{j in c} (1-m_j) x_j / sum_{j in c} (1-m_j)``,
  and a cell with no intact pixel is masked out of the softmax. With a grid at least the
  feature size (training crops) this *is* the exact paper formula; on large images it
  approximates each intact neighbourhood by its mean (the approximation).
* **Chunked attention** with ``scaled_dot_product_attention`` and a key mask.

Memory is O(holes_chunk x grid^2) and time O(HW + holes x grid^2): linear in image area.
Tokens can also be supplied from outside (``context=``), so tiled inference attends to the
whole image's pooled context.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def grid_shape(h: int, w: int, max_grid: int) -> tuple[int, int]:
    """Key grid for an (h, w) feature map: one cell per position up to ``max_grid``."""
    return min(h, max_grid), min(w, max_grid)


def pool_context(
    features: torch.Tensor,
    mask: torch.Tensor,
    grid: tuple[int, int],
    full_size: tuple[int, int] | None = None,
    offset: tuple[int, int] = (0, 0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask-aware sums of intact features over a grid of non-overlapping cells.

    Position (y, x) of the full map falls in cell (y * gh // H, x * gw // W). Sums from
    tiles of one map (``offset`` = the tile's top-left in the full map of ``full_size``)
    add up to the whole map's sums, so tiled inference gets the exact same context.

    Args:
        features: (B, C, h, w), a tile or the whole map.
        mask: (B, 1, h, w), 1 = damaged.
        grid: (gh, gw) cells.
        full_size: (H, W) of the whole map (default: this tensor's size).
        offset: (top, left) of this tile in the whole map.

    Returns:
        sums (B, C, gh*gw) of intact features and counts (B, 1, gh*gw) of intact pixels.
    """
    b, c, h, w = features.shape
    big_h, big_w = full_size or (h, w)
    gh, gw = grid
    rows = (torch.arange(h, device=features.device) + offset[0]) * gh // big_h
    cols = (torch.arange(w, device=features.device) + offset[1]) * gw // big_w
    cell = (rows[:, None] * gw + cols[None, :]).flatten()  # (h*w,)
    # Accumulated in fp32 whatever the features' dtype (bf16 under autocast): a cell sums
    # hundreds of pixels, past what bf16's 8-bit mantissa counts exactly.
    keep = (1.0 - mask.float()).flatten(2)  # (B, 1, hw)
    sums = features.new_zeros(b, c, gh * gw, dtype=torch.float32)
    sums = sums.index_add_(2, cell, features.flatten(2).float() * keep)
    counts = features.new_zeros(b, 1, gh * gw, dtype=torch.float32).index_add_(2, cell, keep)
    return sums, counts


def context_tokens(sums: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and validity from :func:`pool_context` sums: (B, N, C), (B, N) bool."""
    tokens = sums / counts.clamp_min(1e-6)  # (B, C, N)
    valid = counts > 0.5  # a cell with no intact pixel never serves as context
    return tokens.transpose(1, 2), valid.flatten(1)


class PartialNonLocal(nn.Module):
    """Global branch: hole positions attend to intact (pooled) context.

    Args:
        channels: C of the features.
        inner: width of the theta/phi/g projections.
        max_grid: key grid bound per side (keys <= max_grid^2).
        chunk: hole positions attended per chunk (bounds memory).

    Shapes: x (B, C, H, W), mask (B, 1, H, W) -> (B, C, H, W). Outside holes returns x.
    """

    def __init__(self, channels: int, inner: int = 64, max_grid: int = 64, chunk: int = 1024):
        super().__init__()
        self.theta = nn.Conv2d(channels, inner, 1)
        self.phi = nn.Linear(channels, inner)
        self.g = nn.Linear(channels, inner)
        self.out = nn.Conv2d(inner, channels, 1)
        self.max_grid, self.chunk = max_grid, chunk

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        context: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        b, c, h, w = x.shape
        if context is None:
            grid = grid_shape(h, w, self.max_grid)
            context = context_tokens(*pool_context(x, mask, grid))
        tokens, valid = context  # (B, N, C), (B, N)
        tokens = tokens.to(x.dtype)  # pooled in fp32 (see pool_context)
        keys, values = self.phi(tokens), self.g(tokens)  # (B, N, inner)
        theta_w = self.theta.weight.flatten(1)  # 1x1 convs as linear maps on hole vectors
        out_w = self.out.weight.flatten(1)
        flat = x.flatten(2)  # (B, C, HW)
        holes = mask.flatten(1) > 0.5  # (B, HW)
        result = flat.clone()
        for i in range(b):
            index = holes[i].nonzero().squeeze(1)
            if index.numel() == 0 or not valid[i].any():
                continue
            bias = torch.zeros(valid.shape[1], dtype=x.dtype, device=x.device)
            bias = bias.masked_fill(~valid[i], float("-inf"))
            for start in range(0, index.numel(), self.chunk):
                rows = index[start : start + self.chunk]
                feats = flat[i, :, rows].T  # (n, C): only hole positions are queried
                q = F.linear(feats, theta_w, self.theta.bias).unsqueeze(0)  # (1, n, inner)
                attended = F.scaled_dot_product_attention(
                    q, keys[i : i + 1], values[i : i + 1], attn_mask=bias
                )[0]  # (n, inner)
                # Residual, as the official "Res" block.
                result[i, :, rows] = (feats + F.linear(attended, out_w, self.out.bias)).T
        return result.view(b, c, h, w)  # equals x outside holes
