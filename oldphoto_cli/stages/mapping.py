"""Built-in ``translate`` stages: ``mapping`` (T_Z with the partial non-local block) and
``identity`` (the VAEs alone, for debugging)."""

from __future__ import annotations

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

    def prepare_model(self, model):
        radius = model.cfg.receptive_radius()
        self.halo = max(self.halo, -(-radius // 4) * 4)  # a bigger mapping needs more context
        return model

    @torch.inference_mode()
    def prepare(self, z: torch.Tensor, mask: torch.Tensor | None):
        """Whole-image context tokens ((1, N, C), (1, N)) or None when there is no hole."""
        if mask is None or not bool((mask > 0.5).any()):
            return None
        _, _, h, w = z.shape
        grid = grid_shape(h, w, self.model.cfg.max_grid)
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

    @torch.inference_mode()
    def __call__(self, z: torch.Tensor, mask: torch.Tensor | None, context=None) -> torch.Tensor:
        if context is not None:
            context = tuple(t.to(self.device) for t in context)
            context = (context[0].to(self.dtype), context[1])
        mask = None if mask is None else self.to_device(mask)
        return self.model(self.to_device(z), mask, context).float()


class IdentityTranslator(LatentTranslator):
    """Passes latents through unchanged: shows what the VAEs alone do (debugging)."""

    name, halo = "identity", 0

    def __call__(self, z, mask, context=None):
        return z
