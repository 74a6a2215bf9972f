"""Face detection, alignment, blending and the ``general`` face_enhance stage."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from oldphoto_cli.contract import Face
from oldphoto_cli.faces.align import align_face, face_mask, paste_face, similarity_from_points
from oldphoto_cli.faces.detect import HaarFaceDetector
from oldphoto_cli.faces.enhance import GeneralFaceEnhancer

cv2.setNumThreads(1)


def _astronaut() -> np.ndarray:
    skdata = pytest.importorskip("skimage.data")
    return skdata.astronaut().astype(np.float32) / 255


def _grace_hopper() -> np.ndarray:
    cbook = pytest.importorskip("matplotlib.cbook")
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        return np.asarray(image.convert("RGB"), np.float32) / 255


@pytest.fixture(scope="module")
def detector() -> HaarFaceDetector:
    return HaarFaceDetector()


@pytest.fixture(scope="module")
def astronaut_faces(detector) -> list[Face]:
    return detector(_astronaut())


def test_astronaut_has_exactly_one_face(astronaut_faces):
    assert len(astronaut_faces) == 1
    x, y, w, h = astronaut_faces[0].box
    # The face is around (225, 115) in the 512x512 image.
    assert abs(x + w / 2 - 225) < 25 and abs(y + h / 2 - 115) < 25 and 70 < w < 140
    eyes = astronaut_faces[0].eyes
    assert eyes is not None and eyes[0, 0] < eyes[1, 0]


def test_grace_hopper_has_exactly_one_face(detector):
    faces = detector(_grace_hopper())
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert abs(x + w / 2 - 265) < 40 and abs(y + h / 2 - 215) < 40


def test_blank_image_has_no_face(detector):
    assert detector(np.full((200, 300, 3), 0.5, np.float32)) == []


REAL_OLD = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_old"
# Boxes (x, y, w, h) the Haar fallback took for faces before it asked for eyes: a dress and
# the background, an arm and a dress, a shop window (none a face; YuNet finds none there).
NOT_FACES = {
    "Dolores1920s.jpg": [(93, 639, 67, 67), (30, 446, 70, 70)],
    "HelenKeller.jpg": [(820, 605, 63, 63), (752, 464, 84, 84)],
    "FatMenShop.jpg": [(121, 401, 28, 28), (316, 403, 45, 45)],
}


@pytest.mark.parametrize("name", sorted(NOT_FACES))
def test_haar_takes_no_dress_arm_or_window_for_a_face(detector, name):
    from PIL import Image

    from oldphoto_cli.faces.detect import _overlap_small

    if not (REAL_OLD / name).is_file():
        pytest.skip(f"{REAL_OLD / name} not here (the project's shared data)")
    with Image.open(REAL_OLD / name) as image:
        faces = detector(np.asarray(image.convert("RGB")))
    for face in faces:
        assert all(_overlap_small(face.box, box) < 0.3 for box in NOT_FACES[name]), face
    if name != "FatMenShop.jpg":  # the portraits' own faces are still found
        assert faces


def test_similarity_maps_points_exactly():
    src = np.array([[10.0, 20.0], [50.0, 26.0]])
    dst = np.array([[94.7, 107.5], [161.3, 107.5]])
    matrix = similarity_from_points(src, dst)
    mapped = src @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, dst, atol=1e-9)
    # Similarity: no shear, equal scale on both axes.
    assert matrix[0, 0] == pytest.approx(matrix[1, 1]) and matrix[0, 1] == pytest.approx(
        -matrix[1, 0]
    )


def _linear_image(h: int, w: int) -> np.ndarray:
    """Channels are affine functions of (x, y): bilinear warps reproduce them exactly."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.dstack([x / w, y / h, 0.5 * (x / w + y / h)]).astype(np.float32)


@pytest.mark.parametrize("eyes", [None, np.array([[205.0, 98.0], [246.0, 108.0]])])
def test_align_inverse_warp_round_trip_is_pixel_accurate(eyes):
    face = Face(box=(175.0, 64.0, 99.0, 99.0), score=50.0, eyes=eyes)
    for exact, image in ((True, _linear_image(512, 512)), (False, _astronaut())):
        aligned = align_face(image, face, 256)
        back = cv2.warpAffine(aligned.crop, aligned.inverse, (512, 512), flags=cv2.INTER_LINEAR)
        # Pixels of the face well inside the crop (away from its borders).
        inside = cv2.warpAffine(face_mask(256), aligned.inverse, (512, 512), flags=cv2.INTER_LINEAR)
        region = inside > 0.99
        assert region.sum() > 3000
        error = np.abs(back - image)[region]
        if exact:  # affine ramps survive bilinear warps exactly: the geometry is exact
            assert error.max() < 1e-4
        else:  # photo: the crop upsamples, so warping back is near-lossless
            assert error.mean() < 2 / 255


