"""Scratch detection on three test sets: the project's validation pairs (its own renderer,
``oldphoto_cli.degrade``), pairs from an independent renderer (``oldphoto_cli/damage2.py``,
never used for training) and the hand-traced real old photos (``benchmarks/real_masks``).

    python benchmarks/eval_detector.py --clean ../shared/data/clean \\
        --real-old ../shared/data/real_old --work /tmp/detval [--weights-dir DIR] \\
        [--threads 1] [--json out.json] [--sheet /tmp/real_sheet.png] [--per-kind 20]

Both synthetic sets are made from the validation split of ``--clean`` (crc32 of the file
name, :func:`oldphoto_cli.data.split`) into ``--work`` (kept and reused when present):
``val1`` is exactly ``oldphoto eval --make-validation`` (seed 20201, one 256 px crop per
photo), ``val2`` is two 256 px crops per photo damaged by ``damage2`` (seed 1606).

The detector is the shipped one through the pipeline (``RestorePipeline.detect``) with
the default ``detect`` mask rule (threshold, ``min_area``, printed patterns spared;
``--dilate`` 0, face sparing off as in ``oldphoto eval``); rows with ``dilate 1`` show what restore's inpainting margin
does to the scores. Pixel counts are pooled over each set (``metrics.detection_scores``).
``width`` is the mean stroke width of a mask, total area over total skeleton length of
its connected components, for the predicted and the true masks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REAL_MASKS = HERE / "real_masks"


def stroke_width(mask: np.ndarray) -> tuple[float, float]:
    """(area, skeleton length) of a binary mask: their ratio is its mean stroke width."""
    from skimage.morphology import skeletonize

    mask = np.asarray(mask) > 0
    if not mask.any():
        return 0.0, 0.0
    skeleton = skeletonize(mask)
    return float(mask.sum()), float(skeleton.sum())


def build_sets(clean: str, work: Path) -> tuple[Path, Path]:
    from oldphoto_cli import damage2
    from oldphoto_cli.data import list_images, split
    from oldphoto_cli.evaluate import make_validation_pairs

    val1, val2 = work / "val1", work / "val2"
    if not (val1 / "mask").is_dir():
        make_validation_pairs(clean, val1)
    if not (val2 / "mask").is_dir():
        _, validation = split(list_images(clean))
        damage2.make_pairs(validation, val2)
    return val1, val2


def build_kind_sets(clean: str, work: Path, per_kind: int) -> dict[str, Path]:
    """One set per damage2 kind, that kind alone: one 256 px crop of each of the first
    ``per_kind`` validation photos, seed ``PAIR_SEED + 1 + k`` for the k-th kind. Where
    the independent renderer's gap is: which kinds the detector misses or over-marks."""
    from oldphoto_cli import damage2
    from oldphoto_cli.data import list_images, split

    _, validation = split(list_images(clean))
    sets = {}
    for k, kind in enumerate(damage2.KINDS):
        out = work / f"val2_{kind}_{per_kind}"
        if not (out / "mask").is_dir():
            damage2.make_pairs(validation[:per_kind], out, per_image=1,
                               seed=damage2.PAIR_SEED + 1 + k, only=(kind,))  # fmt: skip
        sets[kind] = out
    return sets


def synthetic_items(pairs_dir: Path, with_base: bool = False):
    """(name, degraded, mask[, base]): ``base`` only where the pair's clean side is the
    undamaged base of the same crop (damage2's pairs), so their difference is the damage."""
    from oldphoto_cli.evaluate import list_pairs, load_pair

    for name in list_pairs(pairs_dir):
        degraded, clean, mask = load_pair(pairs_dir, name)
        yield (name, degraded, mask, clean) if with_base else (name, degraded, mask)


CONTRAST_BINS = (10, 20, 40, 80, 256)
"""Damage contrast bins (largest 8-bit change over the channels) for the recall split."""


def real_items(real_old: Path, masks_dir: Path = REAL_MASKS):
    """(name, photo float RGB, traced mask) for every traced photo; the damage kinds of
    each are in :data:`REAL_KINDS` afterwards (for the per-kind recall)."""
    from oldphoto_cli.degrade import load_image

    sys.path.insert(0, str(HERE))
    import trace_real_masks

    for name, (mask, kinds) in trace_real_masks.load_real_masks(real_old, masks_dir).items():
        photo = next(p for p in real_old.glob(name + ".*") if p.suffix != ".png")
        REAL_KINDS[name] = kinds
        yield name, load_image(photo), mask


REAL_KINDS: dict[str, np.ndarray] = {}
PROB_CACHE: Path | None = None  # --prob-cache: detector outputs kept to score other rules


