"""Face enhancement: detect -> align -> restore crop -> colour match -> paste back.

``FaceEnhancer`` does everything but the crop restoration itself; subclasses implement
``enhance_crop(crop, restore_fn) -> crop``. The default stage ``general`` runs the general
restoration pipeline (``restore_fn``) on the upsampled, aligned crop; a dedicated face
network stage only needs to subclass ``FaceEnhancer`` and override ``enhance_crop``.

Geometry: a similarity transform ``M`` (2x3, image -> crop) maps the two eye centres
(or, without eyes, points derived from the detection box) onto fixed template positions of
a square crop. The inverse ``M_inv`` puts the crop back exactly; only the *change* made to
the crop is warped back, so an unchanged crop leaves the image unchanged and faces never
shift. Pixels outside the feathered elliptical face mask are bit-identical to the input.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from oldphoto_cli.face_detect import Face, get_face_detector

CROP_SIZE = 256
# Eye centres in a unit crop (x, y): the whole face (forehead to chin) fits with a margin.
EYE_TEMPLATE = np.array([[0.37, 0.42], [0.63, 0.42]], np.float64)
# Eye centres relative to a Haar frontal box (x, y as fractions of w, h).
BOX_EYES = np.array([[0.31, 0.38], [0.69, 0.38]], np.float64)


@dataclass
class AlignedFace:
    crop: np.ndarray  # size x size x 3 float32
    matrix: np.ndarray  # 2x3 image -> crop
    inverse: np.ndarray  # 2x3 crop -> image
    size: int
    face: Face

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return float(np.hypot(self.matrix[0, 0], self.matrix[1, 0]))


def similarity_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Exact 2-point (or least-squares n-point) similarity ``src -> dst`` as a 2x3 matrix."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if len(src) > 2:
        matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
        if matrix is not None:
            return matrix
    # z -> a z + b in complex form: a = (d1 - d0) / (s1 - s0).
    s = src[:, 0] + 1j * src[:, 1]
    d = dst[:, 0] + 1j * dst[:, 1]
    a = (d[1] - d[0]) / (s[1] - s[0])
    b = d[0] - a * s[0]
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], np.float64)


def face_eye_points(face: Face) -> np.ndarray:
    """Eye centres of a face: detected, else estimated from its box."""
    if face.eyes is not None:
        return np.asarray(face.eyes, np.float64)
    x, y, w, h = face.box
    return np.array([x, y]) + BOX_EYES * np.array([w, h])


def crop_size_for(face: Face, base: int = CROP_SIZE, max_size: int = 1024) -> int:
    """``base``, or a larger multiple of 64 when the face would otherwise be downsampled."""
    eyes = face_eye_points(face)
    eye_distance = float(np.linalg.norm(eyes[1] - eyes[0]))
    template_distance = (EYE_TEMPLATE[1, 0] - EYE_TEMPLATE[0, 0]) * base
    if eye_distance <= template_distance:
        return base
    needed = base * eye_distance / template_distance
    return int(min(max_size, int(np.ceil(needed / 64)) * 64))


def align_face(rgb: np.ndarray, face: Face, size: int = CROP_SIZE) -> AlignedFace:
    """Warp the face to a canonical ``size`` x ``size`` crop (eyes on ``EYE_TEMPLATE``)."""
    matrix = similarity_from_points(face_eye_points(face), EYE_TEMPLATE * size)
    inverse = cv2.invertAffineTransform(matrix)
    crop = warp(rgb, matrix, (size, size))
    return AlignedFace(crop, matrix, inverse, size, face)


def warp(image: np.ndarray, matrix: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Bilinear affine warp (OpenCV pixel-centre convention, same as the inverse paste)."""
    return cv2.warpAffine(
        np.ascontiguousarray(image, dtype=np.float32),
        matrix,
        size_wh,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT101,
    )


