"""Does test-time augmentation help the scratch detector? Flips and rescaled passes, scored
at several thresholds on the three detection sets and on intact content.

    python benchmarks/detector_tta.py --clean ../shared/data/clean \\
        --real-old ../shared/data/real_old [--work /tmp/detval] [--limit 40] [--threads 1]

Variants of the probability map (the shipped detector through ``RestorePipeline.detect``):
``base`` (what ships), ``flip2`` (mean with the mirrored image's map), ``flip4`` (mean over
the four flips), ``half_max`` / ``half_mean`` (max or mean with the map of the image at
half size, upsampled: wide strokes at the scale the detector saw in training),
``up_mean`` (mean with the map at 1.5x). Each is turned into a mask by the default rule
(threshold, ``min_area``, printed patterns spared, no dilation) at each ``--thresholds``,
and scored as ``eval_detector.py`` scores (pixel counts pooled per set): own renderer
(val1), independent renderer (val2), hand-traced real photos. ``--false-alarms`` also
reports the share of pixels marked on the intact validation crops and the real old
validation photos (``false_alarms.py``'s sets), where every mark on intact content is a
pixel restore would repaint.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def flipped(image: np.ndarray, how: str) -> np.ndarray:
    out = image[:, ::-1] if "h" in how else image
    return np.ascontiguousarray(out[::-1] if "v" in how else out)


def variant_maps(detect, image: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Probability maps of the ``names`` variants; ``detect``: HxWx3 -> HxW."""
    import cv2

    base = detect(image)
    out = {"base": base}
    h, w = image.shape[:2]
    if any(n.startswith("flip") for n in names):
        hands = [base, flipped(detect(flipped(image, "h")), "h")]
        out["flip2"] = np.mean(hands, 0)
        if "flip4" in names:
            hands += [flipped(detect(flipped(image, f)), f) for f in ("v", "hv")]
            out["flip4"] = np.mean(hands, 0)
    if any(n.startswith("half") for n in names):
        small = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        half = cv2.resize(detect(small), (w, h), interpolation=cv2.INTER_LINEAR)
        out["half_max"], out["half_mean"] = np.maximum(base, half), 0.5 * (base + half)
    if "up_mean" in names:
        big = cv2.resize(image, (w * 3 // 2, h * 3 // 2), interpolation=cv2.INTER_CUBIC)
        up = cv2.resize(detect(np.clip(big, 0, 1)), (w, h), interpolation=cv2.INTER_AREA)
        out["up_mean"] = 0.5 * (base + up)
    return {n: out[n] for n in names}


def masks_of(maps: dict, image: np.ndarray, thresholds, min_area: int) -> dict:
    from oldphoto_cli.patterns import spare_patterns
    from oldphoto_cli.pipeline import mask_from_probability

    return {
        (name, t): spare_patterns(mask_from_probability(prob, t, 0, min_area), image)[0] > 0
        for name, prob in maps.items()
        for t in thresholds
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clean", required=True)
    parser.add_argument("--real-old", required=True)
    parser.add_argument("--work", default="/tmp/detval")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--limit", type=int, default=40, help="images per set")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default="base,flip2,flip4,half_max,half_mean,up_mean")
    parser.add_argument("--thresholds", default="0.3,0.4,0.5,0.6")
    parser.add_argument("--false-alarms", action="store_true")
    args = parser.parse_args()

    import torch

    sys.path.insert(0, str(HERE))
    from eval_detector import build_sets, real_items, synthetic_items

    from oldphoto_cli.data import list_images, load_rgb, split
    from oldphoto_cli.degrade import load_image
    from oldphoto_cli.metrics import detection_scores
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    torch.set_num_threads(args.threads)
    names = args.variants.split(",")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                              spare_faces=False,
                                              weights_dir=args.weights_dir))  # fmt: skip
    min_area = pipeline.options.min_area
    val1, val2 = build_sets(args.clean, Path(args.work))
    sets = {
        "own renderer": lambda: synthetic_items(val1),
        "independent renderer": lambda: synthetic_items(val2),
        "real, hand-traced": lambda: real_items(Path(args.real_old)),
    }
    print(f"{'set':22} {'variant':10} {'thr':>4} {'F1':>6} {'prec':>6} {'recall':>6}")
    with torch.inference_mode():
        for set_name, items in sets.items():
            preds: dict = {}
            truth = []
            for _, image, mask in itertools.islice(items(), args.limit):
                truth.append(mask.ravel() > 0)
                maps = variant_maps(pipeline.detect, image, names)
                for key, m in masks_of(maps, image, thresholds, min_area).items():
                    preds.setdefault(key, []).append(m.ravel())
            flat = np.concatenate(truth)
            for (name, t), parts in preds.items():
                s = detection_scores(np.concatenate(parts), flat)
                print(f"{set_name:22} {name:10} {t:4.2f} {s['f1']:6.3f} {s['precision']:6.3f} "
                      f"{s['recall']:6.3f}", flush=True)  # fmt: skip
        if not args.false_alarms:
            return
        intact = [load_image(p) for p in sorted((val1 / "clean").iterdir())][: args.limit]
        _, validation = split(list_images(args.real_old))
        real = (load_rgb(p, max_side=1024).astype(np.float32) / 255 for p in validation)
        print(f"\n{'marked share (%)':22} {'variant':10} {'thr':>4} {'share':>6}")
        for set_name, images in (("intact crops", intact), ("real old, validation", real)):
            shares: dict = {}
            for image in images:
                maps = variant_maps(pipeline.detect, image, names)
                for key, m in masks_of(maps, image, thresholds, min_area).items():
                    shares.setdefault(key, []).append(float(m.mean()))
            for (name, t), values in shares.items():
                print(f"{set_name:22} {name:10} {t:4.2f} {100 * np.mean(values):6.2f}")


if __name__ == "__main__":
    main()
