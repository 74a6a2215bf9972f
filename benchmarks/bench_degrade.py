"""Throughput of the full degradation composer at 256x256 on one core.

    python benchmarks/bench_degrade.py [--n 300] [--repeats 3]

Prints images/second (best of ``--repeats`` runs, the machine is shared) with and
without JPEG, and with and without structured defects. Target: >= 200 images/s without
JPEG.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="images per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from skimage import data

    from oldphoto_cli.degrade import DegradeConfig, degrade_image, get_degradations, rng_for

    img = cv2.resize(data.astronaut(), (args.size, args.size), interpolation=cv2.INTER_AREA)
    img = img.astype(np.float32) / np.float32(255)
    get_degradations()  # load plugins outside the timing
    default = DegradeConfig()
    no_jpeg = {**default.group_p, "jpeg": 0.0}
    cases = [
        ("full composer", DegradeConfig()),
        ("full composer, no JPEG", DegradeConfig(group_p=no_jpeg)),
        ("unstructured only", DegradeConfig(structured=False)),
        ("unstructured only, no JPEG", DegradeConfig(structured=False, group_p=no_jpeg)),
    ]
    print(f"{args.size}x{args.size}, 1 thread, {args.n} images x best of {args.repeats}")
    print(f"{'case':30s} {'img/s':>8s} {'ms/img':>8s}")
    for label, config in cases:
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for i in range(args.n):
                degrade_image(img, rng_for(0, i), config)
            best = min(best, time.perf_counter() - t0)
        print(f"{label:30s} {args.n / best:8.1f} {1000 * best / args.n:8.2f}")


if __name__ == "__main__":
    main()
