"""Faces: find them (:mod:`.detect`), align them to a canonical crop (:mod:`.align`),
restore and blend them back (:mod:`.enhance`).

Face detectors are registered through the ``oldphoto_register_face_detectors`` hook with
``register(name, factory, *, default=False, description="")``; ``factory(**options)``
returns a :class:`oldphoto_cli.contract.FaceDetector`.
"""

from __future__ import annotations

from typing import Any

from oldphoto_cli.contract import Face, FaceDetector
from oldphoto_cli.registry import FactorySpec, Registry, default_of

__all__ = ["Face", "face_detectors", "face_weights_available", "get_face_detector", "reset"]

# face.safetensors: the ``face`` enhancer's network, face_restorer.safetensors the
# ``restorer`` enhancer's; research use, so not shipped with oldphoto but in the separate
# plugin package oldphoto-face-weights.
FACE_WEIGHTS = "face"
FACE_RESTORER_WEIGHTS = "face_restorer"


def face_weights_available(weights_dir: str | None = None, name: str = FACE_WEIGHTS) -> bool:
    """Cheap check (no torch import) that ``<name>.safetensors`` (default: the ``face``
    stage's) is where the face stages look: ``weights_dir``, ``$OLDPHOTO_WEIGHTS``, the
    shipped weights folder, the folders plugins register (``oldphoto-face-weights``)."""
    from oldphoto_cli.weights import weights_dirs

    return any((d / f"{name}.safetensors").is_file() for d in weights_dirs(weights_dir))


registry: Registry[FactorySpec] = Registry(
    "oldphoto_register_face_detectors", FactorySpec, "face detector", make=FactorySpec.face_detector
)
reset = registry.reset
face_detectors = registry.all


def get_face_detector(name: str | None = None, **options: Any) -> FaceDetector:
    """Build a registered face detector (``None``: the one a plugin claims as default, else
    the built-in Haar fallback)."""
    specs = face_detectors()
    if name is None:
        chosen = default_of([s for s in specs if s.default])
        if chosen is None:
            from oldphoto_cli.faces.detect import HaarFaceDetector

            return HaarFaceDetector(**options)
        return chosen.build(**options)
    for spec in specs:
        if spec.name == name:
            return spec.build(**options)
    available = ", ".join(sorted(s.name for s in specs)) or "none"
    raise KeyError(f"no face detector named {name!r} (available: {available})")
