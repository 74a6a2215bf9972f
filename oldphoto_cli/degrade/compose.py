"""The composer: a random subset of registered degradations in random order.

Unstructured groups run first (random order), then structured defects on top (random
order), so the returned mask is exactly where structure changed the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oldphoto_cli.degrade import registry
from oldphoto_cli.degrade.structured import finalize
from oldphoto_cli.degrade.unstructured import luminance


def _default_group_p() -> dict[str, float]:
    return {
        # unstructured; the official code's 4 groups (blur, noise, jpeg, resize) use 0.7
        "blur": 0.7,  # gaussian_blur | defocus_blur | motion_blur
        "noise": 0.7,  # gaussian | speckle | poisson | salt_pepper noise
        "jpeg": 0.7,  # JPEG quality 40-100
        "resize": 0.7,  # low_resolution, 1/2-1/4
        "grain": 0.4,  # luminance-dependent correlated film grain
        "fade": 0.5,  # saturation loss + lifted blacks
        "tint": 0.5,  # sepia / yellow / brown toning
        "tone": 0.5,  # contrast loss + gamma
        "vignette": 0.3,
        "grayscale": 0.3,
        "texture": 0.3,  # paper texture / mottling
        # recoverable blur, resampling and strong JPEG, off by default (the restorer's mix:
        # data.RECOVERABLE_GROUP_P)
        "soft_blur": 0.0,
        "resample": 0.0,
        "jpeg_strong": 0.0,
        # structured (each fired group adds one op's worth of defects, with a mask)
        "scratch": 0.6,
        "dust": 0.5,
        "crack": 0.25,
        "stain": 0.25,
        "edge": 0.2,  # worn edges / torn corner
        "fold": 0.15,
        # wider distributions, off by default: a group at p = 0 takes no draw
        # from the random stream, so the default data (and validation pairs) are unchanged
        "scratch_varied": 0.0,
        "scratch_film": 0.0,  # long straight film-transport scratches across the frame
        "crack_varied": 0.0,
        "hair": 0.0,
        "flake": 0.0,
        # real damage, off by default (:func:`real_config`)
        "overlay": 0.0,  # film-damage overlays (real dust, hair, scratches; a data folder)
        "crack_print": 0.0,  # emulsion crack networks of a print
        "crack_lone": 0.0,  # one crack on a sound print (the detector's sparse crops)
        "tear": 0.0,  # torn corners and tears from the border
    }


LAST_GROUPS = ("jpeg_strong",)
"""Groups applied after the other fired groups, whatever the random order."""

WIDE_GROUP_P = {
    "scratch_varied": 0.5,
    "scratch_film": 0.25,
    "crack_varied": 0.2,
    "hair": 0.25,
    "flake": 0.15,
}
"""The extra structured groups of :func:`wide_config` (on top of the default ones)."""


@dataclass(frozen=True)
class DegradeConfig:
    """What :func:`degrade_image` applies. The defaults below are the documented ones.

    - ``structured`` (True): also apply structured defects (scratches, cracks, dust,
      stains, worn edges, folds). False gives exactly the unstructured part of the same
      (seed, index) result and an all-zero mask.
    - ``only`` (None): restrict to these op names and/or group names.
    - ``group_p``: probability that each group fires (see the dict in
      ``_default_group_p``: blur/noise/jpeg/resize 0.7 as in the official code; grain 0.4,
      fade 0.5, tint 0.5, tone 0.5, vignette 0.3, grayscale 0.3, texture 0.3; scratch
      0.6, dust 0.5, crack 0.25, stain 0.25, edge 0.2, fold 0.15). A group missing from
      it (e.g. a plugin's) fires with the largest registered ``p`` of its ops. Within a
      fired group one op is chosen with probability proportional to its registered ``p``.
    - ``always`` (False): every selected group fires (probability 1), e.g. for
      ``only=("scratch",)`` previews. A group at p = 0 is left out of the plan (no random
      draw), also under ``always`` unless ``only`` names it or one of its ops.
    - ``jpeg_after`` (0): probability of a JPEG round trip (quality 30-90) of the final
      image, after the damage, as a scan saved as JPEG; the mask stays where the damage
      changed the image. 0 takes no random draw.
    """

    structured: bool = True
    only: tuple[str, ...] | None = None
    group_p: dict[str, float] = field(default_factory=_default_group_p)
    always: bool = False
    jpeg_after: float = 0.0


@dataclass
class DegradeResult:
    image: np.ndarray  # float32, same layout as the input, in [0, 1]
    mask: np.ndarray  # uint8 HxW in {0, 1}: pixels changed by structured defects
    ops: list[dict[str, Any]] = field(default_factory=list)  # applied in order


def rng_for(seed: int, index: int) -> np.random.Generator:
    """The generator for image ``index`` of a run seeded with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed) & (2**63 - 1), int(index)]))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _to_rgb(img: np.ndarray) -> tuple[np.ndarray, str]:
    arr = np.asarray(img)
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2), "hw"
    if arr.ndim == 3 and arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2), "hw1"
    if arr.ndim == 3 and arr.shape[2] == 3:
        return arr.copy(), "hw3"
    raise ValueError(f"expected an HxW, HxWx1 or HxWx3 image, got shape {arr.shape}")


