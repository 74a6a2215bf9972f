"""Real damage cut from traced photos and pasted on others (degrade.transplant)."""

import numpy as np
import pytest
import torch
from PIL import Image

from oldphoto_cli.degrade.transplant import (
    STRONG,
    VISIBLE,
    DamagePiece,
    cut_damage_pieces,
    paste_damage,
)


def _photo_with_crack(h=64, w=96):
    """A grey gradient photo with a 2 px paper-white crack across it, and its trace."""
    img = np.tile(np.linspace(60, 140, w, dtype=np.float32), (h, 1))[..., None].repeat(3, 2)
    damage = np.zeros((h, w), bool)
    damage[30:32, 10:80] = True
    img[damage] = 245
    return img.astype(np.uint8), damage


def test_a_cut_crack_is_one_piece_holding_what_the_crack_added():
    img, damage = _photo_with_crack()
    pieces = cut_damage_pieces(img, damage)
    assert len(pieces) == 1
    piece = pieces[0]
    assert piece.mask.sum() == damage.sum()
    on = piece.layer[piece.mask]
    # paper white over a 60-140 grey: the layer adds about +0.4 to +0.7 on the crack
    assert on.min() > 0.35 and on.max() < 0.8
    assert np.abs(piece.layer[~piece.mask]).max() < 0.1  # next to it: nearly nothing


def test_components_near_each_other_make_one_piece_and_far_ones_two():
    img, _ = _photo_with_crack()
    damage = np.zeros(img.shape[:2], bool)
    damage[10, 10:20] = damage[10, 26:36] = True  # a dotted scratch: 6 px gap
    damage[50:53, 80:83] = True  # a speck far away
    pieces = cut_damage_pieces(img, damage)
    assert sorted(p.area for p in pieces) == [9, 20]


def test_wide_damage_carries_its_tone_not_the_texture_under_it():
    """Inside a blotch the layer is the blotch's offset, not the source photo's texture."""
    rng = np.random.default_rng(0)
    texture = 100 + 60 * (np.indices((80, 80)).sum(0) % 2)  # a 1 px checkerboard
    img = np.repeat(texture[..., None], 3, 2).astype(np.float32)
    damage = np.zeros((80, 80), bool)
    damage[20:60, 20:60] = True
    img[damage] += 60  # a bright haze over the texture
    img += rng.normal(0, 1, img.shape)
    pieces = cut_damage_pieces(np.clip(img, 0, 255).astype(np.uint8), damage)
    deep = pieces[0].layer[30:50, 30:50]  # deep inside the blotch (piece window = region)
    assert np.std(deep) < 0.05 * np.std(texture / 255.0)
    assert abs(float(deep.mean()) - 60 / 255) < 0.08


def test_paste_labels_exactly_what_visibly_changed():
    img, damage = _photo_with_crack()
    pieces = cut_damage_pieces(img, damage)
    base = np.full((48, 48, 3), 0.3, np.float32)
    for seed in range(10):
        out, mask = paste_damage(base, pieces, np.random.default_rng(seed), count=2)
        changed = np.abs(out - base).max(axis=2)
        assert mask.any()
        assert (changed[mask] > VISIBLE).all()
        # every clear change is labelled: only the faint halo around the trace is not
        assert (changed[~mask] <= STRONG + 1e-6).all()
    # a white crack pasted on white paper shows nothing: nothing to label
    white = np.ones((48, 48, 3), np.float32)
    _, mask = paste_damage(white, pieces, np.random.default_rng(0), count=3)
    assert not mask.any()


def test_paste_is_a_pure_function_of_its_generator():
    img, damage = _photo_with_crack()
    pieces = cut_damage_pieces(img, damage)
    base = np.random.default_rng(1).random((40, 40, 3)).astype(np.float32)
    a = paste_damage(base, pieces, np.random.default_rng(7))
    b = paste_damage(base, pieces, np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.array_equal(base, np.random.default_rng(1).random((40, 40, 3)).astype(np.float32))
    out, mask = paste_damage(base, [], np.random.default_rng(7))
    assert np.array_equal(out, base) and not mask.any()


def test_big_pieces_are_drawn_more_often_up_to_a_cap():
    small = DamagePiece(np.full((2, 2, 3), 0.5, np.float32), np.ones((2, 2), bool))
    huge = DamagePiece(np.full((200, 200, 3), 0.5, np.float32), np.ones((200, 200), bool))
    base = np.zeros((64, 64, 3), np.float32)
    huge_hits = 0
    for seed in range(200):
        _, mask = paste_damage(base, [small] * 10 + [huge], np.random.default_rng(seed),
                               count=1, scale=(1, 1))  # fmt: skip
        huge_hits += int(mask.sum() > 100)
    # sqrt(1000) against 10 x sqrt(4): the huge piece about 61 % of the time, not 99 %
    assert 0.45 < huge_hits / 200 < 0.8


@pytest.fixture
def traced_photos(tmp_path):
    photos, masks, clean = tmp_path / "old", tmp_path / "masks", tmp_path / "clean"
    for d in (photos, masks, clean):
        d.mkdir()
    img, damage = _photo_with_crack()
    for stem in ("a", "b"):
        Image.fromarray(img).save(photos / f"{stem}.png")
        labels = np.where(damage, 255, 0).astype(np.uint8)
        labels[50:, :] = 128
        Image.fromarray(labels).save(masks / f"{stem}.png")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(clean / f"c{i}.png")
    return photos, masks, clean


def test_transplanted_crops_label_the_pasted_damage_as_known(traced_photos):
    from oldphoto_cli.data import DataConfig, TransplantedDamageCrops, traced_items
    from oldphoto_cli.imageio import list_images

    photos, masks, clean = traced_photos
    crops = TransplantedDamageCrops(traced_items(masks, photos), list_images(clean),
                                    DataConfig(crop=32, seed=2))  # fmt: skip
    items = [crops[i] for i in range(30)]
    assert items[0]["old"].shape == (3, 32, 32) and items[0]["known"].shape == (1, 32, 32)
    assert sum(bool(it["mask"].any()) for it in items) >= 20
    for it in items:  # damage, pasted or traced, is always known
        assert not bool((it["mask"] * (1 - it["known"])).any())
    again = crops[5]
    assert all(torch.equal(again[k], items[5][k]) for k in again)
