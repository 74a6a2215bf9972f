"""The built-in stages: the paper's networks wrapped for tiled, device-aware inference.

Each stage loads its safetensors weights once (``weights_dir`` overrides the lookup) and
works on host tensors, moving one tile at a time to its device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from oldphoto_cli.archs import mapping_arch, unet_arch, vae_arch
from oldphoto_cli.archs.mapping_arch import LatentMapping, MappingConfig
from oldphoto_cli.archs.nonlocal_arch import context_tokens, grid_shape, pool_context
from oldphoto_cli.archs.unet_arch import UNet, UNetConfig, fuse_batchnorm
from oldphoto_cli.archs.vae_arch import VAE, VAEConfig, pad_to_multiple
from oldphoto_cli.tiling import run_tiled
from oldphoto_cli.weights import find_weights, load_model


class TorchStage:
    """Loads ``weights_name`` into ``build(config_cls(**meta.config))`` on ``device``."""

    kind = name = weights_name = arch = ""
    build: Any = None
    config_cls: Any = None

    def __init__(self, device: torch.device | str = "cpu", weights_dir: str | None = None,
                 fp16: bool = False, compile: bool = False, **_: Any) -> None:  # fmt: skip
        self.device = torch.device(device)
        path = find_weights(self.weights_name, weights_dir)
        model, self.meta = load_model(path, self.build, self.config_cls, self.arch, self.device)
        # Half precision only where the device supports it (never on the CPU).
        self.dtype = torch.float16 if fp16 and self.device.type == "cuda" else torch.float32
        self.model = self.prepare_model(model).to(dtype=self.dtype)
        if compile:
            self.model = torch.compile(self.model, dynamic=True)  # tiles vary in size

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, self.dtype)


class UNetDetector(TorchStage):
    """Scratch/crack probabilities from the grayscale image, in overlapped tiles.

    Call: rgb HxWx3 float32 [0, 1] -> HxW float32 probabilities.
    """

    kind, name, weights_name, arch = "detect", "unet", "detector", unet_arch.ARCH
    build, config_cls = UNet, UNetConfig
    tile, halo, overlap = 1024, 64, 32  # ~0.3 GiB of activations per tile

    def prepare_model(self, model):
        return fuse_batchnorm(model)

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        gray = (
            torch.from_numpy(
                (rgb[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32))[None, None]
            )
            * 2.0
            - 1.0
        )  # (1, 1, H, W) in [-1, 1] like training
        multiple = 2**self.model.cfg.depth

        def detect_tile(piece: torch.Tensor, _box) -> torch.Tensor:
            padded, (h, w) = pad_to_multiple(self.to_device(piece), multiple)
            return torch.sigmoid(self.model(padded)[..., :h, :w].float())

        prob = run_tiled(detect_tile, gray, self.tile, self.halo, self.overlap, 1.0, self.device)
        return prob[0, 0].numpy()


class VAE1Encoder(TorchStage):
    """E_RX: (1, 3, H, W) in [-1, 1], H and W divisible by 4 -> latent (1, Cz, H/4, W/4)."""

    kind, name, weights_name, arch = "encode", "vae1", "vae1", vae_arch.ARCH
    build, config_cls = VAE, VAEConfig
    tile, halo, overlap = 1024, 32, 16  # ~0.4 GiB of activations per tile

    def prepare_model(self, model):
        return model.encoder

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        def encode_tile(piece, _box):
            return self.model(self.to_device(piece))[0].float()  # mu: no sampling at test time

        return run_tiled(encode_tile, image, self.tile, self.halo, self.overlap, 0.25, self.device)


class VAE2Decoder(TorchStage):
    """G_Y: latent (B, Cz, h, w) -> image (B, 3, 4h, 4w) in [-1, 1] (one tile at a time)."""

    kind, name, weights_name, arch = "decode", "vae2", "vae2", vae_arch.ARCH
    build, config_cls = VAE, VAEConfig
    halo = 8  # latent pixels of context the decoder needs around a tile

    def prepare_model(self, model):
        return model.decoder

    @torch.inference_mode()
    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.to_device(z)).float()


class LatentMapping(TorchStage):
    """T_Z on latent tiles, with the partial non-local context of the *whole* image.

    ``prepare(z, mask)`` pools intact features of the whole latent into at most
    ``max_grid``^2 tokens (tile by tile: memory stays bounded); ``__call__`` then maps one
    latent tile, its holes attending to those tokens.
    """

    kind, name, weights_name, arch = "translate", "mapping", "mapping", mapping_arch.ARCH
    build, config_cls = LatentMapping, MappingConfig
    space = "latent"
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


class IdentityTranslator:
    """Passes latents through unchanged: shows what the VAEs alone do (debugging)."""

    kind, name, space, halo = "translate", "identity", "latent", 0

    def __init__(self, device: torch.device | str = "cpu", **_: Any) -> None:
        self.device = torch.device(device)

    def prepare(self, z, mask):
        return None

    def __call__(self, z, mask, context=None):
        return z
