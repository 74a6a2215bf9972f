"""The ``restorer`` face enhancer: faces restored from the input photo (``wants_source``) at
its own scale by the face-trained restorer, and its trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_restorer_export
from PIL import Image

from oldphoto_cli.archs import restorer_arch
from oldphoto_cli.archs.restorer_arch import RestorerConfig
from oldphoto_cli.contract import Face
from oldphoto_cli.faces.align import EYE_TEMPLATE, align_face, native_crop_size
from oldphoto_cli.faces.enhance import AlignedFaceEnhancer, aligned_mask
from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline
from oldphoto_cli.weights import read_metadata, save_weights

TINY = RestorerConfig(width=8, blocks=(1, 1))


def _face(eye_left=(70.0, 80.0), eye_distance=52.0) -> Face:
    x, y = eye_left
    eyes = np.array([[x, y], [x + eye_distance, y]])
    return Face(box=(x - 30, y - 40, eye_distance + 60, 130), score=99.0, eyes=eyes)


def _photo(seed: int, size=(192, 224)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.random((size[0] // 16, size[1] // 16, 3))
    return np.kron(base, np.ones((16, 16, 1))).astype(np.float32)


class FixedDetector:
    """A face detector that always finds ``faces`` (the tests choose the geometry)."""

    def __init__(self, faces):
        self.faces = faces

    def __call__(self, rgb):
        return list(self.faces)


class RecordingEnhancer(AlignedFaceEnhancer):
    """Returns the input crop it was given (so the paste shows where it came from)."""

    name = "recording"
    wants_source = True

    def __init__(self, faces):
        super().__init__(detector=FixedDetector(faces), color_match=False, adaptive_size=False,
                         crop_size=128)  # fmt: skip
        self.seen: list[tuple[np.ndarray, np.ndarray | None]] = []

    def enhance_source(self, crop, mask, restore_fn):
        self.seen.append((crop, mask))
        return crop

    def enhance_crop(self, crop, restore_fn):
        return crop


def test_native_crop_size_keeps_the_photo_scale():
    face = _face(eye_distance=52.0)
    template = EYE_TEMPLATE[1, 0] - EYE_TEMPLATE[0, 0]
    size = native_crop_size(face)
    assert size == 200 and size % 8 == 0  # 52 / 0.26 = 200
    aligned = align_face(np.zeros((300, 300, 3), np.float32), face, size)
    assert aligned.scale == pytest.approx(size * template / 52.0, rel=1e-6)  # about 1
    assert native_crop_size(_face(eye_distance=5.0)) == 64  # tiny faces: the minimum
    assert native_crop_size(_face(eye_distance=52.0), multiple=16) == 208


def test_aligned_mask_keeps_a_thin_line():
    face = _face()
    mask = np.zeros((300, 300), np.uint8)
    mask[100, :] = 1  # a 1 px scratch across the face
    aligned = align_face(np.zeros((300, 300, 3), np.float32), face, native_crop_size(face))
    crop = aligned_mask(mask, aligned)
    assert crop.dtype == np.uint8 and set(np.unique(crop)) == {0, 1}
    rows = np.nonzero(crop.any(axis=1))[0]
    assert 1 <= len(rows) <= 3  # still one line, at most 3 px across after the warp
    assert crop[rows].sum() > 0.9 * crop.shape[1]  # and unbroken


def test_a_source_enhancer_restores_from_the_input_and_pastes_into_the_result():
    face = _face()
    source = _photo(1, (240, 240))
    restored = np.full_like(source, 0.5)  # what the general restoration made
    mask = np.zeros(source.shape[:2], np.uint8)
    mask[95:97, 40:200] = 1
    enhancer = RecordingEnhancer([face])
    out, info = enhancer(restored, None, None, None, source=source, mask=mask)
    assert info["faces"] == 1
    crop, crop_mask = enhancer.seen[0]
    expected = align_face(source, face, 128).crop
    assert np.allclose(crop, expected, atol=1e-6)  # the input's crop, not the restored one
    assert crop_mask is not None and crop_mask.any()
    x, y = (int(v) for v in face.eyes.mean(axis=0))
    core = np.s_[y : y + 30, x - 15 : x + 15]  # between the eyes and down the nose
    # the face comes from the input (up to the two warps' interpolation), not the result
    assert np.abs(out[core] - source[core]).mean() < 0.1 * np.abs(restored[core] - source[core]).mean()
    assert np.array_equal(out[5, 5], restored[5, 5])  # far outside it: untouched
    # 8-bit input photos give the same crops as float ones
    enhancer.seen.clear()
    enhancer(restored, None, None, None, source=np.rint(source * 255).astype(np.uint8), mask=mask)
    assert np.abs(enhancer.seen[0][0] - crop).max() <= 0.5 / 255 + 1e-6


def test_an_enhancer_without_the_source_is_called_as_before():
    enhancer = RecordingEnhancer([_face()])
    restored = _photo(2, (240, 240))
    out, _ = enhancer(restored, None, None, None)  # no source: enhance_crop, nothing recorded
    assert not enhancer.seen and np.allclose(out, restored, atol=1e-5)


@pytest.fixture()
def face_weights(tmp_path):
    """A face_restorer export with a random (non-zero) correction."""
    random_restorer_export(tmp_path / "face_restorer.safetensors", TINY)
    return tmp_path


def test_the_pipeline_gives_the_face_restorer_the_input_and_the_mask(face_weights, monkeypatch):
    from oldphoto_cli.faces.restorer import FaceRestorerEnhancer

    face = _face()
    calls = []
    original = FaceRestorerEnhancer.enhance_source

    def spy(self, crop, mask, restore_fn=None):
        calls.append((crop.shape, None if mask is None else int(mask.sum())))
        return original(self, crop, mask, restore_fn)

    monkeypatch.setattr(FaceRestorerEnhancer, "enhance_source", spy)
    pipeline = RestorePipeline(RestoreOptions(translator="restorer", face_enhancer="restorer",
                                              weights_dir=str(face_weights), spare_faces=False,
                                              face_fidelity=0.25))  # fmt: skip
    assert pipeline.face_enhancer.name == "restorer" and pipeline.face_enhancer.wants_source
    assert pipeline.face_enhancer.fidelity == 0.25  # --face-fidelity reaches it
    pipeline.face_enhancer.detector = FixedDetector([face])
    rgb = _photo(3, (240, 240))
    mask = np.zeros(rgb.shape[:2], np.uint8)
    mask[100:102, 20:220] = 1
    rgb[mask > 0] = 1.0
    result = pipeline.restore(rgb, mask)
    assert result.info["faces"] == 1 and result.info["stages"]["face_enhance"] == "restorer"
    assert calls == [((200, 200, 3), calls[0][1])] and calls[0][1] > 150  # native size, masked


def test_face_restorer_falls_back_to_general_without_its_weights(tmp_path, monkeypatch, capsys):
    from oldphoto_cli import weights

    searched = weights.weights_dirs
    # as on a machine without oldphoto-face-weights: only the shipped folder and tmp_path
    monkeypatch.setattr(weights, "weights_dirs", lambda override=None, package=None: [
        d for d in searched(override, package) if not (d / "face.safetensors").is_file()])
    pipeline = RestorePipeline(RestoreOptions(face_enhancer="restorer", weights_dir=str(tmp_path)))
    assert pipeline.face_enhancer.name == "general"
    assert "train face-restorer" in capsys.readouterr().err


def test_face_restorer_trainer_starts_from_given_weights_and_exports_a_licence(tmp_path,
                                                                               face_weights):  # fmt: skip
    from oldphoto_cli.train.common import TrainOptions
    from oldphoto_cli.train.restorer import FaceRestorerTrainer

    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(12):
        image = (_photo(30 + i, (64, 64)) * 255).astype(np.uint8)
        Image.fromarray(image).save(faces / f"face_{i:05d}.png")
    init = face_weights / "face_restorer.safetensors"
    save_weights(init, tensors_of(init), restorer_arch.ARCH, TINY, {"steps": 40}, {})
    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=2, crop=32, steps=42,
                        log_every=1, val_every=0, checkpoint_every=100, lr=1e-3)  # fmt: skip
    trainer = FaceRestorerTrainer(opts, str(faces), init_from=str(init), cfg=TINY,
                                  real_damage=False)  # fmt: skip
    assert trainer.step == 40  # the general restorer's count carries on
    start = {k: v.clone() for k, v in trainer.models["restorer"].state_dict().items()}
    assert all(torch.equal(start[k], v) for k, v in tensors_of(init).items())
    trainer.run()
    meta = read_metadata(tmp_path / "run" / "face_restorer.safetensors")
    assert meta["arch"] == "restorer" and meta["training"]["steps"] == 42
    assert "research use" in meta["licence"] and "FFHQ" in meta["licence"]


def tensors_of(path):
    from oldphoto_cli.weights import load_weights

    tensors, _ = load_weights(path)
    return tensors


def test_fidelity_gives_back_the_photo_texture_the_network_smoothed(face_weights):
    """fidelity 0 is the network's output; 1 puts the photo's fine texture back where the
    network smoothed it away (the rule of the ``face`` stage), keeping repaired defects."""
    from oldphoto_cli.faces.restorer import FaceRestorerEnhancer

    rng = np.random.default_rng(4)
    crop = np.clip(0.5 + 0.02 * rng.standard_normal((96, 96, 3)), 0, 1).astype(np.float32)
    crop[40:42, 10:90] = 1.0  # a scratch the network repairs
    smooth = np.full_like(crop, 0.5)  # a network that smooths everything and fills the scratch
    enhancer = FaceRestorerEnhancer(weights_dir=str(face_weights), fidelity=1.0,
                                    detector=FixedDetector([]))  # fmt: skip
    enhancer.network = lambda rgb, mask: smooth
    kept = enhancer.enhance_source(crop, None)
    texture = np.s_[5:30, 5:90]
    assert np.std(kept[texture]) > 0.5 * np.std(crop[texture])  # the grain-like texture is back
    assert np.abs(kept[40:42, 20:80] - 0.5).max() < 0.05  # the scratch stays repaired
    enhancer.fidelity = 0.0
    assert np.array_equal(enhancer.enhance_source(crop, None), smooth)
    with pytest.raises(ValueError, match="fidelity"):
        FaceRestorerEnhancer(weights_dir=str(face_weights), fidelity=1.5)
