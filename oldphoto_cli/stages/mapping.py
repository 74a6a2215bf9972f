"""Built-in ``translate`` stages: ``mapping`` (T_Z with the partial non-local block) and
``identity`` (the VAEs alone, for debugging)."""

from __future__ import annotations

from typing import Any

import torch

from oldphoto_cli.archs import mapping_arch
from oldphoto_cli.archs.mapping_arch import LatentMapping as MappingNet
from oldphoto_cli.archs.mapping_arch import MappingConfig
from oldphoto_cli.archs.nonlocal_arch import context_tokens, grid_shape, pool_context
from oldphoto_cli.contract import LatentTranslator, TorchStage


class LatentMapping(TorchStage, LatentTranslator):
    """T_Z on latent tiles, with the partial non-local context of the *whole* image.

    ``prepare(z, mask)`` pools intact features of the whole latent into at most
    ``max_grid``^2 tokens (tile by tile: memory stays bounded); ``__call__`` then maps one
    latent tile, its holes attending to those tokens.
    """

    name, weights_name, arch = "mapping", "mapping", mapping_arch.ARCH
    build, config_cls = MappingNet, MappingConfig
    halo = 16  # latent receptive-field radius (3x3 convs), rounded up; set from the config
    tile = 128
    whole = 256 * 256  # latents up to this many pixels are pooled in one piece (~1 MP image)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._features: tuple[torch.Tensor, torch.Tensor] | None = None  # (z, features(z))

    def prepare_model(self, model):
        radius = model.cfg.receptive_radius()
        self.halo = max(self.halo, -(-radius // 4) * 4)  # a bigger mapping needs more context
        return model

    @torch.inference_mode()
    def prepare(self, z: torch.Tensor, mask: torch.Tensor | None):
        """Whole-image context tokens ((1, N, C), (1, N)) or None when there is no hole.

        A latent of at most ``whole`` pixels is pooled in one piece, and its features are
        kept for the next call on that same latent (the usual case: a photo of up to about
        1 MP is one tile), which then skips computing them a second time.
        """
        self._features = None
        if mask is None or not bool((mask > 0.5).any()):
            return None
        _, _, h, w = z.shape
        grid = grid_shape(h, w, self.model.cfg.max_grid)
        if h * w <= self.whole and not self.compiled:
            z_dev = self.to_device(z)
            feats = self.model.features(z_dev)
            self._features = (z_dev, feats)
            return context_tokens(*pool_context(feats.float(), self.to_device(mask).float(),
                                                grid))  # fmt: skip
        sums = counts = None
        both = torch.cat([z, mask], 1)
        for y in range(0, h, self.tile):
            for x in range(0, w, self.tile):
                y0, x0 = max(0, y - self.halo), max(0, x - self.halo)
                piece = self.to_device(both[:, :, y0 : y + self.tile + self.halo,
                                            x0 : x + self.tile + self.halo])  # fmt: skip
                feats = self.model.features(piece[:, :-1])
                cy, cx = y - y0, x - x0
                core = feats[:, :, cy : cy + self.tile, cx : cx + self.tile].float()
                core_mask = piece[:, -1:, cy : cy + self.tile, cx : cx + self.tile].float()
                s, c = pool_context(core, core_mask, grid, (h, w), (y, x))
                sums = s if sums is None else sums + s
                counts = c if counts is None else counts + c
        return context_tokens(sums, counts)

    def _cached_features(self, z: torch.Tensor) -> torch.Tensor | None:
        """Features kept by :meth:`prepare` if ``z`` is exactly the latent it pooled."""
        if self._features is None:
            return None
        kept_z, feats = self._features
        self._features = None  # used at most once: the memory is released after this tile
        if kept_z.shape == z.shape and torch.equal(kept_z, z):
            return feats
        return None

    @torch.inference_mode()
    def __call__(self, z: torch.Tensor, mask: torch.Tensor | None, context=None) -> torch.Tensor:
        if context is not None:
            context = tuple(t.to(self.device) for t in context)
            context = (context[0].to(self.dtype), context[1])
        mask = None if mask is None else self.to_device(mask)
        z = self.to_device(z)
        feats = self._cached_features(z)
        if feats is None:
            return self.model(z, mask, context).float()
        # The model's forward starts with ``self.features(z)``: hand it the kept result.
        self.model.features = lambda _z: feats
        try:
            return self.model(z, mask, context).float()
        finally:
            del self.model.features


class IdentityTranslator(LatentTranslator):
    """Passes latents through unchanged: shows what the VAEs alone do (debugging)."""

    name, halo = "identity", 0

    def __call__(self, z, mask, context=None):
        return z
