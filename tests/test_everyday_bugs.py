"""What a new user tripped on (issue 15, bugs 1-10): each test reproduces one report."""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import zlib
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


def json_lines(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def reopen(path: Path) -> Image.Image:
    """Every written output must open and decode."""
    image = Image.open(path)
    image.load()
    return image


# --------------------------------------------------------------------------- 1: TIFF tags


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


# --------------------------------------------------------------------------- 2: OUT in IN


def test_rerun_with_out_inside_in_resumes(run, photo_dir):
    out = photo_dir / "restored"
    first = run("restore", photo_dir, out, "-r", "--json")
    assert first.exit_code == 0, first.output
    again = run("restore", photo_dir, out, "-r", "--json")
    assert again.exit_code == 0, again.output
    assert sorted(r["status"] for r in json_lines(again)) == ["skipped", "skipped"]
    assert not (out / "restored").exists()


def test_rerun_in_place_with_suffix_resumes(run, photo_dir):
    assert run("restore", photo_dir, photo_dir, "--suffix", "_r").exit_code == 0
    again = run("restore", photo_dir, photo_dir, "--suffix", "_r", "--json")
    assert again.exit_code == 0, again.output
    assert sorted(r["status"] for r in json_lines(again)) == ["skipped", "skipped"]
    assert not list(photo_dir.glob("*_r_r.*"))
    assert "this run's own outputs" in again.stderr


def test_in_place_without_suffix_never_takes_a_photo_for_an_output(run, tmp_path):
    """a.jpg -> a.png with --ext png, beside the owner's own a.png: refused, not overwritten."""
    src = tmp_path / "in"
    save_pil(src / "a.jpg", Image.fromarray(gradient()))
    save_pil(src / "a.png", Image.fromarray(255 - gradient()))
    original = (src / "a.png").read_bytes()
    for extra in ([], ["--overwrite"]):
        result = run("restore", src, src, "--ext", "png", *extra)
        assert result.exit_code == 2 and "refusing" in result.output
    assert (src / "a.png").read_bytes() == original


@pytest.mark.parametrize("sub", ["", "masks"])
def test_detect_rerun_with_out_inside_in_resumes(run, photo_dir, sub):
    out = photo_dir / sub if sub else photo_dir
    assert run("detect", photo_dir, out, "-r", "--overlay").exit_code == 0
    again = run("detect", photo_dir, out, "-r", "--overlay", "--json")
    assert again.exit_code == 0, again.output
    assert sorted(r["status"] for r in json_lines(again)) == ["skipped", "skipped"]
    assert not list(photo_dir.rglob("*_mask_mask.png"))


# --------------------------------------------------------------------------- 3: face crops


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


# --------------------------------------------------------------------------- 4: given mask


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


# --------------------------------------------------------------------------- 5: bad OUT


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
    monkeypatch.setattr(inputs.os, "access",
                        lambda p, mode: False if Path(p) == out else real_access(p, mode))
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


# --------------------------------------------------------------------------- 6: stdin names


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
    nul = run("restore", "--files-from", "-", "-0", tmp_path / "out2", input=listing.replace(b"\n", b"\0"))
    assert nul.exit_code == 0 and len(list((tmp_path / "out2").iterdir())) == 2


# --------------------------------------------------------------------------- 7: symlink loop


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


# --------------------------------------------------------------------------- 9: bombs


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


# --------------------------------------------------------------------------- 10: bad weights


def _weights_copy(tiny_weights: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    return folder


def test_corrupt_detector_fails_once_before_any_image(photo_dir, tmp_path, tiny_weights):
    folder = _weights_copy(tiny_weights, tmp_path)
    (folder / "detector.safetensors").write_bytes(b"\0" * 100)
    result = invoke("restore", photo_dir, tmp_path / "out", "--device", "cpu",
                    "--weights-dir", folder, "--no-face-enhance")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.stderr.count("error") == 1 and "cannot set up" in result.stderr
    assert "detector.safetensors" in result.stderr
    assert not (tmp_path / "out").exists()


def test_config_mismatch_is_a_sentence(photo_dir, tmp_path, tiny_weights):
    import torch

    from oldphoto_cli import weights

    folder = _weights_copy(tiny_weights, tmp_path)
    tensors, meta = weights.load_weights(folder / "vae1.safetensors")
    config = dict(meta["config"], bogus_width=3)
    weights.save_weights(folder / "vae1.safetensors", tensors, meta["arch"], config)
    result = invoke("restore", photo_dir, tmp_path / "out", "--device", "cpu",
                    "--weights-dir", folder)  # fmt: skip
    assert result.exit_code == 1
    assert "bogus_width" in result.stderr and "TypeError" not in result.stderr
    assert "unexpected keyword" not in result.stderr
    del torch


def test_missing_weights_dir_is_a_usage_error(photo_dir, tmp_path):
    for args in (["restore", photo_dir, tmp_path / "o"], ["detect", photo_dir, tmp_path / "o"],
                 ["weights", "verify"], ["weights", "list"], ["eval", photo_dir]):  # fmt: skip
        result = invoke(*args, "--weights-dir", tmp_path / "nowhere")
        assert result.exit_code == 2, (args, result.output)


def test_verify_checks_files_in_an_override_folder(tmp_path, tiny_weights):
    folder = _weights_copy(tiny_weights, tmp_path)
    (folder / "manifest.json").unlink()
    assert invoke("weights", "verify", "--weights-dir", folder).exit_code == 0
    (folder / "detector.safetensors").write_bytes(b"not safetensors")
    corrupt = invoke("weights", "verify", "--weights-dir", folder, "--json")
    assert corrupt.exit_code == 1
    rows = {r["file"]: r for r in json.loads(corrupt.stdout) if r["where"] == str(folder)}
    assert rows["detector.safetensors"]["status"] == "corrupt"
    shutil.copy(folder / "vae1.safetensors", folder / "detector.safetensors")
    wrong = invoke("weights", "verify", "--weights-dir", folder, "--json")
    assert wrong.exit_code == 1
    rows = {r["file"]: r for r in json.loads(wrong.stdout) if r["where"] == str(folder)}
    assert rows["detector.safetensors"]["status"] == "wrong-architecture"
