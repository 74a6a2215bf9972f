"""The restore pipeline: detect -> encode -> translate -> decode -> face_enhance.

Library entry point used by ``oldphoto restore``/``detect``/``eval`` and by tests.
Images cross this API as float32 numpy arrays, HxWx3 RGB in [0, 1]; the I/O layer handles
modes (grayscale, alpha, 16-bit) around it.

NOTE: placeholder with identity stages until the model stages land.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class RestoreOptions:
    """Everything ``oldphoto restore`` lets a user choose; defaults are the shipped pipeline."""

    device: str = "auto"
    detector: str | None = None  # None: default stage of its kind
    encoder: str | None = None
    translator: str | None = None
    decoder: str | None = None
    face_enhancer: str | None = None  # "none" disables
    with_scratch: str = "auto"  # auto | on | off
    threshold: float = 0.5
    dilate: int = 1
    strength: float = 1.0  # blend restored with input (1 = fully restored)
    keep_tone: bool = True
    tile: int | None = None  # None: chosen from free memory
    fp16: bool = False
    only_center_face: bool = False
    save_faces_dir: str | None = None
    weights_dir: str | None = None


@dataclass
class RestoreResult:
    image: np.ndarray  # HxWx3 float32 in [0, 1]
    mask: np.ndarray | None  # HxW uint8 {0, 1}, the mask used (None: no scratch path)
    info: dict[str, Any] = field(default_factory=dict)  # stages used, mask stats, faces, timings
    intermediates: dict[str, np.ndarray] = field(default_factory=dict)


class RestorePipeline:
    """Builds the selected stages once and restores many images."""

    def __init__(self, options: RestoreOptions | None = None) -> None:
        self.options = options or RestoreOptions()

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        """Scratch probability map, HxW float32 in [0, 1]."""
        return np.zeros(rgb.shape[:2], np.float32)

    def restore(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> RestoreResult:
        return RestoreResult(image=rgb.copy(), mask=mask, info={"stages": ["identity"]})
