"""OUT checked before the first image (a file in the way, a read-only folder), write errors
that name the output, and a file OUT's format against --ext."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from oldphoto_cli.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


@pytest.fixture
def run(fake_pipeline):
    return invoke


def test_out_that_is_a_file_fails_once_before_any_image(run, photo_dir, tmp_path, fake_pipeline):
    blocker = tmp_path / "out.txt"
    blocker.write_text("I am a file")
    for out in (blocker, blocker / "sub"):
        result = run("restore", photo_dir, out)
        assert result.exit_code == 2, result.output
        assert str(blocker) in result.output and ".tmp" not in result.output
        assert "a.png" not in result.stderr  # no per-image errors
        detect = run("detect", photo_dir, out)
        assert detect.exit_code == 2 and str(blocker) in detect.output
    assert fake_pipeline.created == []  # failed before setting up the pipeline


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_fails_once(run, photo_dir, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = run("restore", photo_dir, out)
    finally:
        out.chmod(0o755)
    assert result.exit_code == 2 and str(out) in result.output


def test_unwritable_out_folder_fails_once_also_as_root(run, photo_dir, tmp_path, monkeypatch):
    """The same check where root could write anyway: the folder says it is not writable."""
    from oldphoto_cli import inputs

    out = tmp_path / "ro"
    out.mkdir()
    real_access = inputs.os.access
    monkeypatch.setattr(
        inputs.os, "access", lambda p, mode: False if Path(p) == out else real_access(p, mode)
    )
    result = run("restore", photo_dir, out)
    assert result.exit_code == 2 and f"{out} is not writable" in result.output
    assert result.output.count("error") <= 1


def test_write_errors_name_the_output_not_the_temp_file(tmp_path, monkeypatch):
    from oldphoto_cli import imageio

    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link", src, dst)

    monkeypatch.setattr(imageio.os, "replace", cross_device)
    target = tmp_path / "photo.png"
    with pytest.raises(imageio.ImageWriteError) as caught:
        imageio.atomic_write_bytes(target, b"data")
    assert str(target) in str(caught.value) and ".tmp" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # no temp file left


def test_file_out_formats_and_ext(run, photo_dir, tmp_path):
    gif = run("restore", photo_dir / "a.png", tmp_path / "o.gif")
    assert gif.exit_code == 0 and Image.open(tmp_path / "o.gif").format == "GIF"
    heic = run("restore", photo_dir / "a.png", tmp_path / "o.heic")
    assert heic.exit_code == 2 and "cannot write .heic" in heic.output
    assert not (tmp_path / "o.heic").exists()
    clash = run("restore", photo_dir / "a.png", tmp_path / "o.png", "--ext", "webp")
    assert clash.exit_code == 2 and "--ext" in clash.output
    same = run("restore", photo_dir / "a.png", tmp_path / "o2.webp", "--ext", "webp")
    assert same.exit_code == 0 and Image.open(tmp_path / "o2.webp").format == "WEBP"
