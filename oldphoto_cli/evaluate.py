"""Evaluation on synthetic pairs: PSNR/SSIM of restorations, F1/IoU of scratch detection.

A pairs folder is what ``oldphoto degrade`` (:func:`oldphoto_cli.degrade.make_pairs`)
writes: ``degraded/``, ``clean/`` and ``mask/`` with the same file names. Each row of the
table is one *configuration*:

* ``input``: the degraded image itself (the floor every method must beat);
* ``classical``: ``oldphoto_classical.classical_restore`` (Telea inpainting + OpenCV
  non-local means) given the TRUE mask: the non-learned baseline;
* ``classical-blackhat``: the same on the mask a classical line finder draws (black-hat /
  top-hat of the luminance, long thin structures only): the baseline with no help;
* pipeline configurations (:class:`EvalConfig`): a translator, a mask source (a detector,
  the true mask, or none) and ``with_scratch``.

Scores per row: PSNR against the truth; *tone-fit* PSNR, after the best per-channel affine
tone map of the output onto the truth (:func:`oldphoto_cli.metrics.tone_fit`), which scores
structure (grain, blur, blocks, scratches) apart from a global tone no blind method can
know; *damaged* PSNR, the same tone fit scored on the pixels of the pair's true mask alone
(pairs with damage), which is how well holes are filled; SSIM and sharpness.

Detection is scored for configurations that detect, on the pipeline's mask rule before
its dilation (``prob > threshold``, regions under ``min_area`` dropped; face sparing is
left out, the 256 px crops hold few faces), with pixel counts pooled over all images.
Seconds per megapixel include detection. :func:`make_validation_pairs` builds the
fixed validation set (the ``oldphoto_cli.data`` split, fixed seed), so ``oldphoto eval``
on it is the project's validation table.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from oldphoto_cli.metrics import (
    detection_scores,
    intact_psnr,
    masked_psnr,
    psnr,
    sharpness,
    ssim,
    tone_fitted_psnr,
)

VALIDATION_SEED = 20201
TRUE_MASK = "true"  # detector name meaning "use the pair's true mask"
NO_MASK = "none"  # detector name meaning "no scratch path" (with_scratch=off)


@dataclass(frozen=True)
class EvalConfig:
    """One row. ``kind``: ``input`` | ``classical`` | ``pipeline``.

    ``detector``: a detect stage name, None (the default detector), ``"true"`` (the
    pair's true mask) or ``"none"`` (no scratch path). ``translator``: a translate stage
    name or None (the default).
    """

    name: str
    kind: str = "pipeline"
    translator: str | None = None
    detector: str | None = None
    with_scratch: str = "auto"
    clean_input: bool = False  # "do no harm": the pair's clean image in, compared with itself

    @property
    def detects(self) -> bool:
        return self.kind == "pipeline" and self.detector not in (TRUE_MASK, NO_MASK)

    def describe(self) -> str:
        if self.clean_input:
            return "do no harm: the clean image in, " + replace(self, clean_input=False).describe()
        if self.kind == "input":
            return "degraded input, unchanged"
        if self.kind == "classical":
            return "OpenCV Telea (true mask) + NLM"
        if self.kind == "classical-blackhat":
            return "OpenCV Telea (black-hat line mask, no learning) + NLM"
        mask = {TRUE_MASK: "true mask", NO_MASK: "no scratch path"}.get(
            self.detector or "", f"detect:{self.detector or 'default'}"
        )
        return f"{self.translator or 'default'} translator, {mask}, scratch={self.with_scratch}"


INPUT = EvalConfig("input", kind="input")
CLASSICAL = EvalConfig("classical", kind="classical")
CLASSICAL_BLACKHAT = EvalConfig("classical-blackhat", kind="classical-blackhat")


def default_configs() -> list[EvalConfig]:
    """The shipped pipeline (detecting, ``with_scratch=auto``) and the same given the true
    mask (what a perfect detector would buy)."""
    return [EvalConfig("default"), EvalConfig("default+true-mask", detector=TRUE_MASK)]


def identity_config(config: EvalConfig) -> EvalConfig:
    """The do-no-harm twin of a pipeline row: the clean image goes in (detection
    included) and must come back unchanged."""
    return replace(config, name=f"{config.name} (clean in)", clean_input=True)


def _stage_name(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "default") else value


def parse_config(spec: str) -> EvalConfig:
    """``NAME=TRANSLATOR:DETECTOR[:WITH_SCRATCH]`` (``default`` or empty: the default stage;
    DETECTOR ``true``: the true mask, ``none``: no scratch path). ``NAME=`` may be left out.

    >>> parse_config("cl=classical:classical")
    EvalConfig(name='cl', kind='pipeline', translator='classical', detector='classical', ...)
    """
    name, _, rest = spec.rpartition("=")
    parts = rest.split(":")
    if len(parts) > 3 or not rest:
        raise ValueError(f"bad --config {spec!r}: expected NAME=TRANSLATOR:DETECTOR[:auto|on|off]")
    translator = _stage_name(parts[0])
    detector = _stage_name(parts[1]) if len(parts) > 1 else None
    with_scratch = parts[2].strip() if len(parts) > 2 else "auto"
    if with_scratch not in ("auto", "on", "off"):
        raise ValueError(f"bad --config {spec!r}: WITH_SCRATCH must be auto, on or off")
    if detector == NO_MASK:
        with_scratch = "off"
    name = name.strip() or f"{translator or 'default'}:{detector or 'default'}"
    return EvalConfig(name, "pipeline", translator, detector, with_scratch)


def configs_from_lists(translators: Iterable[str], detectors: Iterable[str]) -> list[EvalConfig]:
    """Every translator x detector combination (``default`` allowed in either list)."""
    translators = list(translators) or ["default"]
    detectors = list(detectors) or ["default"]
    return [parse_config(f"{t}:{d}") for t in translators for d in detectors]


# --------------------------------------------------------------------------- pairs


def list_pairs(pairs_dir: str | Path, limit: int | None = None) -> list[str]:
    """Names present in all of ``degraded/``, ``clean/`` and ``mask/`` (sorted)."""
    root = Path(pairs_dir)
    subdirs = [root / sub for sub in ("degraded", "clean", "mask")]
    missing = [str(d) for d in subdirs if not d.is_dir()]
    if missing:
        raise FileNotFoundError(f"not a pairs folder (missing {', '.join(missing)})")
    names = sorted(
        p.name for p in subdirs[0].iterdir() if p.is_file() and not p.name.startswith(".")
    )
    names = [n for n in names if (subdirs[1] / n).is_file() and (subdirs[2] / n).is_file()]
    return names[:limit] if limit else names


def load_pair(pairs_dir: str | Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(degraded, clean) HxWx3 float32 [0, 1] and the true mask HxW uint8 {0, 1}."""
    from oldphoto_cli.degrade import load_image

    root = Path(pairs_dir)
    degraded = load_image(root / "degraded" / name)
    clean = load_image(root / "clean" / name)
    mask = (load_image(root / "mask" / name).max(axis=2) > 0.5).astype(np.uint8)
    if degraded.shape != clean.shape or mask.shape != clean.shape[:2]:
        raise ValueError(f"{name}: degraded, clean and mask differ in size")
    return degraded, clean, mask


RENDERERS = ("own", "aging", "aging+damage", "damage")
"""Validation-pair renderers: ``own`` is the training renderer (:mod:`oldphoto_cli.degrade`);
the others never train anything: ``aging`` (:mod:`oldphoto_cli.aging2`: fading, blur,
grain, JPEG), ``aging+damage`` (the same plus :mod:`oldphoto_cli.damage2`'s scratches,
cracks, dust, hairs, flakes and tears) and ``damage`` (damage2 alone, on grain and tone)."""


def make_validation_pairs(
    clean_dir: str | Path,
    out_dir: str | Path,
    seed: int = VALIDATION_SEED,
    size: int | None = 256,
    on_progress: Callable[[Any], None] | None = None,
    renderer: str = "own",
) -> list[Any]:
    """Degrade exactly the validation-split files of ``clean_dir`` into ``out_dir`` with
    ``renderer`` (:data:`RENDERERS`): ``own`` writes one pair each with
    :func:`oldphoto_cli.degrade.make_pairs` (returns its records), the independent ones two
    256 px crops each with their own fixed seeds (returns the names)."""
    from oldphoto_cli.data import list_images, split

    _, validation = split(list_images(clean_dir))
    if not validation:
        raise FileNotFoundError(f"{clean_dir}: no validation-split images")
    if renderer == "own":
        from oldphoto_cli.degrade import make_pairs

        return make_pairs(validation, out_dir, count=len(validation), size=size, seed=seed,
                          on_progress=on_progress)  # fmt: skip
    if renderer in ("aging", "aging+damage"):
        from oldphoto_cli import aging2

        return aging2.make_pairs(validation, out_dir, structured=renderer == "aging+damage")
    if renderer == "damage":
        from oldphoto_cli import damage2

        return damage2.make_pairs(validation, out_dir)
    raise ValueError(f"renderer must be one of {RENDERERS}, not {renderer!r}")


TRUTHS = ("colour", "tone")


def tone_truths(pairs_dir: str | Path) -> dict[str, list[dict]]:
    """name -> the ``grayscale``/``tint`` steps the pair's degradation applied, read from
    ``manifest.jsonl`` (written by ``make_pairs``). No network can know the colours a grey
    or sepia print lost, and the mapping is trained to keep a photo's tone, so scoring it
    against the colour original measures colourisation as much as restoration."""
    manifest = Path(pairs_dir) / "manifest.jsonl"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: needed for --truth tone (made by make-validation)")
    steps = {}
    for line in manifest.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            steps[record["name"]] = [op for op in record["ops"]
                                     if op["name"] in ("grayscale", "tint")]  # fmt: skip
    return steps


# --------------------------------------------------------------------------- evaluation


@dataclass
class RowStats:
    """Running sums for one configuration."""

    config: EvalConfig
    psnr: list[float] = field(default_factory=list)
    psnr_tone_fit: list[float] = field(default_factory=list)
    psnr_damaged: list[float] = field(default_factory=list)  # pairs with a non-empty mask
    psnr_intact: list[float] = field(default_factory=list)  # the same, far from the mask
    ssim: list[float] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)
    seconds: float = 0.0
    megapixels: float = 0.0
    scratch_path: int = 0
    pred: list[np.ndarray] = field(default_factory=list)
    truth: list[np.ndarray] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        finite = [v for v in self.psnr if math.isfinite(v)]
        row: dict[str, Any] = {
            "name": self.config.name,
            "description": self.config.describe(),
            "config": asdict(self.config),
            "images": len(self.psnr),
            "psnr": _round(np.mean(finite)) if finite else None,
            "psnr_tone_fit": _mean_finite(self.psnr_tone_fit),
            "psnr_damaged": _mean_finite(self.psnr_damaged),
            "psnr_intact": _mean_finite(self.psnr_intact),
            "ssim": _round(np.mean(self.ssim), 4) if self.ssim else None,
            "sharpness": _round(np.mean(self.sharpness), 3) if self.sharpness else None,
            "seconds_per_mp": (
                _round(self.seconds / self.megapixels, 3)
                if self.megapixels and self.config.kind != "input"
                else None
            ),  # fmt: skip
            "scratch_path_share": (
                _round(self.scratch_path / len(self.psnr), 3)
                if self.config.kind == "pipeline" and self.psnr
                else None
            ),  # fmt: skip
        }
        if self.config.detects and self.pred:
            scores = detection_scores(np.concatenate(self.pred), np.concatenate(self.truth))
            row["detection"] = {k: _round(v, 4) for k, v in scores.items()}
        else:
            row["detection"] = None
        return row