def test_blending_leaves_outside_bit_identical_and_does_not_shift(astronaut_faces):
    image = _astronaut()
    aligned = align_face(image, astronaut_faces[0], 256)
    restored = np.clip(aligned.crop * 0.8 + 0.1, 0, 1)  # a pointwise change
    out, alpha = paste_face(image, aligned, restored)
    outside = alpha == 0
    assert outside.sum() > 0.8 * outside.size
    assert np.array_equal(out[outside], image[outside])
    # Where the mask is fully on, the result is the pointwise change of the *same* pixel:
    # any shift of the face would show up as an error here.
    core = alpha > 0.999
    assert core.sum() > 2000
    expected = np.clip(image * 0.8 + 0.1, 0, 1)
    assert np.abs(out[core] - expected[core]).mean() < 2 / 255


def test_unchanged_crop_changes_nothing(astronaut_faces):
    image = _astronaut()
    aligned = align_face(image, astronaut_faces[0], 256)
    out, _ = paste_face(image, aligned, aligned.crop.copy())
    assert np.array_equal(out, image)


def test_stage_with_identity_restore_changes_nothing(astronaut_faces, tmp_path):
    image = _astronaut()
    stage = GeneralFaceEnhancer(
        detector=lambda rgb: astronaut_faces, save_faces_dir=str(tmp_path / "faces")
    )
    out, info = stage(image, lambda crop: crop)
    assert info["faces"] == 1
    assert np.array_equal(out, image)
    before = tmp_path / "faces" / "face_00_before.png"
    after = tmp_path / "faces" / "face_00_after.png"
    assert before.exists() and after.exists()
    crop = cv2.imread(str(before))
    assert crop.shape == (256, 256, 3)


def test_stage_changes_only_the_face_region(astronaut_faces, tmp_path):
    image = _astronaut()
    stage = GeneralFaceEnhancer(
        detector=lambda rgb: astronaut_faces, save_faces_dir=str(tmp_path), color_match=False
    )
    calls = []

    def restore(crop):
        calls.append(crop.shape)
        return cv2.GaussianBlur(crop, (0, 0), 2.0)

    out, info = stage(image, restore)
    assert calls == [(256, 256, 3)] and info["faces"] == 1
    changed = np.abs(out - image).max(-1) > 0
    ys, xs = np.nonzero(changed)
    x, y, w, h = astronaut_faces[0].box
    assert changed.any()
    assert xs.min() > x - w and xs.max() < x + 2 * w and ys.min() > y - h and ys.max() < y + 2 * h
    saved_after = cv2.imread(str(tmp_path / "face_00_after.png"))
    saved_before = cv2.imread(str(tmp_path / "face_00_before.png"))
    assert not np.array_equal(saved_after, saved_before)


def test_only_center_face_picks_the_central_one():
    faces = [
        Face(box=(10.0, 10.0, 40.0, 40.0), score=30.0),
        Face(box=(130.0, 80.0, 40.0, 40.0), score=20.0),
    ]
    stage = GeneralFaceEnhancer(detector=lambda rgb: faces, only_center_face=True)
    image = np.random.default_rng(0).random((200, 300, 3)).astype(np.float32)
    seen = []
    out, info = stage(image, lambda crop: seen.append(1) or crop)
    assert info["faces"] == 1 and len(seen) == 1
    assert info["face_boxes"][0]["box"][0] == 130.0


def test_registered_as_default_stage_and_detector(builtin_plugins, monkeypatch):
    """Without face weights (no oldphoto-face-weights package) ``general`` is the default."""
    from oldphoto_cli import faces, stages

    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)

    stages.reset()
    faces.reset()
    try:
        spec = stages.get("face_enhance")
        assert (spec.name, spec.plugin, spec.default) == ("general", "faces", True)
        names = {s.name: s for s in faces.face_detectors()}
        # Haar is the fallback: it does not claim the default, so a detector plugin can.
        assert not names["haar"].default and names["haar"].plugin == "faces"
        stage = spec.build(device=None, only_center_face=False, save_faces_dir=None)
        assert (stage.kind, stage.name) == ("face_enhance", "general")
    finally:
        stages.reset()
        faces.reset()
