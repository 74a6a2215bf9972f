"""A corpus of 43 malformed, odd and ordinary files, as a new user's photo folder has them.

``make_corpus(folder)`` writes it and returns what each file should give:
``"ok"`` (restored), ``"error"`` (a one-line error for that file alone) or ``"skipped"``
(not an input: hidden, not an image extension). Deterministic, small (< 1 MB), fast.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, features


def _gradient(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], -1).astype(np.uint8)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge size (the decompression-bomb shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 16, 9)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))  # fmt: skip


def _encoded(array: np.ndarray, fmt: str, mode: str | None = None, **kwargs) -> bytes:
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _planar_tiff(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    entries, extra = 10, 8 + 2 + 10 * 12 + 4
    offsets = [extra + 30 + i * h * w for i in range(3)]

    def entry(tag, kind, count, value):
        if kind == 3 and count == 1:
            return struct.pack("<HHIHH", tag, kind, count, value, 0)
        return struct.pack("<HHII", tag, kind, count, value)

    ifd = struct.pack("<H", entries) + b"".join([
        entry(256, 3, 1, w), entry(257, 3, 1, h), entry(258, 3, 3, extra),
        entry(259, 3, 1, 1), entry(262, 3, 1, 2), entry(273, 4, 3, extra + 6),
        entry(277, 3, 1, 3), entry(278, 3, 1, h), entry(279, 4, 3, extra + 18),
        entry(284, 3, 1, 2),
    ]) + struct.pack("<I", 0)  # fmt: skip
    body = struct.pack("<3H", 8, 8, 8) + struct.pack("<3I", *offsets)
    body += struct.pack("<3I", h * w, h * w, h * w)
    body += b"".join(np.ascontiguousarray(rgb[..., c]).tobytes() for c in range(3))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + body


def _frames(fmt: str, n: int = 3, **kwargs) -> bytes:
    frames = [Image.fromarray(np.roll(_gradient(), 8 * i, axis=1)) for i in range(n)]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], **kwargs)
    return buffer.getvalue()


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose SOF marker claims another size."""
    data = bytearray(_encoded(_gradient(), "JPEG"))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _damaged(data: bytes) -> bytes:
    """Overwrite bytes in the middle of the compressed pixel data."""
    middle = len(data) // 2
    return data[:middle] + b"\xff" * 24 + data[middle + 24 :]


def make_corpus(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Write the corpus into ``folder``; returns {file name: expected outcome}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    g = _gradient()
    gray = g[..., 0]
    rgba = np.dstack([g, np.full(g.shape[:2], 128, np.uint8)])
    jpeg = _encoded(g, "JPEG", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 8
    exif[0x010F] = "Corpus"
    files: dict[str, tuple[bytes, str]] = {
        "good.jpg": (jpeg, "ok"),
        "good.png": (_encoded(g, "PNG"), "ok"),
        "UPPER.JPG": (jpeg, "ok"),
        "progressive.jpg": (_encoded(g, "JPEG", progressive=True), "ok"),
        "png_inside.jpg": (_encoded(g, "PNG"), "ok"),  # content, not extension, decides
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "error"),
        "zero.png": (b"", "error"),
        "text.jpg": (b"this is not a JPEG\n", "error"),
        "page.png": (b"<html><body>404 Not Found</body></html>\n", "error"),
        "gzip.png": (gzip.compress(_encoded(g, "PNG")), "error"),
        "bad_deflate.png": (_damaged(_encoded(g, "PNG")), "error"),
        "bomb.png": (_png_declaring(17000, 17000), "error"),  # memory estimate, not decoded
        "huge_sof.jpg": (_jpeg_declaring(60000, 60000), "error"),  # over --max-megapixels
        "one_pixel.png": (_encoded(np.full((1, 1, 3), 90, np.uint8), "PNG"), "ok"),
        "three.jpg": (_encoded(g[:3, :3], "JPEG"), "ok"),
        "strip.png": (_encoded(g[:2, :], "PNG"), "ok"),
        "tall_strip.png": (_encoded(np.ascontiguousarray(g[:, :1]), "PNG"), "ok"),
        "float.tif": (_encoded(gray.astype(np.float32) / 255, "TIFF"), "ok"),
        "planar.tif": (_planar_tiff(g), "ok"),
        "cmyk.tif": (_encoded(g, "TIFF", mode="CMYK"), "ok"),
        "cmyk.jpg": (_encoded(g, "JPEG", mode="CMYK"), "ok"),
        "bilevel.tif": (_encoded(g, "TIFF", mode="1"), "ok"),
        "sixteen.png": (_encoded(gray.astype(np.uint16) * 257, "PNG"), "ok"),
        "sixteen_rgb.tif": (cv2.imencode(".tiff", g.astype(np.uint16) * 257)[1].tobytes(), "ok"),
        "gray_alpha.png": (_encoded(np.dstack([gray, gray]), "PNG", mode="LA"), "ok"),
        "palette_alpha.png": (_encoded(rgba, "PNG", mode="P"), "ok"),
        "animated.gif": (_frames("GIF", duration=100, loop=0), "ok"),
        "animated.png": (_frames("PNG", duration=100), "ok"),  # APNG
        "pages.tif": (_frames("TIFF"), "ok"),
        "rotated.jpg": (_encoded(g, "JPEG", exif=exif.tobytes()), "ok"),
        "bad_exif.jpg": (_encoded(g, "JPEG", exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xff"), "ok"),
        "junk_icc.png": (_encoded(g, "PNG", icc_profile=b"not an ICC profile"), "ok"),
        "alpha.webp": (_encoded(rgba, "WEBP", lossless=True), "ok"),
        "rgba.bmp": (_encoded(rgba, "BMP"), "ok"),
        os.fsdecode(b"caf\xe9 latin1.png"): (_encoded(g, "PNG"), "ok"),
        "new\nline.jpg": (b"broken", "error"),  # its error must stay one line
        # formats oldphoto does not write back: one error, by extension or by content
        "photo.avif": (_encoded(g, "AVIF") if features.check("avif") else b"AVIF", "error"),
        "photo.tga": (_encoded(g, "TGA"), "error"),
        "tga_inside.png": (_encoded(g, "TGA"), "error"),
        ".hidden.jpg": (jpeg, "skipped"),
        "notes.txt": (b"grandma's album, 1952\n", "skipped"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    expected = {name: outcome for name, (_, outcome) in files.items()}
    os.symlink("loop.png", folder / "loop.png")  # a link to itself
    os.symlink("nowhere.png", folder / "dangling.png")
    expected.update({"loop.png": "error", "dangling.png": "error"})
    assert len(expected) == 43
    return expected


def make_masks(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Masks for ``make_corpus``'s photos named good.* (grey all over: refused, those images
    fail) and UPPER.JPG (a white stroke on black: used); returns {input name: outcome}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    grey = np.full((48, 64), 128, np.uint8)
    stroke = np.zeros((48, 64), np.uint8)
    stroke[10:30, 20:22] = 255
    (folder / "good.png").write_bytes(_encoded(grey, "PNG"))
    (folder / "good_mask.png").write_bytes(_encoded(grey, "PNG"))
    Image.fromarray(stroke).save(folder / "UPPER.png")
    return {"good.png": "error", "good.jpg": "error", "UPPER.JPG": "ok"}
