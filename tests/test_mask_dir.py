"""Masks from --mask-dir: a given mask restores like the detected one (the same faces), and
an image without one is detected, with a note; face crops are named after their image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gradient, save_pil
from PIL import Image

from oldphoto_cli.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


@pytest.fixture
def run(fake_pipeline):
    return invoke


def test_given_mask_uses_the_same_faces_as_detection(tiny_weights, monkeypatch):
    from oldphoto_cli.contract import Face
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    rng = np.random.default_rng(0)
    rgb = rng.random((64, 64, 3)).astype(np.float32)
    options = RestoreOptions(device="cpu", weights_dir=str(tiny_weights), with_scratch="on",
                             threshold=0.0, min_area=0, dilate=0)  # fmt: skip
    for spare in (True, False):
        pipe = RestorePipeline(dataclasses_replace(options, spare_faces=spare))

        def find(image, _input=rgb):
            # the faces found depend on the image searched: the input or the restored one
            shift = 0.0 if np.array_equal(image, _input) else 12.0
            return [Face((8.0 + shift, 8.0, 28.0, 28.0), 30.0)]

        monkeypatch.setattr(pipe.face_enhancer, "detector", find)
        monkeypatch.setattr(pipe, "detect", lambda image: np.pad(np.ones((4, 4), np.float32),
                                                                 ((2, 58), (2, 58))))  # fmt: skip
        mask, _ = pipe.detected_mask(rgb)
        auto = pipe.restore(rgb)
        given = pipe.restore(rgb, mask=mask)
        assert np.array_equal(auto.mask, given.mask)
        assert np.array_equal(auto.image, given.image), f"spare_faces={spare}"


def dataclasses_replace(options, **changes):
    import dataclasses

    return dataclasses.replace(options, **changes)


def test_missing_mask_in_mask_dir_says_it_detected(run, photo_dir, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(masks / "a_mask.png")
    result = run("restore", photo_dir, tmp_path / "out", "--mask-dir", masks, "--json")
    assert result.exit_code == 0
    assert "b.jpg: no mask for it in" in result.stderr and "detecting instead" in result.stderr
    by_name = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert by_name["b.jpg"]["mask_source"] == "detected: no mask in --mask-dir"
    assert by_name["a.png"]["mask_source"].endswith("a_mask.png")


def test_save_faces_names_crops_after_each_image(tmp_path, tiny_weights, monkeypatch):
    from oldphoto_cli.contract import Face
    from oldphoto_cli.faces import enhance as face_enhance

    def finder(*args, **kwargs):
        return lambda rgb: [Face((4.0, 4.0, 16.0, 16.0), 30.0), Face((20.0, 4.0, 10.0, 10.0), 30.0)]

    monkeypatch.setattr(face_enhance, "get_face_detector", finder)
    src = tmp_path / "in"
    for rel in ("a.png", "sub/a.png", "b.jpg"):
        save_pil(src / rel, Image.fromarray(gradient(32, 32)))
    faces = tmp_path / "faces"
    result = invoke("restore", src, tmp_path / "out", "-r", "--device", "cpu",
                    "--weights-dir", tiny_weights, "--save-faces", faces,
                    "--with-scratch", "off", "--io-threads", "0")  # fmt: skip
    assert result.exit_code == 0, result.output
    names = sorted(p.relative_to(faces).as_posix() for p in faces.rglob("*.png"))
    assert len(names) == 3 * 2 * 2, names  # 3 images x 2 faces x before/after
    assert "sub/a_face_01_after.png" in names and "a_face_00_before.png" in names
    assert "b_face_01_before.png" in names
