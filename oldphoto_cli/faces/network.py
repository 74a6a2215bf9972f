"""The ``face`` enhancer: the face refinement network (``archs/face_arch.py``) on aligned crops.

Weights ``face.safetensors`` (trained by ``oldphoto train face`` on research-use faces:
their metadata carries the licence) are looked up like every stage's (``--weights-dir``,
``$OLDPHOTO_WEIGHTS``, the shipped folder, folders registered by plugins) and are not
shipped with oldphoto but in the plugin package ``plugins/oldphoto-face-weights``: without
it ``restore`` falls back to ``general`` with a note
(:func:`oldphoto_cli.faces.face_weights_available`).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from oldphoto_cli.archs import face_arch
from oldphoto_cli.contract import RestoreFn
from oldphoto_cli.faces import FACE_WEIGHTS
from oldphoto_cli.faces.enhance import AlignedFaceEnhancer
from oldphoto_cli.torch_stage import TorchStage

DEFAULT_FIDELITY = 1.0
NET_SIZE = 256  # the crop the network runs at when its weights do not say (training crop)

# Band edges of keep_photo_detail at the 256 px aligned crop (eyes 67 px apart); scaled with
# the crop. Fine detail (grain, pores, hair strands, wrinkles) lies above FINE_SIGMA; a
# defect (scratch, spot) is smaller than DEFECT_SIGMA; tone and shading lie below TONE_SIGMA.
FINE_SIGMA, DEFECT_SIGMA, TONE_SIGMA = 1.5, 8.0, 16.0
# A local change larger than REPAIR_LOW..HIGH (in [0, 1] units) is a repaired defect: the
# photo's own pixels there are not kept. Real grain is ~0.01 (sigma 2.9/255).
REPAIR_LOW, REPAIR_HIGH = 0.06, 0.12
# Fine detail whose local energy passes DETAIL_LOW..HIGH is noise the network removed on
# purpose, not texture: it fades out of what is kept. (0.03..0.08 and 0.05..0.15 score the
# same on synthetic faces; the wider one keeps more of a beard's strands.)
DETAIL_LOW, DETAIL_HIGH = 0.05, 0.15
# How much of the photo's tone ``fidelity`` 1 keeps. Measured on 40 held-out synthetic faces
# (benchmarks/eval_face_net.py, step-4000 network; input 18.43 dB): the network alone 22.13
# dB, texture kept 22.11, texture and all of the tone 20.56, texture and half the tone
# 21.54. The network's tone changes are right on synthetic faces and wrong on some real
# ones (a face lit half light, half dark): half is the compromise. Keeping the middle band
# where the network erased it cost nothing there (step 3250: 21.71 -> 21.70 dB).
TONE_SHARE = 0.5


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _ramp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip((x - low) / (high - low), 0, 1)


def keep_photo_detail(restored: np.ndarray, crop: np.ndarray, fidelity: float) -> np.ndarray:
    """The network's face with the photo's own fine texture, and part of its tone, put back.

    Trained on synthetic faces, the network airbrushes the skin, beards and hair of real
    ones and re-lights some (blotchy light/dark splits): a user comparing at 100 % keeps
    the input. So the result is taken band by band (``fidelity`` 1; 0 returns ``restored``):

    * fine detail (above ``FINE_SIGMA``) from the photo where its local energy is that of
      texture or grain, from the network where it is that of noise;
    * middle frequencies (features: eyes, lips, folds) from the network, except where the
      photo has more energy there than the network's output: structure the network painted
      over (wrinkles, beards, weathered skin), which the photo keeps;
    * tone (below ``TONE_SIGMA``): ``TONE_SHARE`` of it from the photo.

    "The photo" here has its repaired defects replaced by the network's pixels first
    (local changes above ``REPAIR_LOW``, feathered), so scratches and spots stay repaired.
    Both images are HxWx3 float32 in [0, 1]; sizes scale the bands from 256 px.
    """
    if fidelity <= 0:
        return restored
    scale = crop.shape[0] / NET_SIZE
    # Local change only: a defect is small, while re-lighting is smooth and is undone below.
    change = crop - restored
    local = np.abs(change - _blur(change, DEFECT_SIGMA * scale)).max(axis=2)
    local = cv2.dilate(local, np.ones((3, 3), np.uint8))
    repaired = _blur(_ramp(local, REPAIR_LOW, REPAIR_HIGH), max(0.5, scale))[..., None]
    photo = crop + repaired * (restored - crop)
    fine = lambda x: x - _blur(x, FINE_SIGMA * scale)  # noqa: E731
    lost = fine(photo) - fine(restored)
    energy = _blur(np.abs(lost).max(axis=2), 2 * scale)
    texture = (1 - _ramp(energy, DETAIL_LOW, DETAIL_HIGH))[..., None]
    out = restored + fidelity * texture * lost
    middle = lambda x: _blur(x, FINE_SIGMA * scale) - _blur(x, TONE_SIGMA * scale)  # noqa: E731
    photo_mid, out_mid = middle(photo), middle(out)
    photo_energy = _blur((photo_mid**2).sum(axis=2), 4 * scale)
    out_energy = _blur((out_mid**2).sum(axis=2), 4 * scale)
    erased = np.clip((photo_energy - out_energy) / np.maximum(photo_energy, 1e-8), 0, 1)
    out = out + fidelity * erased[..., None] * (photo_mid - out_mid)
    tone = fidelity * TONE_SHARE
    out = out + tone * (_blur(photo, TONE_SIGMA * scale) - _blur(out, TONE_SIGMA * scale))
    return np.clip(out, 0, 1).astype(np.float32)


class FaceNetEnhancer(AlignedFaceEnhancer, TorchStage):
    """Aligned crop -> face network at its training size (256 px by default); other crops
    get the network's *change* resized (their own detail stays); then the photo's tone and
    texture are kept (:func:`keep_photo_detail`, option ``fidelity``, default
    ``DEFAULT_FIDELITY``) and the usual harmonised paste-back."""

    name = "face"
    # AlignedFaceEnhancer.__init__ comes first in the MRO and takes no ``precision``:
    # the face network runs in fp32 (fp16 on CUDA with --fp16) until it does.
    supports_precision = False
    weights_name = FACE_WEIGHTS
    arch, config_cls = face_arch.ARCH, face_arch.FaceConfig
    build = staticmethod(face_arch.build)

    def __init__(self, *args: Any, fidelity: float = DEFAULT_FIDELITY, **kwargs: Any) -> None:
        if not 0 <= fidelity <= 1:
            raise ValueError(f"fidelity must be in [0, 1], got {fidelity}")
        self.fidelity = float(fidelity)
        super().__init__(*args, **kwargs)

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
            out = np.clip(out, 0, 1)
        else:
            change = cv2.resize(out - small, (size, size), interpolation=cv2.INTER_CUBIC)
            out = np.clip(crop + change, 0, 1)
        return keep_photo_detail(out, np.asarray(crop, np.float32), self.fidelity)
