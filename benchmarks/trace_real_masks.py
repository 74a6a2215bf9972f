"""Render the hand-traced masks of real old photos (``benchmarks/real_masks``) from their
stroke file, and draw review sheets to correct them.

    python benchmarks/trace_real_masks.py render --real-old ../shared/data/real_old
    python benchmarks/trace_real_masks.py review --real-old ../shared/data/real_old \\
        --out /tmp/review STEM...
    python benchmarks/trace_real_masks.py stats --real-old ../shared/data/real_old

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
* ``erase``: polygons in which nothing is damage (eyes, buttons, lace, text);
* ``ignore`` (training labels only): polygons the tracer could not label with confidence
  (dense mottling, ambiguous texture, mounts); ``render`` writes them as 128 in the mask,
  which ``train detector --real-masks`` leaves out of its loss. An evaluation set has none
  (``load_real_masks`` refuses a mask with unlabelled pixels);
* ``note``: one line on what damage the photo has (or, for an empty mask, what thin
  content it holds that a detector must not mark).

Every zone, line and area names its damage ``kind``: ``crack``, ``scratch``, ``dust``
(specks, lint and hairs lying on the print or negative, small flecks of lost emulsion),
``tear`` (torn or missing paper, torn corners, holes) or ``stain`` (blotches, spots, flaked
patches where the emulsion is lost); a zone or area then is
``{"polygon": [...], "kind": K, ...}``. A photo-level ``"kind"`` is the default for
entries that name none (a plain polygon); an entry with neither gets label ``UNKNOWN``
in ``render_kinds`` and makes the ``render`` command fail.

Coordinates are pixels of the photo as stored (EXIF orientation applied). The masks are
``<stem>.png`` (0/255, the photo's size) beside the stroke file, and
``kinds/<stem>.kinds.png``: a uint8 label image, 0 intact, then 1 crack, 2 scratch,
3 dust, 4 tear, 5 stain (``KINDS``). Entries are drawn in the order zones, lines, areas
(each list in file order) and a later entry overwrites the label of an earlier one where
they overlap; ``erase`` clears both images last, so a pixel has a kind exactly where the
union mask is set. (The label images live in ``kinds/``, not beside the masks, because
the evaluation reads every ``*.png`` beside the stroke file as one photo's mask.) Photos
with an empty mask are intact photos with thin content (wires, ropes, lace, hair): they
score false alarms. ``load_real_masks`` gives (mask, kinds) per stem to the evaluation;
``stats`` prints the damage share per photo and the pixels per kind and width class.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent / "real_masks"
KINDS = ("crack", "scratch", "dust", "tear", "stain")
"""Damage kinds; label ``i + 1`` in ``kinds/<stem>.kinds.png`` (0 = intact)."""
UNKNOWN = 255
"""Label of an entry that names no kind; ``render`` refuses to write it."""
WIDTH_CLASSES = ((0, 2), (3, 5), (6, 10), (11, 10**9))
"""Width classes (px, inclusive) of a connected component for ``stats``."""


def _poly(points) -> np.ndarray:
    return np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)


def local_contrast(rgb: np.ndarray, size: int = 9) -> np.ndarray:
    """|grey - median(grey)| in [0, 1] of an HxWx3 float image in [0, 1] (median over a
    ``size`` x ``size`` window: 9 for specks and scratches, 41 or more for flaking)."""
    grey = cv2.cvtColor((np.clip(rgb, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    median = cv2.medianBlur(grey, size | 1)
    return np.abs(grey.astype(np.float32) - median.astype(np.float32)) / 255.0


def _kind(entry, spec: dict) -> int:
    kind = (entry.get("kind") if isinstance(entry, dict) else None) or spec.get("kind")
    if kind is None:
        return UNKNOWN
    if kind not in KINDS:
        raise ValueError(f"damage kind {kind!r} is none of {KINDS} (entry {str(entry)[:60]})")
    return KINDS.index(kind) + 1


def render_kinds(rgb: np.ndarray, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """(mask, kinds) that ``spec`` describes on photo ``rgb``: the HxW uint8 {0, 1} union
    mask and the HxW uint8 label image (0 intact, ``KINDS.index(kind) + 1`` damage)."""
    h, w = rgb.shape[:2]
    contrast = local_contrast(rgb)
    threshold = float(spec.get("threshold", 0.08))
    mask = np.zeros((h, w), np.uint8)
    kinds = np.zeros((h, w), np.uint8)

    def add(part: np.ndarray, entry) -> None:
        mask[part > 0] = 1
        kinds[part > 0] = _kind(entry, spec)

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
        add(small[labels], entry)
    weak = (contrast >= threshold / 2).astype(np.uint8)
    for line in spec.get("lines", []):
        band = np.zeros((h, w), np.uint8)
        cv2.polylines(band, [_poly(line["points"])], False, 1, int(line.get("width", 3)))
        add(band if line.get("exact") else band & weak, line)
    for area in spec.get("areas", []):
        part = np.zeros((h, w), np.uint8)
        cv2.fillPoly(part, [_poly(area["polygon"] if isinstance(area, dict) else area)], 1)
        add(part, area)
    for area in spec.get("erase", []):
        cv2.fillPoly(mask, [_poly(area)], 0)
        cv2.fillPoly(kinds, [_poly(area)], 0)
    return mask, kinds


def render(rgb: np.ndarray, spec: dict) -> np.ndarray:
    """The HxW uint8 {0, 1} mask that ``spec`` describes on photo ``rgb``."""
    return render_kinds(rgb, spec)[0]


def training_labels(mask: np.ndarray, spec: dict) -> np.ndarray:
    """The mask as written: 255 damage, 0 intact, 128 where ``spec["ignore"]`` says the
    label is unknown (it wins over damage drawn there)."""
    labels = mask.astype(np.uint8) * 255
    for area in spec.get("ignore", []):
        cv2.fillPoly(labels, [_poly(area)], 128)
    return labels


def component_widths(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, width per label) of the 8-connected components of ``mask``: the width of
    a component is ``2 * max(distance to the background) - 1`` (L2), i.e. 1 for a one-pixel
    line, 3 for a 3 px band; a crack network gets the width of its widest point."""
    n, labels = cv2.connectedComponents((mask > 0).astype(np.uint8), connectivity=8)
    dist = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    peak = np.zeros(n, np.float64)
    np.maximum.at(peak, labels.ravel(), dist.ravel())
    width = np.maximum(2 * peak - 1, 0)
    width[0] = 0
    return labels, width


