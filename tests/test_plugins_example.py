"""The worked examples of docs/plugins.md (tests/example_plugin) through their entry point.

Runs only when ``pip install ./tests/example_plugin`` was done (``.ci/run`` does it);
otherwise skipped. The CLI tests use subprocesses so the real plugin loading path is
exercised; the stage tests build the stages through the registry, as the pipeline does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest
from PIL import Image


def _installed() -> bool:
    return any(ep.name == "example" for ep in metadata.entry_points(group="oldphoto"))


pytestmark = pytest.mark.skipif(
    not _installed(), reason="example plugin not installed (pip install ./tests/example_plugin)"
)


def oldphoto(*args):
    env = {k: v for k, v in os.environ.items() if k != "OLDPHOTO_LOAD_PLUGINS"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "oldphoto_cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


SPECKS = ((10, 10), (30, 40), (20, 50))


def _speckled(h: int = 48, w: int = 128) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x / w, y / h, 0.5 + 0 * x], -1).astype(np.float32) * 0.6 + 0.2
    for y, x in SPECKS:  # dust, 3x3 pixels
        rgb[y - 1 : y + 2, x - 1 : x + 2] = 1.0
    return rgb


def test_every_example_stage_is_listed_with_its_plugin():
    result = oldphoto("stages", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    listed = {(kind, s["name"]): s["plugin"] for kind, specs in rows.items() for s in specs}
    for key in [("translate", "example-smooth"), ("detect", "example-specks"),
                ("face_enhance", "example-sharpen"), ("translate", "example-invert")]:  # fmt: skip
        assert listed.get(key) == "example", key
    info = json.loads(oldphoto("plugins").stdout)
    example = [p for p in info if p["name"] == "example"][0]
    assert example["distribution"] == "oldphoto-example-plugin"
    assert {"kind": "detect", "name": "example-specks"} in example["stages"]


def test_detector_finds_the_specks():
    from oldphoto_cli import stages

    detector = stages.build("detect", "example-specks", device="cpu")
    prob = detector(_speckled())
    assert prob.shape == (48, 128) and prob.dtype == np.float32
    marked = set(zip(*np.nonzero(prob > 0.5), strict=True))
    assert marked == {(y + dy, x + dx) for y, x in SPECKS for dy in (-1, 0, 1) for dx in (-1, 0, 1)}


def test_latent_translator_loads_its_shipped_weights_and_fills_only_holes():
    import torch

    from oldphoto_cli import stages

    smooth = stages.build("translate", "example-smooth", device=torch.device("cpu"))
    assert smooth.meta["arch"] == "example-smooth-v1" and smooth.halo >= 1
    assert torch.allclose(smooth.model.kernel.sum(), torch.tensor(1.0))
    z = torch.randn(1, 8, 12, 12)
    assert smooth(z, None, smooth.prepare(z, None)) is z  # no mask: untouched
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., 5, 5] = 1
    out = smooth(z, mask, None)
    assert torch.equal(out[..., mask[0, 0] == 0], z[..., mask[0, 0] == 0])
    expected = (z[0, :, 4:7, 4:7] * smooth.model.kernel[0, 0]).sum((1, 2))
    assert torch.allclose(out[0, :, 5, 5], expected, atol=1e-6)


def test_face_enhancer_writes_one_method_and_changes_only_the_face():
    from oldphoto_cli import Face, stages

    rng = np.random.default_rng(0)
    image = rng.random((200, 300, 3)).astype(np.float32)
    face = Face((100.0, 50.0, 80.0, 80.0), 30.0)
    enhancer = stages.build("face_enhance", "example-sharpen", device="cpu",
                            only_center_face=False, save_faces_dir=None)  # fmt: skip
    out, info = enhancer(image, None, [face])
    assert info["faces"] == 1
    changed = np.abs(out - image).max(-1) > 1e-6
    assert changed[90, 140]  # the face centre
    assert not changed[:30].any() and not changed[:, :80].any()  # far from the face


def test_restore_through_the_entry_point_with_every_example_stage(tmp_path):
    rgb = (_speckled() * 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    outs = {}
    for translator in ("example-smooth", "identity"):
        result = oldphoto("restore", tmp_path / "in.png", tmp_path / translator, "--translator",
                          translator, "--detector", "example-specks", "--face-enhancer",
                          "example-sharpen", "--with-scratch", "on", "--no-keep-tone",
                          "--no-tone-curve", "--device", "cpu", "--json")  # fmt: skip
        assert result.returncode == 0, result.stderr
        record = json.loads(result.stdout.splitlines()[0])
        assert record["status"] == "ok"
        assert record["stages"]["detect"] == "example-specks"
        assert record["stages"]["face_enhance"] == "example-sharpen"
        assert record["mask"]["components"] == 3  # the three specks
        outs[translator] = np.asarray(Image.open(tmp_path / translator / "in.png"), np.int16)
    # smoothing changed the image around the specks, and nowhere beyond the decoder's
    # reach (its halo: 8 latent cells of 4 px) from them
    diff = np.abs(outs["example-smooth"] - outs["identity"]).max(-1)
    assert diff[8:13, 8:13].max() > 0
    assert diff[:, 50 + 8 * 4 + 4 :].max() == 0


def test_image_space_translator_through_the_entry_point(tmp_path):
    image = np.full((16, 16, 3), 60, np.uint8)
    Image.fromarray(image).save(tmp_path / "in.png")
    restored = oldphoto("restore", tmp_path / "in.png", tmp_path / "out", "--translator",
                        "example-invert", "--with-scratch", "off", "--no-face-enhance",
                        "--device", "cpu", "--json")  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    record = json.loads(restored.stdout.splitlines()[0])
    assert record["stages"]["translate"] == "example-invert"
    out = np.asarray(Image.open(tmp_path / "out" / "in.png"))
    assert np.abs(out.astype(int) - (255 - 60)).max() <= 1  # the inverting translator ran


def _has_pixels() -> bool:
    """example-pixels came with version 0.3.0 of the example plugin."""
    version = metadata.version("oldphoto-example-plugin") if _installed() else "0"
    return tuple(int(part) for part in version.split(".")[:2]) >= (0, 3)


@pytest.mark.skipif(not _has_pixels(), reason="example plugin older than 0.3.0: "
                    "pip install ./tests/example_plugin again")  # fmt: skip
def test_encoder_and_decoder_chosen_from_the_cli(tmp_path):
    rgb = (_speckled(45, 71) * 255).astype(np.uint8)  # odd sides: padded to the scale, cropped
    Image.fromarray(rgb).save(tmp_path / "in.png")
    common = ("--with-scratch", "off", "--no-face-enhance", "--no-keep-tone", "--no-tone-curve",
              "--device", "cpu")  # fmt: skip
    result = oldphoto("restore", tmp_path / "in.png", tmp_path / "out", "--encoder",
                      "example-pixels", "--decoder", "example-pixels", "--translator",
                      "identity", "--json", *common)  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.splitlines()[0])
    assert record["stages"] == {"translate": "identity", "encode": "example-pixels",
                                "decode": "example-pixels"}  # fmt: skip
    out = np.asarray(Image.open(tmp_path / "out" / "in.png"))
    assert np.array_equal(out, rgb)  # an exact pair with no translation: the photo back
    # The shipped encoder (scale 4) with the example decoder (scale 2): refused at set-up.
    mixed = oldphoto("restore", tmp_path / "in.png", tmp_path / "mixed", "--translator",
                     "mapping", "--decoder", "example-pixels", *common)  # fmt: skip
    assert mixed.returncode == 1 and "do not fit together" in mixed.stderr
    assert not (tmp_path / "mixed" / "in.png").exists()
    unknown = oldphoto("restore", tmp_path / "in.png", tmp_path / "o", "--encoder", "nope")
    assert unknown.returncode == 2 and "example-pixels" in unknown.stderr


def test_unknown_translator_refused_with_exit_2(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "in.png")
    result = oldphoto("restore", tmp_path / "in.png", tmp_path / "o", "--translator", "nope")
    assert result.returncode == 2 and "example-invert" in result.stderr
