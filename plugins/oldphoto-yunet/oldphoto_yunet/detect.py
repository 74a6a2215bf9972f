"""YuNet face detector: ``yuface.detect`` on a resized BGR uint8 image, 5 landmarks per face."""

from __future__ import annotations

import cv2
import numpy as np
import yuface

from oldphoto_cli import Face, FaceDetector


def _to_bgr_u8(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb.astype(np.float32) * 255), 0, 255).astype(np.uint8)
    if rgb.ndim == 2:
        return cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(rgb[..., 2::-1])


class YuNetFaceDetector(FaceDetector):
    """YuNet through ``yuface``: ``detector(rgb) -> list[Face]`` with ``landmarks`` (5x2:
    eye, eye, nose tip, mouth corner, mouth corner; eyes and mouth corners ordered left to
    right on the image) and ``eyes`` (the first two).

    The image is resized so its long side lies in [``min_side``, ``max_side``] (YuNet warns
    and degrades above 960 px); coordinates are mapped back to the input.
    """

    name = "yunet"
    takes_uint8 = True  # an 8-bit photo is resized without a float copy

    def __init__(
        self,
        min_face: int = 24,
        min_score: float = 0.6,
        min_side: int = 480,
        max_side: int = 960,
    ) -> None:
        self.min_face = int(min_face)
        self.min_score = float(min_score)
        self.min_side = int(min_side)
        self.max_side = int(max_side)

    def _scale_for(self, shape: tuple[int, ...]) -> float:
        longest = max(shape[:2])
        return min(max(1.0, self.min_side / longest), self.max_side / longest)

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        bgr = _to_bgr_u8(rgb)
        scale = self._scale_for(bgr.shape)
        if scale != 1.0:
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=interp)
        confs, boxes, marks = yuface.detect(np.ascontiguousarray(bgr), conf=self.min_score)
        faces: list[Face] = []
        for conf, box, mark in zip(confs, boxes, marks, strict=True):
            box = box.astype(np.float64) / scale  # int16 x, y, w, h at the resized scale
            points = mark.astype(np.float64).reshape(5, 2) / scale
            if min(box[2], box[3]) < self.min_face:
                continue
            eyes = points[:2][np.argsort(points[:2, 0])]
            mouth = points[3:5][np.argsort(points[3:5, 0])]
            landmarks = np.vstack([eyes, points[2:3], mouth])
            faces.append(
                Face(
                    box=tuple(float(v) for v in box),
                    score=float(conf) / 100.0,
                    eyes=eyes,
                    kind="frontal",
                    landmarks=landmarks,
                    extra={"detector": "yunet"},
                )
            )
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces
