"""Training curves from the runs' ``log.jsonl`` files: loss (smoothed) and the in-training
validation figures against the step, one panel per run.

    python benchmarks/training_curves.py research/training_logs/mapping.jsonl \
        research/training_logs/face.jsonl --out benchmarks/figures/training_curves.png

Each log line is ``{"step", "seconds", "loss", ...}`` or ``{"step", "val": {...}}``
(``oldphoto_cli.train.common.JsonlLog``). A resumed run appends to the same log, so a step
can appear twice (e.g. a validation at the end of one run and the start of the next): the
last record of a step wins. Validation keys starting with ``psnr`` are drawn on the right
axis in dB; ``psnr_identity`` (clean crops in, tens of dB) is left out of the axis range
and printed in the legend instead.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_log(path: Path) -> tuple[dict[int, float], dict[str, dict[int, float]]]:
    """(step -> loss, validation key -> step -> value); later records of a step win."""
    losses: dict[int, float] = {}
    vals: dict[str, dict[int, float]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        step = int(record["step"])
        if "val" in record:
            for key, value in record["val"].items():
                vals.setdefault(key, {})[step] = float(value)
        elif "loss" in record:
            losses[step] = float(record["loss"])
    return losses, vals


def smooth(values: list[float], window: int = 8) -> list[float]:
    """Trailing moving average (the raw losses of batch 4-8 jump by 2x step to step)."""
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/training_curves.png"))
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, len(args.logs), figsize=(6 * len(args.logs), 4), squeeze=False)
    for ax, path in zip(axes[0], args.logs, strict=True):
        losses, vals = read_log(path)
        steps = sorted(losses)
        ax.plot(steps, smooth([losses[s] for s in steps]), color="0.6", label="loss (smoothed)")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.set_title(path.parent.name if path.stem == "log" else path.stem)  # runs/<name>/log
        right = ax.twinx()
        for key, series in sorted(vals.items()):
            if not key.startswith("psnr"):
                continue
            points = sorted(series)
            if key == "psnr_identity":
                right.plot([], [], " ", label=f"{key}: {series[points[-1]]:.1f} dB at the end")
                continue
            right.plot(points, [series[s] for s in points], marker="o", label=key)
        right.set_ylabel("validation PSNR (dB)")
        right.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(args.out)


if __name__ == "__main__":
    main()
