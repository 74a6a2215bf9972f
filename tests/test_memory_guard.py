"""The memory guard refuses from the header, before decoding, and its estimate grows with
the pixels."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from conftest import gradient, json_lines, save_pil
from PIL import Image


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG that declares a huge size (the decompression-bomb shape)."""

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
            ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)  # fmt: skip

    idat = zlib.compress(b"\0" * (width + 1) * 64, 9)  # a few rows; the rest is missing
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                     8, 0, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))  # fmt: skip
    return path


def test_memory_estimate_refuses_before_decoding(run, tmp_path, monkeypatch):
    from oldphoto_cli import imageio

    src = tmp_path / "in"
    src.mkdir()
    png_header_only(src / "bomb.png", 17000, 17000)
    save_pil(src / "ok.png", Image.fromarray(gradient()))
    assert (src / "bomb.png").stat().st_size < 300_000
    monkeypatch.setattr(imageio, "available_memory", lambda: 8 << 30)
    result = run("restore", src, tmp_path / "out", "--json")
    assert result.exit_code == 1, result.output
    records = {Path(r["input"]).name: r for r in json_lines(result)}
    assert records["ok.png"]["status"] == "ok"
    error = records["bomb.png"]["error"]
    assert "17000x17000" in error and "GB" in error and "--max-memory" in error
    # the limit is configurable: a tight one refuses the small photo too
    tight = run("restore", src / "ok.png", tmp_path / "o2", "--max-memory", "0.00001")
    assert tight.exit_code == 1 and "--max-memory" in tight.stderr


def test_memory_needed_grows_with_pixels():
    from oldphoto_cli import imageio

    fixed = imageio.FIXED_BYTES  # models' tile buffers: the same at any size
    assert imageio.memory_needed(2000, 1000) - fixed == 2 * (imageio.memory_needed(1000, 1000)
                                                             - fixed)  # fmt: skip
    assert imageio.available_memory() > 0
