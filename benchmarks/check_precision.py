"""Does a lower precision change the restored photos? PSNR per precision on validation pairs.

    python benchmarks/check_precision.py PAIRS_DIR [--limit 8] [--precisions fp32,bf16,fp16]
        [--device cpu] [--threads 1]

PAIRS_DIR as for ``oldphoto eval`` (``degraded/``, ``clean/``, ``mask/``; e.g. made with
``oldphoto eval PAIRS --make-validation data/clean``). Every precision restores every pair
with the shipped default pipeline (faces off, keep_tone off as in ``eval``), forced through
the library (``RestoreOptions.precision``), so it also runs where the device has no native
arithmetic for it (then emulated: slow, but the same rounding). Reports mean PSNR against
the clean photo, its change from fp32, the PSNR of each output against fp32's, and how
many mask pixels differ. ``--precision auto`` may pick a precision only when its PSNR
stays within 0.1 dB of fp32.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("pairs_dir")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--precisions", default="fp32,bf16,fp16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--weights-dir", default=None)
    args = parser.parse_args()

    import torch

    from oldphoto_cli import hostmem
    from oldphoto_cli.evaluate import list_pairs, load_pair
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    hostmem.keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = list_pairs(args.pairs_dir, args.limit)
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    if precisions[0] != "fp32":
        precisions.insert(0, "fp32")
    rows = []
    reference: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    for precision in precisions:
        pipe = RestorePipeline(RestoreOptions(device=args.device, precision=precision,
                                              face_enhancer="none", keep_tone=False,
                                              weights_dir=args.weights_dir))  # fmt: skip
        scores, vs_fp32, mask_diff, seconds = [], [], 0, 0.0
        for name in names:
            degraded, clean, _ = load_pair(args.pairs_dir, name)
            started = time.perf_counter()
            result = pipe.restore(degraded)
            seconds += time.perf_counter() - started
            scores.append(psnr(result.image, clean))
            if precision == "fp32":
                reference[name] = (result.image, result.mask)
            else:
                image, mask = reference[name]
                vs_fp32.append(psnr(result.image, image))
                if (mask is None) != (result.mask is None):
                    mask_diff += int((mask if mask is not None else result.mask).sum())
                elif mask is not None:
                    mask_diff += int((mask != result.mask).sum())
            print(f"{precision} {name}: {scores[-1]:.2f} dB", file=sys.stderr, flush=True)
        rows.append({"precision": precision, "images": len(names),
                     "psnr": float(np.mean(scores)),
                     "psnr_vs_fp32_output": float(np.mean(vs_fp32)) if vs_fp32 else None,
                     "mask_pixels_changed": mask_diff, "seconds": seconds})  # fmt: skip
    base = rows[0]["psnr"]
    print("| precision | images | PSNR dB | change vs fp32 dB | PSNR of output vs fp32 output "
          "dB | mask pixels changed | seconds |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        versus = "-" if r["psnr_vs_fp32_output"] is None else f"{r['psnr_vs_fp32_output']:.1f}"
        print(f"| {r['precision']} | {r['images']} | {r['psnr']:.3f} | "
              f"{r['psnr'] - base:+.3f} | {versus} | {r['mask_pixels_changed']} | "
              f"{r['seconds']:.1f} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
