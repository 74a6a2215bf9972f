"""The global tone curve: its network, its training damage, its trainer and its use in restore."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from naturalimage import natural
from PIL import Image

from oldphoto_cli.archs.tone_arch import (
    ToneCurveConfig,
    ToneCurveNet,
    apply_curve,
    apply_levels,
    frame,
)
from oldphoto_cli.degrade.tone_curves import age_tone, apply_lut, fade_print, random_curve
from oldphoto_cli.metrics import psnr, tone_fitted_psnr
from oldphoto_cli.tone import Curve, ToneCurve
from oldphoto_cli.train.common import TrainOptions
from oldphoto_cli.train.tone import ToneTrainer, fitted_mse
from oldphoto_cli.weights import read_metadata

TINY = ToneCurveConfig(widths=(4, 8), hidden=16)


def photo(seed: int = 0, size: int = 96) -> np.ndarray:
    """A smooth colour photo-like image in [0, 1] spanning most of the range."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1)
    blobs = sum(np.exp(-((xx - rng.random()) ** 2 + (yy - rng.random()) ** 2) / 0.02)
                for _ in range(4))  # fmt: skip
    return np.clip(0.8 * base + 0.3 * blobs[..., None] * rng.random(3), 0, 1).astype(np.float32)


def random_knots(rng, channels=3, segments=16) -> torch.Tensor:
    rise = torch.from_numpy(rng.random((1, channels, segments))).float() + 0.05
    rise = rise / rise.sum(-1, keepdim=True)
    return torch.cat([torch.zeros(1, channels, 1), torch.cumsum(rise, -1)], -1)


@pytest.mark.parametrize("levels", [False, True])
def test_a_new_network_is_the_identity(levels):
    net = ToneCurveNet(ToneCurveConfig(widths=(4, 8), hidden=16, levels=levels))
    x = torch.from_numpy(photo().transpose(2, 0, 1))[None]
    lo, hi, knots, black_white = net(torch.nn.functional.interpolate(x, size=(64, 64), mode="area"))
    assert torch.allclose(knots, torch.linspace(0, 1, 17).expand(1, 3, 17), atol=1e-6)
    assert torch.equal(black_white, torch.tensor([[0.0, 1.0]]))
    assert torch.allclose(apply_levels(apply_curve(x, lo, hi, knots), black_white), x, atol=1e-6)
    assert ("levels_head.weight" in net.state_dict()) == levels  # old weights load as before


def test_curves_are_monotone_and_the_identity_outside_their_frame():
    rng = np.random.default_rng(1)
    x = torch.linspace(-0.2, 1.2, 500).view(1, 1, 1, -1).expand(1, 3, 1, 500).contiguous()
    lo, hi = torch.full((1, 3, 1, 1), 0.1), torch.full((1, 3, 1, 1), 0.9)
    out = apply_curve(x, lo, hi, random_knots(rng))
    assert (torch.diff(out, dim=-1) >= -1e-6).all()
    outside = (x < 0.1) | (x > 0.9)
    assert torch.allclose(out[outside], x[outside])
    assert not torch.allclose(out[~outside], x[~outside], atol=1e-3)  # the curve did bend


def test_restore_applies_the_curve_exactly_as_training_does():
    rng = np.random.default_rng(2)
    img = photo(3)
    x = torch.from_numpy(img.transpose(2, 0, 1))[None]
    lo, hi = frame(x)
    knots = random_knots(rng)
    expected = apply_curve(x, lo, hi, knots)[0].numpy().transpose(1, 2, 0)
    curve = Curve(lo.flatten().double().numpy(), hi.flatten().double().numpy(), knots[0].double().numpy())
    np.testing.assert_allclose(curve(img), expected, atol=1e-5)
    u8 = np.round(img * 255).astype(np.uint8)  # 8-bit photos go band by band as well
    np.testing.assert_allclose(curve(u8), curve(u8.astype(np.float32) / 255), atol=1e-6)
    assert curve.deviation() > 0.01


