"""Side by side at 1:1: real cracks of ``real_old`` (top row, crops centred on the traced
crack masks), synthetic print crack networks (``print_damage.print_cracks``, middle row) and
lone cracks (``print_damage.lone_crack``, bottom row) drawn on crops of uncracked old
photos, to judge the renderer by eye.

    python benchmarks/crack_likeness.py --real-old ../shared/data/real_old --out /tmp/cracks.png

The sheet shows data photos, so it stays out of the repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from oldphoto_cli.data import load_rgb
from oldphoto_cli.degrade import rng_for
from oldphoto_cli.degrade.print_damage import lone_crack, print_cracks

HERE = Path(__file__).resolve().parent
CRACKED = ("1920sFamilyPhoto", "WWIHospital", "1907Cowboys", "overmiller")
UNCRACKED = ("1908FamilyPhoto", "Dolores1920s", "1910Racket", "20sWoman")


def crop_around(img: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    y0 = max(0, min(img.shape[0] - size, cy - size // 2))
    x0 = max(0, min(img.shape[1] - size, cx - size // 2))
    return img[y0 : y0 + size, x0 : x0 + size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real-old", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=77)
    args = parser.parse_args()
    real = []
    for stem in CRACKED:
        mask = cv2.imread(str(HERE / "real_masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        real.append(crop_around(load_rgb(Path(args.real_old) / f"{stem}.jpg"), mask, args.size))
    rows = [np.hstack(real)]
    for op in (print_cracks, lone_crack):
        synthetic = []
        for i, stem in enumerate(UNCRACKED):
            img = load_rgb(Path(args.real_old) / f"{stem}.jpg")
            crop = img[100 : 100 + args.size, 100 : 100 + args.size].astype(np.float32) / 255
            out, _, _ = op(np.ascontiguousarray(crop), rng_for(args.seed, i))
            synthetic.append((np.clip(out, 0, 1) * 255).astype(np.uint8))
        rows.append(np.hstack(synthetic))
    sheet = np.vstack(rows)
    cv2.imwrite(args.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
