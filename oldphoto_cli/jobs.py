"""The per-image work of ``oldphoto restore`` and ``oldphoto detect``, as library jobs.

Each job has ``load`` (read; an I/O thread), ``compute`` (the pipeline; the calling
thread) and ``save`` (write and build the result; an I/O thread), scheduled by
:mod:`oldphoto_cli.runner`; calling a job runs the three in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oldphoto_cli.inputs import InputItem
from oldphoto_cli.runner import ERROR, OK, ItemResult, one_line, result_for, run_staged


def overlay(rgb: Any, mask: Any, opacity: float = 0.6) -> Any:
    """The image with the mask painted red: float RGB in [0, 1], or uint8 for uint8."""
    import numpy as np

    out = np.array(rgb, copy=True)
    top = 255.0 if out.dtype == np.uint8 else 1.0
    red = np.array([top, 0.0, 0.0], np.float32)
    sel = np.asarray(mask) > 0
    blended = out[sel].astype(np.float32) * (1 - opacity) + red * opacity
    out[sel] = np.rint(blended) if out.dtype == np.uint8 else blended
    return out


def _input_for(pipeline: Any, image: Any) -> Any:
    """The photo as ``pipeline`` takes it: 8-bit pixels where it takes uint8, else float."""
    return image.pixels if getattr(pipeline, "takes_uint8", False) else image.rgb


@dataclass
class RestoreJob:
    """Restore one item: read, pick a mask, run the pipeline, write back alike."""

    pipeline: Any
    mask_dir: Path | None = None
    mask_dilate: int = 0  # grow --mask-dir masks by this (restore's --dilate), as detected ones
    intermediates_dir: Path | None = None
    max_megapixels: float | None = 300.0
    max_memory: float | None = None  # bytes; None: what is available when each is read
    report: Any = None  # a report.ReportWriter collecting before/after/mask per image
    note: Callable[[str], None] | None = None  # one-line notes (e.g. a missing mask)

    def __call__(self, item: InputItem) -> ItemResult:
        return run_staged(self, item)

    def load(self, item: InputItem) -> dict[str, Any]:
        """Read the image (and its mask from ``mask_dir``); runs on an I/O thread."""
        from oldphoto_cli import imageio, inputs

        state: dict[str, Any] = {"info": {}}
        state["image"] = image = imageio.read_image(
            item.extra.get("data", item.path), self.max_megapixels, self.max_memory,
            imageio.RESTORE_BYTES_PER_PIXEL,
        )  # fmt: skip
        state["mask"] = None
        if image.frames > 1:
            state["info"]["frames"] = image.frames
            if self.note is not None:
                self.note(f"{item.path}: has {image.frames} frames/pages; only the first is "
                          "restored")  # fmt: skip
        if self.mask_dir is not None:
            mask_path = inputs.find_mask(self.mask_dir, item)
            if mask_path is not None:
                mask = imageio.read_mask(mask_path, image.size)
                if self.mask_dilate > 0:
                    from oldphoto_cli.pipeline import grow_mask

                    mask = grow_mask(mask, self.mask_dilate)
                state["mask"] = mask
                state["info"]["mask_source"] = str(mask_path)
            else:
                state["info"]["mask_source"] = "detected: no mask in --mask-dir"
                if self.note is not None:
                    self.note(f"{item.path}: no mask for it in {self.mask_dir}: detecting instead")
        return state

    def compute(self, item: InputItem, state: dict[str, Any]) -> dict[str, Any]:
        from oldphoto_cli import hostmem

        image = state["image"]
        hostmem.fit_to(image.size[0] * image.size[1])  # large photos: no kept heap
        name = (item.rel.parent / item.path.stem).as_posix()  # names saved face crops
        result = self.pipeline.restore(_input_for(self.pipeline, image), mask=state["mask"],
                                       name=name)  # fmt: skip
        restored = result.image
        if restored.shape[:2] != image.pixels.shape[:2]:
            raise RuntimeError(
                f"pipeline returned {restored.shape[1]}x{restored.shape[0]}, "
                f"expected {image.size[0]}x{image.size[1]}"
            )
        state["result"] = result
        return state

    def save(self, item: InputItem, state: dict[str, Any]) -> ItemResult:
        """Write the output like the input and build the result; runs on an I/O thread."""
        from oldphoto_cli import imageio

        image, result, info = state["image"], state["result"], state["info"]
        try:
            imageio.write_image(item.output, result.image, image, fmt=item.extra.get("format"))
            info["stages"] = dict(result.info["stages"])  # {kind: stage name}
            extra = {k: v for k, v in result.info.items() if k not in ("stages", "mask")}
            if extra:
                info["pipeline"] = extra
            from oldphoto_cli.pipeline import mask_stats

            info["mask"] = mask_stats(result.mask) if result.mask is not None else None
            info["mode"] = image.mode + (
                "A"
                if image.alpha is not None
                and imageio.output_format(item.output) in imageio.ALPHA_FORMATS
                else ""
            )
            info["bit_depth"] = image.bit_depth
            if self.intermediates_dir is not None and result.intermediates:
                info["intermediates"] = self._save_intermediates(item, result.intermediates)
        except Exception as error:
            return result_for(item, ERROR, error=one_line(error), info=info)
        done = result_for(item, OK, info=info)
        if self.report is not None:
            self.report.add(item, image, result, done)
        return done

    def _save_intermediates(self, item: InputItem, arrays: dict[str, Any]) -> list[str]:
        import numpy as np

        from oldphoto_cli import imageio

        written = []
        for name, array in arrays.items():
            array = np.asarray(array, np.float32)
            if array.ndim == 2:
                array = np.repeat(array[..., None], 3, axis=2)
            if array.ndim != 3 or array.shape[2] != 3:
                continue  # latents and other non-images are not written
            path = self.intermediates_dir / item.rel.parent / f"{item.path.stem}_{name}.png"
            imageio.write_image(path, array)
            written.append(str(path))
        return written


def detect_outputs(
    item: InputItem, out: Path, mask_dir: Path | None, save_mask: bool, save_overlay: bool
) -> dict[str, Path]:
    """Where ``detect`` writes for ``item``: ``<stem>_mask.png``, ``<stem>_overlay.png``."""
    outputs = {}
    stem = item.path.stem
    if save_mask:
        outputs["mask"] = (mask_dir or out) / item.rel.parent / f"{stem}_mask.png"
    if save_overlay:
        outputs["overlay"] = out / item.rel.parent / f"{stem}_overlay.png"
    return outputs


@dataclass
class DetectJob:
    """Detect scratches on one item: the mask restore would make (threshold, min_area,
    dilate, spare faces: ``RestorePipeline.detected_mask``) -> mask/overlay."""

    pipeline: Any
    outputs: Callable[[InputItem], dict[str, Path]]
    max_megapixels: float | None = 300.0
    max_memory: float | None = None

    def __call__(self, item: InputItem) -> ItemResult:
        return run_staged(self, item)

    def load(self, item: InputItem) -> dict[str, Any]:
        from oldphoto_cli import imageio

        return {"image": imageio.read_image(item.extra.get("data", item.path),
                                            self.max_megapixels, self.max_memory,
                                            imageio.DETECT_BYTES_PER_PIXEL)}  # fmt: skip

    def compute(self, item: InputItem, state: dict[str, Any]) -> dict[str, Any]:
        from oldphoto_cli import hostmem

        hostmem.fit_to(state["image"].size[0] * state["image"].size[1])
        rgb = _input_for(self.pipeline, state["image"])
        state["info"] = {}
        state["mask"] = mask = self.pipeline.detected_mask(rgb, state["info"])[0]
        if mask.shape != rgb.shape[:2]:
            raise RuntimeError("detector returned a mask of the wrong size")
        return state

    def save(self, item: InputItem, state: dict[str, Any]) -> ItemResult:
        from oldphoto_cli import imageio

        mask = state["mask"]
        try:
            paths = self.outputs(item)
            if "mask" in paths:
                imageio.write_mask(paths["mask"], mask)
            if "overlay" in paths:
                imageio.write_image(paths["overlay"], overlay(state["image"].pixels, mask))
            from oldphoto_cli.pipeline import mask_stats

            info = {"mask": mask_stats(mask), **state.get("info", {}),
                    "outputs": {k: str(v) for k, v in paths.items()}}  # fmt: skip
        except Exception as error:
            return result_for(item, ERROR, error=one_line(error))
        return result_for(item, OK, info=info)