def _round(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def _mean_finite(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return _round(np.mean(finite)) if finite else None


def _pipeline_options(
    config: EvalConfig, *, weights_dir, device, face_enhancer, keep_tone: bool,
    tone_curve: bool, deblock: bool,
) -> Any:
    from oldphoto_cli.pipeline import RestoreOptions

    detector = None if config.detector in (TRUE_MASK, NO_MASK) else config.detector
    return RestoreOptions(device=device, translator=config.translator, detector=detector,
                          with_scratch=config.with_scratch, face_enhancer=face_enhancer,
                          weights_dir=weights_dir, keep_tone=keep_tone,
                          tone_curve=tone_curve, deblock=deblock)  # fmt: skip


def run_config(
    config: EvalConfig, pipeline: Any, degraded: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """(restored, detected binary mask or None, took the scratch path) for one image."""
    if config.kind == "input":
        return degraded, None, False
    if config.kind == "classical":
        from oldphoto_classical import classical_restore

        return classical_restore(degraded, mask), None, bool(mask.any())
    if config.kind == "classical-blackhat":
        from oldphoto_classical.core import blackhat_scratch_map, classical_restore

        found = (blackhat_scratch_map(degraded) >= 0.5).astype(np.uint8)
        return classical_restore(degraded, found), None, bool(found.any())
    if config.detector == TRUE_MASK:
        result = pipeline.restore(degraded, mask=mask)
        return result.image, None, result.mask is not None
    if config.with_scratch == "off":
        result = pipeline.restore(degraded)
        return result.image, None, False
    # Detect once, score the undilated mask, and hand the dilated one to restore: exactly
    # the pipeline's own path (its mask rule, then with_scratch), without detecting twice.
    prob = pipeline.detect(degraded)
    detected = pipeline.mask_of(prob, dilate=False)
    result = pipeline.restore(degraded, mask=pipeline.mask_of(prob))
    return result.image, detected, result.mask is not None


def evaluate(
    pairs_dir: str | Path,
    configs: list[EvalConfig] | None = None,
    *,
    limit: int | None = None,
    weights_dir: str | None = None,
    device: str = "auto",
    face_enhancer: str = "none",
    keep_tone: bool = False,
    tone_curve: bool = True,
    deblock: bool = True,
    include_input: bool = True,
    include_classical: bool = True,
    identity: bool = False,
    truth: str = "colour",
    pipeline_factory: Callable[[Any], Any] | None = None,
    on_image: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Restore every pair with every configuration; one JSON-able report of per-config means.

    Pipelines are built once per distinct option set, before any image is timed.
    ``pipeline_factory(options)`` replaces :class:`RestorePipeline` (tests). ``keep_tone``
    is off by default: synthetic pairs have a colour ground truth, and keeping the
    degraded input's sepia or gray tone would score the tint, not the restoration.
    ``identity`` adds a do-no-harm row per pipeline row (:func:`identity_config`).
    ``truth="tone"`` scores damaged inputs against the clean image in the pair's own tone
    (:func:`tone_truths`): restoration without colourisation; ``"colour"`` against the
    colour original. ``tone_curve`` runs restore's global tone curve and ``deblock`` its
    JPEG deblocking (both on, as in restore).
    """
    if pipeline_factory is None:
        from oldphoto_cli.pipeline import RestorePipeline as pipeline_factory
    names = list_pairs(pairs_dir, limit)
    if not names:
        raise FileNotFoundError(f"{pairs_dir}: no pairs")
    if truth not in TRUTHS:
        raise ValueError(f"truth must be one of {TRUTHS}, not {truth!r}")
    tone_ops = tone_truths(pairs_dir) if truth == "tone" else {}
    from oldphoto_cli.degrade.unstructured import reapply_tone
    rows: list[EvalConfig] = []
    if include_input:
        rows.append(INPUT)
    if include_classical:
        try:
            import oldphoto_classical  # noqa: F401

            rows += [CLASSICAL, CLASSICAL_BLACKHAT]
        except ImportError:
            pass  # the baseline plugin is optional
    rows += list(configs if configs is not None else default_configs())
    if identity:
        rows += [identity_config(c) for c in rows if c.kind == "pipeline" and not c.clean_input]
    options_for = functools.partial(
        _pipeline_options, weights_dir=weights_dir, device=device, face_enhancer=face_enhancer,
        keep_tone=keep_tone, tone_curve=tone_curve, deblock=deblock,
    )  # fmt: skip
    pipelines: dict[Any, Any] = {}
    for config in rows:
        if config.kind == "pipeline":
            options = options_for(config)
            key = (options.translator, options.detector, options.with_scratch)
            if key not in pipelines:
                pipelines[key] = pipeline_factory(options)
            if config.detects:
                getattr(pipelines[key], "detector", None)  # lazy: load it before timing
    stats = {config.name: RowStats(config) for config in rows}
    for index, name in enumerate(names):
        if on_image is not None:
            on_image(index, len(names), name)
        degraded, clean, mask = load_pair(pairs_dir, name)
        if truth == "tone":
            if name not in tone_ops:
                raise ValueError(f"{pairs_dir}: manifest.jsonl has no record of {name}")
            toned = reapply_tone(clean, tone_ops[name])
        megapixels = degraded.shape[0] * degraded.shape[1] / 1e6
        for config in rows:
            pipeline = None
            if config.kind == "pipeline":
                options = options_for(config)
                pipeline = pipelines[(options.translator, options.detector, options.with_scratch)]
            source, true_mask = (clean, np.zeros_like(mask)) if config.clean_input else (
                degraded, mask)  # fmt: skip
            target = toned if truth == "tone" and not config.clean_input else clean
            started = time.perf_counter()
            restored, detected, scratch = run_config(config, pipeline, source, true_mask)
            elapsed = time.perf_counter() - started
            row = stats[config.name]
            row.seconds += elapsed
            row.megapixels += megapixels
            row.scratch_path += int(scratch)
            row.psnr.append(psnr(restored, target))
            row.psnr_tone_fit.append(tone_fitted_psnr(restored, target))
            damaged = masked_psnr(restored, target, true_mask)
            if damaged is not None:
                row.psnr_damaged.append(damaged)
            intact = intact_psnr(restored, target, true_mask)
            if intact is not None:
                row.psnr_intact.append(intact)
            row.ssim.append(ssim(np.asarray(restored, np.float32), target))
            row.sharpness.append(sharpness(restored, target))
            if detected is not None:
                row.pred.append(detected.ravel().astype(bool))
                row.truth.append(true_mask.ravel().astype(bool))
    return {
        "pairs_dir": str(pairs_dir),
        "images": len(names),
        "weights_dir": weights_dir,
        "device": device,
        "face_enhancer": face_enhancer,
        "truth": truth,
        "rows": [stats[config.name].summary() for config in rows],
    }


def render_table(report: dict[str, Any]) -> Any:
    """A rich Table of :func:`evaluate`'s report."""
    from rich.table import Table

    title = f"{report['pairs_dir']}: {report['images']} pairs"
    if report.get("weights_dir"):
        title += f", weights {report['weights_dir']}"
    table = Table(title=title)
    for header in ("config", "PSNR dB", "tone-fit", "damaged", "intact", "SSIM", "sharp", "det F1",
                   "det IoU", "s/MP", "scratch", "what"):  # fmt: skip
        left = header in ("config", "what")
        table.add_column(header, justify="left" if left else "right", no_wrap=header != "what")

    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    for row in report["rows"]:
        det = row.get("detection") or {}
        table.add_row(
            row["name"],
            fmt(row["psnr"], ".2f"),
            fmt(row.get("psnr_tone_fit"), ".2f"),
            fmt(row.get("psnr_damaged"), ".2f"),
            fmt(row.get("psnr_intact"), ".2f"),
            fmt(row["ssim"], ".4f"),
            fmt(row.get("sharpness"), ".3f"),
            fmt(det.get("f1"), ".3f"),
            fmt(det.get("iou"), ".3f"),
            fmt(row["seconds_per_mp"], ".2f"),
            fmt(row["scratch_path_share"], ".0%"),
            row["description"],
        )
    return table
