"""A colour (RGB) detector grown exactly from a grey one, a wide one from a narrow one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from oldphoto_cli.archs import unet_arch
from oldphoto_cli.archs.unet_arch import UNet, UNetConfig, colour_state
from oldphoto_cli.stages.detect import UNetDetector
from oldphoto_cli.weights import save_weights

GREY = UNetConfig(width=4, depth=2)
COLOUR = UNetConfig(in_channels=3, width=4, depth=2)


@pytest.fixture(scope="module")
def grey_and_colour(tmp_path_factory):
    torch.manual_seed(0)
    grey = UNet(GREY).eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        for module in grey.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    dirs = {}
    for name, cfg, state in (("grey", GREY, grey.state_dict()),
                             ("colour", COLOUR, colour_state(grey.state_dict()))):  # fmt: skip
        dirs[name] = tmp_path_factory.mktemp(name)
        save_weights(dirs[name] / "detector.safetensors", state, unet_arch.ARCH, cfg)
    return dirs


def test_the_grown_colour_detector_computes_what_the_grey_one_does(grey_and_colour):
    rng = np.random.default_rng(0)
    photo = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
    grey = UNetDetector(weights_dir=str(grey_and_colour["grey"]))
    colour = UNetDetector(weights_dir=str(grey_and_colour["colour"]))
    assert colour.model.cfg.in_channels == 3
    expected = grey(photo)
    as_float = photo.astype(np.float32) / 255
    kept = as_float.copy()
    for image in (photo, as_float):
        assert np.abs(colour(image) - expected).max() < 1e-4
    assert np.array_equal(as_float, kept)  # the caller's float image is not scaled in place


def test_colour_tiles_match_the_whole_image(grey_and_colour):
    rng = np.random.default_rng(1)
    photo = (rng.random((72, 90, 3)) * 255).astype(np.uint8)
    colour = UNetDetector(weights_dir=str(grey_and_colour["colour"]))
    whole = colour(photo)
    colour.tile, colour.halo, colour.overlap = 32, 16, 8
    assert np.abs(colour(photo) - whole).max() < 0.05  # BatchNorm-free halo: close, not exact


def test_only_a_grey_detector_can_be_grown():
    with pytest.raises(ValueError, match="not a grey detector"):
        colour_state(UNet(COLOUR).state_dict())


def _trainer(tmp_path, cfg, seed):
    """A detector trainer on six random 48 px photos (batch 2, 32 px crops, 2 steps)."""
    from PIL import Image

    from oldphoto_cli.train.common import TrainOptions
    from oldphoto_cli.train.detector import DetectorTrainer

    clean = tmp_path / "clean"
    clean.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(6):
        Image.fromarray((rng.random((48, 48, 3)) * 255).astype(np.uint8)).save(clean / f"c{i}.png")
    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=2, crop=32, steps=2,
                        val_every=0, checkpoint_every=100)  # fmt: skip
    return DetectorTrainer(opts, str(clean), cfg)


def test_training_a_colour_detector_from_a_grey_export(tmp_path, grey_and_colour):
    from oldphoto_cli.train.detector import detector_input

    trainer = _trainer(tmp_path, COLOUR, seed=2)
    trainer.grow_from(str(grey_and_colour["grey"] / "detector.safetensors"))
    batch = trainer.make_batch(0, 2)
    assert batch["image"].shape[1] == 3  # the colour detector is fed RGB
    grey = UNet(GREY).eval()
    grey.load_state_dict(load_file(str(grey_and_colour["grey"] / "detector.safetensors")))
    model = trainer.models["unet"].eval()
    with torch.no_grad():
        rgb = batch["image"].contiguous()
        assert torch.allclose(model(rgb), grey(detector_input(rgb, 1)), atol=1e-4)
    trainer.run()
    assert trainer.step == 2


def test_a_widened_detector_computes_what_the_narrow_one_does_and_trains_apart(grey_and_colour):
    """Net2Net copies: the same output in eval and in training mode (BatchNorm on the batch),
    but the copies of a channel are read with different weights, so they can drift apart."""
    narrow = UNet(GREY)
    narrow.load_state_dict(load_file(str(grey_and_colour["grey"] / "detector.safetensors")))
    x = torch.randn(2, 1, 32, 32)
    for width in (6, 8, 12):  # 6: half the channels copied once, half not at all
        wide = UNet(UNetConfig(width=width, depth=2))
        wide.load_state_dict(unet_arch.widened_state(narrow.state_dict(), wide))
        for mode in (False, True):
            narrow.train(mode), wide.train(mode)
            with torch.no_grad():
                assert torch.allclose(wide(x), narrow(x), atol=1e-5)
        reads = wide.state_dict()["inc.3.weight"]  # (width, width, 3, 3): copies of 4 channels
        copied = width - 4 if width < 8 else 4
        assert not torch.allclose(reads[:, :copied], reads[:, 4 : 4 + copied])
        # gradients differ between copies: training breaks the symmetry
        wide.train()
        wide(x).sum().backward()
        grad = wide.inc[0].weight.grad
        assert not torch.allclose(grad[:copied], grad[4 : 4 + copied])


def test_widening_refuses_to_narrow():
    with pytest.raises(ValueError, match="cannot narrow"):
        unet_arch.widened_state(UNet(UNetConfig(width=6, depth=2)).state_dict(),
                                UNet(UNetConfig(width=4, depth=2)))  # fmt: skip


def test_training_grows_a_narrow_grey_export_into_a_wide_colour_detector(tmp_path, grey_and_colour):
    from oldphoto_cli.train.common import TrainOptions
    from oldphoto_cli.train.detector import DetectorTrainer, detector_input

    trainer = _trainer(tmp_path, UNetConfig(in_channels=3, width=8, depth=2), seed=3)
    trainer.grow_from(str(grey_and_colour["grey"] / "detector.safetensors"))
    grey = UNet(GREY).eval()
    grey.load_state_dict(load_file(str(grey_and_colour["grey"] / "detector.safetensors")))
    rgb = trainer.make_batch(0, 2)["image"].contiguous()
    with torch.no_grad():
        assert torch.allclose(trainer.models["unet"].eval()(rgb), grey(detector_input(rgb, 1)),
                              atol=1e-4)  # fmt: skip
    deeper = DetectorTrainer(TrainOptions(out_dir=str(tmp_path / "d"), batch_size=2, crop=32),
                             str(tmp_path / "clean"), UNetConfig(in_channels=3, width=8, depth=3))  # fmt: skip
    with pytest.raises(ValueError, match="depth"):
        deeper.grow_from(str(grey_and_colour["grey"] / "detector.safetensors"))
