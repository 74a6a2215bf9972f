"""Built-in ``detect`` stage ``unet``: the U-Net scratch detector, in overlapped tiles."""

from __future__ import annotations

import numpy as np
import torch

from oldphoto_cli.archs import unet_arch
from oldphoto_cli.archs.unet_arch import UNet, UNetConfig, fuse_batchnorm
from oldphoto_cli.archs.vae_arch import pad_to_multiple
from oldphoto_cli.contract import Detector
from oldphoto_cli.imageio import luma
from oldphoto_cli.tiling import run_tiled
from oldphoto_cli.torch_stage import TorchStage


class UNetDetector(TorchStage, Detector):
    """Scratch/crack probabilities from the grayscale image (or the RGB image, for a
    detector trained on colour), in overlapped tiles.

    Call: rgb HxWx3 float32 [0, 1] -> HxW float32 probabilities.
    """

    name, weights_name, arch = "unet", "detector", unet_arch.ARCH
    build, config_cls = UNet, UNetConfig
    channels_last = ("cpu",)  # 18 % less CPU time at 768x1024 (benchmarks/RESULTS.md)
    # ~0.7 GiB of activations per tile: a photo of up to 1536 px is one tile, and larger
    # ones compute less halo twice (benchmarks/RESULTS.md: cost per megapixel above one tile)
    tile, halo, overlap = 1536, 64, 32

    def prepare_model(self, model):
        return fuse_batchnorm(model)

    takes_uint8 = True  # luma is computed band by band: no float copy of the photo

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        multiple = 2**self.model.cfg.depth
        if self.model.cfg.in_channels == 3:  # a colour detector: (1, 3, H, W), a view
            image = torch.from_numpy(np.ascontiguousarray(rgb[..., :3])).permute(2, 0, 1)[None]
        else:  # (1, 1, H, W) in [-1, 1] like training, scaled in place
            image = torch.from_numpy(luma(rgb))[None, None].mul_(2.0).sub_(1.0)

        def detect_tile(piece: torch.Tensor, _box) -> torch.Tensor:
            if piece.shape[1] == 3:  # scaled tile by tile: no float copy of the photo
                scale = 2.0 / 255 if piece.dtype == torch.uint8 else 2.0
                piece = piece.to(torch.float32, copy=True).mul_(scale).sub_(1.0)
            padded, (h, w) = pad_to_multiple(self.to_device(piece), multiple)
            return torch.sigmoid(self.model(padded)[..., :h, :w].float())

        prob = run_tiled(detect_tile, image, self.tile, self.halo, self.overlap, 1.0, self.device,
                         out_channels=1)  # fmt: skip
        return prob[0, 0].numpy()
