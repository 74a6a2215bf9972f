"""Repaired holes take the tone and colour of their neighbourhood (oldphoto_cli.fill)."""

from __future__ import annotations

import cv2
import numpy as np

from oldphoto_cli.fill import harmonize_fill, neighbourhood_mean
from oldphoto_cli.pipeline import keep_tone

SEPIA = np.array([0.62, 0.5, 0.36], np.float32)


def _sepia_with_scratch():
    rng = np.random.default_rng(0)
    img = np.ones((96, 128, 3), np.float32) * SEPIA
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    mask = np.zeros((96, 128), np.uint8)
    cv2.line(mask, (10, 20), (120, 70), 1, 3)
    scratched = img.copy()
    scratched[mask > 0] = 0.9  # a paper-white, colourless scratch
    return img, scratched, mask


def test_neighbourhood_mean_ignores_the_hole():
    img, scratched, mask = _sepia_with_scratch()
    around = neighbourhood_mean(scratched, mask)
    assert np.abs(around[mask > 0] - SEPIA).max() < 0.03


def test_neighbourhood_mean_fills_holes_wider_than_the_first_blur():
    values = np.ones((64, 64), np.float32) * 0.3
    mask = np.zeros((64, 64), np.uint8)
    mask[8:56, 8:56] = 1
    values[mask > 0] = 1.0
    assert np.allclose(neighbourhood_mean(values, mask)[mask > 0], 0.3, atol=1e-3)


def test_harmonize_fill_removes_a_ghost_and_leaves_the_rest():
    img, _, mask = _sepia_with_scratch()
    ghost = img.copy()
    ghost[mask > 0] += 0.08  # a fill a little too light: a visible line
    out = harmonize_fill(ghost, mask)
    assert np.array_equal(out[mask == 0], ghost[mask == 0])
    before = np.abs(ghost[mask > 0] - img[mask > 0]).mean()
    after = np.abs(out[mask > 0] - img[mask > 0]).mean()
    assert after < before / 4


def test_keep_tone_takes_the_fill_chroma_from_around_the_scratch():
    """A scratch's own colour (grey) must not come back as the repaired pixels' chroma."""
    img, scratched, mask = _sepia_with_scratch()
    restored = scratched.copy()
    restored[mask > 0] = img[mask > 0].mean(axis=-1, keepdims=True)  # right brightness, grey
    b_star = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2LAB)[..., 2]  # noqa: E731
    plain = b_star(keep_tone(restored, scratched))[mask > 0].mean()
    fixed = b_star(keep_tone(restored, scratched, mask))[mask > 0].mean()
    around = b_star(img)[mask == 0].mean()
    assert abs(fixed - around) < 2.0 < abs(plain - around)
