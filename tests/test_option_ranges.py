"""Numeric options have ranges no accepted value can hang in or exhaust memory with; a
mask is black and white; detect must have something to write."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import save_pil
from PIL import Image

from oldphoto_cli import imageio
from oldphoto_cli.cli import cli
from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize(
    "option, value",
    [("--tile", "1"), ("--tile", "8"), ("--tile", "100000"), ("--dilate", "100000"),
     ("--dilate", "-1"), ("--strength", "nan"), ("--strength", "inf"),
     ("--face-fidelity", "nan"), ("--max-megapixels", "nan"), ("--max-megapixels", "inf"),
     ("--max-memory", "nan"), ("--max-memory", "inf"), ("--io-threads", "100000")],
)  # fmt: skip
def test_restore_refuses_values_that_hang_or_exhaust_memory(photo_dir, tmp_path, fake_pipeline,
                                                              option, value):  # fmt: skip
    result = invoke("restore", photo_dir, tmp_path / "out", option, value)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.stderr
    assert fake_pipeline.created == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("option, value", [("--threshold", "nan"), ("--dilate", "100000"),
                                           ("--max-memory", "nan")])  # fmt: skip
def test_detect_refuses_values_that_hang(photo_dir, tmp_path, fake_pipeline, option, value):
    result = invoke("detect", photo_dir, tmp_path / "out", option, value)
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.stderr


@pytest.mark.parametrize("values", [{"tile": 1}, {"dilate": 100000}, {"strength": float("nan")},
                                    {"threshold": float("nan")}])  # fmt: skip
def test_library_refuses_the_same_values(values):
    with pytest.raises(ValueError):
        RestorePipeline(RestoreOptions(device="cpu", **values))


def test_the_edges_of_the_ranges_are_accepted(photo_dir, tmp_path, fake_pipeline):
    result = invoke("restore", photo_dir, tmp_path / "out", "--tile", "32", "--dilate", "64",
                    "--strength", "0", "--io-threads", "16")  # fmt: skip
    assert result.exit_code == 0, result.output


def test_detect_with_nothing_to_write_is_a_usage_error(photo_dir, tmp_path, fake_pipeline):
    result = invoke("detect", photo_dir, tmp_path / "out", "--no-save-mask")
    assert result.exit_code == 2 and "nothing to write" in result.stderr
    assert not (tmp_path / "out").exists()
    overlay = invoke("detect", photo_dir, tmp_path / "out", "--no-save-mask", "--overlay")
    assert overlay.exit_code == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a_overlay.png", "b_overlay.png"]  # fmt: skip


def test_mask_grey_is_read_at_half(tmp_path):
    values = np.array([[0, 100, 127, 128], [200, 255, 255, 255]], np.uint8)
    save_pil(tmp_path / "m.png", Image.fromarray(values))
    mask = imageio.read_mask(tmp_path / "m.png")
    assert mask.tolist() == [[0, 0, 0, 1], [1, 1, 1, 1]]


def test_a_grey_mask_is_refused_not_taken_as_all_defect(photo_dir, tmp_path, fake_pipeline):
    masks = tmp_path / "masks"
    save_pil(masks / "a.png", Image.fromarray(np.full((24, 32), 128, np.uint8)))
    with pytest.raises(imageio.ImageReadError, match="grey, not black and white"):
        imageio.read_mask(masks / "a.png")
    result = invoke("restore", photo_dir / "a.png", tmp_path / "out", "--mask-dir", masks)
    assert result.exit_code == 1 and "grey, not black and white" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_soft_brush_mask_is_accepted(tmp_path):
    values = np.zeros((40, 40), np.uint8)
    values[10:30, 18:22] = 255  # the stroke
    values[10:30, 16:18] = values[10:30, 22:24] = 160  # its soft edges
    values[10:30, 14:16] = values[10:30, 24:26] = 60
    save_pil(tmp_path / "m.png", Image.fromarray(values))
    mask = imageio.read_mask(tmp_path / "m.png")
    assert mask.sum() == 20 * 8  # the white core and the edges from 128 up