def _from_rgb(img: np.ndarray, layout: str) -> np.ndarray:
    if layout == "hw3":
        return img
    lum = np.clip(luminance(img), 0.0, 1.0)
    return lum if layout == "hw" else lum[..., None]


def _matches(spec: registry.DegradationSpec, only: tuple[str, ...] | None) -> bool:
    return only is None or spec.name in only or spec.group in only


def check_only(only: tuple[str, ...] | None) -> None:
    """Raise ValueError naming the unknown entries of ``only``."""
    if not only:
        return
    specs = registry.get_degradations().values()
    known = {s.name for s in specs} | {s.group for s in specs}
    unknown = [o for o in only if o not in known]
    if unknown:
        raise ValueError(
            f"unknown degradation(s) {', '.join(unknown)}; available: {', '.join(sorted(known))}"
        )


def _plan(
    specs: list[registry.DegradationSpec], rng: np.random.Generator, config: DegradeConfig
) -> list[registry.DegradationSpec]:
    """Choose which groups fire, one op per fired group, and their random order."""
    groups: dict[str, list[registry.DegradationSpec]] = {}
    for spec in sorted(specs, key=lambda s: (s.group, s.name)):
        groups.setdefault(spec.group, []).append(spec)
    chosen = []
    for group, members in groups.items():
        p = config.group_p.get(group, max(m.p for m in members))
        named = config.only is not None and (
            group in config.only or any(m.name in config.only for m in members))
        if p <= 0 and not (config.always and named):
            continue  # switched off: no draw, so other groups' draws stay where they were
        p = 1.0 if config.always else p
        fire = rng.random() < p
        weights = np.array([m.p for m in members], np.float64)
        weights = weights / weights.sum() if weights.sum() > 0 else None
        pick = members[int(rng.choice(len(members), p=weights))] if len(members) > 1 else members[0]
        if fire:
            chosen.append(pick)
    order = rng.permutation(len(chosen))
    planned = [chosen[i] for i in order]
    # a scan is saved as JPEG last: blocks are never blurred or resampled away
    return sorted(planned, key=lambda spec: spec.group in LAST_GROUPS)


def _op_record(spec: registry.DegradationSpec, params: Any) -> dict[str, Any]:
    return {"name": spec.name, "group": spec.group, "params": _jsonable(params or {})}


_TRUSTED = "degradations"  # the built-in plugin's ops already return float32 in [0, 1]


def _check_image(out: Any, like: np.ndarray, spec: registry.DegradationSpec) -> np.ndarray:
    name = spec.name
    trusted = spec.plugin == _TRUSTED and isinstance(out, np.ndarray)
    if trusted and out.dtype == np.float32 and out.shape == like.shape:
        return out
    out = np.asarray(out, dtype=np.float32)
    if out.shape != like.shape:
        raise ValueError(f"degradation {name!r} returned shape {out.shape}, expected {like.shape}")
    if not out.flags.writeable or not out.flags.c_contiguous:
        out = np.ascontiguousarray(out).copy()
    return np.clip(out, 0.0, 1.0, out=out)


