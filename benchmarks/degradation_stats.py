"""How close is the synthetic damage to real old photos? Simple image statistics compared.

    python benchmarks/degradation_stats.py [--real ../shared/data/real_old]
        [--clean ../shared/data/clean] [--n 300] [--figure benchmarks/figures/degradation_stats.png]

For every real old photo and for ``--n`` synthetic crops of the clean *training* photos
(three mixes: the full default damage, the mapping's training spectrum, and the mild
setting alone), each image is brought to 512 px on its long side and its centre 256 px
crop is measured:

* ``noise``: Immerkaer's noise sigma estimate (x255) on the luminance;
* ``sharpness``: mean squared Sobel gradient of the luminance (x1000);
* ``contrast``: standard deviation of the luminance;
* ``tone spread``: 95th minus 5th percentile of the luminance;
* ``gray`` / ``toned``: share of images whose chroma is nil / whose mean hue is warm
  (sepia, yellowed) with low saturation.

Prints a markdown table (medians and 10th-90th percentiles) and writes a histogram figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def load(path: Path) -> np.ndarray:
    from oldphoto_cli.data import load_rgb

    return load_rgb(path).astype(np.float32) / 255.0


def centre(img: np.ndarray, side: int = 256, long_side: int = 512) -> np.ndarray:
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    img = cv2.resize(img, (max(side, round(w * scale)), max(side, round(h * scale))),
                     interpolation=cv2.INTER_AREA)  # fmt: skip
    h, w = img.shape[:2]
    top, left = (h - side) // 2, (w - side) // 2
    return img[top : top + side, left : left + side]


def noise_sigma(lum: np.ndarray) -> float:
    """Immerkaer (1996): sigma from the response to a Laplacian-difference kernel."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(lum, -1, kernel)[1:-1, 1:-1]
    h, w = lum.shape
    return float(np.sqrt(np.pi / 2) * np.abs(response).sum() / (6 * (w - 2) * (h - 2)))


def stats(img: np.ndarray) -> dict[str, float]:
    lum = img @ LUMA
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1)
    hsv = cv2.cvtColor(np.clip(img, 0, 1), cv2.COLOR_RGB2HSV)
    chroma = float(np.abs(img - img.mean(axis=2, keepdims=True)).mean())
    sat = float(hsv[..., 1].mean())
    hue = float(np.median(hsv[..., 0][hsv[..., 1] > 0.05])) if (hsv[..., 1] > 0.05).any() else 0
    return {
        "noise": 255 * noise_sigma(lum),
        "sharpness": 1000 * float(np.mean(gx * gx + gy * gy)),
        "contrast": float(lum.std()),
        "tone spread": float(np.percentile(lum, 95) - np.percentile(lum, 5)),
        "gray": float(chroma < 0.004),
        "toned": float(chroma >= 0.004 and sat < 0.35 and 15 <= hue <= 60),
    }


def synthetic(paths: list[Path], n: int, mix: str, seed: int = 4242) -> list[dict[str, float]]:
    from oldphoto_cli.data import mild_config
    from oldphoto_cli.degrade import DegradeConfig, degrade_image, rng_for

    rows = []
    for i in range(n):
        clean = centre(load(paths[i % len(paths)]))
        u = np.random.default_rng([seed, i]).random()
        if mix == "full" or (mix == "spectrum" and u >= 0.6):
            config = DegradeConfig()
        elif mix == "spectrum" and u < 0.2:
            rows.append(stats(clean))
            continue
        else:
            config = mild_config(True)
        rows.append(stats(np.clip(degrade_image(clean, rng_for(seed, i), config).image, 0, 1)))
    return rows


def summarise(name: str, rows: list[dict[str, float]]) -> str:
    cells = [name, str(len(rows))]
    for key in ("noise", "sharpness", "contrast", "tone spread"):
        v = np.array([r[key] for r in rows])
        q10, q50, q90 = np.percentile(v, [10, 50, 90])
        cells.append(f"{q50:.3g} ({q10:.3g}-{q90:.3g})")
    for key in ("gray", "toned"):
        cells.append(f"{100 * np.mean([r[key] for r in rows]):.0f} %")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", default=str(root / "real_old"))
    parser.add_argument("--clean", default=str(root / "clean"))
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--figure", default="benchmarks/figures/degradation_stats.png")
    args = parser.parse_args()

    from oldphoto_cli.data import list_images, training_split

    groups = {
        "real old photos": [stats(centre(load(p))) for p in list_images(args.real)],
    }
    train, _ = training_split(args.clean)
    groups["clean photos (no damage)"] = [stats(centre(load(p))) for p in train[: args.n]]
    for mix, label in (("full", "synthetic: full default mix"),
                       ("spectrum", "synthetic: mapping training spectrum"),
                       ("mild", "synthetic: mild only")):  # fmt: skip
        groups[label] = synthetic(train, args.n, mix)

    print(
        "| set | n | noise sigma (x255) | sharpness (x1000) | contrast | tone spread | gray | toned |"
    )
    print("| --- | ---: | --- | --- | --- | --- | ---: | ---: |")
    for name, rows in groups.items():
        print(summarise(name, rows))
    print("\nmedian (10th-90th percentile)")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ("noise", "sharpness", "contrast", "tone spread")
    fig, axes = plt.subplots(1, len(keys), figsize=(16, 3.6))
    shown = ("real old photos", "synthetic: full default mix",
             "synthetic: mapping training spectrum")  # fmt: skip
    for ax, key in zip(axes, keys, strict=True):
        values = {name: np.array([r[key] for r in groups[name]]) for name in shown}
        top = np.percentile(np.concatenate(list(values.values())), 98)
        bins = np.linspace(0, top, 30)
        for name, v in values.items():
            ax.hist(np.clip(v, 0, top), bins=bins, density=True, histtype="step", lw=1.8,
                    label=name)  # fmt: skip
        ax.set_title(key)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=80)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
