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
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from oldphoto_cli.imageio import list_images

if TYPE_CHECKING:
    from oldphoto_cli.degrade import DegradeConfig

VAL_MODULUS = 10  # a file is in validation when crc32(name) % 10 == 0 (about 10 %)


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
    graphics: float = 0.0  # share of crops that get printed content (draw_graphics) first
    thin_content: float = 0.0  # share of crops that get thin-line content (draw_thin_content)
    dot_prints: float = 0.0  # share of crops that get dotted fabric prints (draw_dot_prints)
    wide_damage: bool = False  # the wider damage mix (degrade.wide_config) for the full mix
    # the wide mix plus real film-damage overlays, print cracks and tears (degrade.real_config)
    real_damage: bool = False
    # The mapping's spectrum (what restore meets): clean crops whose target is themselves,
    # mild damage and the full default mix; the rest of the samples get the full mix.
    clean_share: float = 0.0
    # then aged crops with no defect (the mild mix, unstructured; empty mask): grain, blur
    # and JPEG blocks that are not damage, the detector's hard negatives
    aged_intact_share: float = 0.0
    # then damage alone on an intact crop (scratches on a sharp print: nothing else to fix)
    damage_only_share: float = 0.0
    # then sparse damage: mild ageing and one defect (:data:`SPARSE_GROUP_P`), as real
    # prints mostly carry it
    sparse_share: float = 0.0
    mild_share: float = 0.0
    # then recoverable ageing (:data:`RECOVERABLE_GROUP_P`): what the restorer can undo
    recoverable_share: float = 0.0
    # then lost detail alone (:data:`DETAIL_GROUP_P`): blur, resampling and JPEG, nothing else
    detail_share: float = 0.0
    # the groups of the lost-detail crops and their probabilities (None: DETAIL_GROUP_P)
    detail_groups: dict[str, float] | None = None
    keep_tone: bool = False  # targets keep the sample's grayscale/tint (reapply_tone)
    # Half of the clean crops carry a false-alarm mask (the mapping learns to keep what a
    # detector marked); a detector needs them with the true, empty mask instead.
    false_alarm_masks: bool = True

    def __post_init__(self) -> None:
        if self.detail_groups is not None:  # checked once here, not on every crop
            check_detail_groups(self.detail_groups)


# Mild damage, calibrated to real old photos (benchmarks/degradation_stats.py): they are
# sharper, more contrasted and more often plain grey than the full default mix makes them,
# with moderate noise. Blur, resampling and tone loss fire less often, grey more often.
MILD_GROUP_P = {
    "blur": 0.3, "noise": 0.6, "jpeg": 0.5, "resize": 0.25, "grain": 0.4, "fade": 0.3,
    "tint": 0.3, "tone": 0.25, "vignette": 0.2, "grayscale": 0.55, "texture": 0.3,
}  # fmt: skip


def mild_config(structured: bool) -> DegradeConfig:
    """The default config with :data:`MILD_GROUP_P` for the unstructured groups (the
    structured defects keep their default rates: scratches are what restore is for)."""
    from oldphoto_cli.degrade import DegradeConfig

    base = DegradeConfig(structured=structured)
    return DegradeConfig(structured=structured, group_p={**base.group_p, **MILD_GROUP_P})


# Recoverable ageing, for the restorer: soft blur, resampling by 1.2-3, noise, grain and
# strong JPEG (the scan's web copy) in place of the default blur, 2-4x resize and JPEG
# 40-100, which are often past recovery and teach a network only to smooth. Tone loss as
# in the mild mix.
RECOVERABLE_GROUP_P = {
    "blur": 0.0, "resize": 0.0, "jpeg": 0.0,
    "soft_blur": 0.65, "resample": 0.45, "jpeg_strong": 0.6, "noise": 0.5, "grain": 0.35,
    "fade": 0.3, "tint": 0.3, "tone": 0.25, "vignette": 0.2, "grayscale": 0.45, "texture": 0.2,
}  # fmt: skip


def recoverable_config(structured: bool) -> DegradeConfig:
    """The default config with :data:`RECOVERABLE_GROUP_P` for the unstructured groups."""
    from oldphoto_cli.degrade import DegradeConfig

    base = DegradeConfig(structured=structured)
    return DegradeConfig(structured=structured, group_p={**base.group_p, **RECOVERABLE_GROUP_P})