def recall_by_kind_and_width(kept: list) -> dict:
    """Recall of the hand-traced damage per kind (crack, scratch, ...) and per width class of
    its connected components, plus the share of the intact photos' pixels marked."""
    sys.path.insert(0, str(HERE))
    import trace_real_masks as trm

    kinds_found = np.zeros((2, len(trm.KINDS)))
    widths_found = np.zeros((2, len(trm.WIDTH_CLASSES)))
    intact = [0, 0]
    for name, _image, truth, pred in kept:
        if not truth.any():
            intact[0] += int(pred.sum())
            intact[1] += pred.size
            continue
        hit = (truth > 0) & (pred > 0)
        kinds = REAL_KINDS[name]
        for k in range(len(trm.KINDS)):
            true_k = (truth > 0) & (kinds == k + 1)
            kinds_found[:, k] += true_k.sum(), (true_k & hit).sum()
        labels, width = trm.component_widths(truth)
        cls = np.array([trm.width_class(w) for w in width])
        pixel_cls = cls[labels]
        for c in range(len(trm.WIDTH_CLASSES)):
            true_c = (truth > 0) & (pixel_cls == c)
            widths_found[:, c] += true_c.sum(), (true_c & hit).sum()
    names = [f"{lo}-{hi} px" if hi < 10**8 else f">{lo - 1} px" for lo, hi in trm.WIDTH_CLASSES]
    return {
        "recall_by_kind": {k: {"pixels": int(t), "recall": round(f / max(t, 1), 3)}
                           for k, t, f in zip(trm.KINDS, *kinds_found, strict=True)},
        "recall_by_width": {n: {"pixels": int(t), "recall": round(f / max(t, 1), 3)}
                            for n, t, f in zip(names, *widths_found, strict=True)},
        "intact_photos_marked": round(intact[0] / max(intact[1], 1), 5),
    }  # fmt: skip


def score_set(pipeline, items, dilations=(0, 1), keep: list | None = None) -> dict:
    from oldphoto_cli.metrics import detection_scores
    from oldphoto_cli.patterns import spare_patterns
    from oldphoto_cli.pipeline import grow_mask

    opts = pipeline.options
    pred = {d: [] for d in dilations}
    widths = {d: [0.0, 0.0] for d in dilations}
    truth, true_width, count, seconds = [], [0.0, 0.0], 0, 0.0
    per_image: dict[str, float] = {}
    bins = len(CONTRAST_BINS) - 1
    by_contrast = np.zeros((2, bins))  # (true pixels, found) per contrast bin
    for name, image, mask, *base in items:
        started = time.perf_counter()
        cached = PROB_CACHE / f"{name}.npy" if PROB_CACHE else None
        if cached is not None and cached.exists():
            prob = np.load(cached).astype(np.float32)
        else:
            prob = pipeline.detect(image)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.save(cached, prob.astype(np.float16))
        seconds += time.perf_counter() - started
        count += 1
        truth.append(mask.ravel() > 0)
        a, s = stroke_width(mask)
        true_width[0] += a
        true_width[1] += s
        rule_mask = pipeline.mask_of(prob, dilate=False)
        if opts.spare_patterns:  # the default detect rule, as restore applies it
            rule_mask = spare_patterns(rule_mask, image)[0]
        if base:  # how much the damage changed each true pixel: is a miss faint or plain?
            change = np.round(np.abs(image - base[0]).max(axis=2) * 255)
            which = np.digitize(change, CONTRAST_BINS) - 1
            for b in range(bins):
                true_b = (mask > 0) & (which == b)
                by_contrast[0, b] += true_b.sum()
                by_contrast[1, b] += (true_b & (rule_mask > 0)).sum()
        for d in dilations:
            m = grow_mask(rule_mask, d)
            pred[d].append(m.ravel() > 0)
            a, s = stroke_width(m)
            widths[d][0] += a
            widths[d][1] += s
            if d == 0:
                per_image[name] = round(detection_scores(m.ravel(), mask.ravel())["f1"], 3)
                if keep is not None:
                    keep.append((name, image, mask, m))
    flat_truth = np.concatenate(truth)
    rows = {}
    for d in dilations:
        scores = detection_scores(np.concatenate(pred[d]), flat_truth)
        rows[f"dilate {d}"] = {k: round(v, 4) for k, v in scores.items()} | {
            "width_pred": round(widths[d][0] / max(widths[d][1], 1), 2),
        }
    return {
        "images": count,
        "true_width": round(true_width[0] / max(true_width[1], 1), 2),
        "true_share": round(float(flat_truth.mean()), 5),
        "seconds_per_image": round(seconds / max(count, 1), 3),
        "rows": rows,
        "f1_per_image": per_image if keep is not None else None,
        "recall_by_contrast": {
            f"{lo}-{hi - 1}": {"share": round(t / max(by_contrast[0].sum(), 1), 3),
                               "recall": round(f / max(t, 1), 3)}
            for lo, hi, t, f in zip(CONTRAST_BINS[:-1], CONTRAST_BINS[1:], *by_contrast, strict=True)
        } if by_contrast[0].sum() else None,
    }


