"""The built-in face detector ``haar``: OpenCV Haar cascades verified by eyes."""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.contract import Face, FaceDetector


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / max(aw * ah + bw * bh - inter, 1e-9)


def _overlap_small(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box (catches a box nested in another)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return iw * ih / max(min(aw * ah, bw * bh), 1e-9)


def to_gray_u8(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb.astype(np.float32) * 255), 0, 255).astype(np.uint8)
    return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb[..., :3], cv2.COLOR_RGB2GRAY)


class HaarFaceDetector(FaceDetector):
    """OpenCV Haar cascades: frontal (default + alt2) and profile faces, verified by eyes.

    - Small images (long side < ``min_side``) are upsampled, and so are all images when
      ``min_face`` is below the cascade's 24 px window; detection runs on a contrast-equalised (CLAHE) grey image.
    - Frontal detections come from ``haarcascade_frontalface_default`` and ``_alt2``;
      profile faces from ``haarcascade_profileface`` on the image and its mirror.
    - Score: number of cascade neighbours (how many overlapping windows agreed), plus a
      bonus when the ``alt2`` cascade agrees and when two eyes are found in the upper half.
    - A face needs two eyes inside it (the eye cascades, level and apart) and
      ``score >= min_score``; without eyes only a strong detection, ``score >=
      min_score_without_eyes``, is kept. Eyeless detections scoring 12-27 were the dresses,
      arms, floors and shop windows taken for faces (15 of them on 23 ``real_old`` photos,
      none confirmed by YuNet; benchmarks/RESULTS.md).
    """

    name = "haar"
    takes_uint8 = True  # an 8-bit photo goes to grey without a float copy

    def __init__(
        self,
        min_face: int = 24,
        min_score: float = 12.0,
        min_score_without_eyes: float = 28.0,
        profile: bool = True,
        min_side: int = 480,
        max_side: int = 1600,
    ) -> None:
        cv2.setNumThreads(1)
        root = cv2.data.haarcascades
        self.frontal = cv2.CascadeClassifier(root + "haarcascade_frontalface_default.xml")
        self.frontal_alt = cv2.CascadeClassifier(root + "haarcascade_frontalface_alt2.xml")
        self.profile = cv2.CascadeClassifier(root + "haarcascade_profileface.xml")
        self.eye = cv2.CascadeClassifier(root + "haarcascade_eye.xml")
        self.eye_glasses = cv2.CascadeClassifier(root + "haarcascade_eye_tree_eyeglasses.xml")
        self.min_face = int(min_face)
        self.min_score = float(min_score)
        self.min_score_without_eyes = float(min_score_without_eyes)
        self.use_profile = profile
        self.min_side = int(min_side)
        self.max_side = int(max_side)

    def _scale_for(self, shape: tuple[int, ...]) -> float:
        """Upsample so ``min_face`` px faces reach the 24 px cascade window and small images
        reach ``min_side`` px; downsample beyond ``max_side`` (speed)."""
        longest = max(shape[:2])
        scale = max(1.0, 24.0 / max(self.min_face, 1), self.min_side / longest)
        return min(scale, self.max_side / longest)

    def _find_eyes(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        x, y, w, h = box
        top = gray[y + int(0.15 * h) : y + int(0.6 * h), x : x + w]
        if top.size == 0:
            return None
        min_eye = max(5, int(w * 0.12))
        max_eye = max(min_eye + 1, int(w * 0.4))
        candidates: list[tuple[float, float, float]] = []
        for cascade in (self.eye, self.eye_glasses):
            found = cascade.detectMultiScale(
                top, 1.1, 3, minSize=(min_eye, min_eye), maxSize=(max_eye, max_eye)
            )
            for ex, ey, ew, eh in found:
                candidates.append((x + ex + ew / 2, y + int(0.15 * h) + ey + eh / 2, ew))
            if len(candidates) >= 2:
                break
        left = [c for c in candidates if c[0] < x + 0.5 * w]
        right = [c for c in candidates if c[0] >= x + 0.5 * w]
        if not left or not right:
            return None
        # The eye pair most nearly level and symmetric about the box centre.
        best, best_cost = None, np.inf
        for lx, ly, _ in left:
            for rx, ry, _ in right:
                distance = rx - lx
                if not 0.25 * w <= distance <= 0.75 * w:
                    continue
                cost = abs(ry - ly) / distance + abs((lx + rx) / 2 - (x + w / 2)) / w
                if cost < best_cost:
                    best, best_cost = np.array([[lx, ly], [rx, ry]], np.float64), cost
        if best is None or best_cost > 0.4:
            return None
        return best

    def __call__(self, rgb: np.ndarray) -> list[Face]:
        gray = to_gray_u8(rgb)
        scale = self._scale_for(gray.shape)
        if scale != 1.0:
            interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=interp)
        gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
        min_size = max(20, int(round(self.min_face * scale)))
        raw: list[tuple[tuple[float, ...], float, str]] = []
        boxes, counts = self.frontal.detectMultiScale2(
            gray, scaleFactor=1.1, minNeighbors=3, minSize=(min_size, min_size)
        )
        raw += [
            (tuple(map(float, b)), float(n), "frontal") for b, n in zip(boxes, counts, strict=True)
        ]
        alt_boxes, alt_counts = self.frontal_alt.detectMultiScale2(
            gray, scaleFactor=1.1, minNeighbors=3, minSize=(min_size, min_size)
        )
        alt = [(tuple(map(float, b)), float(n)) for b, n in zip(alt_boxes, alt_counts, strict=True)]
        if self.use_profile:
            width = gray.shape[1]
            for mirrored in (False, True):
                image = gray[:, ::-1] if mirrored else gray
                boxes, counts = self.profile.detectMultiScale2(
                    np.ascontiguousarray(image), 1.1, 4, minSize=(min_size, min_size)
                )
                for (bx, by, bw, bh), n in zip(boxes, counts, strict=True):
                    if mirrored:
                        bx = width - bx - bw
                    raw.append(((float(bx), float(by), float(bw), float(bh)), float(n), "profile"))
        # Alt2 detections not matched by the default cascade are candidates too.
        for box, n in alt:
            if not any(_iou(box, r[0]) > 0.4 for r in raw if r[2] == "frontal"):
                raw.append((box, n, "frontal"))

        faces: list[Face] = []
        for box, neighbours, kind in raw:
            score = neighbours
            if kind == "frontal":
                agree = [n for b, n in alt if _iou(box, b) > 0.4]
                score += min(max(agree), 20.0) if agree else 0.0
            else:
                score *= 0.7  # the profile cascade fires more easily
            ibox = tuple(int(round(v)) for v in box)
            eyes = self._find_eyes(gray, ibox) if kind == "frontal" else None
            if eyes is not None:
                score += 10.0
            faces.append(
                Face(
                    box=tuple(v / scale for v in box),
                    score=float(score),
                    eyes=None if eyes is None else eyes / scale,
                    kind=kind,
                    extra={"neighbours": neighbours},
                )
            )
        faces = [f for f in faces if f.score >= (self.min_score if f.eyes is not None
                                                 else self.min_score_without_eyes)]  # fmt: skip
        # Non-maximum suppression, preferring higher scores (frontal wins ties).
        faces.sort(key=lambda f: (f.score, f.kind == "frontal"), reverse=True)
        kept: list[Face] = []
        for face in faces:
            if all(
                _iou(face.box, k.box) < 0.3 and _overlap_small(face.box, k.box) < 0.6 for k in kept
            ):
                kept.append(face)
        return kept