def test_levels_make_their_black_and_white_points_black_and_white_on_every_channel():
    img = photo(8)
    x = torch.from_numpy(img.transpose(2, 0, 1))[None]
    lo, hi = frame(x)
    knots = torch.linspace(0, 1, 17).expand(1, 3, 17)
    black_white = torch.tensor([[0.1, 0.8]])
    expected = apply_levels(apply_curve(x, lo, hi, knots), black_white)[0].numpy().transpose(1, 2, 0)
    curve = Curve(lo.flatten().double().numpy(), hi.flatten().double().numpy(),
                  knots[0].double().numpy(), np.array([0.1, 0.8]))  # fmt: skip
    np.testing.assert_allclose(curve(img), expected, atol=1e-5)
    ramp = np.linspace(0, 1, 11, dtype=np.float32)
    for c in range(3):  # the same map on every channel: a sepia print keeps its hue
        np.testing.assert_allclose(curve.channel(ramp, c), (ramp - 0.1) / 0.7, atol=1e-6)
    assert curve.deviation() == pytest.approx(0.2 / 0.7, rel=1e-6)  # at 1.0, (1 - .1) / .7 - 1
    half = curve.shrunk(curve.deviation() / 2)
    np.testing.assert_allclose(half.levels, [0.05, 0.9])


def test_a_shrunk_curve_moves_toward_the_identity_and_a_small_one_vanishes():
    img = photo(6)
    x = torch.from_numpy(img.transpose(2, 0, 1))[None]
    lo, hi = frame(x)
    curve = Curve(lo.flatten().double().numpy(), hi.flatten().double().numpy(),
                  random_knots(np.random.default_rng(3))[0].double().numpy())  # fmt: skip
    change = curve.deviation()
    half = curve.shrunk(change / 2)
    assert half.deviation() == pytest.approx(change / 2)
    np.testing.assert_allclose(half(img) - img, (curve(img) - img) / 2, atol=1e-5)
    gone = curve.shrunk(2 * change)
    assert gone.deviation() == 0 and np.array_equal(gone(img), img)


def test_a_grey_photo_gets_one_curve_on_every_channel():
    tone = ToneCurve()
    grey = np.repeat(fade_print(natural(7), np.random.default_rng(1)).mean(axis=2, keepdims=True), 3, axis=2)
    curve = tone(grey)
    assert np.array_equal(curve.knots[0], curve.knots[1]) and np.array_equal(curve.knots[0], curve.knots[2])
    out = curve(grey)
    assert np.abs(out - out.mean(axis=2, keepdims=True)).max() < 1e-6  # still grey
    assert curve.deviation() > 0  # and curved


@pytest.mark.parametrize("value", [0.1, 0.5, 0.9])
def test_an_image_without_tonal_range_keeps_its_black_and_white_points(value):
    """The shipped network takes a flat image for the worst fading (black point 0.29):
    without a range there is nothing to restore, and restore leaves it as it is."""
    flat = np.full((48, 48, 3), value, np.float32)
    curve = ToneCurve()(flat)
    np.testing.assert_array_equal(curve.levels, [0.0, 1.0])
    np.testing.assert_allclose(curve(flat), flat, atol=1e-6)


def test_tone_damage_is_pure_and_monotone():
    img = photo(4)
    a, ops = age_tone(img, np.random.default_rng(7))
    b, _ = age_tone(img, np.random.default_rng(7))
    assert np.array_equal(a, b) and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    assert ops  # seed 7 draws some damage
    for seed in range(20):
        lut = random_curve(np.random.default_rng(seed))
        assert lut[0] == pytest.approx(0, abs=1e-6) and lut[-1] == pytest.approx(1, abs=1e-6)
        assert np.all(np.diff(lut) >= -1e-6)
    ramp = np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 64, 1).repeat(3, axis=2)
    faded = fade_print(ramp, np.random.default_rng(0))
    assert np.all(np.diff(faded.mean(axis=2)[0]) > 0)  # order kept
    assert faded.min() > 0.0 and faded.max() <= 1.0  # blacks lifted, whites at most paper
    np.testing.assert_allclose(apply_lut(ramp, np.linspace(0, 1, 256)), ramp, atol=1e-6)


