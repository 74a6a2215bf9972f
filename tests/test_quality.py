"""What the quality work rests on: an exact VAE skip path, an identity-initialised mapping,
the training spectrum (clean, mild, full damage; tone kept), resuming from exported
weights, and the do-no-harm and sharpness figures of ``oldphoto eval``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oldphoto_cli.archs.mapping_arch import LatentMapping, MappingConfig
from oldphoto_cli.archs.vae_arch import VAE, VAEConfig
from oldphoto_cli.metrics import sharpness


def test_pixel_skip_vae_reconstructs_exactly_before_training():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(pixel_skip=True)).eval()
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    with torch.no_grad():
        recon, mu, logvar, _ = vae(x, sample=False)
    assert torch.allclose(recon, x, atol=1e-6)
    assert mu.shape == (2, 64, 8, 12)
    assert float(logvar.mean()) < -7  # little sampling noise to start with
    # Without the skip the same untrained VAE is nowhere near.
    plain = VAE(VAEConfig()).eval()
    assert (plain(x, sample=False)[0] - x).abs().mean() > 0.1


def test_pixel_skip_decoder_is_not_squashed_by_tanh():
    vae = VAE(VAEConfig(pixel_skip=True)).eval()
    z = torch.zeros(1, 64, 2, 2)
    z[:, 0] = 3.0  # far outside tanh's linear range
    assert float(vae.decoder(z).max()) == pytest.approx(3.0)


def test_residual_mapping_starts_as_identity_with_and_without_holes():
    torch.manual_seed(0)
    cfg = MappingConfig(latent_channels=8, width=16, n_pre=1, n_local=1, n_post=1,
                        nonlocal_inner=8, residual=True)  # fmt: skip
    mapping = LatentMapping(cfg).eval()
    z = torch.randn(1, 8, 12, 12)
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., 4:6, :] = 1
    assert torch.equal(mapping(z), z)
    assert torch.equal(mapping(z, mask), z)
    legacy = LatentMapping(MappingConfig(latent_channels=8, width=16, nonlocal_inner=8)).eval()
    assert not torch.allclose(legacy(z), z)


def test_receptive_radius_bounds_the_tile_halo():
    cfg = MappingConfig(latent_channels=8, width=8, n_pre=2, n_local=1, n_post=3,
                        nonlocal_inner=8, residual=True)  # fmt: skip
    torch.manual_seed(0)
    mapping = LatentMapping(cfg).eval()
    for p in mapping.parameters():  # a trained-looking network, not the identity init
        torch.nn.init.normal_(p, std=0.1)
    z = torch.randn(1, 8, 40, 40)
    r = cfg.receptive_radius()
    changed = z.clone()
    changed[..., 20, 20] += 10.0
    diff = (mapping(changed) - mapping(z)).abs().sum(1)[0]
    ys, xs = np.nonzero(diff.detach().numpy() > 0)
    assert ys.min() >= 20 - r and ys.max() <= 20 + r and xs.min() >= 20 - r
    assert ys.max() - ys.min() > r  # the bound is tight enough to mean something


def test_reapply_tone_matches_the_degraded_tone():
    from oldphoto_cli.degrade import DegradeConfig, degrade_image
    from oldphoto_cli.degrade.unstructured import reapply_tone

    rng = np.random.default_rng(0)
    clean = rng.random((32, 32, 3)).astype(np.float32)
    config = DegradeConfig(structured=False, only=("grayscale", "tint"), always=True)
    result = degrade_image(clean, np.random.default_rng(1), config)
    toned = reapply_tone(clean, result.ops)
    np.testing.assert_allclose(toned, result.image, atol=1e-5)
    assert not np.allclose(toned, clean)
    assert reapply_tone(clean, []) is clean


def test_spectrum_gives_clean_identity_pairs_and_mild_damage(tmp_path):
    from PIL import Image

    from oldphoto_cli.data import DataConfig, SyntheticPairs, batch_of
    from oldphoto_cli.metrics import psnr

    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = tmp_path / f"p{i}.png"
        blocks = np.kron(rng.random((8, 8, 3)), np.ones((8, 8, 1)))  # photo-like, not noise
        Image.fromarray((blocks * 255).astype(np.uint8)).save(path)
        paths.append(path)
    clean_only = SyntheticPairs(paths, DataConfig(crop=32, clean_share=1.0))
    batch = batch_of(clean_only, 0, 16)
    assert torch.equal(batch["degraded"], batch["clean"])
    marked = batch["mask"].flatten(1).amax(1)
    assert 0 < float(marked.mean()) < 1  # some carry false-alarm masks, some none
    # Tone kept in the targets and no structured defects: what differs is the unstructured
    # damage, which the calibrated mild setting fires less often.
    full = batch_of(
        SyntheticPairs(paths, DataConfig(crop=48, keep_tone=True, structured=False)), 0, 32
    )
    mild = batch_of(SyntheticPairs(paths, DataConfig(crop=48, mild_share=1.0, keep_tone=True,
                                                       structured=False)),
                    0, 32)  # fmt: skip

    def quality(b):
        return psnr((b["degraded"] + 1) / 2, (b["clean"] + 1) / 2)

    assert quality(mild) > quality(full) + 0.3


def test_sharpness_is_one_for_itself_and_below_for_a_blur():
    import cv2

    rng = np.random.default_rng(0)
    img = rng.random((64, 64, 3)).astype(np.float32)
    assert sharpness(img, img) == pytest.approx(1.0)
    assert sharpness(cv2.GaussianBlur(img, (0, 0), 1.5), img) < 0.5


def test_mapping_resumes_from_exported_weights_without_checkpoint(tmp_path):
    from PIL import Image

    from oldphoto_cli.train.common import TrainOptions
    from oldphoto_cli.train.mapping import MappingTrainer
    from oldphoto_cli.weights import save_weights

    rng = np.random.default_rng(0)
    (tmp_path / "clean").mkdir()
    for i in range(4):
        img = (rng.random((48, 48, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / "clean" / f"img{i}.png")
    vae_cfg = VAEConfig(base_channels=8, latent_channels=8, n_res=1, pixel_skip=False)
    vae_path = tmp_path / "vae.safetensors"
    save_weights(vae_path, VAE(vae_cfg).state_dict(), "vae", vae_cfg)
    cfg = MappingConfig(latent_channels=8, width=8, n_pre=1, n_local=1, n_post=1,
                        nonlocal_inner=8, residual=True)  # fmt: skip

    def trainer(out, steps):
        opts = TrainOptions(out_dir=str(out), batch_size=2, crop=32, steps=steps, val_every=0,
                            checkpoint_every=100, lr=1e-3, resume=True)  # fmt: skip
        return MappingTrainer(opts, str(tmp_path / "clean"), str(vae_path), str(vae_path), cfg)

    first = trainer(tmp_path / "run", 3)
    first.run()
    (tmp_path / "run" / "checkpoint.safetensors").unlink()  # a fresh clone has no checkpoint
    again = trainer(tmp_path / "run", 5)
    assert again.step == 3
    exported = first.models["mapping"].state_dict()
    resumed = again.models["mapping"].state_dict()
    assert all(torch.equal(exported[k], resumed[k]) for k in exported)
    assert any(not torch.equal(v, torch.zeros_like(v)) for k, v in resumed.items()
               if k.startswith("tail"))  # fmt: skip
    again.run()
    assert again.step == 5
