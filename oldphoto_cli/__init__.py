"""oldphoto: restore old, damaged photographs from the command line.

Implements *Old Photo Restoration via Deep Latent Space Translation* (Wan et al.,
CVPR 2020 / TPAMI) as a pipeline of pluggable stages: detect -> encode -> translate
-> decode -> face_enhance.

The plugin API (see docs/plugins.md) is importable from here, as ``llm`` exports its own::

    from oldphoto_cli import LatentTranslator, hookimpl
"""

from oldphoto_cli.contract import (
    KINDS,
    Decoder,
    Degradation,
    Detector,
    Encoder,
    Face,
    FaceDetector,
    FaceEnhancer,
    ImageTranslator,
    LatentTranslator,
    PluginError,
    Stage,
)
from oldphoto_cli.hookspecs import hookimpl
from oldphoto_cli.torch_stage import TorchStage

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "AlignedFaceEnhancer",
    "Decoder",
    "Degradation",
    "Detector",
    "Encoder",
    "Face",
    "FaceDetector",
    "FaceEnhancer",
    "ImageTranslator",
    "LatentTranslator",
    "PluginError",
    "Stage",
    "TorchStage",
    "hookimpl",
]


def __getattr__(name: str):
    # AlignedFaceEnhancer imports OpenCV: only when a plugin asks for it.
    if name == "AlignedFaceEnhancer":
        from oldphoto_cli.faces.enhance import AlignedFaceEnhancer

        return AlignedFaceEnhancer
    raise AttributeError(f"module 'oldphoto_cli' has no attribute {name!r}")
