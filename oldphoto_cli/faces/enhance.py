"""Face enhancement: detect -> align -> restore crop -> colour match -> paste back.

:class:`AlignedFaceEnhancer` does everything but the crop restoration itself; subclasses
implement ``enhance_crop(crop, restore_fn) -> crop``. The default stage ``general`` runs
the general restoration pipeline (``restore_fn``) on the upsampled, aligned crop; a
dedicated face network only needs to subclass ``AlignedFaceEnhancer`` and override
``enhance_crop``. Geometry is :mod:`oldphoto_cli.faces.align`.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from typing import Any

import cv2
import numpy as np

from oldphoto_cli.contract import Face, FaceDetector, FaceEnhancer, RestoreFn
from oldphoto_cli.faces import get_face_detector
from oldphoto_cli.faces.align import (
    CROP_SIZE,
    AlignedFace,
    align_face,
    crop_size_for,
    face_mask,
    paste_face,
    warp,
)


def match_color(source: np.ndarray, reference: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Shift ``source`` to the Lab mean/std of ``reference`` (statistics weighted by mask)."""
    src_lab = cv2.cvtColor(np.clip(source, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    ref_lab = cv2.cvtColor(np.clip(reference, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    w = weight[..., None].astype(np.float64)
    total = max(float(w.sum()), 1e-6)
    src_mean = (src_lab * w).sum((0, 1)) / total
    ref_mean = (ref_lab * w).sum((0, 1)) / total
    src_std = np.sqrt(((src_lab - src_mean) ** 2 * w).sum((0, 1)) / total)
    ref_std = np.sqrt(((ref_lab - ref_mean) ** 2 * w).sum((0, 1)) / total)
    gain = np.clip(ref_std / np.maximum(src_std, 1e-3), 0.5, 2.0)
    # Near-identical statistics: return the source untouched (no float noise).
    if np.allclose(src_mean, ref_mean, atol=1e-4) and np.allclose(gain, 1.0, atol=1e-4):
        return source.astype(np.float32)
    out = (src_lab - src_mean) * gain + ref_mean
    return np.clip(cv2.cvtColor(out.astype(np.float32), cv2.COLOR_Lab2RGB), 0, 1)


MONO_CHROMA_STD = 4.0  # Lab a/b spread below which a crop counts as monochrome (toned)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.float32)


def _match_gray(source: np.ndarray, reference: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Mean/std of one channel matched (weighted), as :func:`match_color` does in Lab."""
    w = weight.astype(np.float64)
    total = max(float(w.sum()), 1e-6)
    s_mean, r_mean = (source * w).sum() / total, (reference * w).sum() / total
    s_std = np.sqrt(((source - s_mean) ** 2 * w).sum() / total)
    r_std = np.sqrt(((reference - r_mean) ** 2 * w).sum() / total)
    gain = float(np.clip(r_std / max(s_std, 1e-4), 0.5, 2.0))
    return ((source - s_mean) * gain + r_mean).astype(np.float32)


def harmonize(restored: np.ndarray, crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Make a restored face crop sit naturally in the photo it came from.

    1. Colour and tone: Lab mean/std of ``restored`` matched to ``crop`` over the face mask.
       A grey crop (R = G = B) gives a grey result (its luminance, matched); a toned
       monochrome one (sepia, cyanotype: little spread in Lab a/b) keeps the photo's own
       chroma (``crop``'s a/b, smoothed) under the restored lightness.
    2. No halo: towards the feathered edge, the low frequencies (Gaussian, sigma size/40) of
       the result are pulled to those of ``crop``, so the paste-back ramp blends two images
       of the same local brightness and colour, while the face's core keeps the restoration.

    An unchanged crop comes back unchanged (bit for bit).
    """
    restored = np.asarray(restored, np.float32)
    crop = np.asarray(crop, np.float32)
    if np.array_equal(restored, crop):
        return restored
    size = crop.shape[0]
    weight = mask > 0.5
    if np.abs(crop - crop[..., :1]).max() < 0.5 / 255:  # grey photo
        gray = _match_gray(_gray(restored), crop[..., 0], weight)
        out = np.repeat(gray[..., None], 3, axis=2)
    else:
        out = match_color(restored, crop, weight.astype(np.float32))
        crop_lab = cv2.cvtColor(np.clip(crop, 0, 1), cv2.COLOR_RGB2Lab)
        if crop_lab[..., 1:][weight].std(0).max() < MONO_CHROMA_STD:  # toned monochrome
            out_lab = cv2.cvtColor(np.clip(out, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
            sigma = max(1.0, size / 64)
            for channel in (1, 2):
                out_lab[..., channel] = cv2.GaussianBlur(crop_lab[..., channel], (0, 0), sigma)
            out = cv2.cvtColor(out_lab, cv2.COLOR_Lab2RGB)
    # Low-frequency correction in the ring between the face core and the paste's edge.
    sigma = max(1.0, size / 40)
    ring = 1.0 - face_mask(size, feather=0.25, shrink=0.92)
    low_crop = cv2.GaussianBlur(crop, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    low_out = cv2.GaussianBlur(out, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    out = out + ring[..., None] * (low_crop - low_out)
    return np.clip(out, 0, 1).astype(np.float32)


def aligned_source(source: np.ndarray, aligned: AlignedFace) -> np.ndarray:
    """``source`` (HxWx3 uint8, or float32 in [0, 1]) warped to ``aligned``'s crop, float32."""
    crop = warp(source, aligned.matrix, (aligned.size, aligned.size))
    return crop / np.float32(255) if source.dtype == np.uint8 else crop


def aligned_mask(mask: np.ndarray, aligned: AlignedFace) -> np.ndarray:
    """A damage mask (HxW {0, 1}) warped to ``aligned``'s crop: uint8 {0, 1}, a pixel marked
    where it is at least a quarter covered (a 1 px line stays a line when enlarged or
    shrunk)."""
    crop = warp(np.asarray(mask, np.float32), aligned.matrix, (aligned.size, aligned.size))
    return (crop >= 0.25).astype(np.uint8)


def _save_png(path: str, rgb: np.ndarray) -> None:
    u8 = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    cv2.imwrite(path, cv2.cvtColor(u8, cv2.COLOR_RGB2BGR))


class AlignedFaceEnhancer(FaceEnhancer):
    """Base ``face_enhance`` stage: ``stage(rgb, restore_fn, faces) -> (rgb, info)``.

    Options: ``only_center_face`` (enhance only the face nearest the image centre),
    ``save_faces_dir`` (write ``face_XX_before.png`` / ``face_XX_after.png`` aligned crops),
    ``face_detector`` (registered detector name, None: default) and detector options such
    as ``min_face``; ``crop_size`` (canonical crop, 256) and ``color_match`` (:func:`harmonize`: colour,
    tone and edges matched to the photo).
    """

    def __init__(
        self,
        device: Any = None,
        weights_dir: str | None = None,
        fp16: bool = False,
        compile: bool = False,
        only_center_face: bool = False,
        save_faces_dir: str | None = None,
        face_detector: str | None = None,
        min_face: int = 24,
        crop_size: int = CROP_SIZE,
        adaptive_size: bool = True,
        color_match: bool = True,
        detector: FaceDetector | None = None,
    ) -> None:
        super().__init__(device, weights_dir, fp16, compile)
        self.only_center_face = only_center_face
        self.save_faces_dir = save_faces_dir
        self.crop_size = int(crop_size)
        self.adaptive_size = adaptive_size
        self.color_match = color_match
        self.detector = detector or get_face_detector(face_detector, min_face=min_face)

    @abstractmethod
    def enhance_crop(self, crop: np.ndarray, restore_fn: RestoreFn | None) -> np.ndarray:
        """The aligned crop (size x size x 3 float32 in [0, 1]) restored; ``restore_fn``
        restores any crop with the general pipeline (None outside a pipeline)."""

    def enhance_source(self, crop: np.ndarray, mask: np.ndarray | None,
                       restore_fn: RestoreFn | None) -> np.ndarray:  # fmt: skip
        """With ``wants_source``: the aligned crop of the *input* photo restored, given the
        damage mask aligned with it (size x size uint8 {0, 1}, or None)."""
        raise NotImplementedError(f"{type(self).__name__} declares wants_source without "
                                  "enhance_source")  # fmt: skip

    def blend_mask(self, size: int) -> np.ndarray:
        """Where the restored crop replaces the photo (size x size in [0, 1], feathered):
        the face's ellipse (:func:`face_mask`)."""
        return face_mask(size)

    def crop_size_of(self, face: Face) -> int:
        """The side of the aligned crop for ``face`` (``crop_size``, larger for a large face
        when ``adaptive_size``)."""
        return crop_size_for(face, self.crop_size) if self.adaptive_size else self.crop_size

    def select(self, faces: list[Face], shape: tuple[int, ...]) -> list[Face]:
        if not self.only_center_face or len(faces) <= 1:
            return faces
        cy, cx = shape[0] / 2, shape[1] / 2
        return [min(faces, key=lambda f: np.hypot(f.center[0] - cx, f.center[1] - cy))]

    def __call__(
        self,
        rgb: np.ndarray,
        restore_fn: RestoreFn | None = None,
        faces: list[Face] | None = None,
        name: str | None = None,
        source: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Enhance the faces of ``rgb``; ``faces`` already found (same geometry) skip the search.

        ``name`` (the image's relative path without extension, ``sub/photo``) names saved
        crops ``<save_faces_dir>/sub/photo_face_00_before.png``, so images never share one.
        ``source`` and ``mask`` (the input photo and its damage mask, same geometry): with
        ``wants_source`` each face is restored from the input (:meth:`enhance_source`) and
        pasted into ``rgb``.
        """
        rgb = np.asarray(rgb, np.float32)
        faces = self.select(self.detector(rgb) if faces is None else faces, rgb.shape)
        out = rgb.copy()
        records = []
        prefix = os.path.join(self.save_faces_dir or "", f"{name}_face" if name else "face")
        if self.save_faces_dir and faces:
            os.makedirs(os.path.dirname(prefix), exist_ok=True)
        for index, face in enumerate(faces):
            size = self.crop_size_of(face)
            aligned = align_face(out, face, size)
            blend = self.blend_mask(size)
            if self.wants_source and source is not None:
                before = aligned_source(source, aligned)
                damage = None if mask is None else aligned_mask(mask, aligned)
                restored = self.enhance_source(before, damage, restore_fn)
            else:
                before = aligned.crop
                restored = self.enhance_crop(aligned.crop, restore_fn)
            restored = np.asarray(restored, np.float32)
            if restored.shape != aligned.crop.shape:
                restored = cv2.resize(restored, (size, size), interpolation=cv2.INTER_CUBIC)
            if self.color_match:
                restored = harmonize(restored, aligned.crop, blend)
            paste_face(out, aligned, restored, blend, out=out)  # in place: no copy per face
            if self.save_faces_dir:
                stem = f"{prefix}_{index:02d}"
                _save_png(stem + "_before.png", before)
                _save_png(stem + "_after.png", restored)
            records.append(
                {
                    "box": [round(float(v), 1) for v in face.box],
                    "score": round(face.score, 1),
                    "kind": face.kind,
                    "eyes": face.eyes is not None,
                    "crop": size,
                }
            )
        return out, {"faces": len(faces), "face_boxes": records, "face_enhancer": self.name}


class GeneralFaceEnhancer(AlignedFaceEnhancer):
    """Default: the general restoration pipeline on the upsampled aligned crop."""

    name = "general"

    def enhance_crop(self, crop: np.ndarray, restore_fn: RestoreFn | None) -> np.ndarray:
        if restore_fn is None:
            return crop
        return restore_fn(crop)
