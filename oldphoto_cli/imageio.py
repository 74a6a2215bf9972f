"""Reading and writing photos around the pipeline.

The pipeline sees HxWx3 RGB: 8-bit photos as uint8 (converted to float32 in [0, 1] tile by
tile and band by band, so a large photo is never held as several float copies), others as
float32 in [0, 1]. This module turns whatever is on disk
(JPEG, PNG, TIFF, BMP, WebP; grayscale, alpha, 16-bit, CMYK, palette; EXIF-rotated) into
that, remembers what the file was, and writes the restored pixels back in the same form:
same size, grayscale stays grayscale, alpha is re-joined, 16-bit stays 16-bit where the
output format can hold it, EXIF (orientation reset to 1) and ICC carried where possible.

Writes are atomic: a temp file in the target directory, fsync, ``os.replace``.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from oldphoto_cli.defaults import DEFAULT_MAX_MEGAPIXELS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif")
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 luma weights of R, G, B (Pillow's convert("L"))
FORMAT_BY_EXT = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".gif": "GIF",
}
# Extensions of image formats oldphoto cannot write: OUT named so is a mistake, not a folder.
UNWRITABLE_IMAGE_EXTENSIONS = frozenset({
    ".heic", ".heif", ".avif", ".jp2", ".j2k", ".jxl", ".ico", ".psd", ".svg", ".pdf",
    ".eps", ".raw", ".dng", ".cr2", ".nef", ".arw", ".tga", ".pcx", ".ppm", ".pgm",
})  # fmt: skip
# Of those, the photo formats: a file so named is an input that fails with
# ``unsupported_format`` (documents and icons, .pdf .svg .eps .ico, are skipped as non-images).
OTHER_PHOTO_EXTENSIONS = UNWRITABLE_IMAGE_EXTENSIONS - {".pdf", ".svg", ".eps", ".ico"}
# The one rule for every other image format (AVIF, HEIC, JPEG 2000, ...), whichever path it
# comes by (a file named or found in a folder, stdin, OUT's name): oldphoto restores only
# the formats it can also write back, so it is refused with this message (a file fails
# alone, exit 1; OUT so named is a usage error). MPO is a JPEG with extra pictures.
RESTORED_FORMATS = frozenset(FORMAT_BY_EXT.values()) | {"MPO"}
FORMATS_TEXT = "JPEG, PNG, TIFF, BMP, WebP and GIF"


def unsupported_format(name: str) -> str:
    """The one-line error for an image format oldphoto does not restore."""
    return (f"{name} images are not restored: oldphoto reads and writes {FORMATS_TEXT}; "
            "convert it first (e.g. to PNG)")  # fmt: skip


SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}
# Pillow modes read into uint8 pixels (8 bits a channel); other modes are read as float32.
EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "CMYK",
                             "YCbCr"})  # fmt: skip
ALPHA_FORMATS = {"PNG", "TIFF", "WEBP"}
EXIF_FORMATS = {"JPEG", "PNG", "TIFF", "WEBP"}
ICC_FORMATS = {"JPEG", "PNG", "TIFF", "WEBP"}
# Peak memory per pixel, to refuse what would not fit before decoding: the slope of peak RSS
# over pixels measured by benchmarks/bench_memory.py (restore, real weights, a photo with
# scratches and a face: 109 bytes per pixel from 4 to 24 MP, 118 from 24 to 44.5 MP, the
# mapping's kept features, 24 per pixel up to 1 GiB, included; RESULTS.md), rounded up. An
# 8-bit photo is kept in 8 bits and converted per tile; 16-bit and float ones are held as
# float32 (three whole copies more). On top come the tile buffers and kept features, a
# constant (FIXED_BYTES), and a photo is only accepted within MEMORY_SHARE of the memory
# available: the rest is headroom for everything else the machine runs. detect is not
# measured apart and uses restore's figure (it does less).
RESTORE_BYTES_PER_PIXEL = 120
DETECT_BYTES_PER_PIXEL = RESTORE_BYTES_PER_PIXEL
FLOAT_EXTRA_BYTES_PER_PIXEL = 36  # a 16-bit or float photo: three float32 copies more
FIXED_BYTES = 3 << 30
MEMORY_SHARE = 0.8
BAND_ROWS = 256  # rows converted at a time (whole-image work done band by band)
WHOLE_IMAGE_MAP_BYTES = 16 << 20  # whole-image arrays from this size get a map of their own
ORIENTATION_TAG = 0x0112
# A TIFF's first IFD is its EXIF too, and holds the tags that lay out its pixels (sample
# format, photometric, planar config, strips, ...). Only these descriptive tags (and the
# EXIF/GPS sub-IFDs) are carried from a TIFF; the rest describe the source's pixels and
# would corrupt an output with other pixels.
TIFF_DESCRIPTIVE_TAGS = frozenset({
    0x010E, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B,
    0x013C, 0x8298, 0x8769, 0x8825,
})  # fmt: skip

STDOUT = Path("-")

# We apply our own, explicit pixel limit (``max_megapixels``) instead of Pillow's global one.
Image.MAX_IMAGE_PIXELS = None


class ImageReadError(Exception):
    """A file could not be read as an image; the message is one line, for the user."""


class ImageWriteError(Exception):
    """An image could not be written."""


def is_image_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(path: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """A single image file, or the image files in a folder (``recursive``: and below),
    sorted by path, hidden files and folders skipped."""
    path = Path(path)
    if path.is_file():
        return [path]
    found = path.rglob("*") if recursive else path.iterdir()
    return sorted(
        p for p in found
        if p.is_file() and is_image_path(p)
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )  # fmt: skip


@dataclass
class LoadedImage:
    """An image as the pipeline wants it plus what is needed to write it back alike."""

    # HxWx3 (grayscale replicated into 3 channels): uint8 for 8-bit images, else float32 in
    # [0, 1]. ``rgb`` is it as float32 (a new array for uint8: use ``pixels`` where it can).
    pixels: np.ndarray
    alpha: np.ndarray | None  # HxW float32 in [0, 1], or None
    mode: str  # "L" or "RGB": the colour mode to write back
    bit_depth: int  # 8 or 16
    format: str  # Pillow format name of the source ("JPEG", "PNG", ...)
    exif: bytes | None = None  # orientation already reset to 1
    icc_profile: bytes | None = None
    source_mode: str = ""  # the Pillow mode the file had, for notes (e.g. "CMYK", "P")
    frames: int = 1  # frames/pages in the file (animated GIF/APNG, multi-page TIFF): the
    # first one is read

    @property
    def rgb(self) -> np.ndarray:
        """HxWx3 float32 in [0, 1]."""
        return to_float(self.pixels)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) after EXIF orientation."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def gray(self) -> np.ndarray:
        return to_gray(self.pixels)


def whole_image_array(shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """A zero-filled array for a whole photo (its pixels, a result, a map): from its own
    anonymous memory map when large, returned to the system when the array goes.

    The networks' freed buffers are kept on the malloc heap for reuse (``hostmem``); a
    long-lived whole-image array placed on that heap among them fragments it, and the heap,
    so the peak, then grows with every one (75 bytes per pixel measured where the arrays
    themselves took 34). Mapped apart, only the buffers share the heap.
    """
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    if count * dtype.itemsize < WHOLE_IMAGE_MAP_BYTES:
        return np.zeros(shape, dtype)
    import mmap

    buffer = mmap.mmap(-1, count * dtype.itemsize)  # anonymous: zero pages, touched lazily
    return np.frombuffer(buffer, dtype, count).reshape(shape)


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 (0-255) or float pixels as float32 in [0, 1] (float32 input as it is)."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255.0)
    return np.asarray(pixels, np.float32)


def bands(height: int, rows: int = BAND_ROWS):
    """(start, stop) of row bands covering ``height``."""
    for start in range(0, height, rows):
        yield start, min(height, start + rows)


def luma(pixels: np.ndarray) -> np.ndarray:
    """HxW float32 ITU-R 601 luma of uint8 or float [0, 1] RGB, converted band by band (the
    same values as converting the whole image first)."""
    out = whole_image_array(pixels.shape[:2], np.float32)
    weights = np.asarray(LUMA, np.float32)
    for y0, y1 in bands(pixels.shape[0]):
        out[y0:y1] = to_float(pixels[y0:y1, :, :3]) @ weights
    return out


def to_gray(rgb: np.ndarray, clip: bool = False) -> np.ndarray:
    """ITU-R 601 luma, as Pillow's ``convert("L")``, of uint8 or float RGB, band by band;
    ``clip``: of the colours clipped to [0, 1] (nan as 0) first."""
    r, g, b = LUMA
    out = whole_image_array(rgb.shape[:2], np.float32)
    for y0, y1 in bands(rgb.shape[0]):
        band = to_float(rgb[y0:y1])
        if clip:
            band = np.clip(np.nan_to_num(band), 0.0, 1.0)
        out[y0:y1] = band[..., 0] * r + band[..., 1] * g + band[..., 2] * b
    return out


def _rawmode(image: Image.Image) -> str:
    if not image.tile:
        return image.mode
    args = image.tile[0].args if hasattr(image.tile[0], "args") else image.tile[0][3]
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return str(args)


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation on a HxW(xC) array (same as ``ImageOps.exif_transpose``)."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
        7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
        8: lambda a: np.swapaxes(a, 0, 1)[::-1],
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(array)) if op else array


def _exif_bytes(image: Image.Image) -> tuple[bytes | None, int]:
    """EXIF with orientation reset to 1, and the orientation that was there.

    From a TIFF only :data:`TIFF_DESCRIPTIVE_TAGS` are kept (its layout tags are not EXIF).
    """
    try:
        exif = image.getexif()
        if image.format == "TIFF":
            kept = Image.Exif()
            for tag in TIFF_DESCRIPTIVE_TAGS & set(exif):
                if tag in (0x8769, 0x8825):  # sub-IFD pointers: copy the IFD itself
                    ifd = exif.get_ifd(tag)
                    if ifd:
                        kept[tag] = dict(ifd)
                else:
                    kept[tag] = exif[tag]
            exif = kept
    except Exception:  # malformed EXIF must not make the photo unreadable
        return None, 1
    if not exif:
        return None, 1
    original = exif.get(ORIENTATION_TAG)
    try:
        orientation = int(original or 1)
    except (TypeError, ValueError):
        orientation = 1
    try:
        if original is not None:
            exif[ORIENTATION_TAG] = 1  # the image's own Exif object: restore it below
        return exif.tobytes(), orientation
    except Exception:
        return None, orientation
    finally:
        if original is not None:
            exif[ORIENTATION_TAG] = original


def memory_needed(
    width: int, height: int, bytes_per_pixel: int = RESTORE_BYTES_PER_PIXEL, eight_bit: bool = True
) -> int:
    """Bytes an image of this size will need while it is processed (an estimate): per pixel,
    more for a photo held as float32 (16-bit, float), plus :data:`FIXED_BYTES`."""
    per_pixel = int(bytes_per_pixel) + (0 if eight_bit else FLOAT_EXTRA_BYTES_PER_PIXEL)
    return int(width) * int(height) * per_pixel + FIXED_BYTES


def memory_limit(max_memory: float | None = None) -> int:
    """Bytes an image may need: ``max_memory`` as given, else :data:`MEMORY_SHARE` of the
    memory available now (the rest is headroom for whatever else the machine runs)."""
    if max_memory is not None:
        return int(max_memory)
    return int(available_memory() * MEMORY_SHARE)


def format_bytes(count: float) -> str:
    """1.2 GB, 350 MB, 12 KB: enough digits to tell a limit from a need."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(count) >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(count)} bytes"


