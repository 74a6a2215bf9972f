"""What the detector marks where nothing is damaged: its false alarms on intact content.

    python benchmarks/false_alarms.py --clean ../shared/data/clean \\
        --real-old ../shared/data/real_old [--work /tmp/detval] [--weights-dir DIR] \\
        [--watch 1925Girl,TimesSquare1955] [--aged /tmp/val/aging] [--threads 1] \\
        [--json out.json]

Three measurements, all with the default ``detect`` mask rule (threshold, ``min_area``,
printed patterns spared, ``--dilate 0``; face sparing off), as ``benchmarks/eval_detector.py`` scores:

- **clean crops**: the intact side of the validation pairs (``--work``/val1/clean, the
  ``oldphoto eval --make-validation`` set): every marked pixel is a false alarm, and each
  is what the do-no-harm row of ``oldphoto eval`` loses to inpainting;
- **aged crops** (``--aged``, a set of ``oldphoto eval --make-validation DATA/clean
  --renderer aging``: grain, blur, resolution loss, JPEG and fading, no defects): the
  degraded side, where every marked pixel is again a false alarm, now on the texture that
  real old photos have (film grain, JPEG blocks) rather than on sharp clean crops;
- **real old photos**: the validation split of ``--real-old`` (long side 1024), plus the
  ``--watch`` photos from either split (named because content there was taken for damage,
  e.g. ``1925Girl``'s polka dots). Real photos do have damage, so their marked share is an
  upper bound on false alarms; read it beside the overlay sheet of ``eval_detector.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def marked_share(pipeline, image: np.ndarray) -> float:
    from oldphoto_cli.patterns import spare_patterns

    opts = pipeline.options
    mask = pipeline.mask_of(pipeline.detect(image), dilate=False)
    if opts.spare_patterns:
        mask = spare_patterns(mask, image)[0]
    return float((mask > 0).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clean", required=True, help="clean photos (for the val1 pairs)")
    parser.add_argument("--real-old", required=True)
    parser.add_argument("--work", default="/tmp/detval", help="where val1 is (made if missing)")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--watch", default="1925Girl", help="comma-separated photo stems")
    parser.add_argument("--aged", default=None, help="pairs of the ageing renderer (no defects)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--rule", metavar="T[,LOW[,BLOB]]",
                        help="mask rule instead of the default (as eval_detector.py --rule)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE))
    from eval_detector import build_sets

    from oldphoto_cli.data import list_images, load_rgb, split
    from oldphoto_cli.degrade import load_image
    from oldphoto_cli.mask_rule import rule_options
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    rule = rule_options(args.rule)
    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                              spare_faces=False,
                                              weights_dir=args.weights_dir, **rule))  # fmt: skip
    val1, _ = build_sets(args.clean, Path(args.work))
    clean = [marked_share(pipeline, load_image(p)) for p in sorted((val1 / "clean").iterdir())]
    aged = []
    if args.aged:
        aged = [marked_share(pipeline, load_image(p))
                for p in sorted((Path(args.aged) / "degraded").iterdir())]  # fmt: skip
    photos = list_images(args.real_old)
    _, validation = split(photos)
    watch = {s.strip() for s in args.watch.split(",") if s.strip()}
    real = {}
    for path in sorted(set(validation) | {p for p in photos if p.stem in watch}):
        image = load_rgb(path, max_side=1024).astype(np.float32) / 255
        real[path.stem] = round(marked_share(pipeline, image), 5)
        print(f"{path.stem}: {real[path.stem]:.4f}", file=sys.stderr, flush=True)
    in_split = [v for k, v in real.items() if k in {p.stem for p in validation}]
    report = {
        "weights_dir": args.weights_dir,
        "clean_crops": {"images": len(clean), "marked_share_mean": round(float(np.mean(clean)), 5),
                        "images_with_marks": int(sum(v > 0 for v in clean))},
        **({"aged_crops": {"images": len(aged), "marked_share_mean": round(float(np.mean(aged)), 5),
                           "images_with_marks": int(sum(v > 0 for v in aged)),
                           "marked_share_max": round(float(max(aged)), 5)}} if aged else {}),
        "real_old_validation": {"images": len(in_split),
                                "marked_share_mean": round(float(np.mean(in_split)), 5)},
        "watch": {k: v for k, v in real.items() if k in watch},
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
