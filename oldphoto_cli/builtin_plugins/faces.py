"""Built-in face stages: Haar face detector and the ``general`` face enhancer.

Haar does not claim the default: it is the fallback when no installed plugin claims it (a
better detector plugin such as ``oldphoto-yunet`` then wins; built-in claims would win).

Registered by ``"module:Class"`` name: nothing is imported until one is built.
"""

from __future__ import annotations

from oldphoto_cli.hookspecs import hookimpl


@hookimpl
def oldphoto_register_face_detectors(register):
    register("haar", "oldphoto_cli.faces.detect:HaarFaceDetector",
             description="OpenCV Haar cascades (frontal + profile), verified by eyes;"
             " the fallback when no plugin claims the default")  # fmt: skip


@hookimpl
def oldphoto_register_stages(register):
    from oldphoto_cli.faces import FACE_RESTORER_WEIGHTS, face_weights_available

    # The face restorer is the default when its (research-use, separately distributed)
    # weights are installed; otherwise ``general`` is. On damaged faces behind the default
    # translator it gains 0.2 dB over no face stage where the SPADE face network loses
    # 0.55 and ``general`` 0.1 (benchmarks/RESULTS.md), so the face network is opt-in.
    trained = face_weights_available(name=FACE_RESTORER_WEIGHTS)
    register(
        "face_enhance",
        "face",
        "oldphoto_cli.faces.network:FaceNetEnhancer",
        description="face refinement network (SPADE, paper 3.4) on aligned crops; needs "
        "face.safetensors (research use), else falls back to general",
    )
    register(
        "face_enhance",
        "restorer",
        "oldphoto_cli.faces.restorer:FaceRestorerEnhancer",
        default=trained,
        description="the image-space restorer trained on faces, on each face of the input at "
        "its own scale; needs face_restorer.safetensors (research use)",
    )
    register(
        "face_enhance",
        "general",
        "oldphoto_cli.faces.enhance:GeneralFaceEnhancer",
        default=not trained,
        description="aligned face crops restored by the general pipeline, blended back",
    )
