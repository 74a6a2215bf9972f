"""A latent translator with weights shipped in this package (``example_smooth.safetensors``).

TorchStage loads the file (``--weights-dir`` and ``$OLDPHOTO_WEIGHTS`` first, then this
package's folder), checks its architecture name, builds ``SmoothNet(SmoothConfig(...))``
from the file's metadata, puts it on the device (half precision with ``--fp16`` on CUDA)
and keeps it as ``self.model``: the plugin writes ``__call__``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from oldphoto_cli import LatentTranslator, TorchStage

ARCH = "example-smooth-v1"


@dataclass
class SmoothConfig:
    size: int = 3  # kernel side


class SmoothNet(nn.Module):
    """One learned ``size`` x ``size`` kernel, shared by every latent channel."""

    def __init__(self, cfg: SmoothConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.kernel = nn.Parameter(torch.full((1, 1, cfg.size, cfg.size), 1.0 / cfg.size**2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = z.shape
        flat = z.reshape(b * c, 1, h, w)
        return F.conv2d(flat, self.kernel, padding=self.cfg.size // 2).reshape(b, c, h, w)


class ExampleSmooth(TorchStage, LatentTranslator):
    name = "example-smooth"
    weights_name, weights_package = "example_smooth", "oldphoto_example_plugin"
    arch, build, config_cls = ARCH, SmoothNet, SmoothConfig
    halo = 2  # the 3x3 kernel's radius (1), rounded up: tiles match the whole image

    @torch.inference_mode()
    def __call__(self, z, mask, context=None):
        if mask is None:  # no scratch path: nothing to fill
            return z
        z, mask = self.to_device(z), self.to_device(mask)
        return (z * (1 - mask) + self.model(z) * mask).float()


def write_weights(path: str) -> None:
    """How ``example_smooth.safetensors`` was made (a kernel close to a 3x3 box blur)."""
    from oldphoto_cli.weights import save_weights

    model = SmoothNet(SmoothConfig())
    with torch.no_grad():
        model.kernel.copy_(torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16)
    save_weights(path, model.state_dict(), ARCH, model.cfg, training={"made": "by hand"})
