"""Synthetic training pairs on disk: ``degraded/``, ``clean/``, ``mask/`` and a manifest.

The ``oldphoto degrade`` command is a thin wrapper over :func:`make_pairs` and
:func:`make_contact_sheet`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from oldphoto_cli.degrade.compose import DegradeConfig, degrade_image, rng_for
from oldphoto_cli.degrade.unstructured import to_uint8


@dataclass
class PairRecord:
    index: int
    name: str  # e.g. 000012_bsds_100007.png, the same in degraded/, clean/ and mask/
    source: str
    crop: dict[str, Any] | None
    ops: list[dict[str, Any]] = field(default_factory=list)
    masked_fraction: float = 0.0


def load_image(path: str | Path) -> np.ndarray:
    """Read an image as float32 RGB HxWx3 in [0, 1]; ValueError if it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ValueError(f"cannot decode image {path}")
    return img[..., ::-1].astype(np.float32) * np.float32(1 / 255)


def save_image(path: str | Path, img: np.ndarray) -> None:
    """Write float [0, 1] RGB / grey, or uint8, as PNG."""
    arr = img if img.dtype == np.uint8 else to_uint8(img)
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]
    ok, buf = cv2.imencode(Path(path).suffix or ".png", arr)
    if not ok:
        raise ValueError(f"cannot encode {path}")
    buf.tofile(str(path))


def random_crop(
    img: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """Random rescale (short side between ``size`` and its original length, at most 2x
    ``size``) and a random ``size`` x ``size`` crop."""
    h, w = img.shape[:2]
    short = min(h, w)
    s_min = size / short
    s_max = max(s_min, min(1.0, 2.0 * s_min))
    scale = float(rng.uniform(s_min, s_max))
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(img, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else img
    y = int(rng.integers(0, nh - size + 1))
    x = int(rng.integers(0, nw - size + 1))
    crop = np.ascontiguousarray(resized[y : y + size, x : x + size])
    return crop, {"scale": round(scale, 4), "x": x, "y": y, "size": size}


def make_pairs(
    sources: Iterable[str | Path],
    out_dir: str | Path,
    count: int | None = None,
    size: int | None = 256,
    seed: int = 0,
    config: DegradeConfig | None = None,
    on_error: Callable[[Path, str], None] | None = None,
    on_progress: Callable[[PairRecord], None] | None = None,
) -> list[PairRecord]:
    """Write ``count`` (default: one per source) degraded/clean/mask PNG triples.

    Image ``i`` uses source ``i`` (cycling), ``rng_for(seed, i)`` for its crop and its
    degradation, and is named ``{i:06d}_{source stem}.png``. Sources that cannot be
    decoded are reported through ``on_error(path, message)`` once and skipped.
    ``manifest.jsonl`` gets one line per image with every applied op and its params.
    Masks are written as 0/255.
    """
    config = config or DegradeConfig()
    candidates = [Path(p) for p in sources]
    if count is None:
        count = len(candidates)
    out = Path(out_dir)
    for sub in ("degraded", "clean", "mask"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    records: list[PairRecord] = []
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for i in range(count):
            img = None
            while candidates:
                src = candidates[i % len(candidates)]
                try:
                    img = load_image(src)
                    break
                except (ValueError, OSError) as error:
                    candidates.remove(src)
                    if on_error is not None:
                        on_error(src, str(error))
            if img is None:
                break
            rng = rng_for(seed, i)
            crop = None
            if size:
                img, crop = random_crop(img, size, rng)
            res = degrade_image(img, rng, config)
            name = f"{i:06d}_{src.stem}.png"
            save_image(out / "degraded" / name, res.image)
            save_image(out / "clean" / name, img)
            save_image(out / "mask" / name, res.mask * np.uint8(255))
            record = PairRecord(i, name, str(src), crop, res.ops, float(res.mask.mean()))
            manifest.write(
                json.dumps(
                    {
                        "index": i,
                        "name": name,
                        "source": str(src),
                        "seed": seed,
                        "crop": crop,
                        "masked_fraction": round(record.masked_fraction, 5),
                        "ops": res.ops,
                    }
                )
                + "\n"
            )
            records.append(record)
            if on_progress is not None:
                on_progress(record)
    return records


def load_triple(out_dir: str | Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean, degraded, mask) of one written pair, as float RGB images."""
    out = Path(out_dir)
    return tuple(load_image(out / sub / name) for sub in ("clean", "degraded", "mask"))


def make_contact_sheet(
    triples: Iterable[tuple[np.ndarray, ...]], tile: int = 256, gap: int = 4
) -> np.ndarray:
    """Tile rows of images (e.g. clean | degraded | mask) into one uint8 RGB sheet.

    Each image is fitted into a ``tile`` x ``tile`` cell; grey (HxW or HxWx1) and
    {0, 1} / uint8 masks are shown as grey.
    """
    rows = []
    for triple in triples:
        cells = []
        for im in triple:
            a = np.asarray(im)
            if a.dtype != np.uint8:
                a = to_uint8(a.astype(np.float32))
            if a.max() <= 1:  # a {0, 1} mask
                a = a * np.uint8(255)
            if a.ndim == 2:
                a = a[..., None]
            if a.shape[2] == 1:
                a = np.repeat(a, 3, axis=2)
            h, w = a.shape[:2]
            s = tile / max(h, w)
            a = cv2.resize(
                a,
                (max(1, round(w * s)), max(1, round(h * s))),
                interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_NEAREST,
            )
            cell = np.full((tile, tile, 3), 255, np.uint8)
            cell[: a.shape[0], : a.shape[1]] = a
            cells.append(cell)
            cells.append(np.full((tile, gap, 3), 255, np.uint8))
        rows.append(np.hstack(cells[:-1]))
        rows.append(np.full((gap, rows[-1].shape[1], 3), 255, np.uint8))
    if not rows:
        raise ValueError("no images for the contact sheet")
    return np.vstack(rows[:-1])