def width_class(width: float) -> int:
    """Index into ``WIDTH_CLASSES`` of a width in px (rounded)."""
    w = int(round(width))
    return next(i for i, (lo, hi) in enumerate(WIDTH_CLASSES) if w <= hi)


def load_real_masks(real_old_dir=None, masks_dir: Path = HERE) -> dict:
    """{stem: (mask, kinds)} of every rendered photo in ``masks_dir``: the HxW uint8 {0, 1}
    mask and the HxW uint8 kind labels (``KINDS``). With ``real_old_dir``, only stems with a
    photo there, and each size is checked against the photo's."""
    out = {}
    for mask_path in sorted(Path(masks_dir).glob("*.png")):
        stem = mask_path.stem
        if real_old_dir is not None:
            photos = [p for p in Path(real_old_dir).glob(stem + ".*") if p.suffix != ".png"]
            if not photos:
                continue
        labels = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if ((labels > 0) & (labels < 255)).any():
            raise ValueError(f"{mask_path}: unlabelled pixels (an 'ignore' region) in an "
                             "evaluation mask")  # fmt: skip
        mask = (labels > 127).astype(np.uint8)
        kinds = cv2.imread(str(Path(masks_dir) / "kinds" / f"{stem}.kinds.png"),
                           cv2.IMREAD_UNCHANGED)  # fmt: skip
        if kinds is None:
            raise FileNotFoundError(f"no kinds/{stem}.kinds.png beside {mask_path}")
        if kinds.shape != mask.shape:
            raise ValueError(f"{stem}: kinds {kinds.shape} != mask {mask.shape}")
        if real_old_dir is not None:
            size = cv2.imread(str(photos[0])).shape[:2]  # EXIF orientation applied
            if size != mask.shape:
                raise ValueError(f"{stem}: mask {mask.shape} != photo {size}")
        out[stem] = (mask, kinds)
    return out


