"""One image through a pipe: ``cat old.jpg | oldphoto restore - - > new.jpg``."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gradient, save_pil
from PIL import Image

from oldphoto_cli.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def encoded(fmt: str, array: np.ndarray | None = None, **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gradient() if array is None else array).save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP", "BMP"])
def test_restore_stdin_to_stdout_keeps_the_format(fake_pipeline, test_plugin, fmt):
    data = encoded(fmt)
    result = invoke("restore", "-", "-", "--translator", "test-invert", "--no-face-enhance",
                    input=data)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = Image.open(io.BytesIO(result.stdout_bytes))
    out.load()
    assert out.format == fmt and out.size == (32, 24)
    if fmt in ("PNG", "TIFF", "BMP"):  # lossless: the fake pipeline inverted it
        assert np.array_equal(np.asarray(out), 255 - gradient())
    assert "1 ok" in result.stderr  # notes stay on stderr


def test_ext_sets_the_stdout_format_and_file_out_works(fake_pipeline, tmp_path):
    result = invoke("restore", "-", "-", "--ext", "png", input=encoded("JPEG"))
    assert result.exit_code == 0
    assert Image.open(io.BytesIO(result.stdout_bytes)).format == "PNG"
    to_file = invoke("restore", "-", tmp_path / "new.tif", input=encoded("PNG"))
    assert to_file.exit_code == 0 and Image.open(tmp_path / "new.tif").format == "TIFF"
    src = save_pil(tmp_path / "a.png", Image.fromarray(gradient()))
    from_file = invoke("restore", src, "-")
    assert from_file.exit_code == 0
    assert Image.open(io.BytesIO(from_file.stdout_bytes)).format == "PNG"


def test_detect_mask_to_stdout(fake_pipeline):
    img = np.full((24, 32, 3), 200, np.uint8)
    img[5, 2:20] = 0
    result = invoke("detect", "-", "-", input=encoded("PNG", img))
    assert result.exit_code == 0, result.stderr
    mask = np.asarray(Image.open(io.BytesIO(result.stdout_bytes)))
    assert mask.shape == (24, 32) and mask[5, 10] == 255 and mask[20, 20] == 0


@pytest.mark.parametrize(
    "args,input,message",
    [
        (["restore", "-", "-", "--json"], b"img", "--json"),
        (["restore", "-", "-"], b"", "empty"),
        (["restore", "-", "OUTDIR"], b"img", "file name"),
        (["restore", "IN", "-"], None, "exactly one"),
        (["detect", "-", "-", "--overlay"], b"img", "one image"),
        (["detect", "-", "OUTDIR"], b"img", "OUT is '-'"),
    ],
)
def test_pipe_usage_errors(fake_pipeline, photo_dir, tmp_path, args, input, message):
    args = [photo_dir if a == "IN" else tmp_path if a == "OUTDIR" else a for a in args]
    data = encoded("PNG") if input == b"img" else input
    result = invoke(*args, input=data)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_corrupt_image_on_stdin_is_an_image_error(fake_pipeline):
    result = invoke("restore", "-", "-", input=b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    assert result.exit_code == 1 and result.stdout_bytes == b""
    assert "-:" in result.stderr


def test_a_real_pipe(tiny_weights, tmp_path):
    """The shell's way: bytes in, bytes out, messages on stderr, exit 0."""
    data = encoded("JPEG", gradient(40, 48), quality=95)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "oldphoto_cli", "restore", "-", "-", "--device", "cpu",
         "--weights-dir", str(tiny_weights), "--no-face-enhance"],
        input=data, capture_output=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    out = Image.open(io.BytesIO(proc.stdout))
    assert out.format == "JPEG" and out.size == (48, 40)
    assert b"1 ok" in proc.stderr
