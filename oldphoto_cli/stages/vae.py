"""Built-in ``encode`` stage ``vae1`` (E_RX) and ``decode`` stage ``vae2`` (G_Y)."""

from __future__ import annotations

import torch

from oldphoto_cli.archs import vae_arch
from oldphoto_cli.archs.vae_arch import VAE, VAEConfig
from oldphoto_cli.contract import Decoder, Encoder
from oldphoto_cli.tiling import run_tiled
from oldphoto_cli.torch_stage import TorchStage


class VAE1Encoder(TorchStage, Encoder):
    """E_RX: (1, 3, H, W) in [-1, 1], H and W divisible by 4 -> latent (1, Cz, H/4, W/4)."""

    name, weights_name, arch = "vae1", "vae1", vae_arch.ARCH
    build, config_cls = VAE, VAEConfig
    scale = 4  # two stride-2 downsamplings
    channels_last = ("cpu",)  # 12 % less CPU time
    # ~0.4 GiB of activations per tile; the halo covers the receptive radius (22 px), and
    # tiles start on the stride grid (align=scale) so that they see the whole image's.
    tile, halo, overlap = 1024, 32, 16

    def prepare_model(self, model):
        return model.encoder

    takes_uint8 = True  # (1, 3, H, W) uint8 (0-255) is scaled to [-1, 1] tile by tile

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        def encode_tile(piece, _box):
            if piece.dtype == torch.uint8:  # the same values as scaling the whole image first
                piece = piece.float().div_(255.0).mul_(2.0).sub_(1.0)
            return self.model(self.to_device(piece))[0].float()  # mu: no sampling at test time

        return run_tiled(encode_tile, image, self.tile, self.halo, self.overlap, 1 / self.scale,
                         self.device, align=self.scale)  # fmt: skip


class VAE2Decoder(TorchStage, Decoder):
    """G_Y: latent (B, Cz, h, w) -> image (B, 3, 4h, 4w) in [-1, 1] (one tile at a time)."""

    name, weights_name, arch = "vae2", "vae2", vae_arch.ARCH
    build, config_cls = VAE, VAEConfig
    scale = 4
    channels_last = ("cpu",)  # 32 % less CPU time
    halo = 8  # latent pixels of context the decoder needs around a tile

    def prepare_model(self, model):
        return model.decoder

    @torch.inference_mode()
    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.to_device(z)).float()
