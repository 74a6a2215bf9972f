"""Odd input files a photo folder has: TIFF layouts, animations and pages, tiny images,
names that are not UTF-8 or hold a newline, symlink loops, subfolders without -r."""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import gradient, invoke, json_lines, save_pil
from PIL import Image


def reopen(path: Path) -> Image.Image:
    """Every written output must open and decode."""
    image = Image.open(path)
    image.load()
    return image


def planar_tiff(path: Path, rgb: np.ndarray) -> Path:
    """An uncompressed RGB TIFF with PlanarConfiguration=2 (one strip per channel)."""
    h, w, _ = rgb.shape
    planes = [np.ascontiguousarray(rgb[..., c]).tobytes() for c in range(3)]
    entries = 10
    ifd_size = 2 + entries * 12 + 4
    extra = 8 + ifd_size  # BitsPerSample (3 shorts), StripOffsets, StripByteCounts (3 longs)
    bits_at, offsets_at, counts_at = extra, extra + 6, extra + 18
    data_at = extra + 30
    offsets = [data_at + i * h * w for i in range(3)]

    def entry(tag, kind, count, value):
        if kind == 3 and count == 1:
            return struct.pack("<HHIHH", tag, kind, count, value, 0)
        return struct.pack("<HHII", tag, kind, count, value)

    ifd = struct.pack("<H", entries) + b"".join([
        entry(256, 3, 1, w), entry(257, 3, 1, h), entry(258, 3, 3, bits_at),
        entry(259, 3, 1, 1), entry(262, 3, 1, 2), entry(273, 4, 3, offsets_at),
        entry(277, 3, 1, 3), entry(278, 3, 1, h), entry(279, 4, 3, counts_at),
        entry(284, 3, 1, 2),
    ]) + struct.pack("<I", 0)  # fmt: skip
    body = struct.pack("<3H", 8, 8, 8) + struct.pack("<3I", *offsets)
    body += struct.pack("<3I", h * w, h * w, h * w) + b"".join(planes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + body)
    return path


