"""Before / detected / after at 1:1 on real old photos: what restore does to real damage
and to thin content that only looks like damage.

    python benchmarks/real_sheet.py --real-old ../shared/data/real_old --out /tmp/sheet.jpg \\
        [--weights-dir DIR] [--rule T,LOW,BLOB] [--translator NAME] STEM...

Each row: a 1:1 crop of the photo (centred on its hand-traced damage where
``benchmarks/real_masks`` has some, else on what the detector marked), the same crop with
the detected mask in red, and the restored crop (``restore`` defaults, faces off). The sheet
shows data photos, so it stays out of the repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
MOST_DAMAGED = ("MaioreWoman1895NZ", "ArkansasCowboys1880s", "LibraryOfCongress1910",
                "Locomotive1880s", "IrishLate1800s", "WaltWhitman", "last_samurai",
                "Mid1800sSisters", "1920sFamilyPhoto", "1908FamilyPhoto")  # fmt: skip
THIN_CONTENT = ("MementoMori1865", "skycrapper_lunch", "workers_canyon", "KidCage1930s",
                "women-bikers", "1880sBrooklynBridge", "Kabuki1870s", "1925Girl",
                "TimesSquare1955", "bicycles")  # fmt: skip


def centre(mask: np.ndarray | None, shape) -> tuple[int, int]:
    if mask is not None and mask.any():
        ys, xs = np.nonzero(mask)
        return int(np.median(ys)), int(np.median(xs))
    return shape[0] // 2, shape[1] // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real-old", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--rule", metavar="T[,LOW[,BLOB]]")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--translator", default=None, help="a translate stage (default: the default)")
    parser.add_argument("stems", nargs="*")
    args = parser.parse_args()

    from oldphoto_cli.degrade import load_image
    from oldphoto_cli.mask_rule import rule_options
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    rule = rule_options(args.rule)
    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                              weights_dir=args.weights_dir,
                                              translator=args.translator, **rule))  # fmt: skip
    rows = []
    for stem in args.stems or (*MOST_DAMAGED, *THIN_CONTENT):
        photo = next(p for p in Path(args.real_old).glob(stem + ".*") if p.suffix != ".png")
        image = load_image(photo)
        result = pipeline.restore(image)
        traced = HERE / "real_masks" / f"{stem}.png"
        truth = cv2.imread(str(traced), cv2.IMREAD_GRAYSCALE) if traced.exists() else None
        detected = result.mask if result.mask is not None else np.zeros(image.shape[:2], np.uint8)
        cy, cx = centre(truth if truth is not None and truth.any() else detected, image.shape)
        s = args.size
        y0 = max(0, min(image.shape[0] - s, cy - s // 2))
        x0 = max(0, min(image.shape[1] - s, cx - s // 2))
        box = (slice(y0, y0 + s), slice(x0, x0 + s))
        before = (np.clip(image[box], 0, 1) * 255).astype(np.uint8)
        marked = before.copy()
        marked[detected[box] > 0] = (255, 0, 0)
        after = (np.clip(result.image[box], 0, 1) * 255).astype(np.uint8)
        row = np.hstack([before, marked, after])
        share = float(detected.mean())
        cv2.putText(row, f"{stem}  marked {share:.2%}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 0), 1, cv2.LINE_AA)  # fmt: skip
        rows.append(row)
        print(f"{stem}: marked {share:.3%} of the photo, crop at ({x0}, {y0})")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    cv2.imwrite(args.out, cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
