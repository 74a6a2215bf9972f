"""Entry point ``yunet``: registers the face detector lazily (``yuface`` imported when built),
and only where ``yuface`` is installed (it has wheels for some platforms only)."""

from __future__ import annotations

from importlib.util import find_spec

from oldphoto_cli import hookimpl


@hookimpl
def oldphoto_register_face_detectors(register):
    if find_spec("yuface") is None:  # no wheel for this platform: Haar stays the fallback
        return
    register(
        "yunet",
        "oldphoto_yunet.detect:YuNetFaceDetector",
        default=True,
        description="YuNet (libfacedetection, BSD-3): boxes + 5 landmarks",
    )
