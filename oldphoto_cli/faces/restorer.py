"""The ``restorer`` face enhancer: the image-space restorer, trained on faces, on each face of
the *input* photo.

The general ``restorer`` translator (:mod:`oldphoto_cli.stages.restorer`) is a residual
over Telea + NL-means for any photo; this one is the same network trained further on
aligned face portraits (``oldphoto train face-restorer``), so it knows what skin, eyes and
hair look like under grain and scratches. It restores each face from the input photo
(``wants_source``: not from the general restoration, whose smoothing it would otherwise
have to undo), given the damage mask restore used, at the photo's own scale
(:func:`oldphoto_cli.faces.align.native_crop_size`: grain is not enlarged), and the
result is harmonised and pasted into the general restoration like every aligned enhancer.
Trained on synthetic faces, smoother than real skin, the network softens beards and lined
skin: the photo's fine texture is put back as the ``face`` stage does
(:func:`oldphoto_cli.faces.network.keep_photo_detail`, ``fidelity``, default 1), while the
specks it repaired stay repaired.

Weights ``face_restorer.safetensors``: trained on research-use synthetic faces, so shipped
beside the face network in the plugin package ``oldphoto-face-weights``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oldphoto_cli.contract import Face, RestoreFn
from oldphoto_cli.faces.align import crop_window_mask, native_crop_size
from oldphoto_cli.faces.enhance import AlignedFaceEnhancer
from oldphoto_cli.faces.network import keep_photo_detail
from oldphoto_cli.stages.restorer import ImageRestorer

FACE_RESTORER_WEIGHTS = "face_restorer"
DEFAULT_FIDELITY = 1.0


class FaceRestorerNet(ImageRestorer):
    """The restorer translator with the face-trained weights (not registered on its own)."""

    name, weights_name = "face-restorer-net", FACE_RESTORER_WEIGHTS


class FaceRestorerEnhancer(AlignedFaceEnhancer):
    """Aligned crops of the input, at its own scale -> the face-trained restorer."""

    name = "restorer"
    wants_source = True

    def __init__(self, device: Any = "cpu", weights_dir: str | None = None, fp16: bool = False,
                 compile: bool = False, fidelity: float = DEFAULT_FIDELITY,
                 **options: Any) -> None:  # fmt: skip
        if not 0 <= fidelity <= 1:
            raise ValueError(f"fidelity must be in [0, 1], got {fidelity}")
        super().__init__(device, weights_dir, fp16, compile, **options)
        self.fidelity = float(fidelity)
        self.network = FaceRestorerNet(device, weights_dir, fp16, compile)

    def blend_mask(self, size: int) -> np.ndarray:
        # the network restores hair, collar and background as well as it does the rest of
        # the photo (it is the general restorer, specialised): the whole crop goes in
        return crop_window_mask(size)

    def crop_size_of(self, face: Face) -> int:
        return native_crop_size(face, multiple=self.network.multiple)

    def enhance_source(self, crop: np.ndarray, mask: np.ndarray | None,
                       restore_fn: RestoreFn | None = None) -> np.ndarray:  # fmt: skip
        return self._keep_detail(self.network(crop, mask), crop)

    def enhance_crop(self, crop: np.ndarray, restore_fn: RestoreFn | None = None) -> np.ndarray:
        """Without the input (outside restore): the crop as the only evidence, no mask."""
        return self._keep_detail(self.network(crop, None), crop)

    def _keep_detail(self, restored: np.ndarray, crop: np.ndarray) -> np.ndarray:
        if self.fidelity <= 0:
            return restored
        return keep_photo_detail(np.clip(restored, 0, 1), crop, self.fidelity)