def test_tiff_inputs_give_tiffs_that_open(run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    values = gradient()[..., 0].astype(np.float32) / 255
    Image.fromarray(values, "F").save(src / "float.tif")
    planar_tiff(src / "planar.tif", gradient())
    assert reopen(src / "planar.tif").mode == "RGB"
    Image.fromarray(gradient()).convert("CMYK").save(src / "cmyk.tif")
    Image.fromarray(gradient()).save(src / "plain.tif", compression="tiff_lzw")
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    Image.fromarray(gradient()).save(src / "exif.tif", exif=exif)
    exif[0x8769] = {0x9003: "1950:06:01 12:00:00"}  # an EXIF sub-IFD (libtiff refuses it)
    Image.fromarray(gradient()).save(src / "dated.jpg", exif=exif.tobytes())
    out = tmp_path / "out"
    result = run("restore", src, out, "--json")
    assert result.exit_code == 0, result.output
    assert all(r["status"] == "ok" for r in json_lines(result))
    assert reopen(out / "dated.jpg").getexif().get_ifd(0x8769)[0x9003] == "1950:06:01 12:00:00"
    expected_modes = {"float": ("I;16", "L"), "planar": ("RGB",), "cmyk": ("RGB",),
                      "plain": ("RGB",), "exif": ("RGB",)}  # fmt: skip
    for stem, modes in expected_modes.items():
        image = reopen(out / f"{stem}.tif")
        assert image.mode in modes, (stem, image.mode)
        assert image.size == (32, 24)
        assert image.tag_v2.get(339, 1) in (1, (1,), (1, 1, 1))  # SampleFormat: unsigned int
        assert image.tag_v2.get(284, 1) == 1  # contiguous
    assert reopen(out / "exif.tif").getexif().get(0x010F) == "TestCam"  # real EXIF kept
    # the same inputs to every other format open too
    for ext in ("png", "jpg", "webp", "bmp", "tif"):
        again = run("restore", src, tmp_path / ext, "--ext", ext)
        assert again.exit_code == 0, again.output
        for path in (tmp_path / ext).iterdir():
            assert reopen(path).size == (32, 24)


def test_animated_and_multipage_say_only_the_first_frame(run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    frames = [Image.fromarray(np.roll(gradient(), 5 * i, axis=1)) for i in range(3)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(src / "anim.png", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(src / "pages.tif", save_all=True, append_images=frames[1:])
    result = run("restore", src, tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    for name in ("anim.gif", "anim.png", "pages.tif"):
        assert f"{name}: has 3 frames/pages; only the first is restored" in result.stderr
        with Image.open(tmp_path / "out" / name) as out:
            out.load()
    assert all(r["frames"] == 3 for r in map(json.loads, result.stdout.splitlines()))


@pytest.mark.parametrize("weights", ["shipped", "tiny"])
def test_tiny_images_are_restored_not_a_torch_message(tmp_path, tiny_weights, weights):
    src = tmp_path / "in"
    for w, h in [(1, 1), (3, 3), (7, 40), (16, 5), (200, 2)]:
        save_pil(src / f"t{w}x{h}.png", Image.fromarray(gradient(h, w)))
    extra = ["--weights-dir", tiny_weights] if weights == "tiny" else []
    for command in ("restore", "detect"):
        result = invoke(command, src, tmp_path / command, "--json", "--device", "cpu", *extra)
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["status"] for r in records] == ["ok"] * 5
    for path in (tmp_path / "restore").iterdir():
        w, h = map(int, re.findall(r"\d+", path.stem))
        assert Image.open(path).size == (w, h)


def test_newline_in_a_file_name_keeps_its_error_on_one_line(run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "two\nlines.jpg").write_bytes(b"not a jpeg")
    result = run("restore", src, tmp_path / "out")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "two\\nlines.jpg" in errors[0]


def test_path_lists_with_non_utf8_names(run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    odd = os.fsdecode(b"caf\xe9.png")  # Latin-1 name on a UTF-8 system
    save_pil(src / odd, Image.fromarray(gradient()))
    save_pil(src / "ok.png", Image.fromarray(gradient()))
    listing = b"\n".join(os.fsencode(src / n) for n in (odd, "ok.png")) + b"\n"
    result = run("restore", "--files-from", "-", tmp_path / "out", "--json", input=listing)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert sorted(r["status"] for r in json_lines(result)) == ["ok", "ok"]
    assert (tmp_path / "out" / odd).exists()
    nul = run(
        "restore", "--files-from", "-", "-0", tmp_path / "out2", input=listing.replace(b"\n", b"\0")
    )
    assert nul.exit_code == 0 and len(list((tmp_path / "out2").iterdir())) == 2


def test_symlink_loop_is_one_files_error(run, photo_dir, tmp_path):
    os.symlink("loop.png", photo_dir / "loop.png")
    os.symlink("b.png", photo_dir / "a_link.png")
    os.symlink("a_link.png", photo_dir / "b.png")
    result = run("restore", photo_dir, tmp_path / "out", "--json")
    assert result.exit_code == 1, result.output
    records = {Path(r["input"]).name: r for r in json_lines(result)}
    assert records["a.png"]["status"] == records["b.jpg"]["status"] == "ok"
    for name in ("loop.png", "a_link.png", "b.png"):
        assert records[name]["status"] == "error" and "symbolic links" in records[name]["error"]
    assert "Traceback" not in result.output


def test_folder_without_r_counts_skipped_subfolders(run, photo_dir, tmp_path):
    (photo_dir / "1950s").mkdir()
    (photo_dir / "1960s").mkdir()
    result = run("restore", photo_dir, tmp_path / "out")
    assert result.exit_code == 0
    assert "skipped 2 subfolders (use -r/--recursive" in result.stderr
