"""Entry point ``yunet``: registers the face detector lazily (``yuface`` imported when built)."""

from __future__ import annotations

from oldphoto_cli import hookimpl


@hookimpl
def oldphoto_register_face_detectors(register):
    register(
        "yunet",
        "oldphoto_yunet.detect:YuNetFaceDetector",
        default=True,
        description="YuNet (libfacedetection, BSD-3): boxes + 5 landmarks",
    )
