"""A forgotten OUT: `oldphoto restore photos/*.jpg` passes the last photo as OUT. An existing
image named as OUT is never written over, and a run that skips says why."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from conftest import gradient, save_pil
from PIL import Image

from oldphoto_cli import inputs
from oldphoto_cli.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    for i, name in enumerate(["a.jpg", "b.jpg", "c.jpg"]):
        save_pil(folder / name, Image.fromarray(255 - gradient() if i else gradient()), quality=95)
    return folder


def glob(folder, count):
    return sorted(folder.glob("*.jpg"))[:count]  # what the shell passes for photos/*.jpg


def test_glob_with_overwrite_never_replaces_the_last_photo(photos, fake_pipeline):
    (photos / "c.jpg").unlink()
    before = digests(photos)
    result = invoke("restore", *glob(photos, 2), "--overwrite")
    assert result.exit_code == 2, result.output
    assert "never replaces a file named as OUT" in result.stderr and "*.jpg" in result.stderr
    assert digests(photos) == before and fake_pipeline.created == []


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_glob_of_several_photos_is_refused(photos, fake_pipeline, overwrite):
    before = digests(photos)
    result = invoke("restore", *glob(photos, 3), *overwrite)
    assert result.exit_code == 2
    assert "is an existing image, not a folder: with 2 inputs" in result.stderr
    assert digests(photos) == before


def test_glob_without_overwrite_skips_and_says_why(photos, fake_pipeline):
    (photos / "c.jpg").unlink()
    before = digests(photos)
    result = invoke("restore", *glob(photos, 2))
    assert result.exit_code == 0
    assert "0 ok, 1 skipped, 0 failed" in result.stderr
    assert "skipped because the output exists (use --overwrite): b.jpg" in result.stderr
    assert digests(photos) == before


def test_an_output_file_is_written_once_then_kept(photos, tmp_path, fake_pipeline):
    out = tmp_path / "restored.jpg"
    assert invoke("restore", photos / "a.jpg", out).exit_code == 0 and out.exists()
    again = invoke("restore", photos / "a.jpg", out, "--overwrite")
    assert again.exit_code == 2 and "Delete it first" in again.stderr


def test_detect_out_that_is_a_photo_is_refused(photos, fake_pipeline):
    before = digests(photos)
    result = invoke("detect", photos / "a.jpg", photos / "b.jpg", "--overwrite")
    assert result.exit_code == 2 and "is an existing image, not a folder" in result.stderr
    assert digests(photos) == before


def test_the_rule_as_a_library_function(photos, tmp_path):
    inputs.check_existing_out(photos / "a.jpg", 1, overwrite=False)  # kept, input skipped
    inputs.check_existing_out(tmp_path / "new.jpg", 1, overwrite=True)  # does not exist
    inputs.check_existing_out(photos, 3, overwrite=True)  # a folder
    with pytest.raises(inputs.InputError):
        inputs.check_existing_out(photos / "a.jpg", 1, overwrite=True)
    with pytest.raises(inputs.InputError):
        inputs.check_existing_out(photos / "a.jpg", 2, overwrite=False)
