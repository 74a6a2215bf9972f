"""Natural paste-back (``faces.enhance.harmonize``): tone matched, no halo, grey/sepia kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from oldphoto_cli.contract import Face
from oldphoto_cli.faces.align import align_face, face_mask
from oldphoto_cli.faces.enhance import GeneralFaceEnhancer, harmonize, match_color

FACE = Face(box=(100.0, 90.0, 120.0, 130.0), score=1.0)


def _photo(seed: int = 0) -> np.ndarray:
    """A 320x320 smooth 'photo' with some texture: gradients plus blurred noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:320, 0:320].astype(np.float32) / 320
    base = np.dstack([0.3 + 0.3 * x, 0.35 + 0.2 * y, 0.4 + 0.1 * x * y])
    noise = cv2.GaussianBlur(rng.random((320, 320, 3)).astype(np.float32), (0, 0), 1.2)
    return np.clip(base + 0.4 * (noise - 0.5), 0, 1).astype(np.float32)


def _gray_photo() -> np.ndarray:
    g = _photo()[..., 1:2]
    return np.repeat(g, 3, axis=2)


def _sepia_photo() -> np.ndarray:
    g = _photo()[..., 1]
    return np.clip(np.dstack([g * 1.07 + 0.05, g * 0.93 + 0.02, g * 0.7]), 0, 1).astype(np.float32)


def _sharpen_and_tint(crop: np.ndarray) -> np.ndarray:
    blurred = cv2.GaussianBlur(crop, (0, 0), 2.0)
    sharp = crop + 1.0 * (crop - blurred)
    return np.clip(sharp * np.array([0.8, 1.0, 1.25], np.float32) + 0.05, 0, 1)


def _stage() -> GeneralFaceEnhancer:
    return GeneralFaceEnhancer(detector=lambda rgb: [FACE])


def test_gray_photo_stays_exactly_gray():
    image = _gray_photo()
    out, info = _stage()(image, _sharpen_and_tint)
    assert info["faces"] == 1
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
    assert np.abs(out - image).max() > 0.02  # the face did change


def test_sepia_photo_keeps_its_tone():
    image = _sepia_photo()
    out, _ = _stage()(image, _sharpen_and_tint)
    lab_in = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    lab_out = cv2.cvtColor(np.clip(out, 0, 1), cv2.COLOR_RGB2Lab)
    changed = np.abs(out - image).max(-1) > 1 / 255
    assert changed.sum() > 2000
    # Chroma (a, b) stays the photo's sepia within 2 Lab units; the tint did not come through.
    assert np.abs(lab_out[changed][:, 1:] - lab_in[changed][:, 1:]).mean() < 1.0
    assert np.abs(lab_out[changed][:, 1:] - lab_in[changed][:, 1:]).max() < 4.0
    # Without harmonisation the bluish tint shows (the test can fail).
    raw, _ = GeneralFaceEnhancer(detector=lambda rgb: [FACE], color_match=False)(
        image, _sharpen_and_tint
    )
    lab_raw = cv2.cvtColor(np.clip(raw, 0, 1), cv2.COLOR_RGB2Lab)
    assert np.abs(lab_raw[changed][:, 2] - lab_in[changed][:, 2]).mean() > 4.0


def test_colour_and_brightness_matched_to_the_photo():
    image = _photo()
    aligned = align_face(image, FACE, 256)
    mask = face_mask(256)
    brighter = np.clip(aligned.crop * 0.6 + 0.45, 0, 1)
    out = harmonize(brighter, aligned.crop, mask)
    inside = mask > 0.5
    assert np.abs(out[inside].mean(0) - aligned.crop[inside].mean(0)).max() < 0.01
    assert np.abs(brighter[inside].mean(0) - aligned.crop[inside].mean(0)).max() > 0.1


def _vignette(crop: np.ndarray) -> np.ndarray:
    """A restoration that brightens towards the crop's border (what makes a halo)."""
    size = crop.shape[0]
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    ramp = np.clip(np.hypot(x, y) / 0.5, 0, 1)[..., None]
    return np.clip(cv2.GaussianBlur(crop, (0, 0), 1.5) + 0.25 * ramp, 0, 1)


def test_no_halo_at_the_feathered_edge():
    image = _photo()
    stage = _stage()
    out, _ = stage(image, _vignette)
    aligned = align_face(image, FACE, 256)
    _, alpha = _paste_alpha(image, aligned)
    band = (alpha > 0.05) & (alpha < 0.95)
    core = alpha > 0.999
    assert band.sum() > 500 and core.sum() > 5000
    # At the edge the pasted face has the photo's local brightness: no bright rim...
    assert np.abs((out - image)[band].mean()) < 0.004
    # ...while plain mean/std matching (the previous paste) leaves one.
    old = _with_plain_match(image, _vignette)
    assert np.abs((old - image)[band].mean()) > 0.008
    # The restoration itself (the blur) is kept in the core.
    assert np.abs(out - image)[core].mean() > 0.005


def _paste_alpha(image, aligned):
    from oldphoto_cli.faces.align import paste_face

    return paste_face(image, aligned, aligned.crop)


def _with_plain_match(image, restore):
    from oldphoto_cli.faces.align import paste_face

    aligned = align_face(image, FACE, 256)
    mask = face_mask(256)
    restored = match_color(restore(aligned.crop), aligned.crop, mask)
    return paste_face(image, aligned, restored, mask)[0]


@pytest.mark.parametrize("make", [_photo, _gray_photo, _sepia_photo])
def test_outside_the_face_bit_identical_and_identity_unchanged(make):
    image = make()
    out, _ = _stage()(image, _sharpen_and_tint)
    aligned = align_face(image, FACE, 256)
    _, alpha = _paste_alpha(image, aligned)
    assert np.array_equal(out[alpha == 0], image[alpha == 0])
    same, _ = _stage()(image, lambda crop: crop)
    assert np.array_equal(same, image)
