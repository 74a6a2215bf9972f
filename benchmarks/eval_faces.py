"""Held-out face evaluation: aligned face crops, synthetically degraded, then restored.

    python benchmarks/eval_faces.py [--weights-dir DIR] [--max-faces 40] [--seed 0]
        [--sheet /tmp/faces_sheet.png] [--json]

Faces: skimage ``astronaut``, matplotlib ``grace_hopper`` and every face the Haar detector
(``faces.get_face_detector()``) finds in the *validation-split* photos
(``oldphoto_cli.data.is_validation``) of ``--clean`` and ``--real-old``. Each is aligned
with ``faces.align.align_face`` into the 256 px canonical crop (small faces are
upsampled: that crop is the target), degraded with
``degrade_image(crop, rng_for(seed, i), DegradeConfig(structured=False))`` (blur, noise,
JPEG, fading...: no scratches, as faces in the paper), and restored by

* ``general``: the default face enhancer's work on the crop: the general restoration
  network (``restore_core``, no scratch path) then colour matching inside the face mask;
* ``classical``: ``oldphoto_classical.classical_restore`` (NLM; no mask).

Prints PSNR/SSIM on the whole crop and PSNR inside the feathered face ellipse, as means
over faces. Real old photos are their own "clean" target here: they test robustness on
real faces, not absolute quality.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def builtin_faces() -> list[tuple[str, np.ndarray]]:
    from matplotlib import cbook
    from skimage import data

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        buffer = np.frombuffer(handle.read(), np.uint8)
    hopper = cv2.cvtColor(cv2.imdecode(buffer, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return [("skimage:astronaut", data.astronaut()), ("matplotlib:grace_hopper", hopper)]


def collect_faces(folders: list[Path], max_faces: int, log) -> list[tuple[str, np.ndarray]]:
    """(label, aligned 256 px float32 crop) for every face found, up to ``max_faces``."""
    from oldphoto_cli.data import list_images, load_rgb, split
    from oldphoto_cli.faces import get_face_detector
    from oldphoto_cli.faces.align import CROP_SIZE, align_face

    detector = get_face_detector()
    sources = builtin_faces()
    for folder in folders:
        if folder.is_dir():
            _, validation = split(list_images(folder))
            sources += [(f"{folder.name}/{p.name}", p) for p in validation]
    crops = []
    for label, source in sources:
        rgb = source if isinstance(source, np.ndarray) else load_rgb(source, max_side=1024)
        rgb = rgb.astype(np.float32) / 255
        faces = detector(rgb)
        for k, face in enumerate(faces):
            crops.append((f"{label}#{k}", align_face(rgb, face, CROP_SIZE).crop))
        if faces:
            log(f"{label}: {len(faces)} face(s)")
        if len(crops) >= max_faces:
            break
    return crops[:max_faces]


def masked_psnr(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> float:
    w = weight[..., None].astype(np.float64)
    mse = float(((a.astype(np.float64) - b) ** 2 * w).sum() / max(w.sum() * 3, 1e-9))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--clean", type=Path, default=Path("/work/shared/data/clean"))
    parser.add_argument("--real-old", type=Path, default=Path("/work/shared/data/real_old"))
    parser.add_argument("--max-faces", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sheet", type=Path, default=None,
                        help="PNG of clean | degraded | general | classical, first 8 faces")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="JSON on stdout instead of a table")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from oldphoto_classical import classical_restore

    from oldphoto_cli.degrade import DegradeConfig, degrade_image, make_contact_sheet, rng_for
    from oldphoto_cli.faces.align import face_mask
    from oldphoto_cli.faces.enhance import match_color
    from oldphoto_cli.metrics import psnr, ssim
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    pipeline = RestorePipeline(RestoreOptions(device=args.device, face_enhancer="none",
                                              with_scratch="off",
                                              weights_dir=args.weights_dir))  # fmt: skip
    crops = collect_faces([args.clean, args.real_old], args.max_faces, log)
    if not crops:
        sys.exit("no faces found")
    weight = face_mask(crops[0][1].shape[0])
    methods = ["input", "general", "classical"]
    scores: dict[str, dict[str, list[float]]] = {
        m: {"psnr": [], "ssim": [], "psnr_face": [], "seconds": []} for m in methods
    }
    sheet_rows = []
    config = DegradeConfig(structured=False)
    for i, (label, clean) in enumerate(crops):
        degraded = np.clip(degrade_image(clean, rng_for(args.seed, i), config).image, 0, 1)
        degraded = degraded.astype(np.float32)
        outputs = {}
        for method in methods:
            started = time.perf_counter()
            if method == "input":
                out = degraded
            elif method == "general":  # what GeneralFaceEnhancer does to one aligned crop
                out = match_color(pipeline.restore_core(degraded, None), degraded, weight)
            else:
                out = classical_restore(degraded, None)
            scores[method]["seconds"].append(time.perf_counter() - started)
            scores[method]["psnr"].append(psnr(out, clean))
            scores[method]["ssim"].append(ssim(out, clean))
            scores[method]["psnr_face"].append(masked_psnr(out, clean, weight))
            outputs[method] = out
        if len(sheet_rows) < 8:
            sheet_rows.append((clean, degraded, outputs["general"], outputs["classical"]))
        log(f"[{i + 1}/{len(crops)}] {label}: "
            + ", ".join(f"{m} {scores[m]['psnr'][-1]:.2f} dB" for m in methods))  # fmt: skip

    def mean(values: list[float]) -> float:
        finite = [v for v in values if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    summary = {
        m: {key: round(mean(values), 4) for key, values in scores[m].items()} for m in methods
    }
    report = {"faces": len(crops), "labels": [c[0] for c in crops], "seed": args.seed,
              "weights_dir": args.weights_dir, "means": summary}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{len(crops)} aligned 256 px faces, unstructured degradation (seed {args.seed}), "
              f"weights {args.weights_dir or 'default'}\n")  # fmt: skip
        print("| method | PSNR dB | SSIM | PSNR face ellipse dB | s/face |")
        print("|---|---:|---:|---:|---:|")
        for m in methods:
            s = summary[m]
            print(f"| {m} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['psnr_face']:.2f} | "
                  f"{s['seconds']:.3f} |")  # fmt: skip
    if args.sheet:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        sheet = make_contact_sheet(sheet_rows, tile=192)
        cv2.imwrite(str(args.sheet), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        log(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
