"""JPEG deblocking: the blind quality estimate, re-application of JPEG, and its place in restore."""

from __future__ import annotations

import numpy as np
import pytest
from naturalimage import natural

import oldphoto_cli.deblock as deblock_module
from oldphoto_cli.deblock import (
    MAX_QUALITY,
    deblock,
    deblock_jpeg,
    estimate_jpeg_quality,
    jpeg_roundtrip,
)
from oldphoto_cli.metrics import psnr
from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline


def photo(rows: int = 300, cols: int = 280) -> np.ndarray:
    """An 8-bit photo-like image (1/f spectrum), never saved as JPEG."""
    img = natural(1, max(rows, cols))[:rows, :cols]
    return np.round(img * 255).astype(np.uint8)


@pytest.mark.parametrize("quality", [15, 40, 70])
def test_the_quality_of_a_jpeg_photo_is_found_and_a_raw_photo_has_none(quality):
    raw = photo()
    assert estimate_jpeg_quality(jpeg_roundtrip(raw, quality))[0] == quality
    found, dip = estimate_jpeg_quality(raw)
    assert found is None and dip > 0.5


def test_the_quality_is_found_under_scratches_drawn_after_the_jpeg():
    """Scratches drawn after saving hide the dip in the window's mean error; the median
    of its blocks' errors still shows it."""
    import cv2

    scratched = jpeg_roundtrip(photo(), 35).copy()
    for k in range(4):  # across the centre window the quality is read on (rows 80-208)
        cv2.line(scratched, (0, 40 * k + 90), (279, 40 * k + 130), (250, 250, 250), 2)
    window = scratched[80:208, 64:192]
    errors = np.array([np.mean((jpeg_roundtrip(np.ascontiguousarray(window), q).astype(float)
                                - window) ** 2) for q in deblock_module.QUALITIES])  # fmt: skip
    assert deblock_module._dip(errors)[1] > deblock_module.DIP  # the mean alone: no dip
    assert estimate_jpeg_quality(scratched)[0] == 35


def test_deblocking_brings_a_jpeg_photo_nearer_the_original_and_keeps_its_type():
    raw = photo()
    saved = jpeg_roundtrip(raw, 20)
    out = deblock(saved, 20)
    assert out.dtype == np.uint8 and out.shape == saved.shape
    assert psnr(out / 255.0, raw / 255.0) > psnr(saved / 255.0, raw / 255.0)
    as_float = deblock(saved.astype(np.float32) / 255, 20)
    assert as_float.dtype == np.float32
    assert np.abs(as_float * 255 - out).max() <= 0.5 + 1e-3  # the same, unrounded


def test_bands_give_the_whole_image_result(monkeypatch):
    saved = jpeg_roundtrip(photo(600, 200), 30)
    in_bands = deblock(saved, 30)  # 600 rows: three bands
    monkeypatch.setattr(deblock_module, "bands", lambda height, *_: [(0, height)])
    assert np.array_equal(in_bands, deblock(saved, 30))


def test_photos_without_blocks_or_with_faint_ones_are_returned_as_they_are():
    raw = photo()
    out, quality = deblock_jpeg(raw)
    assert out is raw and quality is None
    fine = jpeg_roundtrip(raw, MAX_QUALITY + 5)
    out, quality = deblock_jpeg(fine)
    assert out is fine and quality == MAX_QUALITY + 5


def test_restore_deblocks_what_it_translates_but_detects_on_the_photo_as_it_came(tiny_weights):
    saved = jpeg_roundtrip(photo(), 25)
    before = saved.copy()
    results = {}
    for flag in (True, False):
        options = RestoreOptions(device="cpu", weights_dir=str(tiny_weights), face_enhancer="none",
                                 translator="restorer", with_scratch="on", deblock=flag)  # fmt: skip
        results[flag] = RestorePipeline(options).restore(saved)
    assert np.array_equal(saved, before)  # the input is never changed
    assert results[True].info["jpeg_quality"] == 25 and "jpeg_quality" not in results[False].info
    assert np.array_equal(results[True].mask, results[False].mask)
    assert np.abs(results[True].image - results[False].image).max() > 1 / 255


def test_near_a_defect_the_translator_gets_the_photo_as_it_came(tiny_weights, monkeypatch):
    """Re-compression smears a bright scratch a block around it: within a block of the mask
    the translator sees the input's own pixels, elsewhere the deblocked ones."""
    import cv2

    saved = jpeg_roundtrip(photo(), 25)
    mask = np.zeros(saved.shape[:2], np.uint8)
    mask[100:104, 50:200] = 1
    options = RestoreOptions(device="cpu", weights_dir=str(tiny_weights), face_enhancer="none",
                             translator="restorer", dilate=0)  # fmt: skip
    pipeline = RestorePipeline(options)
    seen = {}
    translate = pipeline.restore_core

    def spy(rgb, used_mask, info=None):
        seen["rgb"] = np.array(rgb)
        return translate(rgb, used_mask, info)

    monkeypatch.setattr(pipeline, "restore_core", spy)
    pipeline.restore(saved, mask)
    near = cv2.dilate(mask, np.ones((17, 17), np.uint8)) > 0
    assert np.array_equal(seen["rgb"][near], saved[near])
    assert not np.array_equal(seen["rgb"][~near], saved[~near])
