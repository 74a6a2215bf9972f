"""The restore pipeline: detect -> encode -> translate -> decode -> face_enhance.

Library entry point used by ``oldphoto restore``/``detect``/``eval`` and by tests.
Images cross this API as numpy arrays, HxWx3 RGB: float32 in [0, 1], or uint8 for 8-bit
photos, which are converted tile by tile and band by band (a large photo is never held as
several float copies: the result is the one float32 array); the I/O layer handles modes
(grayscale, alpha, 16-bit) around it. Stages are looked up in the plugin registry,
built once, and reused for every image.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

from oldphoto_cli import stages
from oldphoto_cli.archs.mapping_arch import latent_mask
from oldphoto_cli.archs.vae_arch import pad_to_multiple
from oldphoto_cli.contract import PluginError
from oldphoto_cli.deblock import BLOCK, deblock_jpeg
from oldphoto_cli.defaults import (  # noqa: F401 (DEFAULT_*: re-exported)
    DEFAULT_BLOB_THRESHOLD,
    DEFAULT_LOW_THRESHOLD,
    DEFAULT_MIN_AREA,
    DEFAULT_THRESHOLD,
    MAX_DILATE,
    MAX_TILE,
    MIN_TILE,
    PRECISIONS,
)
from oldphoto_cli.device import resolve_device, resolve_precision
from oldphoto_cli.fill import harmonize_fill, neighbourhood_mean
from oldphoto_cli.imageio import bands, to_float
from oldphoto_cli.mask_rule import MaskRule, line_aware_mask
from oldphoto_cli.tiling import run_tiled
from oldphoto_cli.tone import ToneCurve

MIN_DEFECT_SHARE = 1e-4  # with_scratch=auto takes the scratch path above this mask share
# Smaller sides are edge-padded up to this before a network sees them and cropped after:
# the detector's deepest level and the VAE's reflect padding need a few pixels there
# (shipped weights: the detector fails below 20 px, the VAE below 8).
MIN_SIDE = 32


def pad_small(array: np.ndarray, min_side: int = MIN_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
    """Edge-pad an HxW(xC) array so both sides are at least ``min_side``; returns it and
    the original (h, w) to crop back to."""
    h, w = array.shape[:2]
    if h >= min_side and w >= min_side:
        return array, (h, w)
    pads = [(0, max(0, min_side - h)), (0, max(0, min_side - w))]
    pads += [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pads, mode="edge"), (h, w)


@dataclass
class RestoreOptions:
    """Everything ``oldphoto restore`` lets a user choose; defaults are the shipped pipeline."""

    device: str = "auto"
    detector: str | None = None  # None: default stage of its kind
    encoder: str | None = None
    translator: str | None = None
    decoder: str | None = None
    face_enhancer: str | None = None  # "none" disables
    with_scratch: str = "auto"  # auto | on | off
    threshold: float = DEFAULT_THRESHOLD  # detector probability above which a pixel is a defect
    dilate: int = 1  # grow the mask by this many pixels (scratch edges are soft)
    min_area: int = DEFAULT_MIN_AREA  # drop detected regions smaller than this (pixels)
    # Connectivity and shape (oldphoto_cli.mask_rule): grow detections through pixels above
    # low_threshold; compact (not line-like) regions need blob_threshold. None: threshold.
    low_threshold: float | None = DEFAULT_LOW_THRESHOLD
    blob_threshold: float | None = DEFAULT_BLOB_THRESHOLD
    # Drop detected regions lying wholly inside a face (spare_faces). None: when faces are
    # enhanced, which finds the faces anyway (the Haar search costs ~3 s at 768x1024).
    spare_faces: bool | None = None
    # Drop detected specks that lie on a printed lattice (polka dots): oldphoto_cli.patterns.
    spare_patterns: bool = True
    # Move each repaired hole's local mean to its neighbourhood's (oldphoto_cli.fill)
    harmonize_fill: bool = True
    strength: float = 1.0  # blend restored with input (1 = fully restored)
    keep_tone: bool = True  # keep the input's colour/sepia/grayscale tone
    # Undo a faded print's tone curve (oldphoto_cli.tone): one monotone curve per channel,
    # estimated from the translated photo, applied to the result after the faces.
    tone_curve: bool = True
    # Take JPEG blocks off the photo the translator and faces get (oldphoto_cli.deblock):
    # a blind quality estimate, then re-application of JPEG on shifted grids. Detection
    # sees the photo as it came, so a saved detect mask still restores like this run.
    deblock: bool = True
    tile: int | None = None  # latent decode tile side (translate: 2x); None: from free memory
    # Network precision: fp32, bf16, fp16, or auto (bf16 on CPUs with native bf16, fp16 on
    # CUDA, else fp32: device.resolve_precision). None: fp16 if ``fp16`` else fp32.
    precision: str | None = None
    fp16: bool = False  # older spelling of precision="fp16"
    compile: bool = False  # torch.compile the networks (slow first image, faster after)
    only_center_face: bool = False
    face_fidelity: float | None = None  # the face network's `fidelity` (None: its default)
    save_faces_dir: str | None = None
    weights_dir: str | None = None
    # Keep the intermediate images in RestoreResult.intermediates (a whole-image float32
    # copy each: the CLI asks for them only with --save-intermediates).
    intermediates: bool = True


@dataclass
class RestoreResult:
    image: np.ndarray  # HxWx3 float32 in [0, 1]
    mask: np.ndarray | None  # HxW uint8 {0, 1}, the mask used (None: no scratch path)
    info: dict[str, Any] = field(default_factory=dict)  # stages used, mask stats, faces, timings
    intermediates: dict[str, np.ndarray] = field(default_factory=dict)


def binary_mask(prob: np.ndarray, threshold: float, min_area: int = 0) -> np.ndarray:
    """HxW uint8 {0, 1} defect mask from a probability map, before any dilation.

    Args:
        prob: (H, W) detector probabilities in [0, 1].
        threshold: a pixel above it is a defect.
        min_area: drop 8-connected regions smaller than this many pixels: isolated
            specks of grain and texture, most of them false positives (a dust speck
            smaller than this is left alone; the translator's local branch handles it).
    """
    mask = (np.asarray(prob) > threshold).astype(np.uint8)
    if min_area <= 1:
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # background
    return keep[labels].astype(np.uint8)


def mask_from_probability(
    prob: np.ndarray, threshold: float, dilate: int, min_area: int = 0
) -> np.ndarray:
    """Binary HxW uint8 mask (:func:`binary_mask`) grown by ``dilate`` pixels (ellipse)."""
    return grow_mask(binary_mask(prob, threshold, min_area), dilate)


def grow_mask(mask: np.ndarray, dilate: int) -> np.ndarray:
    """An HxW {0, 1} mask grown by ``dilate`` pixels (elliptic kernel); 0: unchanged."""
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = cv2.dilate(mask, kernel)
    return mask


def spare_faces(mask: np.ndarray, boxes) -> tuple[np.ndarray, int]:
    """Drop the 8-connected regions of a detected mask that lie wholly inside a face box.

    Eyes, nostrils, teeth, wrinkles and moustache hairs are small dark or bright marks,
    and the detector takes some of them for dust and short scratches (measured on
    ``real_old``: 0.3-2 % of face pixels, up to 36 regions on one face); inpainting them
    erases features. A scratch across a face nearly always leaves the face box and is
    kept. Dust that is wholly inside a face is left to the face enhancer.

    Args:
        mask: (H, W) uint8 {0, 1}.
        boxes: face boxes ``(x, y, w, h)`` in pixels.

    Returns:
        The mask (a new array when anything was dropped) and the pixels dropped.
    """
    boxes = [tuple(int(round(v)) for v in box) for box in boxes]
    if not boxes or not mask.any():
        return mask, 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x1, y1 = x0 + stats[:, cv2.CC_STAT_WIDTH], y0 + stats[:, cv2.CC_STAT_HEIGHT]
    inside = np.zeros(count, bool)
    for x, y, w, h in boxes:
        inside |= (x0 >= x) & (y0 >= y) & (x1 <= x + w) & (y1 <= y + h)
    inside[0] = False  # background
    if not inside.any():
        return mask, 0
    dropped = int(stats[inside, cv2.CC_STAT_AREA].sum())
    return (~inside[labels] & (mask > 0)).astype(np.uint8), dropped


def mask_stats(mask: np.ndarray) -> dict[str, float]:
    """Defect share (fraction of pixels) and 8-connected components of a {0,1} mask."""
    mask = (np.asarray(mask) > 0).astype(np.uint8)
    count, _ = cv2.connectedComponents(mask, connectivity=8)
    share = float(mask.mean()) if mask.size else 0.0
    return {"defect_share": round(share, 6), "components": int(count - 1)}


def is_grayscale(rgb: np.ndarray, tolerance: float = 2.0 / 255) -> bool:
    """True when the three channels agree (a gray photo saved as RGB); uint8 or float
    pixels, looked at band by band."""
    for y0, y1 in bands(rgb.shape[0]):
        band = to_float(rgb[y0:y1])
        if float(np.abs(band - band.mean(axis=2, keepdims=True)).max(initial=0.0)) > tolerance:
            return False
    return True


def keep_tone(
    restored: np.ndarray, original: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Restored luminance with the original's (smoothed) chroma: sepia stays sepia.

    Gray inputs come back gray. Chroma is blurred so colour noise in the input does not
    return; the network's job is structure and detail, the photo's tone is the owner's.
    Under ``mask`` (the repaired defects) the original's chroma is the defect's own, so
    it comes from the unmasked neighbourhood instead (:func:`oldphoto_cli.fill.neighbourhood_mean`).
    ``restored`` (float32, our own) is changed in place and returned; ``original`` is uint8
    or float. Without a mask it goes band by band, each with the blur's reach of context:
    the same values as on the whole image, without its whole-image Lab copies.
    """
    height = original.shape[0]
    if is_grayscale(original):
        for y0, y1 in bands(height):
            restored[y0:y1] = cv2.cvtColor(restored[y0:y1], cv2.COLOR_RGB2GRAY)[..., None]
        return restored
    if mask is not None and np.any(mask):
        # Under the mask the chroma comes from the neighbourhood: the whole image at once
        # (float32 Lab copies of it; band by band it is not yet).
        lab_r = cv2.cvtColor(restored, cv2.COLOR_RGB2LAB)
        lab_o = cv2.cvtColor(to_float(original), cv2.COLOR_RGB2LAB)
        hole = np.asarray(mask) > 0
        chroma = neighbourhood_mean(lab_o[..., 1:], hole.astype(np.uint8), where=hole)
        lab_o[hole, 1:] = chroma[hole]
        del chroma
        sigma = max(1.0, max(original.shape[:2]) / 512)
        lab_r[..., 1:] = cv2.GaussianBlur(lab_o[..., 1:], (0, 0), sigma)
        del lab_o
        restored[...] = np.clip(cv2.cvtColor(lab_r, cv2.COLOR_LAB2RGB), 0, 1)
        return restored
    sigma = max(1.0, max(original.shape[:2]) / 512)
    reach = int(np.ceil(4 * sigma)) + 2  # OpenCV's Gaussian kernel radius is ~4 sigma
    for y0, y1 in bands(height, max(256, 4 * reach)):
        a0, a1 = max(0, y0 - reach), min(height, y1 + reach)
        lab_o = cv2.cvtColor(to_float(original[a0:a1]), cv2.COLOR_RGB2LAB)
        chroma = cv2.GaussianBlur(lab_o[..., 1:], (0, 0), sigma)
        lab_r = cv2.cvtColor(restored[y0:y1], cv2.COLOR_RGB2LAB)
        lab_r[..., 1:] = chroma[y0 - a0 : y1 - a0]
        restored[y0:y1] = np.clip(cv2.cvtColor(lab_r, cv2.COLOR_LAB2RGB), 0, 1)
    return restored


def auto_tile(device: torch.device) -> int:
    """Decoder tile side (latent pixels) from free memory: ~8 KiB of activations per
    latent pixel. The translator's tiles are twice as wide (~1/4 of that per pixel)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = free // 4
    else:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            free = 2 << 30
        budget = min(free // 4, 768 << 20)  # a 768x1024 photo in one tile, < 1.5 GiB RSS
    side = int((budget / 8192) ** 0.5)
    return int(max(32, min(256, side // 8 * 8)))


def check_options(opts: RestoreOptions) -> None:
    """Refuse (``ValueError``) values that would hang or exhaust memory, as the CLI does."""
    if opts.tile is not None and not MIN_TILE <= opts.tile <= MAX_TILE:
        raise ValueError(f"tile {opts.tile}: expected {MIN_TILE}-{MAX_TILE} latent pixels")
    if not 0 <= opts.dilate <= MAX_DILATE:
        raise ValueError(f"dilate {opts.dilate}: expected 0-{MAX_DILATE} pixels")
    for name in ("strength", "threshold"):
        value = getattr(opts, name)
        if not 0.0 <= value <= 1.0:  # nan fails too
            raise ValueError(f"{name} {value}: expected a number from 0 to 1")
    if opts.face_fidelity is not None and not 0.0 <= opts.face_fidelity <= 1.0:
        raise ValueError(f"face_fidelity {opts.face_fidelity}: expected a number from 0 to 1")


# Built-in face enhancers trained on the research-use faces (their weights ship in the
# separate oldphoto-face-weights package) -> (what they are, the command that trains them).
FACE_TRAINED_ENHANCERS = {"face": ("face network", "face"),
                          "restorer": ("face restorer", "face-restorer")}  # fmt: skip


def _pixels(rgb: np.ndarray) -> np.ndarray:
    """The RGB channels as uint8 (kept in 8 bits) or float32, contiguous."""
    rgb = np.asarray(rgb)[..., :3]
    return np.ascontiguousarray(rgb, np.uint8 if rgb.dtype == np.uint8 else np.float32)


def _for(stage: Any, pixels: np.ndarray) -> np.ndarray:
    """What ``stage`` takes: uint8 as it is where it says so (``takes_uint8``), else float32."""
    if pixels.dtype == np.uint8 and getattr(stage, "takes_uint8", False):
        return pixels
    return to_float(pixels)


def _pad_to_multiple_hw(array: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """``vae_arch.pad_to_multiple`` for an HxWxC numpy array (same modes: reflect, or edge
    where the image is too small to reflect); returns it and the original (H, W)."""
    h, w = array.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return array, (h, w)
    mode = "reflect" if min(h, w) > max(ph, pw) else "edge"
    return np.pad(array, ((0, ph), (0, pw), (0, 0)), mode=mode), (h, w)


class RestorePipeline:
    """Builds the selected stages once and restores many images."""

    takes_uint8 = True  # restore/detect take 8-bit photos as uint8 (see the module doc)

    def __init__(self, options: RestoreOptions | None = None, detect_only: bool = False) -> None:
        """Build the stages now, so a missing weights file fails here, not per image.

        ``detect_only`` builds just the detector (``oldphoto detect``); otherwise the
        detector is built on first use (``--with-scratch off`` never loads it).
        """
        self.options = opts = options or RestoreOptions()
        check_options(opts)
        self.device = resolve_device(opts.device)
        # An explicit precision is used as given (the CLI has resolved it for the device);
        # auto and the older fp16 flag are resolved here.
        self.precision = opts.precision or ("fp16" if opts.fp16 else "fp32")
        if self.precision == "auto" or (opts.precision is None and opts.fp16):
            self.precision = resolve_precision(self.device, self.precision)[0]
        if self.precision not in PRECISIONS[1:]:
            raise ValueError(f"precision {self.precision!r}: expected one of "
                             f"{', '.join(PRECISIONS)}")  # fmt: skip
        self._common = {"device": self.device, "weights_dir": opts.weights_dir,
                        "precision": self.precision, "fp16": self.precision == "fp16",
                        "compile": opts.compile}  # fmt: skip
        self._detector = self._face_detector = None
        self.face_enhancer = None
        self.tone_curve = None
        self.notes: list[str] = []  # said once on stderr (e.g. a stage's fallback)
        self.tile = opts.tile or auto_tile(self.device)
        if detect_only:
            self.detector  # noqa: B018 (builds it)
            return
        self.translator = self._build("translate", opts.translator)
        self.image_space = self.translator.space == "image"
        # a translator trained to fill holes keeps its fills (harmonising cost the restorer
        # 1.4 dB on the damaged pixels)
        self.fills_holes = self.image_space and bool(getattr(self.translator, "fills_holes", False))
        self.encoder = None if self.image_space else self._build("encode", opts.encoder)
        self.decoder = None if self.image_space else self._build("decode", opts.decoder)
        if not self.image_space and self.encoder.scale != self.decoder.scale:
            raise PluginError(
                f"encoder {self.encoder.name!r} (scale {self.encoder.scale}) and decoder "
                f"{self.decoder.name!r} (scale {self.decoder.scale}) do not fit together"
            )
        if opts.face_enhancer != "none" and stages.stages_of("face_enhance"):
            self.face_enhancer = self._build_face_enhancer(
                opts.face_enhancer,
                only_center_face=opts.only_center_face, save_faces_dir=opts.save_faces_dir,
            )  # fmt: skip
        if opts.tone_curve:
            self.tone_curve = ToneCurve(opts.weights_dir)

    def _build(self, kind: str, name: str | None, **extra: Any) -> Any:
        return stages.build(kind, name, **self._common, **extra)

    def _build_face_enhancer(self, name: str | None, **extra: Any) -> Any:
        """The face enhancer; a face-trained one (``face``, ``restorer``) without its weights
        (research-use, not shipped) falls back to ``general`` with a note on stderr
        (``self.notes``)."""
        from oldphoto_cli.weights import WeightsError

        chosen = stages.get("face_enhance", name).name
        own = {}  # options only the face-trained enhancers take
        if chosen in FACE_TRAINED_ENHANCERS and self.options.face_fidelity is not None:
            own["fidelity"] = self.options.face_fidelity
        try:
            return self._build("face_enhance", name, **own, **extra)
        except WeightsError as error:
            if chosen not in FACE_TRAINED_ENHANCERS:
                raise
            what, command = FACE_TRAINED_ENHANCERS[chosen]
            note = (f"{what} weights not found ({error}); faces are restored by 'general' "
                    "instead (install oldphoto-face-weights, or train them with "
                    f"`oldphoto train {command}`)")  # fmt: skip
            self.notes.append(note)
            print(f"oldphoto: note: {note}", file=sys.stderr)
            return self._build("face_enhance", "general", **extra)

    @property
    def face_detector(self):
        """The face enhancer's face detector, or the default one when faces are off."""
        if self.face_enhancer is not None:
            return self.face_enhancer.detector
        if self._face_detector is None:
            from oldphoto_cli.faces import get_face_detector

            self._face_detector = get_face_detector()
        return self._face_detector

    @property
    def detector(self):
        if self._detector is None:
            self._detector = self._build("detect", self.options.detector)
        return self._detector

    def stage_names(self) -> dict[str, str]:
        names = {"translate": self.translator.name}
        if not self.image_space:
            names |= {"encode": self.encoder.name, "decode": self.decoder.name}
        return names

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        """Scratch probability map, HxW float32 in [0, 1] (tiny images edge-padded)."""
        padded, (h, w) = pad_small(_pixels(rgb))
        return np.asarray(self.detector(_for(self.detector, padded)), np.float32)[:h, :w]

    def find_faces(self, rgb: np.ndarray) -> list:
        """Faces on the input (uint8 or float), with the face enhancer's detector."""
        return self.face_detector(_for(self.face_detector, rgb))

    def mask_of(self, prob: np.ndarray, dilate: bool = True) -> np.ndarray:
        """The options' mask rule on a probability map: threshold, min_area, dilate."""
        opts = self.options
        return grow_mask(line_aware_mask(prob, self.mask_rule), opts.dilate if dilate else 0)

    @property
    def mask_rule(self) -> MaskRule:
        """The options' :class:`~oldphoto_cli.mask_rule.MaskRule`."""
        opts = self.options
        low = None if opts.low_threshold is None else min(opts.low_threshold, opts.threshold)
        return MaskRule(opts.threshold, low, opts.blob_threshold, opts.min_area)

    @property
    def sparing_faces(self) -> bool:
        """Whether detected masks spare faces (``options.spare_faces``, None: faces on)."""
        if self.options.spare_faces is None:
            return self.face_enhancer is not None
        return bool(self.options.spare_faces)

    def detected_mask(
        self, rgb: np.ndarray, info: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, list | None]:
        """The mask restore makes on its own: detect, the mask rule, spare printed patterns
        (:mod:`oldphoto_cli.patterns`), then spare faces.

        ``oldphoto detect`` writes exactly this mask, so a saved mask fed back through
        ``restore --mask-dir`` gives the same result as letting restore detect.

        Returns:
            (H, W) uint8 mask, and the faces found while sparing them (None when faces were
            not searched), for the face enhancer to reuse.
        """
        mask = self.mask_of(self.detect(rgb), dilate=False)
        if info is not None:
            info["precision"] = self.precision
        if self.options.spare_patterns:
            from oldphoto_cli.patterns import spare_patterns

            mask, spared = spare_patterns(mask, rgb)
            if info is not None:
                info["mask_spared_in_patterns"] = spared
        faces = None
        if self.sparing_faces:
            faces = self.find_faces(rgb)
            mask, spared = spare_faces(mask, [face.box for face in faces])
            if info is not None:
                info["mask_spared_in_faces"] = {"faces": len(faces), "pixels": spared}
        # grown last, so restore --mask-dir (which grows a given mask the same way) repairs
        # exactly this from detect's undilated mask
        return grow_mask(mask, self.options.dilate), faces

    def _choose_mask(self, rgb, mask, info) -> tuple[np.ndarray | None, list | None]:
        """(mask for the scratch path or None, faces found on the way or None)."""
        opts = self.options
        faces = None
        if mask is not None:
            info["mask_source"] = "given"
            mask = (np.asarray(mask) > 0).astype(np.uint8)
        elif opts.with_scratch == "off":
            return None, None
        else:
            started = time.perf_counter()
            mask, faces = self.detected_mask(rgb, info)
            info["seconds_detect"] = round(time.perf_counter() - started, 3)
            info["mask_source"] = f"detect:{self.detector.name}"
            info["stages"]["detect"] = self.detector.name
        info["mask"] = mask_stats(mask)
        if opts.with_scratch == "auto" and mask.mean() <= MIN_DEFECT_SHARE:
            return None, faces
        return mask, faces

    def restore_core(self, rgb: np.ndarray, mask: np.ndarray | None, info=None) -> np.ndarray:
        """encode -> translate -> decode (or an image-space translator) on HxWx3, uint8 or
        float32 [0, 1]; returns float32 [0, 1]."""
        info = {} if info is None else info
        rgb = _pixels(rgb)
        if min(rgb.shape[:2]) < MIN_SIDE:  # tiny: edge-pad for the networks, crop after
            padded, (h, w) = pad_small(rgb)
            small = None if mask is None else pad_small(mask)[0]
            return self.restore_core(padded, small, info)[:h, :w].copy()
        if self.image_space:
            started = time.perf_counter()
            out = np.clip(self.translator(to_float(rgb), mask), 0, 1).astype(np.float32)
            info["seconds_translate"] = round(time.perf_counter() - started, 3)
            return out
        # Whole-image host arrays cost memory per pixel (only tiles reach the device), so
        # they are updated in place and dropped as soon as the next stage has its input.
        started = time.perf_counter()
        scale = self.encoder.scale  # the latent's downsampling factor
        if rgb.dtype == np.uint8 and self.encoder.takes_uint8:
            # a view in (1, 3, H, W) order of the padded 8-bit photo: scaled tile by tile
            padded, (h, w) = _pad_to_multiple_hw(rgb, scale)
            x = torch.from_numpy(padded).permute(2, 0, 1)[None]
        else:
            x = torch.from_numpy(to_float(rgb).transpose(2, 0, 1).copy())[None]  # scaled in place
            x, (h, w) = pad_to_multiple(x.mul_(2).sub_(1), scale)  # (1, 3, H, W) in [-1, 1]
        z = self.encoder(x)  # (1, Cz, H/scale, W/scale) on the host
        del x
        info["seconds_encode"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        m_lat = None
        if mask is not None:
            m = torch.from_numpy(mask.astype(np.float32))[None, None]
            m_lat = latent_mask(pad_to_multiple(m, scale)[0], scale)
            del m
        context = self.translator.prepare(z, m_lat)
        tile_context = getattr(self.translator, "tile_context", None)
        halo = self.translator.halo + self.decoder.halo
        overlap = 8

        def translate_decode(z_tile: torch.Tensor, box) -> torch.Tensor:
            # the tile's piece of the mask: the same window run_tiled cut from z
            top, left = max(0, box[0] - halo), max(0, box[1] - halo)
            m_tile = None
            if m_lat is not None:
                m_tile = m_lat[:, :, top : top + z_tile.shape[2], left : left + z_tile.shape[3]]
            tile_ctx = context
            if tile_context is not None:  # e.g. the features prepare() kept for this tile
                tile_ctx = tile_context(context, (top, left, *z_tile.shape[2:]))
            z_out = self.translator(z_tile, m_tile, tile_ctx)
            # The decoder in smaller tiles of its own: its activations (full resolution)
            # take ~20x the translator's per latent pixel, and its halo is small.
            return run_tiled(lambda t, _box: self.decoder(t), z_out, self.tile,
                             self.decoder.halo, overlap, float(scale), z_out.device)  # fmt: skip

        # Translate tiles twice the decode tile's side: fewer, so less of the translator's
        # larger halo is computed twice (benchmarks/RESULTS.md, "Cost per megapixel above one tile").
        # laid out (1, H, W, 3): the result is a view of it, no whole-image copy
        out = run_tiled(translate_decode, z, 2 * self.tile, halo, overlap, float(scale), "cpu",
                        channels_last=True)  # fmt: skip
        z = m_lat = context = None  # dropped (translate_decode is done with them)
        info["seconds_translate_decode"] = round(time.perf_counter() - started, 3)
        restored = out[0, :, :h, :w].add_(1).mul_(0.5).clamp_(0, 1)  # (3, h, w) in [0, 1]
        if restored.dtype != torch.float32 or restored.permute(1, 2, 0).stride()[2] != 1:
            restored = restored.float().permute(1, 2, 0).contiguous()  # one tile: its own
            return restored.numpy()
        return restored.permute(1, 2, 0).numpy()  # (h, w, 3) float32, rows strided

    def restore(
        self, rgb: np.ndarray, mask: np.ndarray | None = None, name: str | None = None
    ) -> RestoreResult:
        """Restore one HxWx3 float32 [0, 1] image; ``mask`` (HxW) replaces detection.

        Faces are searched on the input (once, shared with sparing faces in the mask), so a
        given mask restores exactly like the detected one. ``name`` (``sub/photo``) names
        saved face crops.
        """
        opts = self.options
        rgb = _pixels(rgb)
        info: dict[str, Any] = {"stages": self.stage_names(), "precision": self.precision}
        intermediates: dict[str, np.ndarray] = {}
        keep = opts.intermediates  # copies: the arrays below are changed in place
        used_mask, faces = self._choose_mask(rgb, mask, info)
        info["scratch_path"] = used_mask is not None
        source = rgb
        if opts.deblock:
            started = time.perf_counter()
            source, info["jpeg_quality"] = deblock_jpeg(rgb)
            if source is not rgb and used_mask is not None:
                # re-compression smears a defect's contrast a block around it; there the
                # photo stays as it came, so the fill borrows from unsmeared pixels
                near = cv2.dilate(used_mask, np.ones((2 * BLOCK + 1,) * 2, np.uint8)) > 0
                source[near] = rgb[near]
            info["seconds_deblock"] = round(time.perf_counter() - started, 3)
        restored = self.restore_core(source, used_mask, info)
        if used_mask is not None and opts.harmonize_fill and not self.fills_holes:
            restored = harmonize_fill(restored, used_mask)
        # the curve is read off the translated photo (its tone, not the input's: the
        # mapping changes tone) and applied last, so faces and the rest share it
        curve = self.tone_curve(restored) if self.tone_curve is not None else None
        if keep:
            intermediates["restored_global"] = restored.copy()
        if self.face_enhancer is not None:
            started = time.perf_counter()
            if faces is None:  # found on the input: damage and restoring do not move them
                faces = self.find_faces(rgb)
            # an enhancer restoring faces from the input gets it and the mask used
            given = {"source": source, "mask": used_mask} if self.face_enhancer.wants_source else {}
            restored, face_info = self.face_enhancer(
                restored, lambda crop: self.restore_core(crop, None), faces, name, **given
            )
            info["faces"] = face_info["faces"]
            if face_info.get("face_boxes"):  # optional in the contract
                info["face_boxes"] = face_info["face_boxes"]
            info["stages"]["face_enhance"] = self.face_enhancer.name
            info["seconds_faces"] = round(time.perf_counter() - started, 3)
            if keep:
                intermediates["faces"] = restored.copy()
        restored = np.asarray(restored, np.float32)
        if curve is not None:
            restored = curve(restored, out=restored)
            info["tone_curve"] = round(curve.deviation(), 4)
            info["tone_levels"] = [round(float(v), 4) for v in curve.levels]
            if keep:
                intermediates["tone_curve"] = restored.copy()
        if opts.keep_tone:
            restored = keep_tone(restored, rgb, used_mask)
        for y0, y1 in bands(restored.shape[0]):  # blend and clip in place, band by band
            band = restored[y0:y1]
            if opts.strength < 1.0:
                band[:] = opts.strength * band + (1.0 - opts.strength) * to_float(rgb[y0:y1])
            np.clip(band, 0, 1, out=band)
        return RestoreResult(restored, used_mask, info, intermediates)