def test_fitted_mse_ignores_gain_and_offset_but_not_curves():
    ref = torch.from_numpy(photo(5).transpose(2, 0, 1))[None]
    scale = torch.tensor([0.6, 0.8, 0.7]).view(1, 3, 1, 1)
    assert fitted_mse(ref * scale + 0.1, ref).item() < 1e-10
    assert fitted_mse(ref**2.2, ref).item() > 1e-4


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tone_clean")
    for i in range(10):
        Image.fromarray(np.round(photo(10 + i, 80) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def test_the_trainer_learns_and_exports_a_curve_that_restore_loads(tmp_path, clean_dir):
    opts = TrainOptions(out_dir=str(tmp_path), batch_size=16, crop=32, steps=150, log_every=10,
                        val_every=0, checkpoint_every=100, lr=3e-3)  # fmt: skip
    trainer = ToneTrainer(opts, str(clean_dir), ToneCurveConfig(widths=(4, 8), hidden=16, levels=True))
    metrics = trainer.run()
    log = [r for r in map(json.loads, (tmp_path / "log.jsonl").read_text().splitlines()) if "loss" in r]
    losses = [r["loss"] for r in log]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    # with levels the plain error is trained too, and it falls (the toy photos' tone damage
    # lifts blacks and greys whites more often than not)
    assert np.mean([r["mse"] / r["input_mse"] for r in log[-5:]]) < 1.0
    # ten toy photos teach no validation gain; the report is there, and it is the export's
    assert set(metrics) == {"tone_psnr_input", "tone_psnr_curved", "psnr_input", "psnr_curved",
                            "psnr_intact", "psnr_intact_worst"}  # fmt: skip
    meta = read_metadata(tmp_path / "tone_curve.safetensors")
    assert meta["metrics"] == metrics
    assert meta["arch"] == "tone_curve" and meta["training"]["steps"] == 150
    assert "licence" in meta and meta["config"]["widths"] == [4, 8] and meta["config"]["levels"]
    curve = ToneCurve(tmp_path)(np.round(photo(1) * 255).astype(np.uint8))
    assert curve.knots.shape == (3, 17) and np.all(np.diff(curve.knots, axis=1) > 0)
    assert curve.levels.shape == (2,) and curve.levels[0] < curve.levels[1]


def test_the_shipped_curve_undoes_fading_and_leaves_clean_photos_alone():
    """The shipped weights on images they never saw: faded ones get nearer to the truth in
    structure (3.8 dB on average with the shipped weights) and in tone, their black and
    white points restored (8.5 dB), clean ones stay as they are."""
    tone = ToneCurve()
    gains, tone_gains, kept = [], [], []
    for seed in range(8):
        clean = natural(100 + seed)
        faded = fade_print(clean, np.random.default_rng(seed))
        restored = np.clip(tone(faded)(faded), 0, 1)
        gains.append(tone_fitted_psnr(restored, clean) - tone_fitted_psnr(faded, clean))
        tone_gains.append(psnr(restored, clean) - psnr(faded, clean))
        kept.append(psnr(np.clip(tone(clean)(clean), 0, 1), clean))
    assert np.mean(gains) > 2.0 and min(gains) > 0
    assert np.mean(tone_gains) > 4.0 and min(tone_gains) > 0
    assert min(kept) > 45.0


def test_restore_deepens_a_faded_prints_blacks_and_reports_its_levels():
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    clean = natural(104)
    faded = fade_print(clean, np.random.default_rng(4))
    pipe = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none", with_scratch="off",
                                          keep_tone=False, deblock=False))  # fmt: skip
    result = pipe.restore(faded)
    black, white = result.info["tone_levels"]
    assert black > 0.05 and result.info["tone_curve"] > 0.05
    assert np.percentile(result.image, 1) < np.percentile(faded, 1) - 0.05  # blacks deepened
    assert psnr(result.image, clean) > psnr(faded, clean) + 3.0
    plain = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none", with_scratch="off",
                                           keep_tone=False, deblock=False, tone_curve=False))  # fmt: skip
    assert "tone_levels" not in plain.restore(faded).info
