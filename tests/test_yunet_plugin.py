"""The ``oldphoto-yunet`` plugin (plugins/oldphoto-yunet): registration, default choice,
detections with 5 landmarks, and the 5-point alignment they feed."""

from __future__ import annotations

import importlib

import cv2
import numpy as np
import pytest

from oldphoto_cli import faces
from oldphoto_cli.contract import Face
from oldphoto_cli.faces.align import EYE_TEMPLATE, LANDMARK_TEMPLATE, align_face

cv2.setNumThreads(1)


def _have_yunet() -> bool:
    try:
        importlib.import_module("yuface")
        importlib.import_module("oldphoto_yunet")
    except ImportError:
        return False
    return True


needs_yunet = pytest.mark.skipif(
    not _have_yunet(),
    reason="yuface / oldphoto-yunet not installed (pip install ./plugins/oldphoto-yunet)",
)


def test_landmark_template_puts_eyes_on_the_eye_template():
    assert np.allclose(LANDMARK_TEMPLATE[:2], EYE_TEMPLATE, atol=1e-9)
    nose, mouth = LANDMARK_TEMPLATE[2], LANDMARK_TEMPLATE[3:]
    assert EYE_TEMPLATE[0, 0] < nose[0] < EYE_TEMPLATE[1, 0] and nose[1] > EYE_TEMPLATE[0, 1]
    assert (mouth[:, 1] > nose[1]).all() and mouth[0, 0] < mouth[1, 0]


def test_five_landmarks_drive_the_alignment():
    """Landmarks made by a known similarity from the template are mapped back onto it
    exactly; eyes alone (a different, wrong nose/mouth) would not be."""
    size, angle, scale = 256, np.deg2rad(17.0), 0.7
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    marks = (LANDMARK_TEMPLATE * size) @ rot.T + np.array([140.0, 60.0])
    image = np.random.default_rng(0).random((400, 400, 3)).astype(np.float32)
    face = Face(box=(100.0, 50.0, 150.0, 150.0), score=1.0, eyes=marks[:2], landmarks=marks)
    aligned = align_face(image, face, size)
    mapped = cv2.transform(marks[None], aligned.matrix)[0]
    assert np.abs(mapped - LANDMARK_TEMPLATE * size).max() < 1e-6
    # A mouth moved down by 20 px changes the least-squares fit (all five points count).
    moved = marks.copy()
    moved[3:, 1] += 20
    other = align_face(image, Face(box=face.box, score=1.0, eyes=moved[:2], landmarks=moved), size)
    assert np.abs(other.matrix - aligned.matrix).max() > 1e-3
    # Without landmarks the two eyes are mapped exactly (previous behaviour).
    eyes_only = align_face(image, Face(box=face.box, score=1.0, eyes=marks[:2]), size)
    eyes = cv2.transform(marks[None, :2], eyes_only.matrix)[0]
    assert np.abs(eyes - EYE_TEMPLATE * size).max() < 1e-6


def test_haar_is_the_fallback_and_a_plugin_claim_wins(isolated_plugins):
    """Haar registers without claiming the default; a plugin registering default=True (as
    oldphoto-yunet does) becomes the default face detector."""
    from oldphoto_cli.faces.detect import HaarFaceDetector
    from oldphoto_cli.hookspecs import hookimpl

    isolated_plugins.register(importlib.import_module("oldphoto_cli.builtin_plugins.faces"), name="faces")
    faces.reset()
    assert isinstance(faces.get_face_detector(), HaarFaceDetector)

    class Better:
        name = "better"

        def __call__(self, rgb):
            return []

    class Plugin:
        @hookimpl
        def oldphoto_register_face_detectors(self, register):
            register("better", lambda **kw: Better(), default=True)

    isolated_plugins.register(Plugin(), name="better")
    faces.reset()
    assert isinstance(faces.get_face_detector(), Better)
    assert isinstance(faces.get_face_detector("haar"), HaarFaceDetector)
    faces.reset()


@needs_yunet
def test_yunet_registered_through_its_entry_point_as_default():
    faces.reset()
    try:
        specs = {s.name: s for s in faces.face_detectors()}
        assert specs["yunet"].plugin == "yunet" and specs["yunet"].default
        assert not specs["haar"].default
        detector = faces.get_face_detector()
        assert type(detector).__name__ == "YuNetFaceDetector" and detector.name == "yunet"
    finally:
        faces.reset()


def _grace_hopper() -> np.ndarray:
    cbook = pytest.importorskip("matplotlib.cbook")
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        return np.asarray(image.convert("RGB"), np.float32) / 255


@needs_yunet
def test_yunet_finds_one_face_with_plausible_landmarks():
    detector = faces.get_face_detector("yunet")
    image = _grace_hopper()
    found = detector(image)
    assert len(found) == 1
    face = found[0]
    x, y, w, h = face.box
    assert abs(x + w / 2 - 265) < 40 and abs(y + h / 2 - 215) < 50
    marks = face.landmarks
    assert marks.shape == (5, 2)
    assert (
        (marks[:, 0] > x) & (marks[:, 0] < x + w) & (marks[:, 1] > y) & (marks[:, 1] < y + h)
    ).all()
    (le, re), nose, mouth = marks[:2], marks[2], marks[3:]
    assert le[0] < nose[0] < re[0] and nose[1] > max(le[1], re[1])
    assert (mouth[:, 1] > nose[1]).all() and mouth[0, 0] < mouth[1, 0]
    assert np.array_equal(face.eyes, marks[:2])
    # Aligned with its landmarks, the eyes land near the template (<4% of the crop).
    aligned = align_face(image, face, 256)
    eyes = cv2.transform(marks[None, :2], aligned.matrix)[0]
    assert np.abs(eyes - EYE_TEMPLATE * 256).max() < 0.04 * 256
    # Grey and uint8 inputs work too, and a blank image has no face.
    assert len(detector(np.repeat(image.mean(-1, keepdims=True), 3, axis=2))) == 1
    assert detector(np.full((300, 400, 3), 0.5, np.float32)) == []


def test_yunet_registers_nothing_where_yuface_has_no_wheel(monkeypatch):
    """The user install line installs the plugin everywhere; without ``yuface`` (no wheel
    for that platform) it must leave Haar the fallback instead of a detector that fails."""
    plugin = pytest.importorskip("oldphoto_yunet.plugin")
    monkeypatch.setattr(plugin, "find_spec", lambda name: None, raising=False)
    registered = []
    plugin.oldphoto_register_face_detectors(register=lambda *a, **k: registered.append(a))
    assert registered == []
