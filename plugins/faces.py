"""Built-in face stages: Haar face detector and the ``general`` face enhancer.

Registered by ``"module:Class"`` name: nothing is imported until one is built.
"""

from __future__ import annotations

from oldphoto_cli.hookspecs import hookimpl


@hookimpl
def oldphoto_register_face_detectors(register):
    register("haar", "oldphoto_cli.faces.detect:HaarFaceDetector", default=True,
             description="OpenCV Haar cascades (frontal + profile), verified by eyes")  # fmt: skip


@hookimpl
def oldphoto_register_stages(register):
    register(
        "face_enhance",
        "general",
        "oldphoto_cli.faces.enhance:GeneralFaceEnhancer",
        default=True,
        description="aligned face crops restored by the general pipeline, blended back",
    )
