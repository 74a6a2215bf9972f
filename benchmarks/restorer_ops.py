"""What the restorer network does to each kind of ageing, one at a time.

    python benchmarks/restorer_ops.py --pairs /tmp/val/aging [--weights-dir DIR] [-n 24] \\
        [--mixed 60] [--threads 1] [--json out.json]

``--pairs`` is a set written by ``oldphoto eval --make-validation DATA/clean --renderer
aging`` (the independent ageing renderer, :mod:`oldphoto_cli.aging2`, never used in
training). Its first ``-n`` clean crops are aged by one of the renderer's operations at a
time (grain, blur, resolution loss, JPEG; each crop ``i`` with the seeded stream ``1000 +
i``) or left as they are (``none``: do no harm), and the network (the ``restorer`` stage,
no mask: NL-means first estimate, network, low frequencies of its change dropped) restores
them. Reported per operation: the mean gain in tone-fitted PSNR over the aged input
(both capped at 60 dB, so that an untouched crop does not count as infinite), its worst
and best crop; then the tone-fitted PSNR of input and network on all pairs of the set
(their own mixes of the operations, with fading).

Single operations separate what a mean over mixed ageing hides: a restorer can gain on
blur and lose on grain and show the input's figure on the mix.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

OPERATIONS = ("none", "grain", "blur", "resolution", "jpeg")
CAP = 60.0
SEED = 1000


def age_one(clean: np.ndarray, operation: str, seed: int) -> np.ndarray:
    """``clean`` (float HxWx3 in [0, 1]) after one operation of the ageing renderer, as a
    8-bit image would hold it; ``none`` returns it unchanged."""
    from oldphoto_cli import aging2

    if operation == "none":
        return clean
    aged = np.clip(aging2._FUNCS[operation](clean, np.random.default_rng(seed)), 0, 1)
    return (np.round(aged * 255) / 255).astype(np.float32)


def capped(image: np.ndarray, truth: np.ndarray) -> float:
    from oldphoto_cli.metrics import tone_fitted_psnr

    return min(tone_fitted_psnr(image, truth), CAP)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", required=True, type=Path)
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("-n", type=int, default=24, help="clean crops per operation")
    parser.add_argument("--mixed", type=int, default=60, help="pairs scored as they are")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import cv2
    import torch

    from oldphoto_cli.evaluate import list_pairs, load_pair
    from oldphoto_cli.stages.restorer import ImageRestorer

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    stage = ImageRestorer("cpu", weights_dir=args.weights_dir, precision="fp32")
    names = list_pairs(args.pairs, None)
    report: dict = {"pairs": str(args.pairs), "weights_dir": args.weights_dir, "operations": {}}
    cleans = [load_pair(args.pairs, name)[1] for name in names[: args.n]]
    for operation in OPERATIONS:
        gains = []
        for i, clean in enumerate(cleans):
            aged = age_one(clean, operation, SEED + i)
            restored = np.clip(stage(aged, None), 0, 1)
            gains.append(capped(restored, clean) - capped(aged, clean))
        row = {"gain": round(float(np.mean(gains)), 2), "worst": round(float(np.min(gains)), 2),
               "best": round(float(np.max(gains)), 2), "crops": len(gains)}  # fmt: skip
        report["operations"][operation] = row
        print(f"{operation:11s} gain {row['gain']:+.2f} dB (worst {row['worst']:+.2f}, "
              f"best {row['best']:+.2f}, {row['crops']} crops)", flush=True)  # fmt: skip
    inputs, outputs = [], []
    for name in names[: args.mixed]:
        aged, clean, _ = load_pair(args.pairs, name)
        inputs.append(capped(aged, clean))
        outputs.append(capped(np.clip(stage(aged, None), 0, 1), clean))
    report["mixed"] = {"input": round(float(np.mean(inputs)), 2),
                       "restorer": round(float(np.mean(outputs)), 2), "pairs": len(outputs)}  # fmt: skip
    print(f"{len(outputs)} pairs as aged: input {report['mixed']['input']:.2f}, "
          f"restorer {report['mixed']['restorer']:.2f} dB tone-fitted", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
