"""From probabilities to a defect mask: threshold, hysteresis and the shape rule."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from oldphoto_cli.mask_rule import MaskRule, line_aware_mask, rule_options
from oldphoto_cli.pipeline import binary_mask


def _map():
    prob = np.zeros((64, 96), np.float32)
    cv2.line(prob, (5, 10), (90, 10), 0.4, 1)  # a faint crack ...
    prob[10, 40:44] = 0.9  # ... with a confident stretch
    cv2.line(prob, (5, 30), (90, 30), 0.4, 1)  # a faint line with no seed
    cv2.circle(prob, (30, 50), 4, 0.7, -1)  # a compact blob (an eye, a button)
    cv2.circle(prob, (70, 50), 4, 0.95, -1)  # a compact, confident speck
    return prob


def test_plain_rule_is_the_threshold():
    prob = _map()
    assert np.array_equal(line_aware_mask(prob, MaskRule(0.6, min_area=8)),
                          binary_mask(prob, 0.6, 8))  # fmt: skip


def test_hysteresis_grows_seeds_along_weaker_evidence_only():
    mask = line_aware_mask(_map(), MaskRule(0.6, low=0.3, min_area=1))
    assert mask[10, 5:91].all()  # the whole seeded crack
    assert not mask[30].any()  # the unseeded faint line stays out


def test_compact_regions_need_the_blob_threshold():
    mask = line_aware_mask(_map(), MaskRule(0.6, low=0.3, blob=0.8, min_area=1))
    assert mask[10, 5:91].all()  # a line keeps the lower bar
    assert not mask[50, 30] and mask[50, 70]  # the 0.7 blob goes, the 0.95 speck stays


def test_rule_options_and_validation():
    assert rule_options(None) == {}
    assert rule_options("0.6,0.3,0.8") == {"threshold": 0.6, "low_threshold": 0.3,
                                           "blob_threshold": 0.8}  # fmt: skip
    assert rule_options("0.5") == {"threshold": 0.5}
    with pytest.raises(ValueError):
        rule_options("0.1,0.2,0.3,0.4")
    with pytest.raises(ValueError):
        MaskRule(0.5, low=0.7)