def stats_table(masks: dict) -> str:
    """Per photo damage share, then pixels per kind and per width class (markdown)."""
    names = ["<=2 px", "3-5 px", "6-10 px", ">10 px"]
    rows = ["| photo | size | damage % | " + " | ".join(KINDS) + " |",
            "|---|---|---:|" + "---:|" * len(KINDS)]  # fmt: skip
    per_kind = np.zeros(len(KINDS) + 1, np.int64)
    per_width = np.zeros(len(WIDTH_CLASSES), np.int64)
    cross = np.zeros((len(KINDS) + 1, len(WIDTH_CLASSES)), np.int64)
    comps = np.zeros(len(WIDTH_CLASSES), np.int64)
    total = 0
    for stem, (mask, kinds) in sorted(masks.items(), key=lambda kv: -kv[1][0].mean()):
        counts = np.bincount(kinds.ravel(), minlength=len(KINDS) + 1)
        per_kind += counts
        total += mask.size
        labels, width = component_widths(mask)
        cls = np.array([width_class(w) for w in width])
        area = np.bincount(labels.ravel(), minlength=len(width))
        for c in range(len(WIDTH_CLASSES)):
            per_width[c] += area[1:][cls[1:] == c].sum()
            comps[c] += int((cls[1:] == c).sum())
        pix_cls = cls[labels]
        on = mask > 0
        np.add.at(cross, (kinds[on], pix_cls[on]), 1)
        rows.append(f"| {stem} | {mask.shape[1]}x{mask.shape[0]} | {mask.mean():.3%} | "
                    + " | ".join(str(int(c)) for c in counts[1:]) + " |")  # fmt: skip
    damaged = int(per_kind[1:].sum())
    rows += ["", f"{len(masks)} photos, {sum(1 for m, _ in masks.values() if not m.any())} "
             f"with an empty mask; {damaged} damage pixels = {damaged / max(total, 1):.3%} "
             "of all pixels", "", "| kind | pixels | share | " + " | ".join(names) + " |",
             "|---|---:|---:|" + "---:|" * len(names)]  # fmt: skip
    for i, kind in enumerate(KINDS):
        rows.append(f"| {kind} | {per_kind[i + 1]} | {per_kind[i + 1] / max(damaged, 1):.1%} | "
                    + " | ".join(str(int(v)) for v in cross[i + 1]) + " |")  # fmt: skip
    rows.append(f"| all | {damaged} | 100% | " + " | ".join(str(int(v)) for v in per_width)
                + " |")  # fmt: skip
    rows.append("| components | | | " + " | ".join(str(int(v)) for v in comps) + " |")
    return "\n".join(rows)


def _photo(real_old: Path, stem: str) -> np.ndarray:
    from oldphoto_cli.degrade import load_image

    found = [p for p in real_old.glob(stem + ".*")]
    if not found:
        raise FileNotFoundError(f"no photo {stem}.* in {real_old}")
    return load_image(found[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("render", "review", "stats"))
    parser.add_argument("stems", nargs="*")
    parser.add_argument("--real-old", required=True)
    parser.add_argument("--strokes", default=str(HERE / "strokes.json"))
    parser.add_argument("--out", default="/tmp/real_masks_review")
    parser.add_argument("--crop", help="review only X0,Y0,X1,Y1 of the photo")
    parser.add_argument("--scale", type=int, default=1, help="review enlarged N x")
    args = parser.parse_args()
    specs = json.loads(Path(args.strokes).read_text())
    stems = args.stems or sorted(k for k in specs if not k.startswith("_"))
    out = Path(args.out)
    if args.action == "stats":
        masks = load_real_masks(args.real_old, Path(args.strokes).parent)
        print(stats_table({k: v for k, v in masks.items() if k in stems}))
        return
    for stem in stems:
        rgb = _photo(Path(args.real_old), stem)
        mask, kinds = render_kinds(rgb, specs[stem])
        if args.action == "render":
            if (kinds == UNKNOWN).any():
                raise SystemExit(f"{stem}: an entry names no damage kind (one of {KINDS})")
            where = Path(args.strokes).parent
            cv2.imwrite(str(where / f"{stem}.png"), training_labels(mask, specs[stem]))
            (where / "kinds").mkdir(exist_ok=True)
            cv2.imwrite(str(where / "kinds" / f"{stem}.kinds.png"), kinds)
            share = ", ".join(f"{k} {(kinds == i + 1).mean():.3%}" for i, k in enumerate(KINDS)
                              if (kinds == i + 1).any())  # fmt: skip
            print(f"{stem}: {mask.mean():.4%} damage ({share or 'intact'})")
            continue
        out.mkdir(parents=True, exist_ok=True)
        view = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        marked = view.copy()
        marked[mask > 0] = (255, 0, 0)
        step = 100
        if args.crop:
            x0, y0, x1, y1 = (int(v) for v in args.crop.split(","))
            view, marked = view[y0:y1, x0:x1], marked[y0:y1, x0:x1]
            step = 50
        view, marked = (np.repeat(np.repeat(im, args.scale, 0), args.scale, 1)
                        for im in (view, marked))  # fmt: skip
        x_off, y_off = (x0, y0) if args.crop else (0, 0)
        for im in (view, marked):  # grid lines on the photo's own coordinates
            for x in range(-x_off % step, im.shape[1] // args.scale, step):
                im[:, x * args.scale] = (0, 200, 255)
            for y in range(-y_off % step, im.shape[0] // args.scale, step):
                im[y * args.scale, :] = (0, 200, 255)
        name = f"{stem}.png" if not args.crop else f"{stem}_{args.crop.replace(',', '_')}.png"
        cv2.imwrite(str(out / name), cv2.cvtColor(np.hstack([view, marked]), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
