"""Memory: 8-bit photos stay 8-bit and are converted tile by tile and band by band, with
the same results as float input; the guard keeps a stated headroom and says what it needs in
units that tell; peak memory grows at most by the estimate's bytes per pixel."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gradient, save_pil
from PIL import Image

from oldphoto_cli import imageio
from oldphoto_cli.cli import cli
from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline, keep_tone


def photo(h: int, w: int, gray: bool = False, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.resize(gradient(24, 32), (w, h), interpolation=cv2.INTER_LINEAR)
    noisy = np.clip(base.astype(int) + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
    noisy[h // 3, :] = 250  # a scratch for the detector
    if gray:
        noisy[:] = noisy[..., :1]
    return noisy


def test_an_8bit_photo_is_kept_in_8_bits(tmp_path):
    pixels = photo(40, 50)
    save_pil(tmp_path / "a.png", Image.fromarray(pixels))
    loaded = imageio.read_image(tmp_path / "a.png")
    assert loaded.pixels.dtype == np.uint8 and np.array_equal(loaded.pixels, pixels)
    assert loaded.rgb.dtype == np.float32
    assert np.array_equal(loaded.rgb, pixels.astype(np.float32) / 255.0)
    save_pil(tmp_path / "b.png", Image.fromarray(pixels[..., 0].astype(np.uint16) * 257))
    assert imageio.read_image(tmp_path / "b.png").pixels.dtype == np.float32  # 16-bit


def _old_keep_tone(restored, original):
    """keep_tone on the whole image at once, as it was before it went band by band."""
    lab_r = cv2.cvtColor(restored, cv2.COLOR_RGB2LAB)
    lab_o = cv2.cvtColor(original, cv2.COLOR_RGB2LAB)
    sigma = max(1.0, max(original.shape[:2]) / 512)
    lab_r[..., 1:] = cv2.GaussianBlur(lab_o[..., 1:], (0, 0), sigma)
    return np.clip(cv2.cvtColor(lab_r, cv2.COLOR_LAB2RGB), 0, 1)


def test_keep_tone_by_bands_matches_the_whole_image():
    original = photo(1100, 700, seed=1)
    restored = photo(1100, 700, seed=2).astype(np.float32) / 255
    expected = _old_keep_tone(restored.copy(), original.astype(np.float32) / 255)
    assert np.array_equal(keep_tone(restored.copy(), original), expected)
    assert np.array_equal(keep_tone(restored.copy(), original.astype(np.float32) / 255), expected)


@pytest.mark.parametrize("gray", [False, True])
def test_uint8_and_float_photos_restore_alike(tiny_weights, gray):
    """The same photo as uint8 (the CLI's path: converted per tile) or float32 gives the
    same result, bit for bit, on the scratch path with keep-tone and a blend."""
    pipeline = RestorePipeline(RestoreOptions(device="cpu", weights_dir=str(tiny_weights),
                                              face_enhancer="none", with_scratch="on",
                                              strength=0.7, intermediates=False))  # fmt: skip
    pixels = photo(300, 210, gray=gray)  # taller than one band: band edges are crossed
    from_u8 = pipeline.restore(pixels)
    from_float = pipeline.restore(pixels.astype(np.float32) / 255)
    assert from_u8.image.dtype == np.float32 and from_u8.intermediates == {}
    assert from_u8.info["scratch_path"]
    assert np.array_equal(from_u8.mask, from_float.mask)
    assert np.array_equal(from_u8.image, from_float.image)


def test_the_guard_keeps_headroom(tmp_path, monkeypatch):
    monkeypatch.setattr(imageio, "available_memory", lambda: 10 * 10**9)
    assert imageio.memory_limit() == 8 * 10**9  # MEMORY_SHARE: 80 % of what is available
    assert imageio.memory_limit(3e9) == 3 * 10**9  # --max-memory as given
    from badcorpus import _png_declaring

    side = int(((8.5e9 - imageio.FIXED_BYTES) / imageio.RESTORE_BYTES_PER_PIXEL) ** 0.5)
    (tmp_path / "big.png").write_bytes(_png_declaring(side, side))  # needs 8.5 of 10 GB
    with pytest.raises(imageio.ImageReadError, match="80% of the memory available: 8.0 GB"):
        imageio.read_image(tmp_path / "big.png")


def test_a_tiny_max_memory_says_its_figures_in_units_that_tell(photo_dir, tmp_path,
                                                                  fake_pipeline):  # fmt: skip
    result = CliRunner().invoke(cli, ["restore", str(photo_dir / "a.png"), str(tmp_path / "o"),
                                      "--max-memory", "0.001"])  # fmt: skip
    assert result.exit_code == 1
    assert "allowed: 1.0 MB (--max-memory)" in result.stderr and "0.0 GB" not in result.stderr


PEAK = """
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True)
print(json.dumps([p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
                  p.stderr.decode()[-500:]]))
"""


def _peak(tmp_path, pixels: np.ndarray, weights) -> int:
    path = tmp_path / f"p{pixels.shape[0]}.png"
    save_pil(path, Image.fromarray(pixels))
    command = [sys.executable, "-c", PEAK, sys.executable, "-m", "oldphoto_cli", "restore",
               str(path), str(tmp_path / "out"), "--device", "cpu", "--weights-dir",
               str(weights), "--with-scratch", "on", "--tile", "64", "-q"]  # fmt: skip
    code, peak, err = json.loads(subprocess.run(command, capture_output=True, text=True).stdout)
    assert code == 0, err
    return peak


@pytest.mark.slow
def test_peak_memory_grows_by_at_most_the_estimate_per_pixel(tmp_path, tiny_weights):
    """Photos of 9 and 13.5 MP, whose tiles are of one size (their buffers, a constant, do
    not grow): the peak grows by no more than the estimate's bytes per pixel, the bound the
    memory guard relies on (benchmarks/bench_memory.py measures it with the real weights)."""
    small, large = photo(3000, 3000), photo(4500, 3000)
    grown = _peak(tmp_path, large, tiny_weights) - _peak(tmp_path, small, tiny_weights)
    per_pixel = grown / (large.shape[0] * large.shape[1] - small.shape[0] * small.shape[1])
    assert per_pixel <= imageio.RESTORE_BYTES_PER_PIXEL, per_pixel