def overlay_sheet(kept: list, path: str, tile: int = 640) -> None:
    """Photo with true-positive green, false-positive red, missed blue, one row each."""
    import cv2

    rows = []
    for name, image, truth, pred in kept:
        rgb = (np.clip(image, 0, 1) * 255).astype(np.uint8)
        over = rgb.copy()
        t, p = truth > 0, pred > 0
        over[t & p] = (0, 220, 0)
        over[~t & p] = (255, 0, 0)
        over[t & ~p] = (0, 80, 255)
        pair = np.hstack([rgb, over])
        scale = tile * 2 / pair.shape[1]
        pair = cv2.resize(pair, (tile * 2, round(pair.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)  # fmt: skip
        cv2.putText(pair, name, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
        rows.append(pair)
    sheet = np.vstack(rows)
    cv2.imwrite(path, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clean", required=True, help="clean photos (validation split used)")
    parser.add_argument("--real-old", help="real old photos for benchmarks/real_masks")
    parser.add_argument("--work", default="/tmp/detval", help="where the pair sets are made")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--limit", type=int, default=0, help="at most N images per set")
    parser.add_argument("--sets", default="val1,val2,real", help="which sets to score")
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--sheet", help="write the real set's overlay sheet here (PNG or JPEG)")
    parser.add_argument("--rule", metavar="T[,LOW[,BLOB]]",
                        help="mask rule to score instead of the default: threshold, hysteresis "
                             "low, compact-region threshold (oldphoto_cli.mask_rule)")  # fmt: skip
    parser.add_argument("--prob-cache", metavar="DIR",
                        help="keep the detector's probability maps here (one folder per "
                             "weights), so scoring other --rule values detects nothing")  # fmt: skip
    parser.add_argument("--per-kind", type=int, default=0, metavar="N",
                        help="also score each damage2 kind alone on N crops (dilate 0)")  # fmt: skip
    args = parser.parse_args()

    import itertools

    import torch

    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    if args.threads:
        torch.set_num_threads(args.threads)
    wanted = args.sets.split(",")
    work = Path(args.work)
    val1, val2 = build_sets(args.clean, work)
    global PROB_CACHE
    from oldphoto_cli.mask_rule import rule_options

    rule = rule_options(args.rule)
    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                              weights_dir=args.weights_dir, **rule))  # fmt: skip
    limit = args.limit or None
    report: dict = {"weights_dir": args.weights_dir, "rule": str(pipeline.mask_rule),
                    "sets": {}}  # fmt: skip
    with torch.inference_mode():
        for key, items in (("val1", lambda: synthetic_items(val1)),
                           ("val2", lambda: synthetic_items(val2, with_base=True))):  # fmt: skip
            if key in wanted:
                PROB_CACHE = Path(args.prob_cache) / key if args.prob_cache else None
                report["sets"][key] = score_set(pipeline, itertools.islice(items(), limit))
        if args.per_kind:
            PROB_CACHE = None
            report["per_kind"] = {
                kind: score_set(pipeline, synthetic_items(path, with_base=True), dilations=(0,))
                for kind, path in build_kind_sets(args.clean, work, args.per_kind).items()
            }
        if "real" in wanted and args.real_old:
            PROB_CACHE = Path(args.prob_cache) / "real" if args.prob_cache else None
            kept: list = []
            report["sets"]["real"] = score_set(pipeline, real_items(Path(args.real_old)),
                                               keep=kept)  # fmt: skip
            report["real_breakdown"] = recall_by_kind_and_width(kept)
            if args.sheet and kept:
                overlay_sheet(kept, args.sheet)
    names = {"val1": "own renderer (validation pairs)", "val2": "independent renderer (damage2)",
             "real": "real old photos, hand-traced"}  # fmt: skip
    print(f"{'set':34} {'dilate':>6} {'F1':>6} {'IoU':>6} {'prec':>6} {'recall':>6} "
          f"{'w pred':>6} {'w true':>6} {'n':>4}")  # fmt: skip
    labelled = [(names[key], res) for key, res in report["sets"].items()]
    labelled += [(f"damage2 {kind} alone", res) for kind, res in report.get("per_kind", {}).items()]
    for label, res in labelled:
        for row, s in res["rows"].items():
            print(f"{label:34} {row[-1]:>6} {s['f1']:6.3f} {s['iou']:6.3f} "
                  f"{s['precision']:6.3f} {s['recall']:6.3f} {s['width_pred']:6.2f} "
                  f"{res['true_width']:6.2f} {res['images']:4d}")  # fmt: skip
    for key, res in report["sets"].items():
        if res.get("recall_by_contrast"):
            split = ", ".join(f"{k}: {v['recall']:.2f} of {v['share']:.0%}"
                              for k, v in res["recall_by_contrast"].items())  # fmt: skip
            print(f"{names[key]}, dilate 0 recall by damage contrast (8-bit levels): {split}")
    if "real_breakdown" in report:
        br = report["real_breakdown"]
        for key in ("recall_by_kind", "recall_by_width"):
            print(f"real, dilate 0, {key.replace('_', ' ')}: " + ", ".join(
                f"{k} {v['recall']:.2f} ({v['pixels']} px)" for k, v in br[key].items()))
        print(f"real, intact photos: {br['intact_photos_marked']:.3%} of pixels marked")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
