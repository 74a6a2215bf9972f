"""The ``face`` enhancer: the face refinement network (``archs/face_arch.py``) on aligned crops.

Weights ``face.safetensors`` (trained by ``oldphoto train face`` on research-use faces:
their metadata carries the licence) are looked up like every stage's (``--weights-dir``,
``$OLDPHOTO_WEIGHTS``, the shipped folder, folders registered by plugins) and are not
shipped with oldphoto but in the plugin package ``plugins/oldphoto-face-weights``: without
it ``restore`` falls back to ``general`` with a note
(:func:`oldphoto_cli.faces.face_weights_available`).
"""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.archs import face_arch
from oldphoto_cli.contract import RestoreFn, TorchStage
from oldphoto_cli.faces import FACE_WEIGHTS
from oldphoto_cli.faces.enhance import AlignedFaceEnhancer

NET_SIZE = 256  # the crop the network runs at when its weights do not say (training crop)


class FaceNetEnhancer(AlignedFaceEnhancer, TorchStage):
    """Aligned crop -> face network at its training size (256 px by default); other crops
    get the network's *change* resized (their own detail stays), then the usual harmonised
    paste-back."""

    name = "face"
    # AlignedFaceEnhancer.__init__ comes first in the MRO and takes no ``precision``:
    # the face network runs in fp32 (fp16 on CUDA with --fp16) until it does.
    supports_precision = False
    weights_name = FACE_WEIGHTS
    arch, config_cls = face_arch.ARCH, face_arch.FaceConfig
    build = staticmethod(face_arch.build)

    @property
    def net_size(self) -> int:
        """The face size the network was trained at: ``--face-size`` in its metadata (it
        trained on ``--crop`` windows of faces that size), or ``--crop`` for exports made
        before windows, when a training sample was the whole face."""
        training = self.meta.get("training") or {}
        size = (training.get("data") or {}).get("face_size") or training.get("crop") or NET_SIZE
        factor = 2**self.model.cfg.n_up
        return max(factor, int(size) // factor * factor)

    def enhance_crop(self, crop: np.ndarray, restore_fn: RestoreFn | None = None) -> np.ndarray:
        import torch

        size, net = crop.shape[0], self.net_size
        small = crop if size == net else cv2.resize(crop, (net, net), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(np.ascontiguousarray(small.transpose(2, 0, 1)))[None] * 2 - 1
        with torch.inference_mode():
            y = self.model(self.to_device(x)).float().cpu()[0]
        out = ((y.numpy().transpose(1, 2, 0) + 1) / 2).astype(np.float32)
        if size == net:
            return np.clip(out, 0, 1)
        change = cv2.resize(out - small, (size, size), interpolation=cv2.INTER_CUBIC)
        return np.clip(crop + change, 0, 1)
