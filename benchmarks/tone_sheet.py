"""Restore without and with the tone curve, on real old photos: whole photo and a 1:1 crop.

    python benchmarks/tone_sheet.py --real-old ../shared/data/real_old --out /tmp/tone.jpg \\
        [--weights-dir DIR] [--height 300] [--crop 256] STEM...

Each row: the restored photo without the curve (``--no-tone-curve``), with it, both
scaled to ``--height``, then the same 1:1 crop of each (from the photo's centre), and the
curve's largest change in the caption. Faces off. The sheet shows data photos, so it
stays out of the repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

DEFAULT_STEMS = ("Dolores1920s", "migrant_mother", "1920sFamilyPhoto", "WWIHospital",
                 "Locomotive1880s", "IrishLate1800s", "WaltWhitman", "1890Surfer",
                 "1899NycBlizzard", "skycrapper_lunch")  # fmt: skip


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real-old", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--height", type=int, default=300)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("stems", nargs="*")
    args = parser.parse_args()

    from oldphoto_cli.imageio import read_image
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    runs = {curve: RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                                  tone_curve=curve, weights_dir=args.weights_dir))
            for curve in (False, True)}  # fmt: skip
    rows = []
    for stem in args.stems or DEFAULT_STEMS:
        path = next(Path(args.real_old).glob(f"{stem}.*"))
        rgb = read_image(path).rgb
        restored, change = {}, 0.0
        for curve, pipeline in runs.items():
            result = pipeline.restore(rgb)
            restored[curve] = (np.clip(result.image, 0, 1) * 255).round().astype(np.uint8)
            change = result.info.get("tone_curve", change)
        h, w = rgb.shape[:2]
        scale = args.height / h
        small = {k: cv2.resize(v, (round(w * scale), args.height), interpolation=cv2.INTER_AREA)
                 for k, v in restored.items()}  # fmt: skip
        s = min(args.crop, h, w)
        y, x = (h - s) // 2, (w - s) // 2
        crops = {k: cv2.resize(v[y : y + s, x : x + s], (args.height, args.height),
                               interpolation=cv2.INTER_NEAREST) for k, v in restored.items()}  # fmt: skip
        row = np.hstack([label(small[False], f"{stem}: no curve"), label(small[True], f"curve (max change {change:.3f})"),
                         crops[False], crops[True]])  # fmt: skip
        rows.append(row)
        print(f"{stem}: largest change {change:.3f}", flush=True)
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows])
    cv2.imwrite(args.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])


if __name__ == "__main__":
    main()
