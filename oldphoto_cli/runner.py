"""Scheduling: run a per-image job over many inputs; one failure never stops a run.

A job (:class:`StagedJob`, e.g. :class:`oldphoto_cli.jobs.RestoreJob`) splits an image's
work into ``load``, ``compute`` and ``save``. :func:`run_overlapped` reads ahead and writes
behind on I/O threads while the current image is computed; :func:`run_batch` does one
image after the other. Each result is reported (JSON line / error line) and the progress
bar advanced as it completes; a failing item fails alone.
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
SKIP_EXISTS = "output exists (use --overwrite)"
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


ProcessFn = Callable[[InputItem], ItemResult]


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
            report(result_for(item, SKIPPED, error=SKIP_EXISTS))
        else:
            todo.append(item)
    return todo


def run_batch(
    items: Sequence[InputItem],
    process_fn: ProcessFn,
    *,
    reporter: Reporter | None = None,
    description: str = "restoring",
    skip_existing: bool = True,
    outputs_of: Callable[[InputItem], list[Path]] | None = None,
    results: list[ItemResult] | None = None,
) -> list[ItemResult]:
    """Run ``process_fn`` over ``items`` one after the other and report each result.

    Items with a known ``error`` fail without being processed; items whose outputs all
    exist are skipped when ``skip_existing`` (what makes re-running after a crash cheap).
    An exception from ``process_fn`` becomes that item's error result. ``results`` (a list
    to fill) keeps what finished when ``KeyboardInterrupt`` escapes.
    """
    reporter = reporter or Reporter(quiet=True)
    outputs_of = outputs_of or (lambda item: [item.output] if item.output else [])
    results = [] if results is None else results
    report = _reporter_for(reporter, results)

    todo = _triage(items, report, skip_existing, outputs_of)
    reporter.start(len(todo), description)
    try:
        for item in todo:
            started = time.perf_counter()
            try:
                result = process_fn(item)
            except Exception as error:
                result = result_for(item, ERROR, error=one_line(error),
                                    seconds=time.perf_counter() - started)  # fmt: skip
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


def skip_reasons(results: Sequence[ItemResult], names: int = 3) -> str:
    """Why images were skipped, for the summary: "skipped because the output exists
    (--overwrite replaces it): a.jpg, b.jpg"; empty when none was."""
    why: dict[str, list[str]] = {}
    for result in results:
        if result.status == SKIPPED:
            why.setdefault(result.error or "skipped", []).append(Path(result.output or "").name)
    lines = []
    for reason, outputs in why.items():
        shown = ", ".join(outputs[:names]) + (f" and {len(outputs) - names} more"
                                              if len(outputs) > names else "")  # fmt: skip
        lines.append(f"skipped because the {reason}: {shown}")
    return "; ".join(lines)


def run_staged(job: StagedJob, item: InputItem) -> ItemResult:
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
