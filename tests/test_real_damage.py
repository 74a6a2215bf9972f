"""The real-damage renderers: film-damage overlays, print cracks, tears, and the mix that
trains the detector on them."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from oldphoto_cli.degrade import DegradeConfig, degrade_image, real_config, rng_for
from oldphoto_cli.degrade import film_overlays as fo
from oldphoto_cli.degrade.print_damage import lone_crack, print_cracks, tears
from oldphoto_cli.degrade.structured import MIN_CHANGE


@pytest.fixture
def photo():
    rng = np.random.default_rng(4)
    base = cv2.GaussianBlur(rng.random((192, 224, 3), dtype=np.float32), (0, 0), 6)
    return np.ascontiguousarray(0.25 + 0.5 * (base - base.min()) / np.ptp(base), np.float32)


def _assert_exact(img, out, mask):
    changed = np.abs(out - img).max(axis=2)
    assert out.shape == img.shape and mask.dtype == np.uint8
    assert np.all(changed[mask == 0] == 0)
    assert np.all(changed[mask == 1] >= MIN_CHANGE)


@pytest.mark.parametrize("op", [print_cracks, lone_crack, tears, fo.film_overlays])
def test_real_damage_ops_are_pure_and_exact(op, photo):
    for i in range(6):
        out, mask, params = op(photo, rng_for(9, i))
        again, mask2, _ = op(photo, rng_for(9, i))
        json.dumps(params)
        assert np.array_equal(out, again) and np.array_equal(mask, mask2)
        _assert_exact(photo, out, mask)


def _stroke_widths(mask: np.ndarray) -> np.ndarray:
    """Per connected component: 2 x the distance transform's peak (its widest point)."""
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    count, labels = cv2.connectedComponents(mask)
    return np.array([2 * dist[labels == k].max() for k in range(1, count)])


def test_print_cracks_are_connected_networks_of_lines(photo):
    """Cracks form a few large connected networks of thin lines, not a scatter of specks,
    and cover both hairline and wide cracks over many draws."""
    widest = []
    for i in range(24):
        _, mask, params = print_cracks(photo, rng_for(11, i))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1]
        assert areas[:3].sum() >= 0.7 * areas.sum()  # mostly a few connected networks
        # thin: the mask covers far less than its bounding box (lines, not blobs)
        ys, xs = np.nonzero(mask)
        box = (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
        assert mask.sum() < 0.6 * box
        widest.append(params["widest"])
    assert min(widest) <= 2 and max(widest) >= 6


def test_print_cracks_are_mostly_paper_white(photo):
    """Emulsion lost shows the paper: most networks brighten the photo where they are."""
    brighter = 0
    for i in range(20):
        out, mask, params = print_cracks(photo, rng_for(12, i))
        inside = mask > 0
        if out[inside].mean() > photo[inside].mean() + 0.1:
            brighter += 1
    assert brighter >= 10


def test_torn_corner_reaches_the_corner(photo):
    found = 0
    for i in range(20):
        out, mask, params = tears(photo, rng_for(13, i))
        if params["kind"] != "corner":
            continue
        h, w = mask.shape
        y, x = [(0, 0), (0, w - 1), (h - 1, w - 1), (h - 1, 0)][params["corner"]]
        assert mask[y, x] == 1
        found += 1
    assert found >= 3


def test_film_overlays_missing_folder_is_a_clear_error(photo, monkeypatch, tmp_path):
    monkeypatch.setenv(fo.ENV_VAR, str(tmp_path / "nowhere"))
    fo.overlay_index.cache_clear()
    with pytest.raises(fo.OverlaysNotFound, match="no damage overlays"):
        fo.film_overlays(photo, rng_for(1, 0))
    fo.overlay_index.cache_clear()


def test_film_overlays_take_the_overlay_shapes(photo, _damage_overlays):
    """What is drawn is an overlay from the folder: only its kinds are named, and the mask
    lies where a placed overlay is."""
    kinds = set()
    for i in range(10):
        _, mask, params = fo.film_overlays(photo, rng_for(14, i), folder=_damage_overlays)
        kinds.update(params["kinds"])
    assert kinds <= {"hair", "dirt", "scratches"} and len(kinds) >= 2


def test_real_config_adds_real_groups_and_keeps_default_data(photo):
    """The default config never draws the real-damage groups (so default training and
    validation data are unchanged); real_config does."""
    names = set()
    for i in range(40):
        names.update(op["name"] for op in degrade_image(photo, rng_for(2, i)).ops)
    assert not names & {"film_overlays", "print_cracks", "tears", "lone_crack"}
    names = set()
    for i in range(40):
        names.update(op["name"] for op in degrade_image(photo, rng_for(2, i), real_config()).ops)
    assert {"film_overlays", "print_cracks"} <= names
    assert DegradeConfig().group_p["overlay"] == 0.0


def test_lone_crack_is_one_thin_connected_line(photo):
    """One crack, not a network: a single main component, thin, 1-5 px, covering a small
    share of the crop; paper-white most of the time."""
    light, widest = 0, []
    for i in range(20):
        out, mask, params = lone_crack(photo, rng_for(13, i))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1]
        assert areas[0] >= 0.6 * areas.sum()  # one crack (a faint stretch may cut a piece off)
        assert mask.mean() < 0.08
        assert 1 <= params["width"] <= 5
        widest.append(_stroke_widths(mask).max())  # lifted borders and joins add a little
        light += params["light"]
    assert np.median(widest) <= 8 and max(widest) <= 16
    assert 10 <= light <= 19


def test_sparse_crops_carry_exactly_one_defect(photo):
    from oldphoto_cli.data import SPARSE_GROUP_P, sparse_config
    from oldphoto_cli.degrade import get_degradations

    structured = {s.name: s.group for s in get_degradations().values() if s.structured}
    groups, shares = [], []
    for i in range(40):
        result = degrade_image(photo, rng_for(3, i), sparse_config(np.random.default_rng(i)))
        fired = [op["name"] for op in result.ops if op["name"] in structured]
        assert len(fired) == 1
        groups.append(structured[fired[0]])
        shares.append(result.mask.mean())
    assert set(groups) <= set(SPARSE_GROUP_P) and groups.count("crack_lone") >= 8
    assert np.median(shares) < 0.05  # sparse: real prints carry 0.3 % on average
