"""The face refinement network: arch, trainer (tiny config), export with licence, the
``face`` enhancer stage and restore's fallback to ``general`` without its weights."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from oldphoto_cli.archs.face_arch import FaceConfig, FaceGenerator
from oldphoto_cli.data import is_validation
from oldphoto_cli.train.common import TrainOptions

TINY = FaceConfig(base_width=8, max_width=16, n_up=2, hidden=8)


@pytest.fixture(scope="module")
def faces_dir(tmp_path_factory):
    """40 small synthetic 'faces' (ellipse, eyes, mouth on a gradient); both splits filled."""
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    for i in range(40):
        img = np.zeros((64, 64, 3), np.uint8)
        img[:] = rng.integers(60, 200, 3)
        skin = tuple(int(v) for v in rng.integers(120, 240, 3))
        cv2.ellipse(img, (32, 34), (18, 24), 0, 0, 360, skin, -1)
        for x in (25, 39):
            cv2.circle(img, (x, 28), 3, (30, 30, 30), -1)
        cv2.ellipse(img, (32, 45), (7, 3), 0, 0, 180, (80, 40, 40), 2)
        cv2.imwrite(str(root / f"face_{i:05d}.png"), img)
    names = [p.name for p in root.iterdir()]
    assert any(is_validation(n) for n in names) and not all(is_validation(n) for n in names)
    return root


def test_generator_shapes_params_and_identity_start():
    gen = FaceGenerator(FaceConfig())
    n = sum(p.numel() for p in gen.parameters())
    assert 1e6 < n < 8e6  # "a few million" (the official one is 92 M)
    tiny = FaceGenerator(TINY)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(tiny(x), x)  # residual head starts at zero: the identity
    with pytest.raises(ValueError, match="divisible"):
        tiny(torch.zeros(1, 3, 30, 30))


def test_face_degradation_keeps_scratches_only_among_structured():
    from oldphoto_cli.data import MILD_GROUP_P
    from oldphoto_cli.train.face import STRUCTURED_OFF, face_degrade_config

    for mild in (False, True):
        cfg = face_degrade_config(mild=mild)
        assert cfg.structured and cfg.group_p["scratch"] > 0
        assert all(cfg.group_p[g] == 0 for g in STRUCTURED_OFF)
    assert face_degrade_config(mild=True).group_p["blur"] == MILD_GROUP_P["blur"]
    assert face_degrade_config().group_p["blur"] != MILD_GROUP_P["blur"]


def test_spectrum_gives_intact_faces_their_own_target(faces_dir):
    """clean_share=1: every sample is an intact face and its own target; 0: none is."""
    from oldphoto_cli.train.face import FacePairs

    paths = sorted(faces_dir.iterdir())
    for index in range(4):
        item = FacePairs(paths, face_size=64, seed=3, clean_share=1.0)[index]
        assert torch.equal(item["degraded"], item["clean"])
        damaged = FacePairs(paths, face_size=64, seed=3)[index]
        assert not torch.equal(damaged["degraded"], damaged["clean"])
    with pytest.raises(ValueError, match="share"):
        FacePairs(paths, face_size=64, seed=3, clean_share=0.7, mild_share=0.5)


def test_training_windows_keep_the_scale_of_whole_faces(faces_dir):
    """A training sample is a window of the degraded whole face, not a downscaled face."""
    from oldphoto_cli.train.face import FacePairs

    paths = sorted(faces_dir.iterdir())
    whole = FacePairs(paths, face_size=64, seed=3)[5]
    window = FacePairs(paths, face_size=64, seed=3, crop=24)[5]
    assert whole["clean"].shape == (3, 64, 64) and window["clean"].shape == (3, 24, 24)
    found = [
        (y, x)
        for y in range(64 - 24 + 1)
        for x in range(64 - 24 + 1)
        if torch.equal(whole["degraded"][:, y : y + 24, x : x + 24], window["degraded"])
        and torch.equal(whole["clean"][:, y : y + 24, x : x + 24], window["clean"])
    ]
    assert len(found) >= 1
    with pytest.raises(ValueError, match="crop"):
        FacePairs(paths, face_size=64, seed=3, crop=65)


def _trainer(tmp_path, faces_dir, steps, gan=1.0, resume=False, bf16=False):
    from oldphoto_cli.train.face import FaceTrainer

    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=4, crop=32, steps=steps,
                        lr=2e-3, resume=resume, log_every=1, val_every=0,
                        checkpoint_every=1000, threads=1, bf16=bf16)  # fmt: skip
    return FaceTrainer(opts, str(faces_dir), TINY, gan_weight=gan, fm_weight=gan, face_size=64)


def test_loss_goes_down_on_a_fixed_batch(tmp_path, faces_dir):
    trainer = _trainer(tmp_path, faces_dir, steps=1, gan=0.0)
    assert set(trainer.models) == {"generator"}  # no GAN: no discriminator built
    batch = trainer.make_batch(0, 4)
    first = trainer.train_step(0, batch)["l1"]
    for step in range(1, 40):
        last = trainer.train_step(step, batch)["l1"]
    assert last < 0.7 * first


def test_bf16_autocast_step_runs(tmp_path, faces_dir):
    trainer = _trainer(tmp_path, faces_dir, steps=2, bf16=True)
    trainer.run()  # the loop applies the autocast
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in logged if "loss" in r]
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert all(p.dtype == torch.float32 for p in trainer.models["generator"].parameters())


def test_train_export_licence_resume_and_stage(tmp_path, faces_dir, monkeypatch):
    from oldphoto_cli import stages
    from oldphoto_cli.weights import read_metadata

    trainer = _trainer(tmp_path, faces_dir, steps=3)
    assert {"generator", "discriminator"} <= set(trainer.models)
    metrics = trainer.run()
    assert {"psnr", "psnr_input", "l1", "psnr_identity"} <= set(metrics)
    path = tmp_path / "run" / "face.safetensors"
    meta = read_metadata(path)
    assert meta["arch"] == "face-spade-v1" and meta["config"]["n_up"] == 2
    assert "research use" in meta["licence"] and "FFHQ" in meta["licence"]
    assert "FFHQ" in meta["training"]["licence"] and meta["training"]["steps"] == 3
    assert meta["training"]["crop"] == 32 and meta["training"]["data"]["face_size"] == 64
    # Resume from the export alone (a fresh clone has no checkpoint).
    (tmp_path / "run" / "checkpoint.safetensors").unlink()
    resumed = _trainer(tmp_path, faces_dir, steps=5, resume=True)
    assert resumed.step == 3
    # The stage loads the export and changes a crop only as the network says.
    stages.reset()
    stage = stages.build("face_enhance", "face", device="cpu", weights_dir=str(tmp_path / "run"),
                         only_center_face=False, save_faces_dir=None)  # fmt: skip
    assert (stage.kind, stage.name) == ("face_enhance", "face")
    assert stage.net_size == 64  # the face size it trained at, not its 32 px windows
    crop = np.random.default_rng(1).random((256, 256, 3)).astype(np.float32)
    out = stage.enhance_crop(crop)
    assert out.shape == crop.shape and out.dtype == np.float32
    big = stage.enhance_crop(np.random.default_rng(2).random((320, 320, 3)).astype(np.float32))
    assert big.shape == (320, 320, 3)
    # restore --face-fidelity reaches the network's stage
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="face",
                                              face_fidelity=0.25,
                                              weights_dir=str(tmp_path / "run")))  # fmt: skip
    assert (pipeline.face_enhancer.name, pipeline.face_enhancer.fidelity) == ("face", 0.25)


def test_gan_phase_resumes_an_l1_checkpoint_with_a_fresh_discriminator(tmp_path, faces_dir):
    l1_only = _trainer(tmp_path, faces_dir, steps=2, gan=0.0)
    l1_only.run()
    weights = {k: v.clone() for k, v in l1_only.models["generator"].state_dict().items()}
    gan = _trainer(tmp_path, faces_dir, steps=3, gan=1.0, resume=True)
    assert gan.step == 2 and "discriminator" in gan.models
    for key, value in gan.models["generator"].state_dict().items():
        assert torch.equal(value, weights[key])
    losses = gan.train_step(2, gan.make_batch(0, 4))
    assert {"d", "g_gan", "fm"} <= set(losses)


def test_restore_falls_back_to_general_without_face_weights(tmp_path, capsys, monkeypatch,
                                                            builtin_plugins):  # fmt: skip
    from oldphoto_cli import faces
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)
    if faces.face_weights_available():
        pytest.skip("face.safetensors is installed with the shipped weights")

    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="face",
                                              face_fidelity=0.5,
                                              weights_dir=str(tmp_path)))  # fmt: skip
    assert pipeline.face_enhancer.name == "general"  # which has no fidelity: not given one
    assert pipeline.notes and "face network weights not found" in pipeline.notes[0]
    assert "note: face network weights not found" in capsys.readouterr().err


def test_general_stays_default_without_face_restorer_weights(monkeypatch, tmp_path,
                                                              builtin_plugins):  # fmt: skip
    from oldphoto_cli import faces, stages

    monkeypatch.setenv("OLDPHOTO_WEIGHTS", str(tmp_path))
    assert not faces.face_weights_available()
    stages.reset()
    try:
        assert stages.default_name("face_enhance") == "general"
        (tmp_path / "face.safetensors").write_bytes(b"x")
        assert faces.face_weights_available()
        stages.reset()
        # the face network alone is opt-in: it loses on damaged faces
        assert stages.default_name("face_enhance") == "general"
        (tmp_path / "face_restorer.safetensors").write_bytes(b"x")
        assert faces.face_weights_available(name=faces.FACE_RESTORER_WEIGHTS)
        stages.reset()
        assert stages.default_name("face_enhance") == "restorer"
    finally:
        stages.reset()


def test_help_lists_face_enhancers_and_stages_shows_face_stages():
    import json

    from click.testing import CliRunner

    from oldphoto_cli import faces, stages
    from oldphoto_cli.cli import cli

    stages.reset()
    faces.reset()
    help_text = " ".join(CliRunner().invoke(cli, ["restore", "--help"]).stdout.split())
    assert "Choices:" in help_text
    listed = help_text.split("--face-enhancer NAME|none")[1].split("Choices:")[1].split(".")[0]
    assert "general" in listed and "face" in listed and "none" in listed
    rows = json.loads(CliRunner().invoke(cli, ["stages", "--json"]).stdout)
    assert {"face", "general"} <= {s["name"] for s in rows["face_enhance"]}
    detectors = {s["name"]: s for s in rows["face_detector"]}
    assert "haar" in detectors and sum(s["default"] for s in detectors.values()) == 1


def _face_with_grain_and_scratch():
    """(photo, network output, grain, scratch mask): a smooth shaded 'face' whose photo has
    grain and a bright scratch, and a network output with neither but re-lit (a blotch)."""
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32) / 256
    smooth = 0.35 + 0.3 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.1)
    grain = np.random.default_rng(0).normal(0, 0.012, (256, 256)).astype(np.float32)
    scratch = np.zeros((256, 256), np.uint8)
    cv2.line(scratch, (40, 20), (200, 230), 1, 2)
    photo = smooth + grain + 0.4 * scratch
    blotch = 0.12 * np.exp(-((xx - 0.3) ** 2 + (yy - 0.4) ** 2) / 0.01)
    restored = smooth + blotch
    to_rgb = lambda a: np.repeat(np.clip(a, 0, 1)[..., None], 3, axis=2).astype(np.float32)  # noqa: E731
    return to_rgb(photo), to_rgb(restored), grain, scratch > 0, blotch


def test_keep_photo_detail_keeps_grain_and_tone_but_not_the_repaired_scratch():
    from oldphoto_cli.faces.network import keep_photo_detail

    photo, restored, grain, scratch, blotch = _face_with_grain_and_scratch()
    assert keep_photo_detail(restored, photo, 0.0) is restored
    out = keep_photo_detail(restored, photo, 1.0)
    away = ~cv2.dilate(scratch.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    fine = lambda a: a - cv2.GaussianBlur(a, (0, 0), 1.5)  # noqa: E731
    # grain: the network had none; most of the photo's comes back, and it is the photo's
    kept = fine(out[..., 0])[away]
    assert np.std(kept) > 0.6 * np.std(fine(grain)[away])
    assert np.corrcoef(kept, fine(grain)[away])[0, 1] > 0.8
    # the scratch stays repaired: within 0.05 of the network there, not 0.4 above it
    assert np.abs(out[..., 0] - restored[..., 0])[scratch].mean() < 0.05
    # tone: TONE_SHARE of the network's blotch is undone, the photo's shading comes back
    from oldphoto_cli.faces.network import TONE_SHARE

    core = blotch > 0.06
    left = np.abs((out - photo)[..., 0][core & away]).mean() / blotch[core & away].mean()
    assert 1 - TONE_SHARE - 0.2 < left < 1 - TONE_SHARE + 0.2
    half = keep_photo_detail(restored, photo, 0.5)
    assert np.abs(half - restored).mean() < np.abs(out - restored).mean()


def test_face_stage_rejects_fidelity_outside_0_1(tmp_path):
    from oldphoto_cli.faces.network import FaceNetEnhancer

    with pytest.raises(ValueError, match="fidelity"):
        FaceNetEnhancer(weights_dir=str(tmp_path), fidelity=1.5)
