"""Training data: the fixed validation split and on-the-fly torch datasets.

Every sample is a pure function of ``(seed, index)``: the same index always yields the
same crop and the same degradation, whatever the worker, process or world size. A
training run therefore defines its data stream by the global sample index, which is what
makes resume bit-exact and lets DDP ranks split the stream without overlap.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VAL_MODULUS = 10  # a file is in validation when crc32(name) % 10 == 0 (about 10 %)


def list_images(directory: str | Path) -> list[Path]:
    """Image files directly in ``directory``, sorted by name, hidden files skipped."""
    directory = Path(directory)
    return sorted(
        p for p in directory.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )  # fmt: skip


def is_validation(path: str | Path) -> bool:
    """The fixed, documented split: depends on the file name only, never on the listing."""
    return zlib.crc32(Path(path).name.encode()) % VAL_MODULUS == 0


def split(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(train, validation) by :func:`is_validation`."""
    train = [p for p in paths if not is_validation(p)]
    val = [p for p in paths if is_validation(p)]
    return train, val


def training_split(directory: str | Path) -> tuple[list[Path], list[Path]]:
    """:func:`split` of a folder; a tiny folder with no validation file validates on train."""
    paths = list_images(directory)
    if not paths:
        raise ValueError(f"no images in {directory}")
    train, val = split(paths)
    return (train or val), (val or train)


def load_rgb(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """uint8 HxWx3, EXIF orientation applied, optionally downscaled to ``max_side``."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        if max_side and max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.BICUBIC)
        return np.asarray(im).copy()


def sample_rng(seed: int, index: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, index, salt])


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Random crop (with a random rescale for scale variety) and horizontal flip.

    Images smaller than ``size`` are upscaled first. Returns uint8 size x size x C.
    """
    import cv2

    h, w = img.shape[:2]
    scale = rng.uniform(0.5, 1.0)  # sees textures at several scales
    scale = max(scale, size / min(h, w))
    if abs(scale - 1.0) > 1e-3:
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        h, w = nh, nw
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    crop = img[top : top + size, left : left + size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """HxWxC uint8 or float [0,1] -> (C, H, W) float32 in [-1, 1]."""
    arr = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    return torch.from_numpy(arr.transpose(2, 0, 1).copy()) * 2.0 - 1.0


class ImageCache:
    """Decoded images held in memory (the data sets are small; decoding is the slow part)."""

    def __init__(self, paths: list[Path], max_side: int | None = 768) -> None:
        self.paths = list(paths)
        self.max_side = max_side
        self._images: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        if i not in self._images:
            self._images[i] = load_rgb(self.paths[i], self.max_side)
        return self._images[i]


@dataclass
class DataConfig:
    crop: int = 128
    seed: int = 0
    structured: bool = True  # synthesize scratches/cracks/dust (mapping, detector)


class _Crops(Dataset):
    """Random crops of a folder of photos; item ``index`` is a pure function of the seed.

    Subclasses set ``salt`` (separates the streams of different domains) and ``max_side``
    and turn one uint8 crop into an item in :meth:`item`.
    """

    salt, max_side = 0, 768

    def __init__(self, paths: list[Path], cfg: DataConfig, length: int = 10**9) -> None:
        self.images, self.cfg, self.length = ImageCache(paths, self.max_side), cfg, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = sample_rng(self.cfg.seed, index, self.salt)
        img = self.images[int(rng.integers(len(self.images)))]
        return self.item(random_crop(img, self.cfg.crop, rng), index)

    def item(self, crop: np.ndarray, index: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class CleanCrops(_Crops):
    """Domain Y: random crops of clean photos. Item: {"clean": (3, S, S) in [-1, 1]}."""

    def item(self, crop, index):
        return {"clean": to_tensor(crop)}


class SyntheticPairs(_Crops):
    """Domain X with its clean twin: (degraded, clean, mask) crops made on the fly.

    Item: {"degraded": (3, S, S), "clean": (3, S, S)} in [-1, 1], "mask": (1, S, S) {0, 1}.
    """

    def item(self, crop, index):
        from oldphoto_cli.degrade import DegradeConfig, degrade_image, rng_for

        clean = crop.astype(np.float32) / 255.0
        result = degrade_image(
            clean, rng_for(self.cfg.seed, index), DegradeConfig(structured=self.cfg.structured)
        )
        return {
            "degraded": to_tensor(np.clip(result.image, 0, 1)),
            "clean": to_tensor(clean),
            "mask": torch.from_numpy(result.mask.astype(np.float32))[None],
        }


class RealOldCrops(_Crops):
    """Domain R: random crops of real old photos (no clean twin). Item: {"old": (3, S, S)}."""

    salt, max_side = 1, 1024

    def item(self, crop, index):
        return {"old": to_tensor(crop)}


def batch_of(dataset: Dataset, start: int, size: int) -> dict[str, torch.Tensor]:
    """Items ``start .. start+size-1`` stacked: the data stream is indexed, not iterated."""
    items = [dataset[i] for i in range(start, start + size)]
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}
