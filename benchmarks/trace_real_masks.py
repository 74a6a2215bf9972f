"""Render the hand-traced masks of real old photos (``benchmarks/real_masks``) from their
stroke file, and draw review sheets to correct them.

    python benchmarks/trace_real_masks.py render --real-old ../shared/data/real_old
    python benchmarks/trace_real_masks.py review --real-old ../shared/data/real_old \\
        --out /tmp/review STEM...

``benchmarks/real_masks/strokes.json`` holds, per photo stem (white = damage):

* ``threshold`` (default 0.08): local contrast that makes a pixel a *candidate*: its grey
  value differs from the 9x9 median around it by at least this much (a black-hat /
  top-hat style map, independent of the detector being scored);
* ``zones``: polygons ``[[x, y], ...]`` in which every candidate region of at most
  ``max_area`` pixels (default 300) is damage: plain backgrounds full of dust and fine
  scratches, where nothing of the picture is that small and that contrasted; or
  ``{"polygon": ..., "threshold": T, "median": M, "max_area": A}`` for a zone of its own
  rule (a median window of 41 finds whole flakes and blobs, not just their edges);
* ``lines``: traced scratches and cracks, ``{"points": [[x, y], ...], "width": W}``: a band
  of W px along the polyline, in which candidates (at half the threshold) are damage, so
  the mask takes the scratch's own width; with ``"exact": true`` the band itself is;
* ``areas``: polygons that are damage as drawn (flaking, tears, large spots);
* ``erase``: polygons in which nothing is damage (eyes, buttons, lace, text).

Coordinates are pixels of the photo as stored (EXIF orientation applied). The masks are
``<stem>.png`` (0/255, the photo's size) beside the stroke file; the photos stay in
``shared/``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent / "real_masks"


def _poly(points) -> np.ndarray:
    return np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)


def local_contrast(rgb: np.ndarray, size: int = 9) -> np.ndarray:
    """|grey - median(grey)| in [0, 1] of an HxWx3 float image in [0, 1] (median over a
    ``size`` x ``size`` window: 9 for specks and scratches, 41 or more for flaking)."""
    grey = cv2.cvtColor((np.clip(rgb, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    median = cv2.medianBlur(grey, size | 1)
    return np.abs(grey.astype(np.float32) - median.astype(np.float32)) / 255.0


def render(rgb: np.ndarray, spec: dict) -> np.ndarray:
    """The HxW uint8 {0, 1} mask that ``spec`` describes on photo ``rgb``."""
    h, w = rgb.shape[:2]
    contrast = local_contrast(rgb)
    threshold = float(spec.get("threshold", 0.08))
    mask = np.zeros((h, w), np.uint8)
    cand = (contrast >= threshold).astype(np.uint8)
    for entry in spec.get("zones", []):
        zone_spec = entry if isinstance(entry, dict) else {"polygon": entry}
        zone = np.zeros((h, w), np.uint8)
        cv2.fillPoly(zone, [_poly(zone_spec["polygon"])], 1)
        here = cand
        if "median" in zone_spec or "threshold" in zone_spec:
            c = local_contrast(rgb, int(zone_spec.get("median", 9)))
            here = (c >= float(zone_spec.get("threshold", threshold))).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(here & zone, connectivity=8)
        max_area = int(zone_spec.get("max_area", spec.get("max_area", 300)))
        small = stats[:, cv2.CC_STAT_AREA] <= max_area
        small[0] = False
        mask |= small[labels].astype(np.uint8)
    weak = (contrast >= threshold / 2).astype(np.uint8)
    for line in spec.get("lines", []):
        band = np.zeros((h, w), np.uint8)
        cv2.polylines(band, [_poly(line["points"])], False, 1, int(line.get("width", 3)))
        mask |= band if line.get("exact") else band & weak
    for area in spec.get("areas", []):
        cv2.fillPoly(mask, [_poly(area)], 1)
    for area in spec.get("erase", []):
        cv2.fillPoly(mask, [_poly(area)], 0)
    return mask


def _photo(real_old: Path, stem: str) -> np.ndarray:
    from oldphoto_cli.degrade import load_image

    found = [p for p in real_old.glob(stem + ".*")]
    if not found:
        raise FileNotFoundError(f"no photo {stem}.* in {real_old}")
    return load_image(found[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("render", "review"))
    parser.add_argument("stems", nargs="*")
    parser.add_argument("--real-old", required=True)
    parser.add_argument("--strokes", default=str(HERE / "strokes.json"))
    parser.add_argument("--out", default="/tmp/real_masks_review")
    args = parser.parse_args()
    specs = json.loads(Path(args.strokes).read_text())
    stems = args.stems or sorted(k for k in specs if not k.startswith("_"))
    out = Path(args.out)
    for stem in stems:
        rgb = _photo(Path(args.real_old), stem)
        mask = render(rgb, specs[stem])
        if args.action == "render":
            cv2.imwrite(str(Path(args.strokes).parent / f"{stem}.png"), mask * 255)
            print(f"{stem}: {mask.mean():.4%} damage")
            continue
        out.mkdir(parents=True, exist_ok=True)
        view = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        marked = view.copy()
        marked[mask > 0] = (255, 0, 0)
        for im in (view, marked):
            for x in range(0, im.shape[1], 100):
                im[:, x] = (0, 200, 255)
            for y in range(0, im.shape[0], 100):
                im[y, :] = (0, 200, 255)
        cv2.imwrite(str(out / f"{stem}.png"), cv2.cvtColor(np.hstack([view, marked]),
                                                            cv2.COLOR_RGB2BGR))  # fmt: skip


if __name__ == "__main__":
    main()