# Lost detail alone, for the restorer: soft blur, resampling and strong JPEG, with no noise,
# grain, tone loss or damage in the same crop. Mixed with noise (the recoverable mix) the
# network learned to hold back: sharpening a noisy crop costs more than it gains, so it
# sharpened nothing and only denoised; shown blur without noise it gives detail back.
DETAIL_GROUP_P = {group: 0.0 for group in (
    "blur", "noise", "jpeg", "resize", "grain", "fade", "tint", "tone", "vignette", "grayscale",
    "texture")} | {"soft_blur": 0.7, "resample": 0.45, "jpeg_strong": 0.5}  # fmt: skip


def detail_config(groups: dict[str, float] | None = None) -> DegradeConfig:
    """Unstructured :data:`DETAIL_GROUP_P` alone (or ``groups``, the same keys: soft_blur,
    resample, jpeg_strong): no defects, no tone change (target = the clean crop); at the
    default rates about 1 crop in 12 draws no op and stays intact."""
    from oldphoto_cli.degrade import DegradeConfig

    base = DegradeConfig(structured=False)
    return DegradeConfig(structured=False, group_p={**base.group_p, **DETAIL_GROUP_P, **(groups or {})})


def check_detail_groups(groups: dict[str, float]) -> dict[str, float]:
    """``groups`` if it only sets the lost-detail groups to probabilities in [0, 1]."""
    allowed = [group for group, p in DETAIL_GROUP_P.items() if p > 0]
    for group, p in groups.items():
        if group not in allowed:
            raise ValueError(f"{group!r} is not a lost-detail group ({', '.join(allowed)})")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{group}={p}: a probability must lie in [0, 1]")
    return groups


def damage_only_config(real_damage: bool, wide_damage: bool) -> DegradeConfig:
    """Structured damage alone (the groups of ``real_damage`` / ``wide_damage``), on a crop
    that is otherwise left exactly as it was: no ageing, no JPEG after. A restorer that
    only ever saw masks on aged photos learns "a mask means an aged photo" and reworks the
    intact pixels of a sharp print with a few scratches."""
    from oldphoto_cli.degrade import DegradeConfig, get_degradations, real_config, wide_config

    if real_damage:
        base = real_config(jpeg_after=0.0)
    else:
        base = wide_config(jpeg_after=0.0) if wide_damage else DegradeConfig()
    damage = tuple(sorted({s.group for s in get_degradations().values() if s.structured}))
    return DegradeConfig(structured=True, only=damage, group_p=base.group_p)


SPARSE_GROUP_P = {
    "crack_lone": 0.4, "scratch_varied": 0.15, "overlay": 0.15, "hair": 0.1, "dust": 0.1,
    "flake": 0.05, "tear": 0.05,
}  # fmt: skip
"""The one defect of a sparse-damage crop, by group: mostly a lone crack, the damage that
a detector trained on whole crack networks left unmarked on real prints."""


def sparse_config(rng: np.random.Generator, ageing: bool = True) -> DegradeConfig:
    """Mild ageing (:func:`mild_config`; none with ``ageing=False``, for a photo that is
    old already) and exactly one structured group, drawn from :data:`SPARSE_GROUP_P` with
    ``rng``: damage as sparse as on most real prints."""
    from oldphoto_cli.degrade import DegradeConfig, get_degradations

    groups = list(SPARSE_GROUP_P)
    weights = np.array([SPARSE_GROUP_P[g] for g in groups])
    chosen = groups[int(rng.choice(len(groups), p=weights / weights.sum()))]
    aged = {s.group for s in get_degradations().values() if not s.structured} if ageing else ()
    mild = mild_config(True)
    return DegradeConfig(structured=True, only=(*sorted(aged), chosen),
                         group_p={**mild.group_p, chosen: 1.0}, jpeg_after=0.0)  # fmt: skip


