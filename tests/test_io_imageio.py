"""Reading and writing odd image files: modes, bit depths, EXIF, ICC, corrupt files."""

from __future__ import annotations

import io
import os

import cv2
import numpy as np
import pytest
from conftest import exif_rotated_jpeg, gradient, save_pil, truncated_jpeg
from PIL import Image, ImageCms

from oldphoto_cli import imageio
from oldphoto_cli.imageio import ImageReadError, read_image, write_image


def roundtrip(tmp_path, src, name=None):
    loaded = read_image(src)
    out = tmp_path / "out" / (name or src.name)
    write_image(out, loaded.rgb, loaded)
    return loaded, out


def test_rgb_png_roundtrip_is_lossless(tmp_path):
    src = save_pil(tmp_path / "rgb.png", Image.fromarray(gradient()))
    loaded, out = roundtrip(tmp_path, src)
    assert loaded.mode == "RGB" and loaded.bit_depth == 8 and loaded.alpha is None
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (24, 32, 3)
    assert np.array_equal(np.asarray(Image.open(out)), gradient())


def test_grayscale_stays_grayscale(tmp_path):
    gray = gradient()[..., 0]
    src = save_pil(tmp_path / "gray.jpg", Image.fromarray(gray), quality=95)
    loaded, out = roundtrip(tmp_path, src)
    assert loaded.mode == "L" and loaded.rgb.shape[2] == 3
    with Image.open(out) as result:
        assert result.mode == "L" and result.size == (32, 24)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_color_keeps_16_bits(tmp_path, ext):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    src = tmp_path / f"deep{ext}"
    cv2.imwrite(str(src), data)
    loaded, out = roundtrip(tmp_path, src)
    assert loaded.bit_depth == 16 and loaded.mode == "RGB"
    back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == data.shape
    assert np.abs(back.astype(int) - data.astype(int)).max() <= 1  # not truncated to 8 bits


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_gray_keeps_16_bits(tmp_path, ext):
    data = (np.arange(20 * 30, dtype=np.uint32).reshape(20, 30) * 97 % 65536).astype(np.uint16)
    src = save_pil(tmp_path / f"deepgray{ext}", Image.fromarray(data))
    loaded, out = roundtrip(tmp_path, src)
    assert loaded.bit_depth == 16 and loaded.mode == "L"
    back = np.asarray(Image.open(out))
    assert back.dtype == np.uint16 or Image.open(out).mode.startswith("I")
    assert np.abs(back.astype(int) - data.astype(int)).max() <= 1


def test_16bit_written_as_jpeg_is_8bit(tmp_path):
    src = tmp_path / "deep.png"
    cv2.imwrite(str(src), np.full((8, 8, 3), 40000, np.uint16))
    loaded = read_image(src)
    write_image(tmp_path / "x.jpg", loaded.rgb, loaded)
    assert Image.open(tmp_path / "x.jpg").mode == "RGB"


def test_rgba_alpha_rejoined(tmp_path):
    rgba = np.dstack([gradient(), np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))])
    src = save_pil(tmp_path / "alpha.png", Image.fromarray(rgba, "RGBA"))
    loaded = read_image(src)
    assert loaded.alpha is not None and loaded.rgb.shape[2] == 3
    out = tmp_path / "o.png"
    write_image(out, 1.0 - loaded.rgb, loaded)  # "restored" colours, original alpha
    back = np.asarray(Image.open(out))
    assert back.shape == (24, 32, 4)
    assert np.array_equal(back[..., 3], rgba[..., 3])
    assert np.array_equal(back[..., :3], 255 - rgba[..., :3])


def test_palette_png_converted(tmp_path):
    src = save_pil(
        tmp_path / "pal.png", Image.fromarray(gradient()).convert("P", palette=Image.ADAPTIVE)
    )
    loaded, out = roundtrip(tmp_path, src)
    assert loaded.source_mode == "P" and loaded.mode == "RGB"
    assert Image.open(out).mode == "RGB"
    expected = np.asarray(Image.open(src).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(out)), expected)


