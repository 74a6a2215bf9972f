"""What a wrong mask costs: the content under the detector's false alarms, after restore.

    python benchmarks/wrong_mask_harm.py --real-old ../shared/data/real_old \\
        [--clean-pairs /tmp/detval/val1] [--row NAME=TRANSLATOR[:WEIGHTS_DIR] ...] \\
        [--threads 1] [--json out.json]

The detector marks content as damage (a finger's outline on a halftone print, a tripod's
leg, a wire), and restore then repairs what was never broken. This scores what each
translator does there, with the default detector and mask rule as restore runs them
(``--dilate`` 1), on two sets:

- **real**: the 40 hand-traced real old photos (``benchmarks/real_masks``); a marked pixel
  more than 3 px from any traced damage is a false alarm;
- **clean** (``--clean-pairs``): the intact side of the validation pairs, where every
  marked pixel is one.

Per row: PSNR of the output against the input on the false-alarm pixels (the content
there, kept or painted over; higher is better) and on the unmarked pixels (what the
translator changes anyway: grain, blur; the reference a kept false alarm can reach).
The mask is detected once per photo and shared by all rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TOLERANCE = 3  # px: a mark this close to traced damage is the trace's slack, not an alarm


def squared_error_on(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> tuple[float, int]:
    """(sum of squared errors, pixel count) of HxWx3 images on the HxW bool ``where``."""
    diff = (a[where] - b[where]).astype(np.float64)
    return float((diff**2).sum()), int(where.sum()) * 3


def db(sse: float, count: int) -> float | None:
    """PSNR of pooled squared errors over ``count`` values in [0, 1] (None: no pixels)."""
    if not count:
        return None
    mse = sse / count
    return round(float(10 * np.log10(1.0 / max(mse, 1e-12))), 2)


def false_alarms(mask: np.ndarray, traced: np.ndarray | None) -> np.ndarray:
    """The marked pixels more than TOLERANCE px from any traced damage (all of them when
    nothing is traced)."""
    import cv2

    marked = mask > 0
    if traced is None or not traced.any():
        return marked
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * TOLERANCE + 1,) * 2)
    near = cv2.dilate((traced > 0).astype(np.uint8), disc) > 0
    return marked & ~near


def photos(real_old: Path | None, clean_pairs: Path | None):
    """(set, name, image, traced mask or None)."""
    if real_old:
        sys.path.insert(0, str(HERE))
        from eval_detector import real_items

        for name, image, mask in real_items(real_old):
            yield "real", name, image, mask
    if clean_pairs:
        from oldphoto_cli.evaluate import list_pairs, load_pair

        for name in list_pairs(clean_pairs):
            _, clean, _ = load_pair(clean_pairs, name)
            yield "clean", name, clean, None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real-old", type=Path, help="real old photos (benchmarks/real_masks)")
    parser.add_argument("--clean-pairs", type=Path, help="validation pairs (their clean side)")
    parser.add_argument("--row", action="append", metavar="NAME=TRANSLATOR[:WEIGHTS_DIR]",
                        help="a translator to score (default: restorer and mapping, shipped)")  # fmt: skip
    parser.add_argument("--limit", type=int, default=0, help="at most N photos per set")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    import torch

    from oldphoto_cli.patterns import spare_patterns
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline, grow_mask

    if args.threads:
        torch.set_num_threads(args.threads)
    specs = args.row or ["restorer=restorer", "mapping=mapping"]
    rows = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        translator, _, weights_dir = rest.partition(":")
        rows[name] = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                                    translator=translator,
                                                    weights_dir=weights_dir or None))  # fmt: skip
    detector = next(iter(rows.values()))
    sums: dict = {}
    counts = {"real": 0, "clean": 0}
    with torch.inference_mode():
        for kind, _name, image, traced in photos(args.real_old, args.clean_pairs):
            if args.limit and counts[kind] >= args.limit:
                continue
            counts[kind] += 1
            found = detector.mask_of(detector.detect(image), dilate=False)
            if detector.options.spare_patterns:
                found = spare_patterns(found, image)[0]
            mask = grow_mask(found, detector.options.dilate)  # what restore repairs
            alarms = false_alarms(mask, traced)
            if not alarms.any():
                continue
            unmarked = mask == 0
            for row, pipeline in rows.items():
                out = pipeline.restore(image, mask=mask).image
                acc = sums.setdefault((kind, row), [0.0, 0, 0.0, 0])
                sse, n = squared_error_on(out, image, alarms)
                acc[0] += sse
                acc[1] += n
                sse, n = squared_error_on(out, image, unmarked)
                acc[2] += sse
                acc[3] += n
    report = {"photos": counts, "rows": {}}
    for (kind, row), (a_sse, a_n, u_sse, u_n) in sorted(sums.items()):
        report["rows"].setdefault(kind, {})[row] = {
            "false_alarm_pixels": a_n // 3, "psnr_on_false_alarms": db(a_sse, a_n),
            "psnr_unmarked": db(u_sse, u_n)}  # fmt: skip
    for kind, table in report["rows"].items():
        for row, r in table.items():
            print(f"{kind:5s} {row:12s} false-alarm px {r['false_alarm_pixels']:8d}  "
                  f"kept {r['psnr_on_false_alarms']} dB  unmarked {r['psnr_unmarked']} dB")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
