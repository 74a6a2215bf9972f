"""Batch runner: apply a processing function to many inputs, one failure never stops a run.

``run_batch(items, process_fn)`` chunks items into batches (``batch_size``), calls
``process_fn(batch) -> list[ItemResult]`` and, when a whole batch raises, retries its items
one by one so the error lands on the image that caused it. Each result is reported (JSON
line / error line) and the progress bar advanced as it completes.

``chain(*stages)`` composes stage callables into one ``image -> image`` function that
records which stages ran, for simple library use and plugin tests.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from oldphoto_cli.inputs import InputItem
from oldphoto_cli.progress import Reporter

OK, SKIPPED, ERROR = "ok", "skipped", "error"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class ItemResult:
    input: str
    output: str | None
    status: str  # ok | skipped | error
    error: str | None = None
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        record = {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 4),
        }
        record.update(self.info)
        return record


def result_for(item: InputItem, status: str, **kwargs: Any) -> ItemResult:
    output = str(item.output) if item.output is not None else None
    return ItemResult(str(item.path), output, status, **kwargs)


def one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


ProcessFn = Callable[[Sequence[InputItem]], list[ItemResult]]


def per_item(fn: Callable[[InputItem], ItemResult]) -> ProcessFn:
    """Adapt a single-item function to the batch interface."""

    def process(batch: Sequence[InputItem]) -> list[ItemResult]:
        return [fn(item) for item in batch]

    return process


def _batches(items: Sequence[InputItem], size: int) -> Iterable[Sequence[InputItem]]:
    size = max(1, int(size))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _isolate(process_fn: ProcessFn, item: InputItem) -> ItemResult:
    started = time.perf_counter()
    try:
        results = process_fn([item])
        return results[0]
    except Exception as error:
        return result_for(item, ERROR, error=one_line(error), seconds=time.perf_counter() - started)


def _reporter_for(reporter: Reporter, results: list[ItemResult]) -> Callable[[ItemResult], None]:
    """Record one finished item: keep it, print its error, emit its JSON, advance the bar.

    Thread-safe: the I/O threads report each image as soon as it is written.
    """
    lock = threading.Lock()

    def report(result: ItemResult) -> None:
        with lock:
            results.append(result)
            if result.status == ERROR:
                reporter.error(f"{result.input}: {result.error}")
            reporter.record(result.to_json())
            reporter.advance()

    return report


def _triage(
    items: Sequence[InputItem],
    report: Callable[[ItemResult], None],
    skip_existing: bool,
    outputs_of: Callable[[InputItem], list[Path]],
) -> list[InputItem]:
    """Report known-bad and finished items; return the ones to process.

    "Finished" means every final output exists: outputs are written to a hidden temp file
    and renamed, so a run killed mid-write leaves no file that counts as finished.
    """
    todo: list[InputItem] = []
    for item in items:
        if item.error:
            report(result_for(item, ERROR, error=item.error))
        elif skip_existing and (outs := outputs_of(item)) and all(p.exists() for p in outs):
            report(result_for(item, SKIPPED, error="output exists (use --overwrite)"))
        else:
            todo.append(item)
    return todo


def run_batch(
    items: Sequence[InputItem],
    process_fn: ProcessFn,
    *,
    batch_size: int = 1,
    reporter: Reporter | None = None,
    description: str = "restoring",
    skip_existing: bool = True,
    outputs_of: Callable[[InputItem], list[Path]] | None = None,
    results: list[ItemResult] | None = None,
) -> list[ItemResult]:
    """Run ``process_fn`` over ``items`` and report each result.

    Items with a known ``error`` fail without being processed; items whose outputs all
    exist are skipped when ``skip_existing`` (what makes re-running after a crash cheap).
    ``results`` (a list to fill) keeps what finished when ``KeyboardInterrupt`` escapes.
    """
    reporter = reporter or Reporter(quiet=True)
    outputs_of = outputs_of or (lambda item: [item.output] if item.output else [])
    results = [] if results is None else results
    report = _reporter_for(reporter, results)

    todo = _triage(items, report, skip_existing, outputs_of)
    reporter.start(len(todo), description)
    try:
        for batch in _batches(todo, batch_size):
            try:
                batch_results = process_fn(batch)
                if len(batch_results) != len(batch):
                    raise RuntimeError("process_fn returned a wrong number of results")
            except Exception:
                if len(batch) == 1:
                    batch_results = [_isolate(process_fn, batch[0])]
                else:
                    batch_results = [_isolate(process_fn, item) for item in batch]
            for result in batch_results:
                report(result)
    finally:
        reporter.stop()
    return results


class StagedJob(Protocol):
    """A per-image job split so reading and writing can overlap with compute.

    ``load`` (decode) and ``save`` (encode, write, build the result) run on I/O threads;
    ``compute`` runs on the calling thread. Any of them may raise: the item fails alone.
    """

    def load(self, item: InputItem) -> Any: ...

    def compute(self, item: InputItem, state: Any) -> Any: ...

    def save(self, item: InputItem, state: Any) -> ItemResult: ...


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    return fn(*args), time.perf_counter() - started


def run_overlapped(
    items: Sequence[InputItem],
    job: StagedJob,
    *,
    io_threads: int = 2,
    prefetch: int | None = None,
    reporter: Reporter | None = None,
    description: str = "restoring",
    skip_existing: bool = True,
    outputs_of: Callable[[InputItem], list[Path]] | None = None,
    results: list[ItemResult] | None = None,
) -> list[ItemResult]:
    """Like :func:`run_batch` with one image at a time, but the next images are read and
    the previous ones written by ``io_threads`` threads while this one is computed.

    At most ``prefetch`` (default ``io_threads``) images are read ahead and as many wait to
    be written, so memory stays bounded. Each result is reported by the thread that wrote
    it, as soon as it is written (so in the order writes finish); the returned list is in
    input order. An item's ``seconds`` is
    its read + compute + write time (not time spent queued). On ``KeyboardInterrupt`` the
    writes under way finish and are reported, reads not started are dropped, then it
    propagates (``results`` holds what finished).
    """
    reporter = reporter or Reporter(quiet=True)
    outputs_of = outputs_of or (lambda item: [item.output] if item.output else [])
    depth = max(1, prefetch if prefetch is not None else io_threads)
    results = [] if results is None else results
    report = _reporter_for(reporter, results)

    todo = iter(_triage(items, report, skip_existing, outputs_of))
    reporter.start(len(items) - len(results), description)
    pool = ThreadPoolExecutor(max(1, io_threads), thread_name_prefix="oldphoto-io")
    loads: deque[tuple[InputItem, Future]] = deque()
    saves: set[Future] = set()

    def read_ahead() -> None:
        while len(loads) < depth and (item := next(todo, None)) is not None:
            loads.append((item, pool.submit(_timed, job.load, item)))

    def save_and_report(item: InputItem, state: Any, spent: float) -> None:
        try:
            result, took = _timed(job.save, item, state)
            result.seconds = spent + took
        except Exception as error:
            result = result_for(item, ERROR, error=one_line(error), seconds=spent)
        report(result)

    try:
        read_ahead()
        while loads:
            item, loading = loads.popleft()
            spent = 0.0
            try:
                state, spent = loading.result()
                read_ahead()
                _, took = _timed(job.compute, item, state)
                spent += took
                saves.add(pool.submit(save_and_report, item, state, spent))
            except Exception as error:
                report(result_for(item, ERROR, error=one_line(error), seconds=spent))
            read_ahead()
            while len(saves) > depth:  # bounded write-behind
                saves = wait(saves, return_when=FIRST_COMPLETED).not_done
        wait(saves)
        order = {str(item.path): index for index, item in enumerate(items)}
        results.sort(key=lambda r: order.get(r.input, len(order)))  # returned in input order
    finally:
        for _, loading in loads:
            loading.cancel()
        pool.shutdown(wait=True)  # writes under way and queued finish
        reporter.stop()
    return results


def exit_code(results: Iterable[ItemResult]) -> int:
    """0 when every image is ok or skipped, 1 when any failed."""
    return EXIT_FAILED if any(r.status == ERROR for r in results) else EXIT_OK


def summary(results: Sequence[ItemResult]) -> str:
    counts = {OK: 0, SKIPPED: 0, ERROR: 0}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return f"{counts[OK]} ok, {counts[SKIPPED]} skipped, {counts[ERROR]} failed"


def chain(*stages: Callable[..., Any]) -> Callable[..., Any]:
    """Compose stage callables ``x -> x``; returns ``fn(x) -> (x, names)``."""

    def run(value: Any, **kwargs: Any) -> tuple[Any, list[str]]:
        names = []
        for stage in stages:
            value = stage(value, **kwargs)
            names.append(getattr(stage, "name", getattr(stage, "__name__", repr(stage))))
        return value, names

    return run


# --------------------------------------------------------------------------- jobs
# The per-image work of ``oldphoto restore`` and ``oldphoto detect``, as library functions.


def overlay(rgb: Any, mask: Any, opacity: float = 0.6) -> Any:
    """The image with the mask painted red, float RGB in [0, 1]."""
    import numpy as np

    out = np.array(rgb, np.float32, copy=True)
    red = np.array([1.0, 0.0, 0.0], np.float32)
    sel = np.asarray(mask) > 0
    out[sel] = out[sel] * (1 - opacity) + red * opacity
    return out


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
        return _run_staged(self, item)

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
        image = state["image"]
        name = (item.rel.parent / item.path.stem).as_posix()  # names saved face crops
        result = self.pipeline.restore(image.rgb, mask=state["mask"], name=name)
        restored = result.image
        if restored.shape[:2] != image.rgb.shape[:2]:
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
            stages_used = result.info.get("stages", {})  # {kind: stage name}
            info["stages"] = (
                dict(stages_used) if isinstance(stages_used, dict) else list(stages_used)
            )
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
        return _run_staged(self, item)

    def load(self, item: InputItem) -> dict[str, Any]:
        from oldphoto_cli import imageio

        return {"image": imageio.read_image(item.extra.get("data", item.path),
                                            self.max_megapixels, self.max_memory,
                                            imageio.DETECT_BYTES_PER_PIXEL)}  # fmt: skip

    def compute(self, item: InputItem, state: dict[str, Any]) -> dict[str, Any]:
        rgb = state["image"].rgb
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
                imageio.write_image(paths["overlay"], overlay(state["image"].rgb, mask))
            from oldphoto_cli.pipeline import mask_stats

            info = {"mask": mask_stats(mask), **state.get("info", {}),
                    "outputs": {k: str(v) for k, v in paths.items()}}  # fmt: skip
        except Exception as error:
            return result_for(item, ERROR, error=one_line(error))
        return result_for(item, OK, info=info)


def _run_staged(job: StagedJob, item: InputItem) -> ItemResult:
    """load -> compute -> save in this thread; any failure is this item's error result."""
    started = time.perf_counter()
    state: Any = None
    try:
        state = job.load(item)
        job.compute(item, state)
        result = job.save(item, state)
    except Exception as error:
        info = state.get("info", {}) if isinstance(state, dict) else {}
        return result_for(
            item, ERROR, error=one_line(error), seconds=time.perf_counter() - started, info=info
        )
    result.seconds = time.perf_counter() - started
    return result
