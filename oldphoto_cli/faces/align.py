"""Face geometry: align a face to a canonical square crop and paste a changed crop back.

A similarity transform ``M`` (2x3, image -> crop) maps the two eye centres (or, without
eyes, points derived from the detection box) onto fixed template positions of a square
crop. The inverse ``M_inv`` puts the crop back exactly; only the *change* made to the crop
is warped back, so an unchanged crop leaves the image unchanged and faces never shift.
Pixels outside the feathered elliptical face mask are bit-identical to the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from oldphoto_cli.contract import Face

CROP_SIZE = 256
# Eye centres in a unit crop (x, y): the whole face (forehead to chin) fits with a margin.
EYE_TEMPLATE = np.array([[0.37, 0.42], [0.63, 0.42]], np.float64)
# Five landmarks (eyes, nose tip, mouth corners) of the common 112 px ArcFace template,
# moved by the similarity that puts its eyes on ``EYE_TEMPLATE``: the same canonical crop,
# with nose and mouth where an average face has them.
_ARCFACE_5 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
     [70.7299, 92.2041]], np.float64,
) / 112.0  # fmt: skip
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
    """Exact 2-point (least-squares n-point) similarity ``src -> dst`` as a 2x3 matrix."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    # z -> a z + b in complex form; least squares: a = <s - s_mean, d - d_mean> / |s - s_mean|^2
    # (for two points exactly (d1 - d0) / (s1 - s0)).
    s = src[:, 0] + 1j * src[:, 1]
    d = dst[:, 0] + 1j * dst[:, 1]
    s_mean, d_mean = s.mean(), d.mean()
    a = np.sum(np.conj(s - s_mean) * (d - d_mean)) / np.sum(np.abs(s - s_mean) ** 2)
    b = d_mean - a * s_mean
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], np.float64)


LANDMARK_TEMPLATE = cv2.transform(
    _ARCFACE_5[None], similarity_from_points(_ARCFACE_5[:2], EYE_TEMPLATE)
)[0]


def face_points(face: Face) -> tuple[np.ndarray, np.ndarray]:
    """(points in the image, their template positions in a unit crop): the 5 landmarks
    when the detector gave them, else the two eyes (detected or estimated from the box)."""
    marks = face.landmarks
    if marks is not None and np.shape(marks) == (5, 2) and np.all(np.isfinite(marks)):
        return np.asarray(marks, np.float64), LANDMARK_TEMPLATE
    return face_eye_points(face), EYE_TEMPLATE


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


def native_crop_size(face: Face, multiple: int = 8, min_size: int = 64,
                     max_size: int = 1024) -> int:  # fmt: skip
    """The crop side at which the aligned face keeps the photo's own scale (one crop pixel
    per image pixel), rounded up to ``multiple`` and kept within ``min_size..max_size``: a
    restorer trained at the scale of photos sees grain and scratches as they are, not
    enlarged."""
    eyes = face_eye_points(face)
    eye_distance = float(np.linalg.norm(eyes[1] - eyes[0]))
    side = eye_distance / (EYE_TEMPLATE[1, 0] - EYE_TEMPLATE[0, 0])
    side = int(np.ceil(side / multiple)) * multiple
    return int(min(max_size, max(min_size, side)))


def align_face(rgb: np.ndarray, face: Face, size: int = CROP_SIZE) -> AlignedFace:
    """Warp the face to a canonical ``size`` x ``size`` crop (eyes on ``EYE_TEMPLATE``; with
    5 landmarks, the least-squares fit of all five to ``LANDMARK_TEMPLATE``)."""
    points, template = face_points(face)
    matrix = similarity_from_points(points, template * size)
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


def face_mask(size: int, feather: float = 0.08, shrink: float = 1.0) -> np.ndarray:
    """Feathered ellipse in crop space (1 inside the face, 0 well inside the crop border);
    ``shrink`` < 1 gives a smaller concentric ellipse."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    cx = size * (EYE_TEMPLATE[:, 0].mean())
    cy = size * 0.52
    rx, ry = 0.34 * size * shrink, 0.44 * size * shrink
    r = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
    # 1 for r <= 1 - feather, cosine ramp to 0 at r = 1 (smooth, no visible seam).
    t = np.clip((r - (1 - feather)) / feather, 0, 1)
    return (0.5 + 0.5 * np.cos(np.pi * t)).astype(np.float32) * (r < 1)


def crop_window_mask(size: int, feather: float = 0.12) -> np.ndarray:
    """The whole crop, feathered to 0 at its border (a cosine ramp over ``feather`` of the
    side): for an enhancer whose crop is restored as well as the face (hair, collar)."""
    ramp = np.clip((np.arange(size, dtype=np.float32) + 0.5) / (feather * size), 0, 1)
    ramp = np.minimum(ramp, ramp[::-1])
    edge = 0.5 - 0.5 * np.cos(np.pi * ramp)
    return np.outer(edge, edge).astype(np.float32)


def paste_face(
    image: np.ndarray,
    aligned: AlignedFace,
    restored: np.ndarray,
    mask: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Blend ``restored`` (crop space) into ``image``; returns (image, alpha in image space).

    Only the change ``restored - aligned.crop`` is warped back, weighted by the feathered
    mask, so unchanged crops and every pixel where the mask is 0 stay bit-identical. It is
    warped into the face's bounding box only (memory per face, not per photo); ``out`` (may
    be ``image`` itself) receives the result in place, else a copy of ``image`` does. The
    alpha is zero outside that box (its pages are never touched there).
    """
    height, width = image.shape[:2]
    mask = face_mask(aligned.size) if mask is None else mask
    delta = (restored.astype(np.float32) - aligned.crop) * mask[..., None]
    packed = np.dstack([delta, mask]).astype(np.float32)
    size = aligned.size
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    mapped = corners @ np.asarray(aligned.inverse, np.float64).T
    x0, y0 = (max(0, int(np.floor(v)) - 2) for v in mapped.min(axis=0))
    x1 = min(width, int(np.ceil(mapped[:, 0].max())) + 2)
    y1 = min(height, int(np.ceil(mapped[:, 1].max())) + 2)
    out = image.copy() if out is None else out
    alpha = np.zeros((height, width), np.float32)
    if x1 <= x0 or y1 <= y0:
        return out, alpha
    shifted = np.asarray(aligned.inverse, np.float64).copy()
    shifted[:, 2] -= (x0, y0)
    back = cv2.warpAffine(
        packed,
        shifted,
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    alpha[y0:y1, x0:x1] = back[..., 3]
    inside = back[..., 3] > 0
    box = out[y0:y1, x0:x1]
    box[inside] = np.clip(image[y0:y1, x0:x1][inside] + back[..., :3][inside], 0, 1)
    return out, alpha