def test_palette_with_transparency_keeps_alpha(tmp_path):
    image = Image.fromarray(gradient()).convert("P", palette=Image.ADAPTIVE, colors=16)
    image.info["transparency"] = 0
    src = save_pil(tmp_path / "palt.png", image, transparency=0)
    loaded = read_image(src)
    assert loaded.alpha is not None and loaded.alpha.min() == 0.0


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    src = save_pil(tmp_path / "cmyk.jpg", Image.fromarray(gradient()).convert("CMYK"), quality=95)
    loaded, out = roundtrip(tmp_path, src)
    assert loaded.source_mode == "CMYK" and loaded.mode == "RGB"
    assert Image.open(out).mode == "RGB"
    # Pillow's CMYK round trip is close to the original RGB
    assert np.abs(loaded.rgb * 255 - gradient()).mean() < 12


def test_exif_orientation_applied_and_reset(tmp_path):
    src = exif_rotated_jpeg(tmp_path / "rot.jpg", orientation=6)
    loaded, out = roundtrip(tmp_path, src)
    assert loaded.size == (24, 32)  # 32x24 stored, rotated 90 degrees on read
    with Image.open(out) as result:
        assert result.size == (24, 32)
        exif = result.getexif()
        assert exif.get(0x0112) == 1 and exif.get(0x010F) == "TestCam"


def test_icc_profile_carried(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = save_pil(tmp_path / "icc.png", Image.fromarray(gradient()), icc_profile=icc)
    _, out = roundtrip(tmp_path, src, "icc.jpg")
    assert Image.open(out).info.get("icc_profile") == icc


def test_16bit_png_carries_icc_and_exif(tmp_path):
    src = tmp_path / "deep.png"
    cv2.imwrite(str(src), np.full((8, 8, 3), 1000, np.uint16))
    loaded = read_image(src)
    loaded.icc_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    loaded.exif = exif.tobytes()
    write_image(tmp_path / "o.png", loaded.rgb, loaded)
    with Image.open(tmp_path / "o.png") as result:
        assert result.info.get("icc_profile") == loaded.icc_profile
        assert result.getexif().get(0x010F) == "Cam"
    assert cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16


@pytest.mark.parametrize("ext", [".bmp", ".webp", ".tiff", ".jpeg"])
def test_other_formats_read(tmp_path, ext):
    src = save_pil(tmp_path / f"x{ext}", Image.fromarray(gradient()))
    loaded, out = roundtrip(tmp_path, src)
    assert loaded.size == (32, 24) and Image.open(out).size == (32, 24)


def test_bad_files_raise_one_line_errors(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("hello")
    cases = {
        empty: "empty",
        text: "not a readable image",
        truncated_jpeg(tmp_path / "trunc.jpg"): "truncated",
        tmp_path / "missing.png": "cannot read",
    }
    for path, words in cases.items():
        with pytest.raises(ImageReadError) as info:
            read_image(path)
        assert words in str(info.value) and "\n" not in str(info.value)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    src = save_pil(tmp_path / "big.png", Image.new("L", (2000, 1000)))
    with pytest.raises(ImageReadError, match="megapixels"):
        read_image(src, max_megapixels=1)
    assert read_image(src, max_megapixels=3).size == (2000, 1000)


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read anything")
    src = save_pil(tmp_path / "locked.png", Image.fromarray(gradient()))
    src.chmod(0)
    with pytest.raises(ImageReadError, match="cannot read"):
        read_image(src)


def test_atomic_write_leaves_no_temp_files(tmp_path, monkeypatch):
    target = tmp_path / "o" / "x.png"
    imageio.atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise KeyboardInterrupt  # interrupted right before the rename

    monkeypatch.setattr(imageio.os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        write_image(target, np.zeros((4, 4, 3), np.float32))
    assert target.read_bytes() == b"old"  # never half-written
    assert sorted(p.name for p in target.parent.iterdir()) == ["x.png"]


def test_mask_roundtrip_and_size_check(tmp_path):
    mask = np.zeros((6, 8), np.uint8)
    mask[2, 3] = 1
    imageio.write_mask(tmp_path / "m.png", mask)
    assert set(np.unique(np.asarray(Image.open(tmp_path / "m.png")))) == {0, 255}
    assert np.array_equal(imageio.read_mask(tmp_path / "m.png", (8, 6)), mask)
    with pytest.raises(ImageReadError, match="8x6"):
        imageio.read_mask(tmp_path / "m.png", (6, 8))


def test_encode_nan_and_out_of_range_are_clipped():
    data = imageio.encode_image(np.array([[[np.nan, 2.0, -1.0]]], np.float32), "PNG")
    assert np.asarray(Image.open(io.BytesIO(data))).tolist() == [[[0, 255, 0]]]
