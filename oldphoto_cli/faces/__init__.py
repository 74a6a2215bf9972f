"""Faces: find them (:mod:`.detect`), align them to a canonical crop (:mod:`.align`),
restore and blend them back (:mod:`.enhance`).

Face detectors are registered through the ``oldphoto_register_face_detectors`` hook with
``register(name, factory, *, default=False, description="")``; ``factory(**options)``
returns a :class:`oldphoto_cli.contract.FaceDetector`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oldphoto_cli.contract import Face, FaceDetector, PluginError
from oldphoto_cli.registry import Registry, default_of, resolve

__all__ = ["Face", "FaceDetectorSpec", "face_detectors", "face_weights_available",
           "get_face_detector", "reset"]  # fmt: skip

# face.safetensors: the ``face`` enhancer's network; research use, so not shipped with
# oldphoto but in the separate plugin package oldphoto-face-weights.
FACE_WEIGHTS = "face"


def face_weights_available(weights_dir: str | None = None) -> bool:
    """Cheap check (no torch import) that ``face.safetensors`` is where the ``face`` stage
    looks: ``weights_dir``, ``$OLDPHOTO_WEIGHTS``, the shipped weights folder, the folders
    plugins register (``oldphoto-face-weights``)."""
    from oldphoto_cli.weights import weights_dirs

    return any((d / f"{FACE_WEIGHTS}.safetensors").is_file() for d in weights_dirs(weights_dir))


@dataclass(frozen=True)
class FaceDetectorSpec:
    name: str
    factory: Callable[..., Any] | str
    plugin: str
    default: bool = False
    description: str = ""

    @classmethod
    def from_registration(
        cls,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        default: bool = False,
        description: str = "",
        plugin: str,
    ) -> FaceDetectorSpec:
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise PluginError(f"plugin {plugin!r}: face detector {name!r} has no factory")
        return cls(name, factory, plugin, bool(default), description)

    @property
    def key(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return f"face detector {self.name!r}"

    def build(self, **options: Any) -> FaceDetector:
        detector = resolve(self.factory)(**options)
        if not callable(detector):
            raise PluginError(
                f"plugin {self.plugin!r}: face detector {self.name!r} is not callable"
            )
        return detector


registry: Registry[FaceDetectorSpec] = Registry(
    "oldphoto_register_face_detectors", FaceDetectorSpec, "face detector"
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