def face_mask(size: int, feather: float = 0.08) -> np.ndarray:
    """Feathered ellipse in crop space (1 inside the face, 0 well inside the crop border)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    cx = size * (EYE_TEMPLATE[:, 0].mean())
    cy = size * 0.52
    rx, ry = 0.34 * size, 0.44 * size
    r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    # 1 for r <= 1 - feather, cosine ramp to 0 at r = 1 (smooth, no visible seam).
    t = np.clip((r - (1 - feather)) / feather, 0, 1)
    return (0.5 + 0.5 * np.cos(np.pi * t)).astype(np.float32) * (r < 1)


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


def paste_face(
    image: np.ndarray, aligned: AlignedFace, restored: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Blend ``restored`` (crop space) into ``image``; returns (image, alpha in image space).

    Only the change ``restored - aligned.crop`` is warped back, weighted by the feathered
    mask, so unchanged crops and every pixel where the mask is 0 stay bit-identical.
    """
    height, width = image.shape[:2]
    mask = face_mask(aligned.size) if mask is None else mask
    delta = (restored.astype(np.float32) - aligned.crop) * mask[..., None]
    packed = np.dstack([delta, mask]).astype(np.float32)
    back = cv2.warpAffine(
        packed,
        aligned.inverse,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    alpha = back[..., 3]
    inside = alpha > 0
    out = image.copy()
    out[inside] = np.clip(image[inside] + back[..., :3][inside], 0, 1)
    return out, alpha


def _save_png(path: str, rgb: np.ndarray) -> None:
    u8 = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    cv2.imwrite(path, cv2.cvtColor(u8, cv2.COLOR_RGB2BGR))


RestoreFn = Callable[[np.ndarray], np.ndarray]


class FaceEnhancer:
    """Base ``face_enhance`` stage: ``stage(rgb, restore_fn) -> (rgb, info)``.

    Options: ``only_center_face`` (enhance only the face nearest the image centre),
    ``save_faces_dir`` (write ``face_XX_before.png`` / ``face_XX_after.png`` aligned crops),
    ``face_detector`` (registered detector name, None: default) and detector options such
    as ``min_face``; ``crop_size`` (canonical crop, 256) and ``color_match``.
    """

    kind = "face_enhance"
    name = "base"

    def __init__(
        self,
        device: Any = None,
        only_center_face: bool = False,
        save_faces_dir: str | None = None,
        face_detector: str | None = None,
        min_face: int = 24,
        crop_size: int = CROP_SIZE,
        adaptive_size: bool = True,
        color_match: bool = True,
        detector: Callable[[np.ndarray], list[Face]] | None = None,
        **_: Any,
    ) -> None:
        self.device = device
        self.only_center_face = only_center_face
        self.save_faces_dir = save_faces_dir
        self.crop_size = int(crop_size)
        self.adaptive_size = adaptive_size
        self.color_match = color_match
        self.detector = detector or get_face_detector(face_detector, min_face=min_face)

    def enhance_crop(self, crop: np.ndarray, restore_fn: RestoreFn | None) -> np.ndarray:
        raise NotImplementedError

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
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Enhance the faces of ``rgb``; ``faces`` already found (same geometry) skip the search.

        ``name`` (the image's relative path without extension, ``sub/photo``) names saved
        crops ``<save_faces_dir>/sub/photo_face_00_before.png``, so images never share one.
        """
        rgb = np.asarray(rgb, np.float32)
        faces = self.select(self.detector(rgb) if faces is None else faces, rgb.shape)
        out = rgb.copy()
        records = []
        prefix = os.path.join(self.save_faces_dir or "", f"{name}_face" if name else "face")
        if self.save_faces_dir and faces:
            os.makedirs(os.path.dirname(prefix), exist_ok=True)
        for index, face in enumerate(faces):
            size = crop_size_for(face, self.crop_size) if self.adaptive_size else self.crop_size
            aligned = align_face(out, face, size)
            mask = face_mask(size)
            restored = np.asarray(self.enhance_crop(aligned.crop, restore_fn), np.float32)
            if restored.shape != aligned.crop.shape:
                restored = cv2.resize(restored, (size, size), interpolation=cv2.INTER_CUBIC)
            if self.color_match:
                restored = match_color(restored, aligned.crop, mask)
            out, _ = paste_face(out, aligned, restored, mask)
            if self.save_faces_dir:
                stem = f"{prefix}_{index:02d}"
                _save_png(stem + "_before.png", aligned.crop)
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


class GeneralFaceEnhancer(FaceEnhancer):
    """Default: the general restoration pipeline on the upsampled aligned crop."""

    name = "general"

    def enhance_crop(self, crop: np.ndarray, restore_fn: RestoreFn | None) -> np.ndarray:
        if restore_fn is None:
            return crop
        return restore_fn(crop)
