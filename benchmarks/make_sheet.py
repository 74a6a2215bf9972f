"""Before/after contact sheet of real old photos.

    python benchmarks/make_sheet.py [--folder /work/shared/data/real_old] [--n 6]
        [--names a.jpg,b.jpg] [--weights-dir DIR] [--out /tmp/real_old_sheet.png]

Columns: input | detected mask (red overlay) | restored (default pipeline, faces on) |
classical (oldphoto-classical: black-hat scratch map + Telea + NLM). Photos are a fixed,
varied list (portraits, groups, landscape, architecture) where present in the folder,
topped up by a seeded random pick; each is downscaled to ``--max-side`` before restoring
and shown in ``--row-height`` px rows. The sheet goes outside the repository by default.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np

DEFAULT_NAMES = [
    "1860Girls.jpg",  # group portrait, faded
    "1925Girl.jpg",  # single portrait
    "1908FamilyPhoto.jpg",  # family group
    "1890Surfer.jpg",  # outdoor scene
    "AnselAdamsWhiteChurch.jpg",  # architecture, fine detail
    "1899NycBlizzard.jpg",  # street scene, grain
]
COLUMNS = ["input", "detected mask", "restored (default)", "classical"]


def pick(folder: Path, names: list[str], n: int, seed: int) -> list[Path]:
    from oldphoto_cli.data import list_images

    available = {p.name: p for p in list_images(folder)}
    chosen = [available[name] for name in names if name in available][:n]
    rest = sorted(set(available) - {p.name for p in chosen})
    random.Random(seed).shuffle(rest)
    chosen += [available[name] for name in rest[: n - len(chosen)]]
    return chosen


def fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def overlay(rgb: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    out = rgb.copy()
    if mask is not None and mask.any():
        hit = mask.astype(bool)
        out[hit] = 0.35 * out[hit] + 0.65 * np.array([1.0, 0.1, 0.1], np.float32)
    return out


def to_u8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def label(cell: np.ndarray, text: str, scale: float = 0.5) -> np.ndarray:
    """White text on a dark band at the top-left of a uint8 RGB cell."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(cell, (0, 0), (tw + 8, th + base + 6), (0, 0, 0), -1)
    cv2.putText(cell, text, (4, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)  # fmt: skip
    return cell


def row_cells(images: list[np.ndarray], height: int) -> list[np.ndarray]:
    cells = []
    for image in images:
        h, w = image.shape[:2]
        width = max(1, round(w * height / h))
        interp = cv2.INTER_AREA if height < h else cv2.INTER_CUBIC
        cells.append(cv2.resize(to_u8(image), (width, height), interpolation=interp))
    return cells


def assemble(rows: list[list[np.ndarray]], titles: list[str], gap: int = 6) -> np.ndarray:
    """Rows of equal-height cells; columns padded to their widest cell; a header band."""
    widths = [max(row[c].shape[1] for row in rows) for c in range(len(titles))]
    header_h = 28
    total_w = sum(widths) + gap * (len(widths) + 1)
    band = np.full((header_h, total_w, 3), 255, np.uint8)
    x = gap
    for title, width in zip(titles, widths, strict=True):
        cv2.putText(band, title, (x + 2, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1,
                    cv2.LINE_AA)  # fmt: skip
        x += width + gap
    parts = [band]
    for row in rows:
        height = row[0].shape[0]
        line = np.full((height, total_w, 3), 255, np.uint8)
        x = gap
        for cell, width in zip(row, widths, strict=True):
            line[:, x : x + cell.shape[1]] = cell
            x += width + gap
        parts += [line, np.full((gap, total_w, 3), 255, np.uint8)]
    return np.vstack(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--folder", type=Path, default=Path("/work/shared/data/real_old"))
    parser.add_argument("--names", default=",".join(DEFAULT_NAMES),
                        help="comma list of file names to prefer")  # fmt: skip
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0, help="tops up missing names")
    parser.add_argument("--max-side", type=int, default=640, help="restore at this size")
    parser.add_argument("--row-height", type=int, default=320)
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-faces", action="store_true", help="face enhancer off")
    parser.add_argument("--out", type=Path, default=Path("/tmp/real_old_sheet.png"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from oldphoto_classical import blackhat_scratch_map, classical_restore

    from oldphoto_cli.data import load_rgb
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    options = RestoreOptions(device=args.device, weights_dir=args.weights_dir,
                             face_enhancer="none" if args.no_faces else None)  # fmt: skip
    pipeline = RestorePipeline(options)
    photos = pick(args.folder, [n for n in args.names.split(",") if n], args.n, args.seed)
    if not photos:
        sys.exit(f"no images in {args.folder}")
    rows = []
    for path in photos:
        started = time.perf_counter()
        rgb = fit(load_rgb(path).astype(np.float32) / 255, args.max_side)
        mask = pipeline.mask_of(pipeline.detect(rgb))
        result = pipeline.restore(rgb, mask=mask)
        classical = classical_restore(rgb, blackhat_scratch_map(rgb) >= 0.5)
        cells = row_cells([rgb, overlay(rgb, mask), result.image, classical], args.row_height)
        label(cells[0], path.name)
        label(cells[1], f"{mask.mean():.1%} masked")
        if result.info.get("faces"):
            label(cells[2], f"{result.info['faces']} face(s)")
        rows.append(cells)
        print(f"{path.name}: {rgb.shape[1]}x{rgb.shape[0]}, mask {mask.mean():.2%}, "
              f"faces {result.info.get('faces', 0)}, "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
    sheet = assemble(rows, COLUMNS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
