"""One rule for image formats oldphoto does not write (AVIF, HEIC, JPEG 2000, TGA, ...),
the same on every path: a file named or found in a folder, stdin, OUT's name."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gradient, save_pil
from PIL import Image, features

from oldphoto_cli import imageio
from oldphoto_cli.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gradient()).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def other(tmp_path):
    """An AVIF photo where Pillow writes AVIF, else a TGA one (the same rule holds)."""
    fmt, ext = ("AVIF", ".avif") if features.check("avif") else ("TGA", ".tga")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / f"x{ext}").write_bytes(encoded(fmt))
    save_pil(folder / "a.png", Image.fromarray(gradient()))
    return folder / f"x{ext}", fmt


def test_a_named_file_fails_with_the_rule(other, tmp_path, fake_pipeline):
    path, fmt = other
    result = invoke("restore", path, tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert f"{fmt} images are not restored" in result.stderr and "0 ok" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_file_in_a_folder_fails_not_skipped(other, tmp_path, fake_pipeline):
    path, fmt = other
    result = invoke("restore", path.parent, tmp_path / "out")
    assert result.exit_code == 1
    assert f"{fmt} images are not restored" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


def test_stdin_fails_with_the_same_rule_and_writes_nothing(other, fake_pipeline):
    path, fmt = other
    result = invoke("restore", "-", "-", input=path.read_bytes())
    assert result.exit_code == 1
    assert f"{fmt} images are not restored" in result.stderr and result.stdout_bytes == b""


def test_the_format_is_read_from_the_content(tmp_path, fake_pipeline):
    (tmp_path / "tga_inside.png").write_bytes(encoded("TGA"))
    with pytest.raises(imageio.ImageReadError, match="TGA images are not restored"):
        imageio.read_image(tmp_path / "tga_inside.png")


@pytest.mark.parametrize("source", ["-", "file"])
def test_out_named_in_such_a_format_is_a_usage_error(source, photo_dir, tmp_path, fake_pipeline):
    data = (photo_dir / "a.png").read_bytes()
    args = ["restore", "-" if source == "-" else photo_dir / "a.png", tmp_path / "x.avif"]
    result = invoke(*args, input=data)
    assert result.exit_code == 2 and "cannot write .avif images" in result.stderr
    assert not (tmp_path / "x.avif").exists()


def test_documents_and_icons_are_skipped_as_non_images(tmp_path, fake_pipeline):
    folder = tmp_path / "in"
    save_pil(folder / "a.png", Image.fromarray(gradient()))
    (folder / "album.pdf").write_bytes(b"%PDF-1.4\n")
    result = invoke("restore", folder, tmp_path / "out")
    assert result.exit_code == 0 and "skipped" in result.stderr and "album.pdf" in result.stderr
    assert np.asarray(Image.open(tmp_path / "out" / "a.png")).shape == (24, 32, 3)
