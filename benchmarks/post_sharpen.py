"""Would a classical sharpening after the restore chain buy issue 12's sharpness cheaply?

    python benchmarks/post_sharpen.py --pairs /work/val_pairs [--weights-dir DIR] [--threads 1]

Restores every pair of ``--pairs`` (layout of ``oldphoto eval --make-validation``) once with
the default pipeline (its own detection, ``keep_tone``), and the clean image too (the
do-no-harm row), then applies an unsharp mask ``out + amount * (out - blur_sigma(out))``
over a grid of (sigma, amount) and scores each against the tone truth (damaged inputs) and
the clean image (do no harm): PSNR, SSIM and sharpness as ``oldphoto eval`` computes them.
Choose a setting on a tuning set made from training-split photos
(``tune_detector.make_tuning_pairs``), never on the validation pairs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SIGMAS = (0.8, 1.5, 3.0)
AMOUNTS = (0.0, 0.3, 0.6, 1.0, 1.5)


def unsharp(img: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    import cv2

    blurred = cv2.GaussianBlur(img, (0, 0), sigma)
    return np.clip(img + amount * (img - blurred), 0.0, 1.0)


def restore_all(pairs: Path, weights_dir: str | None) -> dict[str, tuple]:
    """{name: (restored damaged input, restored clean input, tone truth, clean)}."""
    from oldphoto_cli.degrade.unstructured import reapply_tone
    from oldphoto_cli.evaluate import list_pairs, load_pair, tone_truths
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                              keep_tone=True, weights_dir=weights_dir))  # fmt: skip
    tones = tone_truths(pairs)
    out = {}
    for name in list_pairs(pairs):
        degraded, clean, _ = load_pair(pairs, name)
        restored = pipeline.restore(degraded, mask=pipeline.mask_of(pipeline.detect(degraded)))
        same = pipeline.restore(clean, mask=pipeline.mask_of(pipeline.detect(clean)))
        out[name] = (np.asarray(restored.image, np.float32), np.asarray(same.image, np.float32),
                     reapply_tone(clean, tones[name]), clean)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from oldphoto_cli.metrics import psnr, sharpness, ssim

    torch.set_num_threads(args.threads)
    images = restore_all(Path(args.pairs), args.weights_dir)
    print(f"{len(images)} pairs from {args.pairs}", file=sys.stderr)
    print("| sigma | amount | PSNR | SSIM | sharpness | do no harm PSNR | SSIM |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    grid = [(SIGMAS[0], 0.0)] + [(s, a) for s in SIGMAS for a in AMOUNTS if a > 0]
    for sigma, amount in grid:
        scores = []
        for restored, same, truth, clean in images.values():
            a, b = unsharp(restored, amount, sigma), unsharp(same, amount, sigma)
            scores.append((psnr(a, truth), ssim(a, truth), sharpness(a, truth),
                           psnr(b, clean), ssim(b, clean)))  # fmt: skip
        m = np.mean(scores, axis=0)
        print(f"| {sigma} | {amount} | {m[0]:.2f} | {m[1]:.3f} | {m[2]:.2f} | {m[3]:.2f} "
              f"| {m[4]:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
