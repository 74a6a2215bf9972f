"""Choose the detector's mask rule (threshold, minimum region) on a *tuning* set, then
score the chosen rule once on the validation pairs.

    python benchmarks/tune_detector.py --clean ../shared/data/clean --val /tmp/val
        [--tuning /tmp/tuning] [--count 80] [--weights-dir weights] [--real-old DIR]

The tuning set is synthesized from *training-split* clean photos (seed 777, 256 px), so
the rule is never fitted to the validation split that the README reports. Probabilities
are computed once per image by the pipeline's own detector stage; every rule is then
scored on pooled pixel counts (``metrics.detection_scores``) exactly as ``oldphoto eval``
does. Prints the best rules on the tuning set, the chosen one and plain thresholds on
validation, and with ``--real-old`` the share of pixels each marks on real old photos.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

TUNING_SEED = 777
THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_AREAS = (0, 4, 8, 16, 32, 64)


def make_tuning_pairs(clean_dir: str, out_dir: Path, count: int) -> None:
    from oldphoto_cli.data import list_images, split
    from oldphoto_cli.degrade import make_pairs

    train, _ = split(list_images(clean_dir))
    make_pairs(train[:: max(1, len(train) // count)][:count], out_dir, size=256, seed=TUNING_SEED)


def probabilities(pipeline, pairs_dir: Path) -> tuple[list, list]:
    from oldphoto_cli.evaluate import list_pairs, load_pair

    probs, truths = [], []
    for name in list_pairs(pairs_dir):
        degraded, _, mask = load_pair(pairs_dir, name)
        probs.append(pipeline.detect(degraded))
        truths.append(mask > 0)
    return probs, truths


def score(probs, truths, threshold, min_area) -> dict[str, float]:
    from oldphoto_cli.metrics import detection_scores
    from oldphoto_cli.pipeline import binary_mask

    pred = [binary_mask(p, threshold, min_area) for p in probs]
    flat = lambda arrays: np.concatenate([a.ravel() for a in arrays])  # noqa: E731
    return detection_scores(flat(pred), flat(truths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clean", required=True, help="clean photos (training split is used)")
    parser.add_argument(
        "--val", required=True, help="validation pairs (oldphoto eval --make-validation)"
    )
    parser.add_argument(
        "--tuning", default="/tmp/tuning", help="tuning pairs folder (made if absent)"
    )
    parser.add_argument("--count", type=int, default=80)
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--real-old", default=None,
                        help="real old photos: report the share of pixels each rule marks")  # fmt: skip
    args = parser.parse_args()

    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    tuning = Path(args.tuning)
    if not (tuning / "manifest.jsonl").exists():
        make_tuning_pairs(args.clean, tuning, args.count)
    pipeline = RestorePipeline(RestoreOptions(device="cpu", weights_dir=args.weights_dir,
                                              face_enhancer="none"), detect_only=True)  # fmt: skip
    started = time.perf_counter()
    probs, truths = probabilities(pipeline, tuning)
    print(f"tuning set: {len(probs)} images, detect {time.perf_counter() - started:.1f} s",
          file=sys.stderr)  # fmt: skip
    rows = []
    for threshold, min_area in itertools.product(THRESHOLDS, MIN_AREAS):
        rows.append((score(probs, truths, threshold, min_area), threshold, min_area))
    rows.sort(key=lambda row: -row[0]["f1"])
    print("| rule | tuning P | R | F1 | IoU |\n| --- | ---: | ---: | ---: | ---: |")
    plain = [row for row in rows if row[2] == 0]
    for s, threshold, min_area in rows[:10] + plain:
        print(f"| t={threshold} min_area={min_area} | {s['precision']:.3f} | "
              f"{s['recall']:.3f} | {s['f1']:.3f} | {s['iou']:.3f} |")  # fmt: skip
    best = rows[0]
    val_probs, val_truths = probabilities(pipeline, Path(args.val))
    print("\nvalidation, chosen rule and plain thresholds:")
    for threshold, min_area in [best[1:]] + [(t, 0) for t in (0.5, 0.7)]:
        s = score(val_probs, val_truths, threshold, min_area)
        print(f"  t={threshold} min_area={min_area}: P {s['precision']:.3f} "
              f"R {s['recall']:.3f} F1 {s['f1']:.3f} IoU {s['iou']:.3f}")  # fmt: skip
    if args.real_old:
        marked_on_real(pipeline, args.real_old, [best[1:], (0.5, 0), (0.7, 0)])


def marked_on_real(pipeline, folder: str, rules) -> None:
    """Share of pixels marked on the validation-split real old photos (max side 1024).

    Real photos have real defects too, so this is an upper bound on false positives; the
    photos with the largest shares are the ones to look at with ``detect --overlay``.
    """
    from oldphoto_cli.data import list_images, load_rgb, split
    from oldphoto_cli.pipeline import binary_mask

    _, validation = split(list_images(folder))
    shares = {rule: [] for rule in rules}
    for path in validation:
        prob = pipeline.detect(load_rgb(path, max_side=1024).astype(np.float32) / 255)
        for rule in rules:
            shares[rule].append((binary_mask(prob, *rule).mean(), path.name))
    print(f"\nreal old photos ({len(validation)}, validation split): share of pixels marked")
    for rule, values in shares.items():
        worst = ", ".join(f"{name} {share:.1%}" for share, name in sorted(values)[-3:][::-1])
        print(f"  t={rule[0]} min_area={rule[1]}: mean "
              f"{np.mean([v for v, _ in values]):.2%}, median "
              f"{np.median([v for v, _ in values]):.2%}; most: {worst}")  # fmt: skip


if __name__ == "__main__":
    main()
