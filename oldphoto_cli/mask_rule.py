"""From a detector's probability map to a defect mask, using connectivity and shape.

A plain threshold fails real prints twice over: a crack's probability sags along its
length (faint stretches, crossings with content), so a high threshold breaks it into
dashes and leaves most of it; a low one marks compact bright things (eyes, buttons, lips,
catchlights) that a detector rates as possible specks. Damage and content differ in shape
far more than in brightness: cracks and scratches are long and thin, content that looks
like a speck is compact. So (:func:`line_aware_mask`):

1. *hysteresis*: regions above ``low`` are kept only when they hold a seed above
   ``threshold`` (confident detections grow along weaker evidence, as Canny edges do);
2. *shape*: a kept region that is line-like (aspect ``length / width`` of at least
   ``line_aspect``, measured as area / (2 x max half-width)^2) stays at that; a compact one
   must also reach ``blob`` somewhere, a higher bar;
3. regions smaller than ``min_area`` pixels go (grain).

``low = threshold`` and ``blob = threshold`` give back the plain threshold rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MaskRule:
    threshold: float = 0.6  # a region needs a pixel above this (the seed)
    low: float | None = None  # grow seeds through pixels above this (None: threshold)
    blob: float | None = None  # compact regions need a pixel above this (None: threshold)
    min_area: int = 8  # smaller regions are grain
    line_aspect: float = 4.0  # area / (2 x max half-width)^2 at least this: a line

    def __post_init__(self) -> None:
        for name in ("threshold", "low", "blob"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.low is not None and self.low > self.threshold:
            raise ValueError(f"low ({self.low}) must not exceed threshold ({self.threshold})")


def rule_options(text: str | None) -> dict[str, float]:
    """``"T[,LOW[,BLOB]]"`` (the benchmarks' ``--rule``) as ``RestoreOptions`` keywords:
    ``threshold``, ``low_threshold``, ``blob_threshold``; None or "" gives {}."""
    if not text:
        return {}
    values = [float(v) for v in text.split(",")]
    if len(values) > 3:
        raise ValueError(f"a rule is T[,LOW[,BLOB]], not {text!r}")
    return dict(zip(("threshold", "low_threshold", "blob_threshold"), values, strict=False))


def _per_label_max(labels: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """Max of ``values`` over each label 0..count-1 (labels and values: same shape)."""
    out = np.zeros(count, np.float32)
    idx = np.flatnonzero(labels)
    np.maximum.at(out, labels.reshape(-1)[idx], values.reshape(-1)[idx].astype(np.float32))
    return out


def line_aware_mask(prob: np.ndarray, rule: MaskRule) -> np.ndarray:
    """HxW uint8 {0, 1} defect mask of ``prob`` (HxW in [0, 1]) by ``rule`` (module doc)."""
    prob = np.asarray(prob, np.float32)
    low = rule.threshold if rule.low is None else rule.low
    blob = rule.threshold if rule.blob is None else max(rule.blob, rule.threshold)
    candidate = (prob > low).astype(np.uint8)
    if not candidate.any():
        return candidate
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
    peak = _per_label_max(labels, prob, count)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float32)
    keep = (peak > rule.threshold) & (area >= max(rule.min_area, 1))
    if blob > rule.threshold:
        # max half-width of each region: the distance transform's peak inside it
        half = _per_label_max(labels, cv2.distanceTransform(candidate, cv2.DIST_L2, 3), count)
        aspect = area / np.maximum(2.0 * half, 1.0) ** 2
        keep &= (aspect >= rule.line_aspect) | (peak > blob)
    keep[0] = False  # background
    return keep[labels].astype(np.uint8)
