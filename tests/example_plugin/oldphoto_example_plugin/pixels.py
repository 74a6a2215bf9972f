"""An encoder and a decoder without weights: the "latent" is the image's 2x2 pixel blocks
stacked as channels (pixel unshuffle), and the decoder puts them back (pixel shuffle).

Together they are exact, so ``--translator identity`` gives the photo back: a pair to check
a latent translator's tiling with, or to start a new encoder/decoder pair from. Chosen
with ``oldphoto restore --encoder example-pixels --decoder example-pixels``.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from oldphoto_cli import Decoder, Encoder

SCALE = 2  # the latent's downsampling factor: 3 channels become 3 * 2 * 2 = 12


class ExamplePixelsEncoder(Encoder):
    name = "example-pixels"
    scale = SCALE

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return F.pixel_unshuffle(image.float(), SCALE)  # (1, 12, H/2, W/2), on the host


class ExamplePixelsDecoder(Decoder):
    name = "example-pixels"
    scale = SCALE
    halo = 0  # each latent cell is its own 2x2 block: no context needed

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(z.float(), SCALE)  # (1, 3, 2h, 2w)