def degrade_image(
    img: np.ndarray, rng: np.random.Generator, config: DegradeConfig | None = None
) -> DegradeResult:
    """Degrade ``img`` (float32 HxWx3 / HxW / HxWx1 in [0, 1]) like an old photo.

    Deterministic for a given generator state and config. The unstructured and
    structured parts draw from independent child streams, so ``structured=False`` gives
    bit-identically the image the structured defects were painted on.
    """
    config = config or DegradeConfig()
    arr, layout = _to_rgb(img)
    seeds = rng.integers(0, 2**63 - 1, size=2)
    u_rng, s_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
    specs = [s for s in registry.get_degradations().values() if _matches(s, config.only)]

    ops: list[dict[str, Any]] = []
    for spec in _plan([s for s in specs if not s.structured], u_rng, config):
        result = spec.fn(arr, u_rng)
        out, params = result if isinstance(result, tuple) else (result, {})
        arr = _check_image(out, arr, spec)
        ops.append(_op_record(spec, params))
    base = arr

    if config.structured:
        for spec in _plan([s for s in specs if s.structured], s_rng, config):
            result = spec.fn(arr, s_rng)
            # result[1] is the op's own mask; the returned mask is recomputed below from
            # what actually changed, so it stays exact whatever an op reports
            params = result[2] if len(result) > 2 else {}
            arr = _check_image(result[0], arr, spec)
            ops.append(_op_record(spec, params))

    base_o, final_o = _from_rgb(base, layout), _from_rgb(arr, layout)
    if arr is base:
        mask = np.zeros(base.shape[:2], np.uint8)
    else:
        final_o, mask = finalize(base_o, final_o)
    if config.jpeg_after > 0 and s_rng.random() < config.jpeg_after:
        final_o, quality = _jpeg_round_trip(final_o, int(s_rng.integers(30, 91)))
        ops.append({"name": "jpeg_after", "group": "jpeg_after",
                    "params": {"quality": quality}})  # fmt: skip
    return DegradeResult(np.ascontiguousarray(final_o, dtype=np.float32), mask, ops)


def _jpeg_round_trip(img: np.ndarray, quality: int) -> tuple[np.ndarray, int]:
    import cv2

    u8 = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover
        raise RuntimeError("cv2.imencode failed")
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).astype(np.float32) / np.float32(255)
    return out.reshape(img.shape), quality


def wide_config(structured: bool = True, jpeg_after: float = 0.3,
                base: DegradeConfig | None = None) -> DegradeConfig:  # fmt: skip
    """``base`` (default: the default config) with the wider damage groups of
    :data:`WIDE_GROUP_P` switched on and a JPEG round trip after the damage."""
    base = base or DegradeConfig(structured=structured)
    return DegradeConfig(structured=structured, only=base.only,
                         group_p={**base.group_p, **WIDE_GROUP_P}, always=base.always,
                         jpeg_after=jpeg_after)  # fmt: skip


REAL_GROUP_P = {
    "overlay": 0.55,
    "crack_print": 0.35,
    "tear": 0.08,
}
"""The real-damage groups of :func:`real_config`: film-damage overlays, print cracks, tears."""


def real_config(structured: bool = True, jpeg_after: float = 0.3,
                base: DegradeConfig | None = None) -> DegradeConfig:  # fmt: skip
    """:func:`wide_config` plus the real-damage groups of :data:`REAL_GROUP_P` (film
    overlays need their data folder: :mod:`oldphoto_cli.degrade.film_overlays`)."""
    wide = wide_config(structured, jpeg_after, base)
    return DegradeConfig(structured=structured, only=wide.only,
                         group_p={**wide.group_p, **REAL_GROUP_P}, always=wide.always,
                         jpeg_after=jpeg_after)  # fmt: skip
