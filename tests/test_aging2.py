"""The independent ageing renderer that validates restoration (oldphoto_cli.aging2)."""

from __future__ import annotations

import numpy as np
import pytest

from oldphoto_cli import aging2
from oldphoto_cli.evaluate import list_pairs, load_pair
from oldphoto_cli.metrics import psnr, tone_fitted_psnr


@pytest.fixture
def clean():
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:292, 150:342])


def test_age_is_seeded_and_jpeg_comes_last(clean):
    a, ops_a = aging2.age(clean, np.random.default_rng(3))
    b, ops_b = aging2.age(clean, np.random.default_rng(3))
    assert np.array_equal(a, b) and ops_a == ops_b and ops_a
    for seed in range(12):
        _, ops = aging2.age(clean, np.random.default_rng(seed))
        assert "jpeg" not in ops or ops[-1] == "jpeg"


@pytest.mark.parametrize("op", aging2.OPS)
def test_each_op_damages_structure_or_tone(op, clean):
    img = clean.astype(np.float32) / 255
    out = np.clip(aging2._FUNCS[op](img, np.random.default_rng(1)), 0, 1)
    if op == "fading":  # tone: a large raw error, mostly undone by an affine tone fit
        assert psnr(out, img) < 25 and tone_fitted_psnr(out, img) > psnr(out, img) + 5
    else:  # structure: what a tone fit cannot undo
        assert tone_fitted_psnr(out, img) < 40


def test_make_pairs_layout_and_masks(tmp_path, clean):
    import cv2

    src = tmp_path / "photo.png"
    cv2.imwrite(str(src), cv2.cvtColor(clean, cv2.COLOR_RGB2BGR))
    aging2.make_pairs([src], tmp_path / "plain", per_image=1, size=128)
    aging2.make_pairs([src], tmp_path / "structured", per_image=1, size=128, structured=True)
    (name,) = list_pairs(tmp_path / "plain")
    degraded, truth, mask = load_pair(tmp_path / "plain", name)
    assert not mask.any() and degraded.shape == truth.shape == (128, 128, 3)
    degraded_s, truth_s, mask_s = load_pair(tmp_path / "structured", name)
    assert mask_s.any() and np.array_equal(truth, truth_s)  # the same clean crop is the truth
