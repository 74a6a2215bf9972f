"""Printed patterns spared: detected specks on a lattice are content, scattered ones dust."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from oldphoto_cli.patterns import lattice_scores, spare_patterns


def fabric(size: int = 160, period: int = 9, bend: float = 0.0, seed: int = 0):
    """Grey cloth with white dots on a (optionally bent) lattice, some grain; and the
    dot centres."""
    rng = np.random.default_rng(seed)
    rgb = np.full((size, size, 3), 0.25, np.float32) + rng.normal(0, 0.02, (size, size, 1))
    centres = []
    for gy in range(4, size, period):
        for gx in range(4 + (gy // period % 2) * period // 2, size, period):
            x = gx + bend * np.sin(gy / 25.0)
            centres.append((x, gy))
            cv2.circle(rgb, (int(round(x)), gy), 2, (0.9, 0.9, 0.9), -1)
    return np.clip(rgb, 0, 1).astype(np.float32), np.array(centres, np.float64)


def dust_on(rgb: np.ndarray, count: int, seed: int):
    """The same photo with random white specks, and their exact mask."""
    rng = np.random.default_rng(seed)
    out, mask = rgb.copy(), np.zeros(rgb.shape[:2], np.uint8)
    for _ in range(count):
        x, y = (int(v) for v in rng.integers(5, rgb.shape[0] - 5, 2))
        cv2.circle(out, (x, y), 2, (0.95, 0.95, 0.95), -1)
        cv2.circle(mask, (x, y), 2, 1, -1)
    return out, mask


def natural(size: int = 160, seed: int = 1) -> np.ndarray:
    """Smooth random texture (no lattice): blurred noise at two scales."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 3)
    fine = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 1)
    lum = 0.3 + 0.5 * (base - base.min()) / np.ptp(base) + 0.1 * fine
    return np.repeat(np.clip(lum, 0, 1)[..., None], 3, axis=2).astype(np.float32)


def dots_mask(shape, centres, share: float, seed: int) -> np.ndarray:
    """What a detector does on a dotted fabric: marks some of the dots."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for x, y in centres[rng.random(len(centres)) < share]:
        cv2.circle(mask, (int(round(x)), int(round(y))), 2, 1, -1)
    return mask


def test_lattice_scores_tell_a_dot_lattice_from_random_texture():
    cloth, centres = fabric()
    inner = centres[(centres.min(axis=1) > 30) & (centres.max(axis=1) < 130)]
    lum_cloth = cloth @ np.array([0.299, 0.587, 0.114], np.float32)
    lum_natural = natural() @ np.array([0.299, 0.587, 0.114], np.float32)
    on_cloth = lattice_scores(lum_cloth, inner)
    on_natural = lattice_scores(lum_natural, inner)
    assert np.median(on_cloth) > 0.4
    assert np.median(on_natural) < 0.1
    stripes = np.tile((np.arange(160) % 9 < 3).astype(np.float32), (160, 1))
    assert np.median(lattice_scores(stripes, inner)) < 0.2  # one direction: not a lattice


@pytest.mark.parametrize("bend", [0.0, 4.0])
def test_marked_dots_are_spared_and_dust_is_kept(bend):
    cloth, centres = fabric(bend=bend)
    marked = dots_mask(cloth.shape[:2], centres, share=0.4, seed=2)
    kept, spared = spare_patterns(marked, cloth)
    assert spared >= 0.8 * marked.sum()
    assert kept.sum() <= 0.2 * marked.sum()
    dusty, dust = dust_on(natural(), count=40, seed=3)
    kept, spared = spare_patterns(dust, dusty)
    assert spared <= 0.05 * dust.sum()


def test_scratches_and_empty_masks_pass_untouched():
    cloth, _ = fabric()
    scratch = np.zeros(cloth.shape[:2], np.uint8)
    cv2.line(scratch, (10, 5), (150, 140), 1, 3)  # one long component: never a speck
    assert spare_patterns(scratch, cloth) == (scratch, 0) or (
        np.array_equal(spare_patterns(scratch, cloth)[0], scratch)
    )
    empty = np.zeros_like(scratch)
    out, spared = spare_patterns(empty, cloth)
    assert spared == 0 and not out.any()
    tiny = np.zeros((20, 20), np.uint8)
    tiny[5, 5] = 1  # smaller than the window: nothing to judge, kept
    assert spare_patterns(tiny, np.zeros((20, 20, 3), np.float32))[0][5, 5] == 1


def test_restore_spares_patterns_and_reports_it(tiny_weights):
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    cloth, centres = fabric()
    marked = dots_mask(cloth.shape[:2], centres, share=0.5, seed=4).astype(np.float32)
    options = RestoreOptions(device="cpu", weights_dir=str(tiny_weights), face_enhancer="none",
                             with_scratch="on", threshold=0.5, min_area=0, dilate=0)  # fmt: skip
    pipe = RestorePipeline(options)
    pipe.detect = lambda rgb: marked
    mask, _ = pipe.detected_mask(cloth, info := {})
    assert info["mask_spared_in_patterns"] >= 0.8 * marked.sum()
    assert mask.sum() <= 0.2 * marked.sum()
    pipe.options = dataclasses.replace(options, spare_patterns=False)
    mask, _ = pipe.detected_mask(cloth, {})
    assert mask.sum() == marked.sum()
