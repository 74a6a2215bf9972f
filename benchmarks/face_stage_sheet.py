"""Real faces through whole restores, side by side at 1:1: before | one column per setup.

    python benchmarks/face_stage_sheet.py [--real-old ../shared/data/real_old] [--count 12]
        [--min-eyes 24] [--setup NAME=TRANSLATOR:FACE_ENHANCER[:FIDELITY] ...]
        [--weights-dir DIR]
        [--out /tmp/face_stage_sheet.png]

Unlike ``face_sheet.py`` (the face networks on the aligned crop alone), each column here is
what ``oldphoto restore`` writes: the whole photo restored with the setup's translator and
face enhancer (detection, sparing of faces, harmonised paste-back and all), then the
region around the photo's largest face cut out at 1:1. Default setups: the default
pipeline (``mapping`` + ``face``), the restorer with the ``general`` face stage and the
restorer with the ``restorer`` face stage. Never commit the sheet: the photos are not ours.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from face_sheet import SHARED_DATA, pick_faces, sheet_of

DEFAULT_SETUPS = ("default=mapping:face", "restorer=restorer:general",
                  "face-restorer=restorer:restorer")  # fmt: skip


def face_window(face, shape, side: int) -> tuple[slice, slice]:
    """A ``side`` x ``side`` window centred on the face box, kept inside the photo."""
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    top = int(np.clip(round(cy - side / 2), 0, max(0, shape[0] - side)))
    left = int(np.clip(round(cx - side / 2), 0, max(0, shape[1] - side)))
    return slice(top, top + side), slice(left, left + side)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--real-old", type=Path, default=SHARED_DATA / "real_old")
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--min-eyes", type=float, default=24.0)
    parser.add_argument("--max-side", type=int, default=1280)
    parser.add_argument("--side", type=int, default=256, help="window side (px, 1:1)")
    parser.add_argument("--setup", action="append", default=None,
                        help="NAME=TRANSLATOR:FACE_ENHANCER[:FIDELITY] (repeatable)")  # fmt: skip
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/face_stage_sheet.png"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    setups = []
    for spec in args.setup or DEFAULT_SETUPS:
        name, _, stages = spec.partition("=")
        translator, enhancer, *fidelity = stages.split(":")
        options = RestoreOptions(translator=translator, face_enhancer=enhancer,
                                 face_fidelity=float(fidelity[0]) if fidelity else None,
                                 weights_dir=args.weights_dir)  # fmt: skip
        setups.append((name, RestorePipeline(options)))
    picked = pick_faces(args.real_old, args.count, args.min_eyes, args.max_side, log)
    if not picked:
        sys.exit("no faces found")
    rows, listing = [], []
    header = " | ".join(["before", *(name for name, _ in setups)])
    for i, (photo, rgb, face, eyes) in enumerate(picked):
        window = face_window(face, rgb.shape, args.side)
        cells = [rgb[window]]
        for _, pipeline in setups:
            cells.append(pipeline.restore(rgb, name=photo).image[window])
        cells = [np.pad(c, ((0, args.side - c.shape[0]), (0, args.side - c.shape[1]), (0, 0)),
                        constant_values=1.0) for c in cells]  # fmt: skip
        rows.append((f"{i + 1}. {photo} (eyes {eyes:.0f} px)  {header}", cells))
        listing.append({"row": i + 1, "photo": photo, "eye_distance": round(eyes, 1)})
        log(f"{i + 1}. {photo}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet_of(rows, args.side), cv2.COLOR_RGB2BGR))
    print(json.dumps({"sheet": str(args.out), "setups": [s for s, _ in setups],
                      "rows": listing}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
