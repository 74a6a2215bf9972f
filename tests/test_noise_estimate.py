"""The noise estimates that set NL-means and the restorer's noise plane."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_restorer_export

from oldphoto_cli.archs.restorer_arch import RestorerConfig
from oldphoto_cli.classical import estimate_noise_sigma


def _noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """``image`` plus Gaussian noise of ``sigma`` (0-255 scale), stored in 8 bits."""
    noise = np.random.default_rng(seed).normal(0, sigma / 255, image.shape)
    return (np.round(np.clip(image + noise, 0, 1) * 255) / 255).astype(np.float32)


def _textured(size: int = 256) -> np.ndarray:
    """Left half flat grey, right half fine texture (a 2 px checkerboard of +-0.1, like
    woven fabric at 1:1): the texture is image content, not noise."""
    image = np.full((size, size, 3), 0.5, np.float32)
    y, x = np.mgrid[0:size, 0 : size // 2]
    image[:, size // 2 :] += np.where((x // 2 + y // 2) % 2 == 0, 0.1, -0.1)[..., None]
    return image


@pytest.mark.parametrize("sigma", [3.0, 8.0, 15.0])
def test_both_estimates_read_noise_on_a_flat_photo(sigma):
    noisy = _noisy(np.full((192, 192, 3), 0.5, np.float32), sigma)
    for method in ("laplacian_median", "flat_blocks"):
        assert abs(estimate_noise_sigma(noisy, method=method) / sigma - 1) < 0.15, method


def test_flat_blocks_do_not_take_texture_for_grain():
    noisy = _noisy(_textured(), 3.0)
    whole_image = estimate_noise_sigma(noisy, method="laplacian_median")
    flat = estimate_noise_sigma(noisy, method="flat_blocks")
    assert whole_image > 6.0  # half the photo is texture: the median reads it as noise
    assert 2.4 < flat < 3.6


def test_flat_blocks_skip_clipped_paper_white_and_the_mask():
    noisy = _noisy(np.full((192, 192, 3), 0.5, np.float32), 6.0)
    noisy[:, :100] = 1.0  # blown-out sky keeps no noise through 8 bits
    assert 5.0 < estimate_noise_sigma(noisy, method="flat_blocks") < 7.0
    noisy = _noisy(np.full((192, 192, 3), 0.5, np.float32), 6.0)
    mask = np.zeros(noisy.shape[:2], np.uint8)
    mask[:, :120] = 1
    noisy[:, :120] = 0.5  # a smooth fill under the mask: no noise there
    # only the unmasked blocks count (were the masked ones counted, the flattest quarter
    # would read no noise at all)
    assert 5.0 < estimate_noise_sigma(noisy, mask, method="flat_blocks") < 7.0


def test_flat_blocks_fall_back_to_the_median_on_small_images():
    noisy = _noisy(np.full((20, 20, 3), 0.5, np.float32), 8.0)
    assert estimate_noise_sigma(noisy, method="flat_blocks") == estimate_noise_sigma(noisy)


def test_an_unknown_estimate_is_refused():
    with pytest.raises(ValueError, match="flat_blocks"):
        estimate_noise_sigma(np.zeros((32, 32, 3), np.float32), method="wavelet")


@pytest.mark.parametrize("method", ["laplacian_median", "flat_blocks"])
def test_the_restorer_stage_measures_noise_as_its_weights_were_trained(tmp_path, monkeypatch, method):
    import oldphoto_cli.stages.restorer as stage_module

    random_restorer_export(tmp_path / "restorer.safetensors",
                           RestorerConfig(width=8, blocks=(1, 1), noise_estimate=method))  # fmt: skip
    used = []

    def spy(rgb, mask=None, method="laplacian_median"):
        used.append(method)
        return estimate_noise_sigma(rgb, mask, method)

    monkeypatch.setattr(stage_module, "estimate_noise_sigma", spy)
    stage = stage_module.ImageRestorer(weights_dir=str(tmp_path))
    stage(_textured(64), None)
    assert used == [method]


def test_the_face_restorer_keeps_the_noise_estimate_it_starts_from(tmp_path):
    from PIL import Image

    from oldphoto_cli.train.common import TrainOptions
    from oldphoto_cli.train.restorer import FaceRestorerTrainer

    cfg = RestorerConfig(width=8, blocks=(1, 1), noise_estimate="flat_blocks")
    init = random_restorer_export(tmp_path / "restorer.safetensors", cfg)
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(10):
        Image.fromarray(np.full((48, 48, 3), 20 * i, np.uint8)).save(faces / f"f{i}.png")
    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=2, crop=32, steps=1)
    trainer = FaceRestorerTrainer(opts, str(faces), init_from=str(init), real_damage=False)
    assert trainer.cfg == cfg
    assert trainer.pairs.cfg.noise_estimate == "flat_blocks"


def test_below_the_nlm_level_the_first_estimate_is_the_photo_itself():
    from oldphoto_cli.train.restorer import restorer_inputs

    clean = np.full((64, 64, 3), 0.5, np.float32)
    noisy = _noisy(clean, 6.0)
    mask = np.zeros(clean.shape[:2], np.uint8)
    smoothed = restorer_inputs(noisy, clean, mask, cfg=RestorerConfig(nlm_min_sigma=0.0))
    kept = restorer_inputs(noisy, clean, mask, cfg=RestorerConfig(nlm_min_sigma=8.0))
    assert float(kept["sigma"]) == pytest.approx(float(smoothed["sigma"]))  # still told
    assert torch.equal(kept["estimate"], kept["damaged"])
    assert (smoothed["estimate"] - smoothed["damaged"]).abs().mean() > 2 / 255


def test_the_restorer_stage_starts_nlm_where_its_weights_say(tmp_path, monkeypatch):
    import oldphoto_cli.stages.restorer as stage_module

    random_restorer_export(tmp_path / "restorer.safetensors",
                           RestorerConfig(width=8, blocks=(1, 1), nlm_min_sigma=8.0))  # fmt: skip
    levels = []
    real = stage_module.first_estimate
    monkeypatch.setattr(stage_module, "first_estimate",
                        lambda rgb, mask, sigma: levels.append(sigma) or real(rgb, mask, sigma))  # fmt: skip
    stage = stage_module.ImageRestorer(weights_dir=str(tmp_path))
    stage(_noisy(np.full((64, 64, 3), 0.5, np.float32), 5.0), None)  # sigma about 5 < 8
    stage(_noisy(np.full((64, 64, 3), 0.5, np.float32), 12.0), None)
    assert levels[0] == 0.0 and levels[1] > 8.0
