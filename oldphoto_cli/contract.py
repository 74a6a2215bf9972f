"""The plugin contract: what each kind of stage is, what it declares, what it is called with.

Re-exported from ``oldphoto_cli`` (``from oldphoto_cli import LatentTranslator, hookimpl``).
The restore pipeline reads exactly the attributes declared here, and
:func:`check_stage` refuses a built stage that lacks one, naming its plugin. See
``docs/plugins.md`` for worked examples.

Pipeline, with the shapes that cross each stage (images are float32; "rgb" means a
numpy HxWx3 array in [0, 1], "image" a torch (1, 3, H, W) tensor in [-1, 1]):

    rgb --Detector--> probability HxW            (mask = threshold, min_area, dilate)
    rgb --ImageTranslator(rgb, mask)--> rgb      (a translator with space = "image"), or
    image --Encoder--> z (1, C, H/scale, W/scale)
        z --LatentTranslator(z, mask, context)--> z      (tile by tile, with ``halo``)
        z --Decoder--> image (1, 3, h*scale, w*scale)   (tile by tile, with ``halo``)
    rgb --FaceEnhancer(rgb, restore_fn, faces, name)--> (rgb, info)

Every stage is built once per run by its registered factory (usually the class itself)
with these keyword arguments, and reused for every image:

- ``device``: a ``torch.device`` (the stage moves what it computes there);
- ``weights_dir``: ``--weights-dir`` or None (see :class:`oldphoto_cli.torch_stage.TorchStage`);
- ``fp16``: half precision was asked for and the device supports it;
- ``precision``: ``fp32``, ``bf16`` or ``fp16`` (``--precision`` resolved for the
  device), only to stages that declare ``supports_precision = True`` (every
  ``TorchStage`` does);
- ``compile``: ``--compile`` was given;
- face enhancers also get ``only_center_face`` and ``save_faces_dir``.

Nothing here imports torch, numpy or OpenCV (listing plugins stays fast), nor the plugin
loader or the weights lookup: this module is the leaf the rest builds on. ``TorchStage``,
the base of stages whose network has a safetensors file, loads through the weights lookup
and so lives in :mod:`oldphoto_cli.torch_stage`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = [
    "KINDS",
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
    "RestoreFn",
    "Stage",
    "check_stage",
]

# The pipeline's stage kinds, in the order they run (``oldphoto stages`` shows them so).
KINDS = ("detect", "encode", "translate", "decode", "face_enhance")



class PluginError(Exception):
    """A plugin broke the plugin contract (a stage lacks a declared attribute, two plugins
    registered one name, an unknown keyword at registration...). The message names it."""


class Stage(ABC):
    """Base of every stage kind. Subclasses set ``name``; the kind bases set ``kind``."""

    kind: ClassVar[str]
    name: ClassVar[str]
    # True: ``__call__`` also takes an 8-bit photo as HxWx3 uint8 (0-255) and converts it
    # tile by tile, so a large photo is never held in float32; else it gets float32 [0, 1].
    takes_uint8: ClassVar[bool] = False

    def __init__(self, device: Any = "cpu", weights_dir: str | None = None,
                 fp16: bool = False, compile: bool = False) -> None:  # fmt: skip
        self.device = device


class Detector(Stage):
    """``detect``: scratch probability per pixel.

    ``__call__(rgb)``: rgb HxWx3 float32 in [0, 1] -> HxW float32 probabilities in [0, 1]
    (same height and width). The pipeline thresholds, cleans and dilates it into a mask.
    """

    kind = "detect"

    @abstractmethod
    def __call__(self, rgb: np.ndarray) -> np.ndarray: ...


class Encoder(Stage):
    """``encode``: image -> latent.

    ``scale`` (declared): the latent's downsampling factor; the pipeline pads the image to
    a multiple of it and pools the mask by it. ``__call__(image)``: (1, 3, H, W) in
    [-1, 1], H and W multiples of ``scale`` -> (1, C, H/scale, W/scale), on the host.
    """

    kind = "encode"
    scale: int

    @abstractmethod
    def __call__(self, image: torch.Tensor) -> torch.Tensor: ...


class LatentTranslator(Stage):
    """``translate`` in latent space (``space = "latent"``): old-photo latent -> clean latent.

    The pipeline calls it tile by tile, each tile with ``halo`` latent pixels of context on
    every side (declared: at least the receptive-field radius, so tiles match the whole
    image exactly).

    - ``prepare(z, mask) -> context`` runs once per image on the whole latent (host
      tensors; ``mask`` is (1, 1, h, w) in {0, 1} or None) and returns whatever the tiles
      need from the whole image, e.g. pooled non-local tokens. Default: None.
    - ``tile_context(context, box) -> context`` (optional) gives one tile its part of
      ``prepare``'s result; ``box`` = (top, left, height, width) of the tile, halo
      included, in the latent ``prepare`` saw (e.g. a piece of whole-image features that
      ``prepare`` computed anyway). Default: ``context`` as it is.
    - ``__call__(z, mask, context)``: a latent tile (1, C, h, w), its mask tile or None
      (no scratch path) and that tile's context -> latent tile of the same shape.
    """

    kind = "translate"
    space: ClassVar[str] = "latent"
    halo: int

    def prepare(self, z: torch.Tensor, mask: torch.Tensor | None) -> Any:
        return None

    def tile_context(self, context: Any, box: tuple[int, int, int, int]) -> Any:
        return context

    @abstractmethod
    def __call__(
        self, z: torch.Tensor, mask: torch.Tensor | None, context: Any
    ) -> torch.Tensor: ...


class ImageTranslator(Stage):
    """``translate`` in image space (``space = "image"``): replaces encode/translate/decode.

    ``__call__(rgb, mask)``: rgb HxWx3 float32 in [0, 1], mask HxW uint8 {0, 1} or None ->
    restored HxWx3 (the pipeline clips it to [0, 1]).

    ``fills_holes`` (optional, default False): True for a translator trained to fill the
    mask's holes itself; the pipeline then keeps its fills as they are instead of moving
    each hole's local mean to its neighbourhood's (:func:`oldphoto_cli.fill.harmonize_fill`).
    """

    kind = "translate"
    space: ClassVar[str] = "image"
    fills_holes: ClassVar[bool] = False

    @abstractmethod
    def __call__(self, rgb: np.ndarray, mask: np.ndarray | None) -> np.ndarray: ...


class Decoder(Stage):
    """``decode``: latent -> image.

    ``halo`` (declared): latent pixels of context a tile needs; ``scale``: the upsampling
    factor, equal to the encoder's. ``__call__(z)``: (1, C, h, w) on the device ->
    (1, 3, h*scale, w*scale) float32 in [-1, 1].
    """

    kind = "decode"
    halo: int
    scale: int

    @abstractmethod
    def __call__(self, z: torch.Tensor) -> torch.Tensor: ...


RestoreFn = Callable[["np.ndarray"], "np.ndarray"]


class FaceEnhancer(Stage):
    """``face_enhance``: restore faces again at their own scale.

    ``detector`` (declared): the :class:`FaceDetector` it uses; restore finds the faces on
    the input with it (once, also to spare them from the scratch mask).
    ``__call__(rgb, restore_fn, faces, name)``: the restored photo, a function restoring any
    HxWx3 crop with the general pipeline, the faces found (None: search ``rgb``) and the
    image's name (``sub/photo``, or None) for anything saved per image -> (rgb, info with
    at least ``"faces"``: how many; ``"face_boxes"``: one record per face, optional).

    ``wants_source`` (optional, default False): True for an enhancer that restores each
    face from the input photo rather than refining the general restoration; the pipeline
    then also passes ``source=`` (the input photo, HxWx3 uint8 or float32 in [0, 1], same
    geometry as ``rgb``) and ``mask=`` (the damage mask restore used, HxW {0, 1}, or None).

    Most plugins subclass :class:`oldphoto_cli.faces.enhance.AlignedFaceEnhancer`, which
    aligns, blends and pastes back, and write only ``enhance_crop`` (and, with
    ``wants_source``, ``enhance_source``).
    """

    kind = "face_enhance"
    detector: FaceDetector
    wants_source: ClassVar[bool] = False

    @abstractmethod
    def __call__(
        self,
        rgb: np.ndarray,
        restore_fn: RestoreFn | None = None,
        faces: list[Face] | None = None,
        name: str | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]: ...


@dataclass
class Face:
    """One detected face in image coordinates (pixels, x right, y down).

    ``eyes`` is ``[[x, y] of the eye on the image left, [x, y] of the eye on the image
    right]`` when both were found, else None (alignment then falls back to the box).
    ``landmarks`` (optional, 5x2) are the two eyes, the nose tip and the two mouth corners
    (eyes and mouth corners left to right on the image); alignment then uses all five.
    """

    box: tuple[float, float, float, float]  # x, y, w, h
    score: float
    eyes: np.ndarray | None = None
    kind: str = "frontal"  # frontal | profile
    extra: dict[str, Any] = field(default_factory=dict)
    landmarks: np.ndarray | None = None

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


class FaceDetector(ABC):
    """A face detector (``oldphoto_register_face_detectors``): rgb HxWx3 float32 [0, 1] ->
    list of :class:`Face`. Built by ``factory(**options)`` (e.g. ``min_face``)."""

    name: ClassVar[str]
    takes_uint8: ClassVar[bool] = False  # True: also takes HxWx3 uint8 (as Stage's)

    @abstractmethod
    def __call__(self, rgb: np.ndarray) -> list[Face]: ...


class Degradation(Protocol):
    """A degradation (``oldphoto_register_degradations``): a function ``fn(img, rng)``.

    ``img`` is float32 HxWx3 RGB in [0, 1], ``rng`` a ``numpy.random.Generator`` (the only
    source of randomness: the same seed gives the same damage). Unstructured ones return
    ``image`` or ``(image, params)``; structured ones (``structured=True`` at
    registration) ``(image, mask)`` or ``(image, mask, params)`` with mask HxW in {0, 1}
    marking exactly the pixels they damaged.
    """

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> Any: ...


# What each kind must declare beyond ``kind`` and ``name``: attribute -> (type, meaning).
_REQUIRED: dict[str, dict[str, tuple[type, str]]] = {
    "encode": {"scale": (int, "the latent's downsampling factor")},
    "translate": {"space": (str, '"latent" or "image"')},
    "decode": {"halo": (int, "latent context per tile"), "scale": (int, "upsampling factor")},
    "face_enhance": {"detector": (object, "the face detector it uses")},
}
_LATENT: dict[str, tuple[type, str]] = {"halo": (int, "latent context per tile")}


def check_stage(stage: Any, kind: str, name: str, plugin: str) -> Any:
    """Return ``stage`` if it keeps the contract of ``kind``, else raise PluginError.

    Checks that it is callable, says the kind and name it was registered under, and
    declares what its kind needs (``scale``, ``halo``, ``space``, ``prepare``, ...).
    """
    where = f"plugin {plugin!r}: {kind} stage {name!r}"
    if not callable(stage):
        raise PluginError(f"{where}: its factory returned {type(stage).__name__}, not a stage")
    for attr, expected in (("kind", kind), ("name", name)):
        value = getattr(stage, attr, None)
        if value != expected:
            raise PluginError(f"{where}: the stage says {attr} = {value!r}, not {expected!r}")
    required = dict(_REQUIRED.get(kind, {}))
    if kind == "translate":
        space = getattr(stage, "space", None)
        if space not in ("latent", "image"):
            raise PluginError(f'{where}: space must be "latent" or "image", not {space!r}')
        if space == "latent":
            required |= _LATENT
            if not callable(getattr(stage, "prepare", None)):
                raise PluginError(f"{where}: a latent translator needs prepare(z, mask)")
    for attr, (kind_type, meaning) in required.items():
        value = getattr(stage, attr, None)
        bad_int = kind_type is int and (isinstance(value, bool) or not isinstance(value, int)
                                        or value < (1 if attr == "scale" else 0))  # fmt: skip
        if value is None or bad_int or not isinstance(value, kind_type):
            raise PluginError(
                f"{where}: missing or invalid {attr} ({meaning}): {value!r}; see docs/plugins.md"
            )
    return stage
