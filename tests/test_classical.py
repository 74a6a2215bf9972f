"""Tests of the separately installable ``oldphoto-classical`` plugin package."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

classical = pytest.importorskip("oldphoto_classical")

cv2.setNumThreads(1)


def _scene(size: int = 160, seed: int = 0) -> np.ndarray:
    """A smooth synthetic photo: gradients plus a few soft blobs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.stack([0.3 + 0.4 * x, 0.5 - 0.2 * y, 0.4 + 0.2 * x * y], axis=-1)
    for _ in range(4):
        cx, cy, r = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.05, 0.15)]
        img += 0.15 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
    return np.clip(img, 0, 1).astype(np.float32)


def _scratched(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = img.copy()
    light = np.zeros(img.shape[:2], np.uint8)
    dark = np.zeros(img.shape[:2], np.uint8)
    cv2.line(light, (5, 10), (150, 120), 1, 1)
    cv2.line(dark, (20, 150), (140, 20), 1, 2)
    out[light > 0] = 0.97
    out[dark > 0] = 0.03
    return out, light | dark


def test_scratch_map_finds_light_and_dark_lines_and_ignores_blobs():
    img, mask = _scratched(_scene())
    # A compact blob of similar contrast must not be reported.
    cv2.circle(img, (40, 40), 4, (0.02, 0.02, 0.02), -1)
    prob = classical.blackhat_scratch_map(img)
    assert prob.shape == mask.shape and prob.dtype == np.float32
    assert prob.min() >= 0.0 and prob.max() <= 1.0
    pred = prob >= 0.5
    assert (pred & (mask > 0)).sum() / mask.sum() > 0.8
    near = cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0
    assert (pred & ~near).sum() / max(pred.sum(), 1) < 0.1
    assert prob[36:45, 36:45].max() < 0.5


def test_scratch_map_is_quiet_on_clean_smooth_image():
    prob = classical.blackhat_scratch_map(_scene())
    assert (prob >= 0.5).mean() < 0.005


def test_noise_estimate_tracks_added_noise():
    img = _scene()
    rng = np.random.default_rng(1)
    noisy = np.clip(img + rng.normal(0, 8 / 255, img.shape), 0, 1).astype(np.float32)
    assert classical.estimate_noise_sigma(img) < 2
    assert 6 < classical.estimate_noise_sigma(noisy) < 10


def test_classical_restore_inpaints_and_denoises():
    clean = _scene()
    scratched, mask = _scratched(clean)
    rng = np.random.default_rng(2)
    noisy = np.clip(scratched + rng.normal(0, 6 / 255, clean.shape), 0, 1).astype(np.float32)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    out = classical.classical_restore(noisy, mask)
    assert out.shape == clean.shape and out.dtype == np.float32

    def psnr(a, b):
        return 10 * np.log10(1 / np.mean((a - b) ** 2))

    assert psnr(out, clean) > psnr(noisy, clean) + 8
    # Under the mask the scratch is gone.
    assert np.abs(out - clean)[mask > 0].mean() < 0.05


def test_classical_restore_without_mask_or_noise_is_near_identity():
    clean = _scene()
    out = classical.classical_restore(clean, None)
    assert np.abs(out - clean).max() < 2 / 255


def test_stages_are_registered_through_the_entry_point():
    from importlib import metadata

    from oldphoto_cli import stages

    names = {ep.name for ep in metadata.entry_points(group="oldphoto")}
    if "classical" not in names:
        pytest.skip("oldphoto-classical is importable but not installed as a distribution")
    stages.reset()
    try:
        detect = stages.get("detect", "classical")
        translate = stages.get("translate", "classical")
    finally:
        stages.reset()
    assert detect.plugin == "classical" and translate.plugin == "classical"
    detector = detect.build(device=None)  # checked against the contract
    translator = translate.build(device=None)
    assert (detector.kind, detector.name) == ("detect", "classical")
    assert (translator.kind, translator.name, translator.space) == (
        "translate",
        "classical",
        "image",
    )
    img, mask = _scratched(_scene())
    prob = detector(img)
    assert prob.shape == img.shape[:2]
    out = translator(img, (prob >= 0.5).astype(np.uint8))
    assert out.shape == img.shape


def test_restore_keeps_telea_fills_as_they_are():
    """The classical translator declares fills_holes: the pipeline returns exactly its
    Telea + NL-means result (colour kept off), with no fill harmonising on top."""
    from oldphoto_classical.core import classical_restore

    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    img, mask = _scratched(_scene())
    try:
        pipeline = RestorePipeline(RestoreOptions(translator="classical", face_enhancer="none",
                                                  keep_tone=False, tone_curve=False, dilate=0))  # fmt: skip
    except Exception as exc:  # not installed as a distribution: no entry point
        pytest.skip(f"classical translator not registered: {exc}")
    assert pipeline.fills_holes
    own = np.clip(classical_restore(img, mask), 0, 1)
    assert np.array_equal(pipeline.restore(img, mask).image, own.astype(np.float32))
