"""Built-in ``translate`` stages: ``mapping`` (T_Z with the partial non-local block) and
``identity`` (the VAEs alone, for debugging)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from oldphoto_cli.archs import mapping_arch
from oldphoto_cli.archs.mapping_arch import LatentMapping as MappingNet
from oldphoto_cli.archs.mapping_arch import MappingConfig
from oldphoto_cli.archs.nonlocal_arch import context_tokens, grid_shape, pool_context
from oldphoto_cli.contract import LatentTranslator
from oldphoto_cli.torch_stage import TorchStage


@dataclass
class MappingContext:
    """What :meth:`LatentMapping.prepare` hands the tiles: the pooled context tokens and,
    when they were kept, the features of the whole latent (``tile_context`` cuts each
    tile's piece out of them, so no tile computes them again)."""

    tokens: tuple[torch.Tensor, torch.Tensor]  # ((1, N, C), (1, N)) pooled, valid
    features: torch.Tensor | None = None  # (1, width, h, w) (host; device if one piece), or a tile's


class LatentMapping(TorchStage, LatentTranslator):
    """T_Z on latent tiles, with the partial non-local context of the *whole* image.

    ``prepare(z, mask)`` computes the mapping's features (head and pre-blocks) over the
    whole latent once, tile by tile, and pools their intact part into at most
    ``max_grid``^2 tokens; it keeps the features (up to ``keep_bytes``), and
    ``tile_context`` hands each translate tile its piece of them, so the features are
    computed once per image however many tiles there are. ``__call__`` then maps one
    latent tile, its holes attending to the tokens.
    """

    name, weights_name, arch = "mapping", "mapping", mapping_arch.ARCH
    build, config_cls = MappingNet, MappingConfig
    halo = 16  # latent receptive-field radius (3x3 convs), rounded up; set from the config
    tile = 256  # latent tile side of prepare() (~0.1 GiB of activations at width 96)
    # Whole-latent features kept up to this size (a 24 MP photo at width 96: 0.54 GiB);
    # above it each translate tile computes its own again.
    keep_bytes = 1 << 30

    def prepare_model(self, model):
        radius = model.cfg.receptive_radius()
        self.halo = max(self.halo, -(-radius // 4) * 4)  # a bigger mapping needs more context
        self.features_radius = 1 + 2 * model.cfg.n_pre  # head (3x3) and pre-blocks (2 each)
        return model

    @torch.inference_mode()
    def prepare(self, z: torch.Tensor, mask: torch.Tensor | None) -> MappingContext | None:
        """Whole-image context (:class:`MappingContext`) or None when there is no hole.

        The features are computed in tiles of ``tile`` with a halo of their receptive
        radius (exact), written into one whole-latent tensor when that is at most
        ``keep_bytes`` (and the model is not compiled), and pooled core by core.
        """
        if mask is None or not bool((mask > 0.5).any()):
            return None
        _, _, h, w = z.shape
        grid = grid_shape(h, w, self.model.cfg.max_grid)
        width = self.model.cfg.width
        keep = h * w * width * 4 <= self.keep_bytes and not self.compiled
        rows, cols = _partition(h, self.tile), _partition(w, self.tile)
        one_piece = len(rows) == len(cols) == 1  # kept as computed: no copy
        kept = torch.empty(1, width, h, w) if keep and not one_piece else None
        sums = counts = None
        halo = self.features_radius
        for y, th in rows:
            for x, tw in cols:
                y0, x0 = max(0, y - halo), max(0, x - halo)
                piece = self.to_device(z[:, :, y0 : y + th + halo, x0 : x + tw + halo])
                cy, cx = y - y0, x - x0
                core = self.model.features(piece)[:, :, cy : cy + th, cx : cx + tw].float()
                if kept is not None:
                    kept[:, :, y : y + th, x : x + tw] = core
                elif keep:  # one piece: the whole latent
                    kept = core
                core_mask = self.to_device(mask[:, :, y : y + th, x : x + tw]).float()
                s, c = pool_context(core, core_mask, grid, (h, w), (y, x))
                sums = s if sums is None else sums + s
                counts = c if counts is None else counts + c
        return MappingContext(context_tokens(sums, counts), kept)

    def tile_context(self, context, box: tuple[int, int, int, int]):
        """The context of the tile at ``box`` = (top, left, height, width), halo included,
        in the latent ``prepare`` saw: the tokens and that tile's piece of the features."""
        if not isinstance(context, MappingContext) or context.features is None:
            return context
        top, left, height, width = box
        piece = context.features[:, :, top : top + height, left : left + width]
        return MappingContext(context.tokens, piece)

    @torch.inference_mode()
    def __call__(self, z: torch.Tensor, mask: torch.Tensor | None, context=None) -> torch.Tensor:
        feats = None
        if isinstance(context, MappingContext):
            feats, context = context.features, context.tokens
        if context is not None:
            context = tuple(t.to(self.device) for t in context)
            context = (context[0].to(self.dtype), context[1])
        mask = None if mask is None else self.to_device(mask)
        z = self.to_device(z)
        if feats is None or feats.shape[2:] != z.shape[2:]:  # not kept, or not this tile's
            return self.model(z, mask, context).float()
        feats = self.to_device(feats)
        # The model's forward starts with ``self.features(z)``: hand it the kept result.
        self.model.features = lambda _z: feats
        try:
            return self.model(z, mask, context).float()
        finally:
            del self.model.features


def _partition(size: int, tile: int) -> list[tuple[int, int]]:
    """(start, length) of the fewest near-equal, non-overlapping pieces of at most ``tile``
    covering [0, size): pooled once each, so no position counts twice."""
    count = -(-size // tile)
    bounds = [i * size // count for i in range(count + 1)]
    return [(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)]


class IdentityTranslator(LatentTranslator):
    """Passes latents through unchanged: shows what the VAEs alone do (debugging)."""

    name, halo = "identity", 0

    def __call__(self, z, mask, context=None):
        return z