def available_memory() -> int:
    """Bytes this process can still use: MemAvailable, capped by a cgroup v2 limit, plus
    the freed memory it keeps for reuse (``hostmem``)."""
    from oldphoto_cli.hostmem import reusable_bytes

    return _system_available_memory() + reusable_bytes()


def _system_available_memory() -> int:
    available = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = 8 << 30
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            available = min(available, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(0, available)


def sniff_image(data: bytes) -> bool:
    """Whether ``data`` starts like an image Pillow can open (reads the header only)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(data)).close()
        return True
    except Exception:
        return False


def read_image(
    path: str | os.PathLike[str] | bytes,
    max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS,
    max_memory: float | None = None,
    bytes_per_pixel: int = RESTORE_BYTES_PER_PIXEL,
) -> LoadedImage:
    """Read ``path`` (or an image's bytes) into a :class:`LoadedImage`.

    Refused before decoding (:class:`ImageReadError`): over ``max_megapixels``, or needing
    more than ``max_memory`` bytes (None: :func:`memory_limit`) by :func:`memory_needed`.
    """
    if isinstance(path, bytes):
        data, path = path, Path("-")
    else:
        path = Path(path)
        try:
            data = path.read_bytes()
        except IsADirectoryError as error:
            raise ImageReadError("is a directory") from error
        except OSError as error:
            raise ImageReadError(f"cannot read file: {error.strerror or error}") from error
    if not data:
        raise ImageReadError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        raise ImageReadError("not a readable image (unknown or damaged format)") from error
    except Exception as error:
        raise ImageReadError(f"corrupt or truncated image: {_first_line(error)}") from error
    if image.format not in RESTORED_FORMATS:
        raise ImageReadError(unsupported_format(image.format or "these"))
    width, height = image.size
    if max_megapixels is not None and width * height > max_megapixels * 1e6:
        raise ImageReadError(
            f"image is {width}x{height} = {width * height / 1e6:.0f} megapixels, over the "
            f"--max-megapixels limit of {max_megapixels:g} (possible decompression bomb)"
        )
    rawmode = _rawmode(image)  # before anything loads the pixels and clears the tile
    eight_bit = image.mode in EIGHT_BIT_MODES and "16" not in rawmode
    need = memory_needed(width, height, bytes_per_pixel, eight_bit)
    limit = memory_limit(max_memory)
    if need > limit:
        allowed = (
            f"allowed: {format_bytes(limit)} (--max-memory)"
            if max_memory is not None
            else f"{MEMORY_SHARE:.0%} of the memory available: {format_bytes(limit)}"
        )
        raise ImageReadError(
            f"image is {width}x{height}: it would need about {format_bytes(need)} of memory, "
            f"{allowed}; refused before decoding" + ("" if max_memory is not None else
                                                     " (--max-memory GB sets the limit)")
        )  # fmt: skip
    fmt = image.format or FORMAT_BY_EXT.get(path.suffix.lower(), "PNG")
    exif, orientation = _exif_bytes(image)
    icc = image.info.get("icc_profile")
    source_mode = image.mode
    frames = int(getattr(image, "n_frames", 1) or 1)
    try:
        if fmt in SIXTEEN_BIT_FORMATS and "16" in rawmode and image.mode not in ("I;16",):
            loaded = _read_16bit_color(data, orientation, gray=image.mode in ("L", "LA"))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image.load()
            loaded = _from_pil(image)
    except ImageReadError:
        raise
    except Exception as error:
        raise ImageReadError(f"corrupt or truncated image: {_first_line(error)}") from error
    rgb, alpha, mode, depth = loaded
    if source_mode == "CMYK":
        icc = None  # the profile describes CMYK; the pixels are RGB now
    return LoadedImage(rgb, alpha, mode, depth, fmt, exif, icc, source_mode, frames)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _read_16bit_color(
    data: bytes, orientation: int, gray: bool = False
) -> tuple[np.ndarray, np.ndarray | None, str, int]:
    """Pillow has no 16-bit RGB mode; OpenCV decodes those without truncation."""
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageReadError("corrupt or truncated 16-bit image")
    scale = 65535.0 if array.dtype == np.uint16 else 255.0
    depth = 16 if array.dtype == np.uint16 else 8
    array = _apply_orientation(array, orientation).astype(np.float32) / scale
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2), None, "L", depth
    mode = "L" if gray else "RGB"
    if array.shape[2] == 4:
        return array[..., 2::-1].copy(), array[..., 3].copy(), mode, depth
    return array[..., 2::-1].copy(), None, mode, depth


def _from_pil(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, str, int]:
    image = ImageOps.exif_transpose(image) or image
    mode = image.mode
    alpha = None
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        gray = np.asarray(image, dtype=np.uint16).astype(np.float32) / 65535.0
        return np.repeat(gray[..., None], 3, axis=2), None, "L", 16
    if mode == "I":
        values = np.asarray(image, dtype=np.int64)
        depth = 16 if values.max(initial=0) > 255 else 8
        gray = np.clip(values, 0, 65535 if depth == 16 else 255).astype(np.float32)
        gray /= 65535.0 if depth == 16 else 255.0
        return np.repeat(gray[..., None], 3, axis=2), None, "L", depth
    if mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        top = float(gray.max(initial=0.0))
        gray = np.clip(gray / (top if top > 1.0 else 1.0), 0.0, 1.0)
        return np.repeat(gray[..., None], 3, axis=2), None, "L", 16
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
    if mode == "CMYK":
        image = _cmyk_to_rgb(image)
        mode = "RGB"
    if mode in ("1", "L", "LA", "La"):
        if mode in ("LA", "La"):
            image = image.convert("LA")
            alpha = np.asarray(image.getchannel("A"), np.float32) / 255.0
        gray = np.asarray(image.convert("L"))
        own = whole_image_array((*gray.shape, 3), np.uint8)
        own[...] = gray[..., None]
        return own, alpha, "L", 8
    if mode in ("RGBA", "RGBa"):
        image = image.convert("RGBA")
        alpha = np.asarray(image.getchannel("A"), np.float32) / 255.0
    rgb = np.asarray(image.convert("RGB"))
    own = whole_image_array(rgb.shape, np.uint8)  # writable, and off the heap
    own[...] = rgb
    return own, alpha, "RGB", 8


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Colour-managed CMYK -> sRGB when the file has a profile, else Pillow's formula."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(image, source, target, outputMode="RGB")
        except Exception:
            pass
    return image.convert("RGB")


# --------------------------------------------------------------------------- writing


def output_format(path: str | os.PathLike[str]) -> str:
    ext = Path(path).suffix.lower()
    if ext not in FORMAT_BY_EXT:
        raise ImageWriteError(f"unsupported output extension {ext!r}")
    return FORMAT_BY_EXT[ext]


def encode_image(
    rgb: np.ndarray,
    fmt: str,
    *,
    mode: str = "RGB",
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
) -> bytes:
    """Encode float RGB in [0, 1] (or uint8 RGB) as ``fmt`` bytes in the requested mode and
    depth. Quantized band by band: no whole-image float temporaries."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        rgb = np.asarray(rgb, np.float32)
    if alpha is not None and fmt not in ALPHA_FORMATS:
        alpha = None
    if alpha is not None and alpha.shape != rgb.shape[:2]:
        raise ImageWriteError(f"alpha {alpha.shape} does not match restored image {rgb.shape[:2]}")
    sixteen = bit_depth == 16 and fmt in SIXTEEN_BIT_FORMATS
    if sixteen and mode == "RGB":
        return _encode_16bit_color(rgb, alpha, fmt, exif, icc_profile)
    if mode == "L":
        gray = to_gray(rgb, clip=True)
        if sixteen and alpha is None:
            image = Image.fromarray(_quantize(gray, 65535, np.uint16))
        else:
            image = Image.fromarray(_quantize(gray, 255, np.uint8))
            if alpha is not None:
                image = Image.merge("LA", [image, Image.fromarray(_quantize(alpha, 255, np.uint8))])
                if fmt == "WEBP":
                    image = image.convert("RGBA")
    else:
        image = Image.fromarray(_quantize(rgb, 255, np.uint8))
        if alpha is not None:
            image.putalpha(Image.fromarray(_quantize(alpha, 255, np.uint8)))
    kwargs: dict = {}
    if fmt == "JPEG":
        kwargs.update(quality=95, subsampling=0 if mode == "L" else 2)
    elif fmt == "WEBP":
        kwargs.update(quality=95)
    elif fmt == "TIFF":
        kwargs.update(compression="tiff_deflate")
    if exif and fmt == "TIFF":
        exif = _tiff_safe_exif(exif)
    if exif and fmt in EXIF_FORMATS:
        kwargs["exif"] = exif
    if icc_profile and fmt in ICC_FORMATS:
        kwargs["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _tiff_safe_exif(exif: bytes) -> bytes | None:
    """Only descriptive IFD0 tags into a TIFF: its writer (libtiff) rejects EXIF/GPS
    sub-IFDs, and layout tags would describe other pixels."""
    try:
        source = Image.Exif()
        source.load(exif)
        kept = Image.Exif()
        for tag in TIFF_DESCRIPTIVE_TAGS - {0x8769, 0x8825}:
            if tag in source:
                kept[tag] = source[tag]
        return kept.tobytes() if len(kept) else None
    except Exception:
        return None


def _quantize(values: np.ndarray, top: int, dtype: type) -> np.ndarray:
    """Float [0, 1] (nan as 0, clipped) -> integers 0..top, band by band; uint8 input is
    taken as 0..255 (scaled up for 16 bits)."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values if top == 255 else values.astype(dtype) * np.asarray(257, dtype)
    out = whole_image_array(values.shape, dtype)
    for y0, y1 in bands(values.shape[0]):
        band = np.clip(np.nan_to_num(values[y0:y1].astype(np.float32)), 0.0, 1.0)
        out[y0:y1] = np.clip(np.rint(band * top), 0, top)
    return out


def _encode_16bit_color(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    fmt: str,
    exif: bytes | None,
    icc_profile: bytes | None,
) -> bytes:
    array = _quantize(rgb, 65535, np.uint16)[..., ::-1]
    if alpha is not None:
        array = np.concatenate([array, _quantize(alpha, 65535, np.uint16)[..., None]], axis=2)
    ok, encoded = cv2.imencode(".png" if fmt == "PNG" else ".tiff", np.ascontiguousarray(array))
    if not ok:
        raise ImageWriteError(f"OpenCV could not encode a 16-bit {fmt}")
    data = encoded.tobytes()
    if fmt == "PNG":
        data = _png_add_chunks(data, exif, icc_profile)
    return data


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_add_chunks(data: bytes, exif: bytes | None, icc_profile: bytes | None) -> bytes:
    """Insert iCCP/eXIf right after IHDR (OpenCV writes neither)."""
    ihdr_end = 8 + 8 + 13 + 4
    extra = b""
    if icc_profile:
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc_profile))
    if exif:
        payload = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        extra += _png_chunk(b"eXIf", payload)
    return data[:ihdr_end] + extra + data[ihdr_end:]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.
    ``-`` writes to stdout.

    The temp file is hidden (leading dot) in the target directory, so a rerun over the
    output folder never mistakes it for a photo; it is removed on any failure.
    """
    path = Path(path)
    if path == STDOUT:
        stream = getattr(sys.stdout, "buffer", None) or sys.stdout
        stream.write(data)
        stream.flush()
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as error:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(error, OSError):  # name the output, not the hidden temp file
            raise ImageWriteError(f"cannot write {path}: {error.strerror or error}") from None
        raise


def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    like: LoadedImage | None = None,
    *,
    mode: str | None = None,
    alpha: np.ndarray | None = None,
    bit_depth: int | None = None,
    fmt: str | None = None,
) -> None:
    """Write restored ``rgb`` to ``path`` (format from the extension), like the source.

    ``path`` ``-`` is stdout, in ``fmt`` (default: the source's format, else PNG).
    """
    if fmt is None and Path(path) == STDOUT:
        source = like.format if like is not None else "PNG"
        fmt = {"MPO": "JPEG"}.get(source, source)
        fmt = fmt if fmt in FORMAT_BY_EXT.values() else "PNG"
    fmt = fmt or output_format(path)
    if like is not None:
        mode = mode or like.mode
        alpha = like.alpha if alpha is None else alpha
        bit_depth = bit_depth or like.bit_depth
    data = encode_image(
        rgb,
        fmt,
        mode=mode or "RGB",
        alpha=alpha,
        bit_depth=bit_depth or 8,
        exif=like.exif if like is not None else None,
        icc_profile=like.icc_profile if like is not None else None,
    )
    atomic_write_bytes(path, data)


def write_mask(path: str | os.PathLike[str], mask: np.ndarray) -> None:
    """Write a {0,1} (or bool) mask as an 8-bit 0/255 PNG, atomically."""
    image = Image.fromarray((np.asarray(mask) > 0).astype(np.uint8) * 255, mode="L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


# A mask is white (255) defects on black (0). Grey is read at 50 %: from 128 up a pixel is
# a defect (a soft brush's edge, JPEG noise). A mask where more than half of the pixels it
# marks are grey (128-223, not drawn white) is refused: that is no drawing of defects (a
# grey or photo image given as a mask would mark most of the photo, and restore would blur
# all of that).
MASK_THRESHOLD = 128
MASK_GREY_TOP = 223  # marked values up to this are grey, not white
MASK_MAX_GREY_SHARE = 0.5


def read_mask(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a user or ``detect`` mask as HxW uint8 {0, 1}; ``size`` = (width, height) check.

    Values from :data:`MASK_THRESHOLD` (128) up are defects; a mask that is mostly grey
    (over half of what it marks is 128-223) is refused (:class:`ImageReadError`).
    """
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") and image.getextrema()[-1][0] < 255:
                gray = image.getchannel("A")  # painted on a transparent layer
            else:
                gray = image.convert("L")
    except Exception as error:
        raise ImageReadError(f"cannot read mask {Path(path).name}: {error}") from error
    if size is not None and gray.size != tuple(size):
        raise ImageReadError(
            f"mask {Path(path).name} is {gray.size[0]}x{gray.size[1]}, image is {size[0]}x{size[1]}"
        )
    values = np.asarray(gray)
    mask = (values >= MASK_THRESHOLD).astype(np.uint8)
    marked = int(mask.sum())
    if marked:
        grey = int(np.count_nonzero((values >= MASK_THRESHOLD) & (values <= MASK_GREY_TOP)))
        if grey > MASK_MAX_GREY_SHARE * marked:
            raise ImageReadError(
                f"mask {Path(path).name} is grey, not black and white: {grey / marked:.0%} of "
                f"the pixels it marks are {MASK_THRESHOLD}-{MASK_GREY_TOP}; draw defects white "
                "(255) on black (0)"
            )
    return mask
