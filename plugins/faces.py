"""Built-in face stages: Haar face detector and the ``general`` face enhancer."""

from __future__ import annotations

from oldphoto_cli.hookspecs import hookimpl


def _haar(**options):
    from oldphoto_cli.face_detect import HaarFaceDetector

    return HaarFaceDetector(**options)


def _general(device=None, **options):
    from oldphoto_cli.face_enhance import GeneralFaceEnhancer

    return GeneralFaceEnhancer(device=device, **options)


@hookimpl
def oldphoto_register_face_detectors(register):
    register("haar", _haar, default=True)


@hookimpl
def oldphoto_register_stages(register):
    register(
        "face_enhance",
        "general",
        _general,
        default=True,
        description="aligned face crops restored by the general pipeline, blended back",
    )
