"""YuNet (plugin ``oldphoto-yunet``) against Haar (built-in) on the same real old photos.

    python benchmarks/bench_face_detectors.py [--real-old ../shared/data/real_old]
        [--sheets /tmp/facedet] [--json] [NAME ...]

Runs both registered face detectors (``faces.get_face_detector("haar")`` and
``("yunet")``) with their defaults on each photo (a fixed list of portraits and street
scenes unless names are given) and prints the number of faces each found and the time. With
``--sheets`` it writes, per photo, ``NAME.png``: the photo twice side by side, Haar boxes
(left, red) and YuNet boxes with landmarks (right, green), each box numbered, so that
true and false detections can be counted by eye (the counts in benchmarks/RESULTS.md were
made that way: a box is false when it does not contain a human face).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from oldphoto_cli.faces import get_face_detector

PORTRAITS = [
    "1925Girl",
    "20sWoman",
    "AirmanDad",
    "Chief",
    "Dolores1920s",
    "HelenKeller",
    "JudyGarland",
    "WaltWhitman",
    "einstein_portrait",
    "marktwain",
    "migrant_mother",
    "1908FamilyPhoto",
    "1920sFamilyPhoto",
    "Mid1800sSisters",
    "NorwegianBride1920s",
]
SCENES = [
    "1880Paris", "1899NycBlizzard", "1888Slum", "Boston1937", "BritishSlum", "Cork1905",
    "EasterNyc1911", "PicadillyLate1800s", "TimesSquare1955", "skycrapper_lunch",
    "school_kids", "1890sMedStudents", "FatMenShop", "paperboy", "LondonKidsEarly1900s",
]  # fmt: skip


def draw(bgr: np.ndarray, faces, color) -> np.ndarray:
    out = bgr.copy()
    thick = max(1, round(max(out.shape[:2]) / 500))
    for i, face in enumerate(faces):
        x, y, w, h = (int(round(v)) for v in face.box)
        cv2.rectangle(out, (x, y), (x + w, y + h), color, thick)
        cv2.putText(out, str(i), (x, max(12, y - 3)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5 * thick, color, thick)  # fmt: skip
        if face.landmarks is not None:
            for px, py in face.landmarks:
                cv2.circle(out, (int(px), int(py)), thick + 1, (255, 255, 0), -1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument(
        "--real-old", default=str(Path(__file__).parents[1] / "../shared/data/real_old")
    )
    parser.add_argument("--sheets", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    names = args.names or PORTRAITS + SCENES
    detectors = {"haar": get_face_detector("haar"), "yunet": get_face_detector("yunet")}
    if args.sheets:
        Path(args.sheets).mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        bgr = cv2.imread(str(Path(args.real_old) / f"{name}.jpg"))
        rgb = bgr[..., ::-1].astype(np.float32) / 255
        row = {"photo": name, "size": f"{bgr.shape[1]}x{bgr.shape[0]}"}
        found = {}
        for key, detector in detectors.items():
            start = time.perf_counter()
            found[key] = detector(rgb)
            row[key] = len(found[key])
            row[key + "_s"] = round(time.perf_counter() - start, 2)
        rows.append(row)
        if args.sheets:
            sheet = np.hstack([draw(bgr, found["haar"], (0, 0, 255)),
                               draw(bgr, found["yunet"], (0, 200, 0))])  # fmt: skip
            scale = min(1.0, 2400 / sheet.shape[1])
            sheet = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(Path(args.sheets) / f"{name}.png"), sheet)
        if not args.json:
            print(f"{name:22s} {row['size']:>10s}  haar {row['haar']:3d} ({row['haar_s']}s)"
                  f"  yunet {row['yunet']:3d} ({row['yunet_s']}s)", flush=True)  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
