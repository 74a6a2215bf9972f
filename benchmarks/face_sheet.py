"""A sheet of real faces from old photos: before | general | face network, at 1:1.

    python benchmarks/face_sheet.py --weights-dir DIR [--real-old ../shared/data/real_old]
        [--count 16] [--min-eyes 24] [--compare OLD_DIR] [--raw] [--out /tmp/face_sheet.png]

Faces are found by the default face detector (YuNet when ``oldphoto-yunet`` is installed,
else Haar), one per photo (its largest), keeping those whose eyes are at least
``--min-eyes`` px apart in the photo (the 256 px crop has them 67 px apart, so smaller
faces are upsampled more than 2.7x), then the ``--count`` largest. Each row is the aligned
256 px crop of the photo as found (no global restoration first), then what the face stage
makes of that crop with ``general`` and with ``face``: the enhancer's crop after the
stage's paste-back (``harmonize`` to the crop, blended by the face ellipse), i.e. the
pixels ``restore`` would write. ``--compare`` adds, before the last column, the face
network of another weights folder (e.g. the previous training phase), ``--raw`` the
network's output alone (``fidelity`` 0: before the photo's tone and texture are kept).
Shown 1:1; a strip above each row names the photo.
Never commit the sheet: the photos are not ours.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

LABEL = 18  # px of the caption strip above each row
GAP = 4


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data

def pick_faces(folder: Path, count: int, min_eyes: float, max_side: int, log):
    """[(photo name, rgb float32, Face)]: the largest face of each photo, largest first."""
    from oldphoto_cli.data import list_images, load_rgb
    from oldphoto_cli.faces import get_face_detector
    from oldphoto_cli.faces.align import face_eye_points

    detector = get_face_detector()
    log(f"detector: {type(detector).__name__}")
    found = []
    for path in list_images(folder):
        rgb = load_rgb(path, max_side=max_side).astype(np.float32) / 255
        faces = detector(rgb)
        if not faces:
            continue
        sizes = [float(np.linalg.norm(np.subtract(*face_eye_points(f)))) for f in faces]
        best = int(np.argmax(sizes))
        if sizes[best] >= min_eyes:
            found.append((sizes[best], path.name, rgb, faces[best]))
    found.sort(key=lambda item: -item[0])
    log(f"{len(found)} photos with a face of eyes >= {min_eyes} px apart; keeping {count}")
    return [(name, rgb, face, eyes) for eyes, name, rgb, face in found[:count]]


def stage_output(crop: np.ndarray, restored: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """What the face stage writes over the crop: harmonised, blended by the face ellipse."""
    from oldphoto_cli.faces.enhance import harmonize

    w = weight[..., None]
    return w * harmonize(np.clip(restored, 0, 1), crop, weight) + (1 - w) * crop


def sheet_of(rows: list[tuple[str, list[np.ndarray]]], size: int) -> np.ndarray:
    columns = len(rows[0][1])
    width = columns * size + (columns - 1) * GAP
    height = len(rows) * (LABEL + size + GAP)
    sheet = np.full((height, width, 3), 255, np.uint8)
    for r, (caption, cells) in enumerate(rows):
        top = r * (LABEL + size + GAP)
        cv2.putText(sheet, caption, (2, top + LABEL - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
        for c, cell in enumerate(cells):
            u8 = np.clip(np.rint(cell * 255), 0, 255).astype(np.uint8)
            left = c * (size + GAP)
            sheet[top + LABEL : top + LABEL + size, left : left + size] = u8
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--real-old", type=Path, default=SHARED_DATA / "real_old")
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--min-eyes", type=float, default=24.0)
    parser.add_argument("--max-side", type=int, default=2048, help="photos downscaled to this")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--compare", default=None,
                        help="weights folder of a second face network, shown before --weights-dir's")
    parser.add_argument("--raw", action="store_true",
                        help="add the network's own output (fidelity 0) before the last column")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/tmp/face_sheet.png"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from oldphoto_cli import stages
    from oldphoto_cli.faces.align import CROP_SIZE, align_face, face_mask
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    pipeline = RestorePipeline(RestoreOptions(device=args.device, face_enhancer="none",
                                              with_scratch="off",
                                              weights_dir=args.weights_dir))  # fmt: skip
    def face_network(weights_dir, **options):
        net = stages.build("face_enhance", "face", device=args.device, weights_dir=weights_dir,
                           only_center_face=False, save_faces_dir=None, **options)  # fmt: skip
        return net, (net.meta.get("training") or {}).get("steps")

    face_net, step = face_network(args.weights_dir)
    other_net, other_step = face_network(args.compare) if args.compare else (None, None)
    raw_net = face_network(args.weights_dir, fidelity=0.0)[0] if args.raw else None
    picked = pick_faces(args.real_old, args.count, args.min_eyes, args.max_side, log)
    if not picked:
        sys.exit("no faces found")
    weight = face_mask(CROP_SIZE)
    rows, listing = [], []
    for i, (name, rgb, face, eyes) in enumerate(picked):
        crop = align_face(rgb, face, CROP_SIZE).crop
        general = stage_output(crop, pipeline.restore_core(crop, None), weight)
        cells, header = [crop, general], "before | general"
        if other_net is not None:
            cells.append(stage_output(crop, other_net.enhance_crop(crop), weight))
            header += f" | face (step {other_step})"
        if raw_net is not None:
            cells.append(stage_output(crop, raw_net.enhance_crop(crop), weight))
            header += " | network alone"
        cells.append(stage_output(crop, face_net.enhance_crop(crop), weight))
        rows.append((f"{i + 1}. {name} (eyes {eyes:.0f} px)  {header} | face (step {step})",
                     cells))  # fmt: skip
        listing.append({"row": i + 1, "photo": name, "eye_distance": round(eyes, 1),
                        "box": [round(float(v)) for v in face.box]})  # fmt: skip
        log(f"{i + 1}. {name}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet_of(rows, CROP_SIZE), cv2.COLOR_RGB2BGR))
    print(json.dumps({"sheet": str(args.out), "face_steps": step, "compare_steps": other_step,
                      "rows": listing}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
