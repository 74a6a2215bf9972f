"""JPEG blocks taken off before restoring: a blind quality estimate and re-application of JPEG.

A photo saved as JPEG at quality q is nearly a fixed point of JPEG at q on the same 8x8
grid: recompressed at q it barely changes, recompressed a little above q it changes more
(the "JPEG ghost", Farid 2009). :func:`estimate_jpeg_quality` finds that dip on a window
of the photo; a photo never saved as JPEG has none (its recompression error only falls as
the quality rises). :func:`deblock` then averages the photo recompressed at that quality
on shifted grids, shifted back (re-application of JPEG, Nosratinia 2001): each shift's
blocks fall elsewhere, so the average keeps what all grids agree on and loses the block
edges and ringing of any one of them. The restorer network did not learn this: on crops
that had JPEG alone it gains 0.00 dB, this gains 0.45 (``benchmarks/RESULTS.md``).

Images are HxWx3 uint8 or float32 in [0, 1]; the grid is the photo's own (origin at its
top-left pixel), which is where a JPEG file's grid is.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from oldphoto_cli.classical import to_uint8
from oldphoto_cli.imageio import bands

QUALITIES = range(10, 96)  # the qualities searched for the dip
LOOK_AHEAD = 10  # the dip is measured against the largest error of this many qualities above
DIP = 0.3  # a dip deeper than this (error ratio) says the photo was saved at that quality
MAX_QUALITY = 75  # deblock only up to this quality: above it the blocks are faint and
# re-application costs as much detail as it saves (24 clean crops saved at 80: +0.23 dB on
# average, -0.27 at worst; at 70: +0.33, -0.11; at 20-60: +0.37 to +0.49, never a loss)
WINDOW = 128  # side of the centre window the quality is estimated on (a multiple of 16):
# as exact as 256 px on 72 JPEG crops of qualities 20-70, and 0.05 s instead of 0.13
MIN_ERROR = 1.0  # recompression errors (mean squared 8-bit levels) below this say nothing
# (a flat window changes little at any quality: no dip can be read from it)
SHIFT_STEP = 2  # grid shifts 0, 2, 4, 6 px in each direction: 16 recompressions
BLOCK = 8  # JPEG's block: grid shifts stay within one
MCU = 16  # 4:2:0's macroblock: bands start on it, with one of context above and below


def jpeg_roundtrip(u8: np.ndarray, quality: int) -> np.ndarray:
    """HxWx3 uint8 through Pillow's JPEG (4:2:0 chroma, libjpeg's scaled tables)."""
    buffer = io.BytesIO()
    Image.fromarray(u8).save(buffer, "JPEG", quality=int(quality), subsampling=2)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _as_u8(rgb: np.ndarray) -> np.ndarray:
    return rgb if rgb.dtype == np.uint8 else to_uint8(rgb)  # 8-bit photos are not copied


def _dip(errors: np.ndarray) -> tuple[int | None, float]:
    """The quality whose recompression error is lowest against the largest of the next
    :data:`LOOK_AHEAD` qualities', and that ratio."""
    best, dip = None, 1.0
    for i, quality in enumerate(QUALITIES[:-LOOK_AHEAD]):
        above = float(errors[i + 1 : i + 1 + LOOK_AHEAD].max())
        if above < MIN_ERROR:
            continue
        ratio = float(errors[i] / above)
        if ratio < dip:
            best, dip = int(quality), ratio
    return best, dip


def estimate_jpeg_quality(rgb: np.ndarray) -> tuple[int | None, float]:
    """(quality, dip) of a photo saved as JPEG, or (None, dip) when no quality in
    :data:`QUALITIES` shows a dip deeper than :data:`DIP`. ``dip``: the recompression error
    at the quality found over the largest of the next :data:`LOOK_AHEAD` qualities'.

    The error is the window's mean, or where that shows no dip the median of its 8x8
    blocks' errors: scratches and dust drawn after the JPEG are not a fixed point of any
    quality and hide the dip in the mean (ageing + damage pairs: 12 of 60 found by the
    mean, 39 with the median too; the median alone misses 4 of 72 saved crops)."""
    h, w = rgb.shape[:2]
    y0 = max(0, (h - WINDOW) // 2) // MCU * MCU  # on the photo's own macroblock grid
    x0 = max(0, (w - WINDOW) // 2) // MCU * MCU
    window = np.ascontiguousarray(_as_u8(rgb[y0 : y0 + WINDOW, x0 : x0 + WINDOW]))
    bh, bw = window.shape[0] // BLOCK, window.shape[1] // BLOCK
    if min(bh, bw) < 2:
        return None, 1.0
    window = window[: bh * BLOCK, : bw * BLOCK]
    means, medians = [], []
    for quality in QUALITIES:
        squared = (jpeg_roundtrip(window, quality).astype(np.float32) - window) ** 2
        blocks = squared.reshape(bh, BLOCK, bw, BLOCK, 3).mean(axis=(1, 3, 4))
        means.append(float(blocks.mean()))
        medians.append(float(np.median(blocks)))
    for errors in (np.array(means), np.array(medians)):
        best, dip = _dip(errors)
        if dip < DIP:
            return best, dip
    return None, dip


def deblock(rgb: np.ndarray, quality: int, shift_step: int = SHIFT_STEP) -> np.ndarray:
    """The mean of ``rgb`` recompressed at ``quality`` on grids shifted by multiples of
    ``shift_step`` px, shifted back; same shape and dtype (uint8 rounded). Band by band,
    each band starting on the macroblock grid with a macroblock of context above and below
    (a JPEG block depends on its own pixels only, so bands give the whole image's result)."""
    h = rgb.shape[0]
    out = np.empty_like(rgb)
    shifts = [(dy, dx) for dy in range(0, BLOCK, shift_step) for dx in range(0, BLOCK, shift_step)]
    for y0, y1 in bands(h, 256):
        a0, a1 = max(0, y0 - MCU) // MCU * MCU, min(h, y1 + MCU)
        band = _as_u8(rgb[a0:a1])
        padded = np.pad(band, ((BLOCK, BLOCK), (BLOCK, BLOCK), (0, 0)), mode="reflect")
        bh, bw = band.shape[:2]
        total = np.zeros(band.shape, np.float32)
        for dy, dx in shifts:
            # the photo moved down and right by (dy, dx): its grid lands shifted
            moved = np.ascontiguousarray(padded[BLOCK - dy : BLOCK - dy + bh + BLOCK,
                                                BLOCK - dx : BLOCK - dx + bw + BLOCK])  # fmt: skip
            total += jpeg_roundtrip(moved, quality)[dy : dy + bh, dx : dx + bw]
        mean = total[y0 - a0 : y1 - a0] / len(shifts)
        out[y0:y1] = np.round(mean).astype(np.uint8) if rgb.dtype == np.uint8 else mean / 255
    return out


def deblock_jpeg(rgb: np.ndarray) -> tuple[np.ndarray, int | None]:
    """``rgb`` deblocked at its estimated JPEG quality, or itself when it shows none or
    one above :data:`MAX_QUALITY`; and the quality found (None: none)."""
    quality, _ = estimate_jpeg_quality(rgb)
    if quality is None or quality > MAX_QUALITY:
        return rgb, quality
    return deblock(rgb, quality), quality

