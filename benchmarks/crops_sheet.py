"""1:1 crops of real old photos before and after restoration: how users judge a restorer.

    python benchmarks/crops_sheet.py [--folder ../shared/data/real_old] [--names a.jpg,...]
        [--compare OLD_WEIGHTS_DIR] [--weights-dir DIR] [--crop 160] [--out /tmp/crops.png]

Each photo (as stored, at most 1024 px) goes through the default ``restore`` pipeline
(detection on, faces off, keep-tone on: what a user gets). Per photo, two crops at 100 %
are shown: the most textured window (fabric, foliage, hair: where paint-over shows) and
the largest face found (Haar), or the second most textured window without one. Columns:
input | restored with ``--compare`` weights (e.g. the previous release) | restored now.
The default photos are the 8 held-out real old photos of the validation split plus a few
portraits and scenes, so texture, faces and damage are all represented. The sheet is
written outside the repository by default (it holds the photos).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_NAMES = [
    # held-out (validation split) real old photos
    "AustriaHungaryWomen1890s.jpg", "BoxedBedEarly1900s.jpg", "DutchBabyCoupleEllis.jpg",
    "HealingTree.jpg", "JudyGarland.jpg", "PetDucks1927.jpg", "WorriedKid1940sNyc.jpg",
    "workers_canyon.jpg",
    # scratched portraits and textured scenes
    "1925Girl.jpg", "1908FamilyPhoto.jpg", "marktwain.jpg", "1890Surfer.jpg",
]  # fmt: skip


def textured_windows(rgb: np.ndarray, side: int, count: int) -> list[tuple[int, int]]:
    """Top-left corners of the ``count`` most textured non-overlapping windows."""
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    energy = cv2.Sobel(lum, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(lum, cv2.CV_32F, 0, 1) ** 2
    # Median-filtered energy: texture everywhere in the window, not one hard edge.
    pooled = cv2.blur(cv2.medianBlur(np.sqrt(energy), 5), (side, side))
    h, w = lum.shape
    half = side // 2
    chosen: list[tuple[int, int]] = []
    pooled = pooled.copy()
    pooled[:half], pooled[h - half :], pooled[:, :half], pooled[:, w - half :] = 0, 0, 0, 0
    for _ in range(count):
        cy, cx = np.unravel_index(int(np.argmax(pooled)), pooled.shape)
        chosen.append((max(0, cy - half), max(0, cx - half)))
        pooled[max(0, cy - side) : cy + side, max(0, cx - side) : cx + side] = 0
    return chosen


def face_window(rgb: np.ndarray, side: int) -> tuple[int, int] | None:
    from oldphoto_cli.faces import get_face_detector

    faces = get_face_detector()(rgb)
    if not faces:
        return None
    x0, y0, x1, y1 = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])).box
    cy, cx = int((y0 + y1) / 2), int((x0 + x1) / 2)
    h, w = rgb.shape[:2]
    return (int(np.clip(cy - side // 2, 0, h - side)), int(np.clip(cx - side // 2, 0, w - side)))


def restore(rgb: np.ndarray, weights_dir: str | None) -> np.ndarray:
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    key = weights_dir or "shipped"
    if key not in _PIPELINES:
        _PIPELINES[key] = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                                         weights_dir=weights_dir))  # fmt: skip
    return _PIPELINES[key].restore(rgb).image


_PIPELINES: dict[str, object] = {}


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def main() -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=root / "real_old")
    parser.add_argument("--names", default=",".join(DEFAULT_NAMES))
    parser.add_argument("--compare", default=None, help="Weights folder of the 'before' column.")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--crop", type=int, default=160)
    parser.add_argument("--out", type=Path, default=Path("/tmp/crops_sheet.png"))
    args = parser.parse_args()

    from oldphoto_cli.data import load_rgb

    side = args.crop
    rows = []
    for name in args.names.split(","):
        path = args.folder / name
        if not path.exists():
            print(f"skip {name}: not in {args.folder}")
            continue
        rgb = load_rgb(path).astype(np.float32) / 255.0
        outputs = [("input", rgb)]
        if args.compare:
            outputs.append(("before", restore(rgb, args.compare)))
        outputs.append(("now", restore(rgb, args.weights_dir)))
        face = face_window(rgb, side)
        windows = textured_windows(rgb, side, 1 if face else 2) + ([face] if face else [])
        for i, (y, x) in enumerate(windows):
            kind = "face" if face and i == len(windows) - 1 else "texture"
            tiles = []
            for title, img in outputs:
                crop = (np.clip(img[y : y + side, x : x + side], 0, 1) * 255).astype(np.uint8)
                crop = np.ascontiguousarray(crop)
                tiles.append(label(crop, f"{title} {name[:18]} {kind}" if title == "input"
                                   else title))  # fmt: skip
            rows.append(np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0))) for t in tiles]))
        print(f"{name}: {len(windows)} crops", flush=True)
    sheet = np.vstack(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"sheet: {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