def false_alarm_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A detector's false alarms on an intact crop: a few thin lines and specks (uint8
    {0, 1}). Clean samples carry one half of the time, with the image left untouched and
    the target the image itself, so the mapping learns to keep intact content that the
    detector marked, instead of painting over it."""
    import cv2

    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.line(mask, p0, p1, 1, int(rng.integers(1, 4)))
    for _ in range(int(rng.integers(0, 12))):
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(mask, center, int(rng.integers(1, 4)), 1, -1)
    return mask


def content_false_alarm_mask(img: np.ndarray, rng: np.random.Generator,
                             max_share: float = 0.08) -> np.ndarray:  # fmt: skip
    """A detector's false alarms *on this image's content* (uint8 HxW {0, 1}): pieces of
    its thin or small dark and bright features (top-hat / black-hat: wires, hair, a window
    frame, an eye's catchlight, a button) and, half of the time, of its strong edges (a
    finger's outline), grown by 0-2 px; a third of the time random lines and specks
    (:func:`false_alarm_mask`) too. ``img``: HxWx3 float in [0, 1], the clean crop.

    These are what the shipped detector marks on real prints (benchmarks/RESULTS.md: a
    finger's outline and a tripod marked as damage, 4 % of one halftone print). A
    restorer told about them must keep the content it sees under the mask, not paint it
    out; random lines and specks (:func:`false_alarm_mask`) never sit on content, so they
    cannot teach that. At most ``max_share`` of the pixels are marked (a larger alarm is
    cut back to whole regions)."""
    import cv2

    h, w = img.shape[:2]
    grey = cv2.cvtColor((np.clip(img, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    size = int(rng.choice((5, 7, 9)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    lines = np.maximum(cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel),
                       cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, kernel))  # fmt: skip
    candidates = (lines > rng.uniform(18, 40)).astype(np.uint8)
    if rng.random() < 0.5:  # strong edges: the outline of a bright finger on grey
        low = rng.uniform(60, 120)
        candidates |= cv2.Canny(grey, low, 2 * low) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidates, connectivity=8)
    mask = np.zeros((h, w), np.uint8)
    if count > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        # prefer the larger pieces (a detector marks lines, not single pixels)
        weights = areas / areas.sum()
        picks = rng.choice(count - 1, size=min(count - 1, int(rng.integers(1, 7))),
                           replace=False, p=weights)  # fmt: skip
        mask = np.isin(labels, picks + 1).astype(np.uint8)
        grow = int(rng.integers(0, 3))
        if grow:
            disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)
            mask = cv2.dilate(mask, disc)
    if rng.random() < 0.3:
        mask |= false_alarm_mask(h, w, rng)
    limit = int(max_share * h * w)
    if mask.sum() > limit:  # keep whole regions, in random order, up to the limit
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        order = rng.permutation(np.arange(1, count))
        kept, total = [], 0
        for i in order:
            area = int(stats[i, cv2.CC_STAT_AREA])
            if total + area <= limit:
                kept.append(i)
                total += area
        mask = np.isin(labels, kept).astype(np.uint8)
    return mask


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

    graphics_salt = 7  # the graphics stream is separate from the crop and damage streams
    spectrum_salt = 11  # clean / mild / full choice
    thin_salt = 13  # thin-line content, its own stream: the other draws stay as they were
    dots_salt = 17  # dotted prints, likewise

    def item(self, crop, index):
        from oldphoto_cli.degrade import (
            DegradeConfig,
            degrade_image,
            real_config,
            rng_for,
            wide_config,
        )
        from oldphoto_cli.degrade.unstructured import reapply_tone

        cfg = self.cfg
        if cfg.graphics > 0:
            rng = sample_rng(cfg.seed, index, self.graphics_salt)
            if rng.random() < cfg.graphics:
                crop = draw_graphics(crop, rng)
        if cfg.thin_content > 0:
            rng = sample_rng(cfg.seed, index, self.thin_salt)
            if rng.random() < cfg.thin_content:
                crop = draw_thin_content(crop, rng)
        if cfg.dot_prints > 0:
            rng = sample_rng(cfg.seed, index, self.dots_salt)
            if rng.random() < cfg.dot_prints:
                crop = draw_dot_prints(crop, rng)
        clean = crop.astype(np.float32) / 255.0
        rng = sample_rng(cfg.seed, index, self.spectrum_salt)
        u = rng.random()
        if u < cfg.clean_share:
            mask = np.zeros(clean.shape[:2], np.uint8)
            if cfg.false_alarm_masks and rng.random() < 0.5:
                mask = false_alarm_mask(*clean.shape[:2], rng)
            return {"degraded": to_tensor(clean), "clean": to_tensor(clean),
                    "mask": torch.from_numpy(mask.astype(np.float32))[None]}  # fmt: skip
        aged_intact_to = cfg.clean_share + cfg.aged_intact_share
        sparse_from = aged_intact_to + cfg.damage_only_share
        aged_from = sparse_from + cfg.sparse_share
        if u < aged_intact_to:
            config = mild_config(structured=False)
        elif u < sparse_from and cfg.structured:
            config = damage_only_config(cfg.real_damage, cfg.wide_damage)
        elif u < aged_from and cfg.structured:
            config = sparse_config(rng)
        elif u < aged_from + cfg.mild_share + cfg.recoverable_share:
            mild = u < aged_from + cfg.mild_share
            config = (mild_config if mild else recoverable_config)(cfg.structured)
            if cfg.real_damage:
                config = real_config(cfg.structured, base=config)
            elif cfg.wide_damage:
                config = wide_config(cfg.structured, base=config)
        elif u < aged_from + cfg.mild_share + cfg.recoverable_share + cfg.detail_share:
            config = detail_config(cfg.detail_groups)
        elif cfg.real_damage:
            config = real_config(cfg.structured)
        elif cfg.wide_damage:
            config = wide_config(cfg.structured)
        else:
            config = DegradeConfig(structured=cfg.structured)
        result = degrade_image(clean, rng_for(cfg.seed, index), config)
        target = reapply_tone(clean, result.ops) if cfg.keep_tone else clean
        return {
            "degraded": to_tensor(np.clip(result.image, 0, 1)),
            "clean": to_tensor(target),
            "mask": torch.from_numpy(result.mask.astype(np.float32))[None],
        }


GLYPHS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$%&.,abcdefghijklmnopqrstuvwxyz"
FONTS = (0, 2, 3, 4, 5, 6, 7)  # cv2.FONT_HERSHEY_*: simplex ... script, without the 1-px "plain"


def draw_graphics(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Printed content drawn into a clean uint8 HxWx3 crop: words on sign plates, thick
    frames and hard-edged solid shapes. Returns a new array.

    It is applied *before* degradation, so it is part of the photo and its mask stays
    clean: hard negatives for the detector. Real old photos are full of shop signs,
    posters, captions and crisp silhouettes, which a detector trained on natural crops
    alone marked as defects (19 % of ``GasPrices1939``, 25 % of ``TimesSquare1955``).
    Strokes are at least 2 px wide and frames at least 4 px, so nothing drawn here looks
    like the 1-3 px meandering lines that :func:`~oldphoto_cli.degrade.structured.scratches`
    labels as defects.
    """
    import cv2

    out = np.ascontiguousarray(img.copy())
    h, w = out.shape[:2]

    def shade(dark: bool) -> tuple[float, float, float]:
        base = rng.uniform(0, 70) if dark else rng.uniform(180, 255)
        return tuple(float(np.clip(base + rng.normal(0, 12), 0, 255)) for _ in range(3))

    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(("text", "text", "frame", "shape"))
        dark = bool(rng.random() < 0.5)
        x, y = int(rng.integers(-w // 4, w)), int(rng.integers(0, h + h // 4))
        if kind == "text":
            font, scale = int(rng.choice(FONTS)), float(rng.uniform(0.5, 3.0))
            thickness = max(2, int(round(scale * rng.uniform(1.0, 3.0))))
            word = "".join(rng.choice(list(GLYPHS), int(rng.integers(2, 10))))
            (tw, th), base = cv2.getTextSize(word, font, scale, thickness)
            if rng.random() < 0.6:  # a sign plate behind the word
                pad = int(rng.integers(2, 12))
                cv2.rectangle(out, (x - pad, y - th - pad), (x + tw + pad, y + base + pad),
                              shade(not dark), -1)  # fmt: skip
            cv2.putText(out, word, (x, y), font, scale, shade(dark), thickness, cv2.LINE_AA)
        elif kind == "frame":
            x1, y1 = x + int(rng.integers(w // 6, w)), y - int(rng.integers(h // 6, h))
            cv2.rectangle(out, (x, y), (x1, y1), shade(dark), int(rng.integers(4, 12)))
        else:  # a solid silhouette: ellipse or polygon with a hard edge
            if rng.random() < 0.5:
                axes = (int(rng.integers(w // 10, w // 2)), int(rng.integers(h // 10, h // 2)))
                angle = float(rng.uniform(0, 180))
                cv2.ellipse(out, (x, y), axes, angle, 0, 360, shade(dark), -1, cv2.LINE_AA)
            else:
                points = rng.integers([-w // 4, -h // 4], [w + w // 4, h + h // 4], (5, 2))
                cv2.fillPoly(out, [points.astype(np.int32)], shade(dark), cv2.LINE_AA)
    return out


def draw_thin_content(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Thin lines that are *content*, drawn into a clean uint8 HxWx3 crop before damage
    (so labelled clean): hard negatives against taking a photo's own fine lines for
    scratches. One to three of: overhead wires (long, smooth sagging curves, 1-2 px, often
    in parallel), loose hair (bundles of fine curved strands), a fence or railing (evenly
    spaced parallel bars), small handwritten or printed text (1 px Hershey strokes) and
    lace (a regular mesh of small loops). Dark or light, opaque or soft. Returns a new
    array.

    What tells them apart from damage is what real photos show: wires sag smoothly and
    come in parallel sets, fences and lace repeat regularly, hair comes in bundles, text
    is text; scratches meander alone, cross everything and ignore the scene's geometry.
    """
    import cv2

    out = np.ascontiguousarray(img.copy())
    h, w = out.shape[:2]

    def colour() -> tuple[float, float, float]:
        base = rng.uniform(0, 60) if rng.random() < 0.65 else rng.uniform(190, 255)
        return tuple(float(np.clip(base + rng.normal(0, 10), 0, 255)) for _ in range(3))

    def pts(a: np.ndarray) -> np.ndarray:
        return np.round(a * 4).astype(np.int32).reshape(-1, 1, 2)  # 2 fractional bits

    kinds = ("wires", "hair", "fence", "text", "lace")
    for _ in range(int(rng.integers(1, 4))):
        kind = kinds[int(rng.integers(len(kinds)))]
        c = colour()
        if kind == "wires":  # a sagging catenary-like curve, 1-4 in parallel
            y0, y1 = rng.uniform(-0.1, 1.1, 2) * h
            sag = rng.uniform(0.02, 0.25) * h
            x = np.linspace(-5, w + 5, 60)
            t = (x + 5) / (w + 10)
            gap = rng.uniform(3, 12)
            for k in range(int(rng.integers(1, 5))):
                y = y0 + (y1 - y0) * t + sag * 4 * t * (1 - t) + k * gap
                cv2.polylines(out, [pts(np.stack([x, y], 1))], False, c,
                              int(rng.choice((1, 1, 2))), cv2.LINE_AA, shift=2)  # fmt: skip
        elif kind == "hair":  # a bundle of fine strands sharing one flow
            start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
            angle = rng.uniform(0, 2 * np.pi)
            bend = rng.normal(0, 0.05, 40).cumsum()
            for _k in range(int(rng.integers(4, 15))):
                a = angle + bend + rng.normal(0, 0.02)
                d = np.stack([np.cos(a), np.sin(a)], 1) * rng.uniform(1.5, 3.0)
                p = start + rng.normal(0, 4, 2) + np.vstack([[0, 0], d.cumsum(0)])
                cv2.polylines(out, [pts(p)], False, c, 1, cv2.LINE_AA, shift=2)
        elif kind == "fence":  # evenly spaced parallel bars, with one or two rails
            spacing = rng.uniform(5, 20)
            angle = rng.normal(0, 0.1)
            top, bottom = rng.uniform(0, 0.5) * h, rng.uniform(0.5, 1.0) * h
            x0 = rng.uniform(-w / 2, w / 2)
            thick = int(rng.choice((1, 2, 2, 3)))
            for k in range(int((w - x0) / spacing) + 1):
                x = x0 + k * spacing
                p = np.array([[x, top], [x + np.tan(angle) * (bottom - top), bottom]])
                cv2.polylines(out, [pts(p)], False, c, thick, cv2.LINE_AA, shift=2)
            for y in rng.uniform(top, bottom, int(rng.integers(1, 3))):
                cv2.line(out, (0, int(y)), (w, int(y + rng.normal(0, 3))), c, thick, cv2.LINE_AA)
        elif kind == "text":  # a few lines of small 1 px text (captions, handwriting)
            font = int(rng.choice((0, 1, 5, 6, 7)))
            scale = float(rng.uniform(0.3, 0.8))
            x, y = int(rng.integers(-w // 4, w // 2)), int(rng.integers(10, h))
            for line in range(int(rng.integers(1, 4))):
                word = "".join(rng.choice(list(GLYPHS), int(rng.integers(4, 16))))
                cv2.putText(out, word, (x, y + int(line * 30 * scale)), font, scale, c, 1,
                            cv2.LINE_AA)  # fmt: skip
        else:  # lace: a mesh of small loops on a grid
            cell = rng.uniform(6, 14)
            x0, y0 = rng.uniform(0, w / 2), rng.uniform(0, h / 2)
            x1, y1 = x0 + rng.uniform(0.3, 0.8) * w, y0 + rng.uniform(0.3, 0.8) * h
            for yy in np.arange(y0, y1, cell):
                for xx in np.arange(x0, x1, cell):
                    cv2.circle(out, (int(xx * 4), int(yy * 4)), int(cell * 4 * 0.4), c, 1,
                               cv2.LINE_AA, 2)  # fmt: skip
    if rng.random() < 0.4:  # soft: content seen through a lens, not drawn with a ruler
        soft = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 0.9)))
        changed = np.any(out != img, axis=2)
        out[changed] = soft[changed]
    return out


def draw_dot_prints(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dotted fabric prints drawn into a clean uint8 HxWx3 crop before damage (so labelled
    clean): polka dots, pin dots and speckled weaves on a patch of cloth. Returns a new
    array.

    Why: the detector took the white dots of a dark polka-dot dress (``1925Girl``) for dust,
    and restore then painted them out. Dust is scattered at random, with ragged specks of
    every size; a print repeats one dot on a lattice, which the cloth's folds bend but do
    not break. So: a lattice (square or staggered, any angle, cell 4-16 px, dots 0.5-3 px
    in radius), warped by a smooth fold field, clipped to a polygon of cloth that is
    sometimes recoloured first, light dots on dark cloth or the reverse.
    """
    import cv2

    out = np.ascontiguousarray(img.copy())
    h, w = out.shape[:2]
    region = np.zeros((h, w), np.uint8)
    corners = rng.uniform([-0.3 * w, -0.3 * h], [1.3 * w, 1.3 * h], (int(rng.integers(4, 8)), 2))
    hull = cv2.convexHull(corners.astype(np.float32)).astype(np.int32)
    cv2.fillPoly(region, [hull], 1)
    light_dots = bool(rng.random() < 0.7)
    if rng.random() < 0.6:  # the cloth itself: dark for light dots, light for dark ones
        base = rng.uniform(10, 90) if light_dots else rng.uniform(150, 240)
        cloth = np.clip(base + rng.normal(0, 8, 3), 0, 255)
        shading = cv2.GaussianBlur(rng.normal(1, 0.15, (h, w)).astype(np.float32), (0, 0), 12)
        fill = np.clip(cloth[None, None] * shading[..., None], 0, 255).astype(np.uint8)
        out[region > 0] = fill[region > 0]
    level = rng.uniform(170, 250) if light_dots else rng.uniform(5, 80)
    colour = tuple(float(np.clip(level + rng.normal(0, 6), 0, 255)) for _ in range(3))
    cell = rng.uniform(4, 16)
    radius = rng.uniform(0.5, min(3.0, cell * 0.3))
    angle = rng.uniform(0, np.pi)
    staggered = bool(rng.random() < 0.5)
    fold_amp, fold_len = rng.uniform(0, 0.6) * cell, rng.uniform(30, 120)
    fold_phase = rng.uniform(0, 2 * np.pi, 2)
    extent = int(np.hypot(h, w) / cell) + 2
    ii, jj = np.meshgrid(np.arange(-extent, extent), np.arange(-extent, extent), indexing="ij")
    u = (jj + (0.5 * (ii % 2) if staggered else 0)) * cell
    v = ii * cell
    x = w / 2 + u * np.cos(angle) - v * np.sin(angle)
    y = h / 2 + u * np.sin(angle) + v * np.cos(angle)
    x = x + fold_amp * np.sin(y / fold_len * 2 * np.pi + fold_phase[0])
    y = y + fold_amp * np.sin(x / fold_len * 2 * np.pi + fold_phase[1])
    x, y = x.ravel(), y.ravel()
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    x, y = x[inside], y[inside]
    keep = region[y.astype(int), x.astype(int)] > 0
    scale = 4  # 2 fractional bits, as in draw_thin_content
    for cx, cy in zip(x[keep], y[keep], strict=True):
        r = max(1, int(round(radius * rng.uniform(0.85, 1.15) * scale)))
        cv2.circle(out, (int(cx * scale), int(cy * scale)), r, colour, -1, cv2.LINE_AA, 2)
    if rng.random() < 0.5:  # printed dots are as soft as the rest of the photo
        soft = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 0.9)))
        changed = np.any(out != img, axis=2)
        out[changed] = soft[changed]
    return out


class RealOldCrops(_Crops):
    """Domain R: random crops of real old photos (no clean twin). Item: {"old": (3, S, S)}."""

    salt, max_side = 1, 1024

    def item(self, crop, index):
        return {"old": to_tensor(crop)}


class TracedRealCrops(Dataset):
    """Crops of real old photos with hand-traced damage masks (training labels).

    ``items`` pairs each photo with its mask: a PNG of the photo's size, 255 damage, 0
    intact, 128 unknown (a region the tracer could not label: the loss skips it). Half of
    the crops of a damaged photo are centred on a damage pixel (damage covers well under
    1 % of a real photo: uniform crops would hardly ever show any). The photo and its mask
    are rescaled together by a random factor in [0.6, 1] (the detector meets damage at
    several scales) and flipped together.

    With ``drawn_share`` > 0, that share of the crops also gets one synthetic defect drawn
    on (:func:`sparse_config` without ageing: the photo is old already), labelled exactly:
    without it, nearly every pixel of a real crop is intact, and a detector learns that a
    real photo is never damaged (a shortcut that leaves real cracks unmarked).

    Item: {"old": (3, S, S) in [-1, 1], "mask": (1, S, S) {0, 1}, "known": (1, S, S) {0, 1}}.
    """

    salt, max_side = 19, 1024
    drawn_salt = 23  # the drawn defect's own stream: the crops stay what they were

    def __init__(self, items: list[tuple[Path, Path]], cfg: DataConfig,
                 length: int = 10**9, drawn_share: float = 0.0) -> None:  # fmt: skip
        if not items:
            raise ValueError("no traced photos")
        self.photos = ImageCache([photo for photo, _ in items], self.max_side)
        self.mask_paths = [mask for _, mask in items]
        self._masks: dict[int, np.ndarray] = {}
        self.cfg, self.length, self.drawn_share = cfg, length, drawn_share

    def __len__(self) -> int:
        return self.length

    def mask(self, i: int) -> np.ndarray:
        """Photo ``i``'s uint8 label map at the cached photo's size (255, 0, 128)."""
        import cv2

        if i not in self._masks:
            labels = cv2.imread(str(self.mask_paths[i]), cv2.IMREAD_GRAYSCALE)
            if labels is None:
                raise FileNotFoundError(f"cannot read mask {self.mask_paths[i]}")
            h, w = self.photos[i].shape[:2]
            if labels.shape != (h, w):
                if max(labels.shape) <= self.max_side:  # same size expected: a wrong file
                    raise ValueError(f"{self.mask_paths[i]}: mask {labels.shape} != photo {(h, w)}")
                labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
            self._masks[i] = labels
        return self._masks[i]

    def damage(self, i: int) -> np.ndarray:
        """Photo ``i``'s traced damage (HxW bool) at the cached photo's size."""
        return self.mask(i) > 191

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        crop, mask, known = self.arrays(index)
        return {"old": to_tensor(crop), "mask": _as_map(mask), "known": _as_map(known)}

    def arrays(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Item ``index`` as arrays: (crop, uint8 or float in [0, 1], S x S x 3; damage
        and known, S x S bool)."""
        import cv2

        rng = sample_rng(self.cfg.seed, index, self.salt)
        i = int(rng.integers(len(self.photos)))
        img, labels = self.photos[i], self.mask(i)
        size = self.cfg.crop
        h, w = img.shape[:2]
        scale = max(rng.uniform(0.6, 1.0), size / min(h, w))
        damage = self.damage(i).astype(np.float32)
        unknown = ((labels > 63) & (labels <= 191)).astype(np.float32)
        if abs(scale - 1.0) > 1e-3:
            h, w = max(size, round(h * scale)), max(size, round(w * scale))
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            # area-resampled, so a 1 px line stays marked where it covers 40 % of a pixel
            damage = cv2.resize(damage, (w, h), interpolation=cv2.INTER_AREA) > 0.4
            unknown = cv2.resize(unknown, (w, h), interpolation=cv2.INTER_AREA) > 0.01
        else:
            damage, unknown = damage > 0.5, unknown > 0.5
        ys, xs = np.nonzero(damage)
        if len(ys) and rng.random() < 0.5:
            k = int(rng.integers(len(ys)))
            top = int(np.clip(ys[k] - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, h - size))
            left = int(np.clip(xs[k] - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, w - size))
        else:
            top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        window = np.s_[top : top + size, left : left + size]
        crop, mask, known = img[window], damage[window], ~unknown[window]
        if rng.random() < 0.5:
            crop, mask, known = crop[:, ::-1], mask[:, ::-1], known[:, ::-1]
        crop = np.ascontiguousarray(crop)
        if self.drawn_share > 0:
            from oldphoto_cli.degrade import degrade_image

            drawn_rng = sample_rng(self.cfg.seed, index, self.drawn_salt)
            if drawn_rng.random() < self.drawn_share:
                result = degrade_image(crop.astype(np.float32) / 255, drawn_rng,
                                       sparse_config(drawn_rng, ageing=False))  # fmt: skip
                crop = np.clip(result.image, 0, 1)
                drawn = result.mask > 0
                mask, known = mask | drawn, known | drawn
        return crop, mask, known


class TransplantedDamageCrops(Dataset):
    """Real damage cut from hand-traced photos, pasted on crops of other photos.

    The traced photos' damage becomes pieces (:func:`~oldphoto_cli.degrade.transplant.
    cut_damage_pieces`: what the damage added, with its traced mask), cut once; every item
    is a crop with one to three pieces pasted on
    (:func:`~oldphoto_cli.degrade.transplant.paste_damage`), labelled where they show. Half
    the crops are of the traced photos themselves (their own labels kept), half of
    ``clean`` photos (all intact). The detector meets real crack edges, flake shapes and
    stain tones on content they were not traced on, so it cannot learn them as part of one
    photo.

    Item: {"old": (3, S, S) in [-1, 1], "mask": (1, S, S) {0, 1}, "known": (1, S, S) {0, 1}}.
    """

    salt, traced_salt = 29, 31  # the traced crops' own stream: not the traced batch's crops

    def __init__(self, items: list[tuple[Path, Path]], clean: list[Path],
                 cfg: DataConfig, length: int = 10**9) -> None:  # fmt: skip
        self.traced = TracedRealCrops(items, cfg)
        self.traced.salt = self.traced_salt
        self.clean = ImageCache(clean) if clean else None
        self.cfg, self.length = cfg, length
        self._pieces = None

    def __len__(self) -> int:
        return self.length

    @property
    def pieces(self):
        if self._pieces is None:  # cut on first use: a few seconds of inpainting
            from oldphoto_cli.degrade.transplant import cut_damage_pieces

            self._pieces = []
            for i in range(len(self.traced.photos)):
                self._pieces += cut_damage_pieces(self.traced.photos[i], self.traced.damage(i))
            if not self._pieces:
                raise ValueError("the traced photos show no damage to transplant")
        return self._pieces

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from oldphoto_cli.degrade.transplant import paste_damage

        rng = sample_rng(self.cfg.seed, index, self.salt)
        if self.clean is not None and rng.random() < 0.5:
            img = self.clean[int(rng.integers(len(self.clean)))]
            crop = random_crop(img, self.cfg.crop, rng).astype(np.float32) / 255.0
            mask, known = np.zeros(crop.shape[:2], bool), np.ones(crop.shape[:2], bool)
        else:
            crop, mask, known = self.traced.arrays(index)
            crop = crop.astype(np.float32) / 255.0 if crop.dtype == np.uint8 else crop
        old, pasted = paste_damage(crop, self.pieces, rng, count=int(rng.integers(1, 4)))
        return {"old": to_tensor(old), "mask": _as_map(mask | pasted),
                "known": _as_map(known | pasted)}  # fmt: skip


def _as_map(flags: np.ndarray) -> torch.Tensor:
    """HxW bool -> (1, H, W) float32 {0, 1}."""
    return torch.from_numpy(np.ascontiguousarray(flags, np.float32))[None]


def traced_items(masks_dir: str | Path, photos_dir: str | Path) -> list[tuple[Path, Path]]:
    """(photo, mask) pairs: every ``<stem>.png`` mask of ``masks_dir`` with its photo
    ``<stem>.*`` in ``photos_dir``; a mask without its photo is an error (a typo in a
    stem must not silently shrink the training set)."""
    photos = {p.stem: p for p in list_images(photos_dir)}
    items = []
    for mask in sorted(Path(masks_dir).glob("*.png")):
        if mask.stem not in photos:
            raise FileNotFoundError(f"{mask}: no photo {mask.stem}.* in {photos_dir}")
        items.append((photos[mask.stem], mask))
    return items


def batch_of(dataset: Dataset, start: int, size: int) -> dict[str, torch.Tensor]:
    """Items ``start .. start+size-1`` stacked: the data stream is indexed, not iterated."""
    items = [dataset[i] for i in range(start, start + size)]
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}
