"""The face network against the input, ``general`` and ``classical`` on held-out faces.

    python benchmarks/eval_face_net.py --weights-dir DIR [--faces ../shared/data/faces]
        [--max-faces N] [--threads 1] [--fidelity F ...] [--no-baselines] [--json]

Faces: the validation split of ``--faces`` (``oldphoto_cli.data.training_split``), degraded
exactly as ``oldphoto train face`` validates (``FacePairs(val, 256, VAL_SEED,
length=len(val))``: the face degradation, scratches included; the target keeps the tone
changes the degradation made, as in training). Each 256 px degraded face is restored by

* ``general``: what the face stage did before the face network: the general restoration
  network on the aligned crop (``restore_core(crop, None)``, as ``GeneralFaceEnhancer``
  gets it through ``restore_fn``);
* ``classical``: ``oldphoto_classical.classical_restore`` (when that plugin is importable);
* ``face``: the face network (``FaceNetEnhancer.enhance_crop``, face.safetensors from
  ``--weights-dir`` or the usual lookup, e.g. the oldphoto-face-weights package), with
  the photo's tone and texture kept at the stage's default ``fidelity``, or one row per
  ``--fidelity`` value (0: the network's output alone).

Columns: PSNR and SSIM of the crop as the enhancer returns it; PSNR weighted by the face
ellipse (``faces.align.face_mask``) of that crop; ``pasted``: the same ellipse PSNR
after the stage's paste-back (``harmonize`` to the degraded crop, blended by the ellipse),
which is what ``restore`` writes into the photo; and ``do no harm``: the *intact* face
in, PSNR of what comes out against itself (what a face with no damage loses).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data

def masked_psnr(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> float:
    w = weight[..., None].astype(np.float64)
    mse = float(((a.astype(np.float64) - b) ** 2 * w).sum() / max(w.sum() * 3, 1e-9))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def validation_pairs(faces_dir: Path, size: int = 256):
    """The face trainer's validation pairs, as float32 HxWx3 [0, 1] (degraded, clean)."""
    from oldphoto_cli.data import training_split
    from oldphoto_cli.train.face import VAL_SEED, FacePairs

    _, val = training_split(str(faces_dir))
    if not val:
        sys.exit(f"{faces_dir}: no faces in the validation split")
    pairs = FacePairs(val, size, VAL_SEED, length=len(val))
    # The intact faces themselves (not the tone-adjusted targets): the do-no-harm column.
    intact_faces = FacePairs(val, size, VAL_SEED, length=len(val), clean_share=1.0)

    def image(t) -> np.ndarray:
        return np.ascontiguousarray(((t.numpy().transpose(1, 2, 0) + 1) / 2).astype(np.float32))

    for index in range(len(pairs)):
        item = pairs[index]
        yield image(item["degraded"]), image(item["clean"]), image(intact_faces[index]["clean"])


def build_methods(weights_dir: str | None, device: str, fidelities=(None,),
                  baselines: bool = True) -> dict:
    """name -> crop -> restored crop; ``input`` first."""
    from oldphoto_cli import stages
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    pipeline = RestorePipeline(RestoreOptions(device=device, face_enhancer="none",
                                              with_scratch="off",
                                              weights_dir=weights_dir))  # fmt: skip
    methods = {"input": lambda crop: crop}
    if baselines:
        methods["general"] = lambda crop: pipeline.restore_core(crop, None)
        try:
            from oldphoto_classical import classical_restore

            methods["classical"] = lambda crop: classical_restore(crop, None)
        except ImportError:
            print("oldphoto_classical not importable: no classical row", file=sys.stderr)
    for fidelity in fidelities:
        options = {} if fidelity is None else {"fidelity": fidelity}
        face = stages.build("face_enhance", "face", device=device, weights_dir=weights_dir,
                            only_center_face=False, save_faces_dir=None, **options)  # fmt: skip
        label = "face" if fidelity is None else f"face, fidelity {fidelity:g}"
        methods[label] = face.enhance_crop
    step = (face.meta.get("training") or {}).get("steps")
    return methods, {"face_steps": step, "face_metrics": face.meta.get("metrics")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--faces", type=Path, default=SHARED_DATA / "faces")
    parser.add_argument("--max-faces", type=int, default=None, help="default: all of them")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fidelity", type=float, nargs="+", default=[None],
                        help="face rows at these `fidelity` settings (default: the stage's)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip the general and classical rows (they do not change "
                             "with the face network)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout instead of a table")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from oldphoto_cli.faces.align import face_mask
    from oldphoto_cli.faces.enhance import harmonize
    from oldphoto_cli.metrics import psnr, ssim

    methods, about = build_methods(args.weights_dir, args.device, args.fidelity,
                                   baselines=not args.no_baselines)
    weight = face_mask(256)
    keys = ("psnr", "ssim", "psnr_face", "psnr_pasted", "psnr_identity", "seconds")
    scores = {m: {k: [] for k in keys} for m in methods}
    n = 0
    for degraded, clean, intact in validation_pairs(args.faces):
        if args.max_faces is not None and n >= args.max_faces:
            break
        n += 1
        for name, method in methods.items():
            started = time.perf_counter()
            out = np.clip(np.asarray(method(degraded), np.float32), 0, 1)
            seconds = time.perf_counter() - started
            pasted = out
            if name != "input":  # the stage's paste-back, in crop space
                pasted = weight[..., None] * harmonize(out, degraded, weight)
                pasted = pasted + (1 - weight[..., None]) * degraded
            for key, value in (("psnr", psnr(out, clean)), ("ssim", ssim(out, clean)),
                               ("psnr_face", masked_psnr(out, clean, weight)),
                               ("psnr_pasted", masked_psnr(pasted, clean, weight)),
                               ("psnr_identity", psnr(np.clip(method(intact), 0, 1), intact)),
                               ("seconds", seconds)):  # fmt: skip
                scores[name][key].append(value)
        if n % 25 == 0:
            print(f"[{n}] " + ", ".join(f"{m} {np.mean(s['psnr']):.2f} dB"
                                        for m, s in scores.items()), file=sys.stderr)  # fmt: skip

    def mean(values: list[float]) -> float:
        finite = [v for v in values if np.isfinite(v)]
        return round(float(np.mean(finite)), 4) if finite else float("nan")

    summary = {m: {k: mean(v) for k, v in s.items()} for m, s in scores.items()}
    report = {"faces": n, "faces_dir": str(args.faces), "weights_dir": args.weights_dir,
              **about, "means": summary}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{n} held-out synthetic faces (validation split of {args.faces}, 256 px, "
          f"face degradation as in training), face network at step {about['face_steps']}\n")
    print("| method | PSNR dB | SSIM | PSNR face ellipse dB | pasted: face ellipse dB "
          "| do no harm dB | s/face |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for m, s in summary.items():
        print(f"| {m} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['psnr_face']:.2f} | "
              f"{s['psnr_pasted']:.2f} | {s['psnr_identity']:.2f} | {s['seconds']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
