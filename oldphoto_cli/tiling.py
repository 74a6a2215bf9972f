"""Overlapped tiles with feathered blending: full resolution in bounded memory.

The whole image and the output stay on the host; only one tile (plus its halo) is on the
device at a time. Each tile is processed with a halo at least as wide as the network's
receptive field, so its core matches whole-image processing; neighbouring cores overlap
by ``overlap`` and are blended with linear ramps, so no seam can show.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from oldphoto_cli.imageio import whole_image_array


def tile_spans(size: int, tile: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """(start, length) of the fewest tiles of at most ``tile`` covering [0, size), each
    consecutive pair overlapping by at least ``overlap``, all of one length.

    Equal lengths matter for cost: a size just over one tile becomes two half tiles (plus
    their halos), not a full tile and a second one almost wholly inside it. Starts and
    lengths are multiples of ``align`` (an encoder's stride) when ``size`` is one.
    """
    if size <= tile:
        return [(0, size)]
    units, step = size // align, max(1, tile // align)
    over = min(-(-overlap // align), step // 2)  # overlap in align units, < a tile step
    if size % align or step <= over:
        units, step, over, align = size, tile, min(overlap, tile // 2), 1
    count = -(-(units - over) // (step - over))
    length = -(-(units + (count - 1) * over) // count)
    starts = [i * (units - length) // (count - 1) for i in range(count)]
    return [(start * align, length * align) for start in starts]


def tile_starts(size: int, tile: int, overlap: int, align: int = 1) -> list[int]:
    """Starts of :func:`tile_spans`."""
    return [start for start, _ in tile_spans(size, tile, overlap, align)]


def _ramp(length: int, overlap: int, at_start: bool, at_end: bool) -> torch.Tensor:
    """1-D blending weights: linear ramps over ``overlap`` at inner tile edges."""
    weights = torch.ones(length)
    if overlap > 0:
        ramp = (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap
        if not at_start:
            weights[:overlap] = torch.minimum(weights[:overlap], ramp)
        if not at_end:
            weights[-overlap:] = torch.minimum(weights[-overlap:], ramp.flip(0))
    return weights


def run_tiled(
    fn: Callable[[torch.Tensor, tuple[int, int, int, int]], torch.Tensor],
    inputs: torch.Tensor,
    tile: int,
    halo: int,
    overlap: int,
    scale: float = 1.0,
    device: torch.device | str = "cpu",
    out_channels: int | None = None,
    align: int = 1,
    channels_last: bool = False,
) -> torch.Tensor:
    """Apply ``fn`` over tiles of ``inputs`` and stitch the results.

    Args:
        fn: called as ``fn(tile_on_device, (top, left, height, width))`` where the box is
            the tile's *core* in input coordinates; returns the output for the tile with
            its halo, ``scale`` times the input's spatial size.
        inputs: (1, C, H, W) on the host.
        tile: core tile size in input pixels.
        halo: context added on each side (clipped at the image border).
        overlap: width of the blended band between neighbouring cores.
        scale: output/input spatial ratio (e.g. 0.25 for an encoder, 4 for a decoder);
            ``tile``, ``halo`` and ``overlap`` times ``scale`` must be integers.
        align: tile starts and lengths are multiples of this (see :func:`tile_spans`),
            e.g. an encoder's total stride, so every tile sees the whole image's grid.
        channels_last: lay the result out as (1, H, W, C) in memory (still indexed
            (1, C, H, W)), so ``result[0].permute(1, 2, 0)`` is an HxWxC image without a copy.

    Returns:
        (1, C_out, H * scale, W * scale) on the host.
    """
    _, _, h, w = inputs.shape
    overlap = min(overlap, tile // 2)  # a tile must advance
    out = weight_sum = None
    ys, xs = tile_spans(h, tile, overlap, align), tile_spans(w, tile, overlap, align)
    for y, th in ys:
        for x, tw in xs:
            y0, x0 = max(0, y - halo), max(0, x - halo)
            y1, x1 = min(h, y + th + halo), min(w, x + tw + halo)
            piece = inputs[:, :, y0:y1, x0:x1]
            if piece.device.type == "cpu" and torch.device(device).type == "cuda":
                # pinned host memory: async copy
                piece = piece.contiguous().pin_memory().to(device, non_blocking=True)
            else:
                piece = piece.to(device)
            result = fn(piece, (y, x, th, tw)).to("cpu", torch.float32)
            # Crop the halo away: keep the core, in output coordinates.
            cy, cx = round((y - y0) * scale), round((x - x0) * scale)
            oh, ow = round(th * scale), round(tw * scale)
            core = result[:, :, cy : cy + oh, cx : cx + ow]
            if len(ys) == 1 and len(xs) == 1 and out_channels in (None, core.shape[1]):
                # One tile: every weight is 1, so the result is its core as it is (no
                # blending passes over the whole image). A copy when it is the caller's
                # input itself, or an inference tensor the caller could not update in place.
                shared = core.untyped_storage().data_ptr() == inputs.untyped_storage().data_ptr()
                if shared or (core.is_inference() and not torch.is_inference_mode_enabled()):
                    return core.clone(memory_format=torch.contiguous_format)
                return core.contiguous()
            if out is None:
                channels = out_channels or core.shape[1]
                # whole-image accumulators, mapped apart from the tiles' heap (imageio)
                oh_all, ow_all = round(h * scale), round(w * scale)
                if channels_last:
                    out = torch.from_numpy(
                        whole_image_array((1, oh_all, ow_all, channels), np.float32)
                    ).permute(0, 3, 1, 2)
                else:
                    out = torch.from_numpy(
                        whole_image_array((1, channels, oh_all, ow_all), np.float32)
                    )
                weight_sum = torch.from_numpy(
                    whole_image_array((1, 1, round(h * scale), round(w * scale)), np.float32)
                )
            ov = round(overlap * scale)
            wy = _ramp(oh, ov, y == 0, y + th >= h)
            wx = _ramp(ow, ov, x == 0, x + tw >= w)
            weight = (wy[:, None] * wx[None, :])[None, None]
            oy, ox = round(y * scale), round(x * scale)
            out[:, :, oy : oy + oh, ox : ox + ow] += core * weight
            weight_sum[:, :, oy : oy + oh, ox : ox + ow] += weight
    return out.div_(weight_sum.clamp_min_(1e-8))  # in place: no second whole-image tensor
