"""The skeleton ``oldphoto restore`` and ``oldphoto detect`` share (:func:`run_command`): list
the inputs, plan and check the outputs, take this process's shard, set up the device and the
per-image job, run it over every image, then summarise and exit. What a command adds is a
:class:`BatchCommand` (the two are in :mod:`oldphoto_cli.cli_restore`).

Exit codes: 0 every image ok (or skipped), 1 some images failed (or the pipeline could not
be set up), 2 usage error (found before any image), 130 interrupted (Ctrl-C).

Importing this module (``oldphoto --help``) loads click only: numpy, OpenCV, rich and torch
are imported inside the functions, when there is work for them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from oldphoto_cli import distributed

if TYPE_CHECKING:
    from oldphoto_cli import inputs, runner
    from oldphoto_cli.cli_options import BatchOptions
    from oldphoto_cli.progress import Reporter

OutputsOf = Callable[["inputs.InputItem"], list[Path]]


@dataclass
class Batch:
    """One run of restore or detect once its command line is read: the options both take,
    this process's torchrun rank, where notes and records go, and IN... OUT split."""

    options: BatchOptions
    rank: distributed.RankInfo
    reporter: Reporter
    in_args: list[str]  # IN..., as given
    out: str  # OUT as given: a folder, a file name, or '-' (stdout)


class BatchCommand:
    """What a command adds to :func:`run_command`; the methods are called in the order they
    are written here, each once per run. ``plan_outputs``, ``outputs_on_disk`` and
    ``make_job`` have no default."""

    description = "restoring"  # the progress bar's label
    file_out = True  # OUT may name the one output file; False: OUT is always a folder
    fp16 = False  # the older --fp16 spelling of --precision fp16 was given

    def check_options(self, batch: Batch) -> None:
        """Usage errors in the command's own options, before any input is listed."""

    def not_inputs(self) -> tuple[str | None, ...]:
        """Folders besides OUT that input folders are never descended into."""
        return ()

    def plan_outputs(self, batch: Batch, items: list[inputs.InputItem]) -> list[inputs.InputItem]:
        """Set each item's output, on the full list (before sharding, so collisions between
        shards are seen); returns the items to keep."""
        raise NotImplementedError

    def outputs_on_disk(self, batch: Batch, item: inputs.InputItem) -> list[Path]:
        """The files written for ``item`` (stdout never is one): all there means done."""
        raise NotImplementedError

    def side_outputs(self) -> dict[str, Path]:
        """Files written once per run, by the option that asks for them."""
        return {}

    def stages(self) -> dict[str, str | None]:
        """The stage named for each kind on the command line (None: the default)."""
        return {}

    def make_job(
        self, batch: Batch, items: list[inputs.InputItem], device: str, precision: str
    ) -> runner.StagedJob:
        """The per-image job, with every model it needs loaded (:func:`make_pipeline`)."""
        raise NotImplementedError

    def finished(self, batch: Batch, job: Any, results: list[runner.ItemResult]) -> None:
        """After the last image, before the summary."""


def run_command(options: BatchOptions, command: BatchCommand) -> NoReturn:
    """Run ``command`` over its inputs and exit with the batch's status. Every usage error
    comes before the first image is read; one image failing never stops the others."""
    batch = _start(options)
    command.check_options(batch)
    items = _collect(batch, also_exclude=command.not_inputs(), file_out=command.file_out)
    items = command.plan_outputs(batch, items)

    def outputs_of(item: inputs.InputItem) -> list[Path]:
        return command.outputs_on_disk(batch, item)

    _check_writable(items, outputs_of)
    _check_side_outputs(command.side_outputs())
    items = _shard(items, options.shard, batch.rank)
    for kind, name in command.stages().items():
        _check_stage(kind, name)
    device, precision = _device(batch, command.fp16)
    job = command.make_job(batch, items, device, precision)
    results = _run(batch, items, job, command.description, outputs_of)
    command.finished(batch, job, results)
    _finish(results, batch.reporter, batch.rank)


def _start(options: BatchOptions) -> Batch:
    rank = _rank()
    reporter = _reporter(options.quiet, options.as_json, rank)
    in_args, out = _split_paths(options.paths, options.files_from)
    return Batch(options, rank, reporter, in_args, out)


OLD_STDIN_SPELLING = (
    "'-' as IN is now one image's bytes on stdin (cat old.jpg | oldphoto restore - - > "
    "new.jpg); stdin here holds a list of paths: use --files-from - (add -0 for "
    "NUL-separated names)"
)


def _split_paths(paths: tuple[str, ...], files_from: str | None) -> tuple[list[str], str]:
    if len(paths) < 2 and not (files_from and paths):
        raise click.UsageError(
            "need at least one input and an output: IN... OUT (or --files-from FILE OUT; "
            "'-' is an image on stdin/stdout)"
        )
    return list(paths[:-1]), paths[-1]


def _looks_like_path_list(data: bytes) -> bool:
    """Whether stdin holds paths (the old ``oldphoto restore - OUT`` spelling), not an image."""
    import os
    import re

    first = re.split(rb"[\n\0]", data.strip(b"\r\n\0"), maxsplit=1)[0].strip(b"\r")
    if not first or len(first) > 4096:
        return False
    name = os.fsdecode(first)
    printable = not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", name)
    return printable and ("/" in name or "." in name or os.path.exists(name))


def _stdin_bytes() -> bytes:
    """All of stdin as bytes (file names need not be UTF-8; images are binary)."""
    return getattr(sys.stdin, "buffer", sys.stdin).read()


def _stdin_image() -> inputs.InputItem:
    """IN '-': one image's bytes from stdin."""
    from oldphoto_cli import imageio, inputs

    data = _stdin_bytes()
    if not data:
        raise click.UsageError("'-' reads one image from stdin, and stdin is empty")
    if not imageio.sniff_image(data) and _looks_like_path_list(data):
        raise click.UsageError(OLD_STDIN_SPELLING)
    return inputs.InputItem(inputs.STDIO, Path("stdin"), extra={"data": data})


def to_stdout(items: list[inputs.InputItem], batch: Batch, fmt: str | None) -> None:
    """OUT '-': the one result goes to stdout as ``fmt`` (None: the input's format)."""
    from oldphoto_cli import inputs

    if batch.rank.active:
        raise click.UsageError("OUT '-' (stdout) cannot be shared by torchrun ranks")
    if len(items) != 1:
        raise click.UsageError(f"OUT '-' (stdout) takes exactly one image, got {len(items)}")
    if batch.options.as_json:
        raise click.UsageError("--json prints to stdout, which OUT '-' uses for the image")
    items[0].output = inputs.STDIO
    items[0].extra["format"] = fmt


def _check_stage(kind: str, name: str | None) -> None:
    if name is None or (kind == "face_enhance" and name == "none"):
        return
    from oldphoto_cli import stages

    try:
        stages.get(kind, name)
    except KeyError as error:
        raise click.UsageError(str(error.args[0])) from None
    except Exception as error:  # e.g. PluginError: duplicate registrations
        raise click.UsageError(str(error)) from None


def _rank() -> distributed.RankInfo:
    try:
        return distributed.rank_from_env()
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _reporter(quiet: bool, as_json: bool, rank: distributed.RankInfo) -> Reporter:
    """Rank 0 prints notes, progress and (merged) JSON; other ranks only their errors."""
    from oldphoto_cli.progress import Reporter

    if rank.main:
        return Reporter(quiet=quiet, json_lines=as_json)
    return Reporter(quiet=True, json_lines=False)


def _shard(
    items: list[inputs.InputItem], shard: str | None, rank: distributed.RankInfo
) -> list[inputs.InputItem]:
    """This process's part: ``--shard`` and the torchrun rank together. Applied after the
    outputs are planned on the full list, so collisions between shards are still seen."""
    from oldphoto_cli import inputs

    try:
        parsed = inputs.parse_shard(shard)
    except inputs.InputError as error:
        raise click.UsageError(str(error)) from None
    return inputs.shard_items(items, distributed.effective_shard(parsed, rank))


def _collect(
    batch: Batch, also_exclude: tuple[str | None, ...] = (), file_out: bool = True
) -> list[inputs.InputItem]:
    """All inputs, sorted (not yet sharded: see :func:`_shard`). Input folders are never
    descended into OUT (nor ``also_exclude``, e.g. the report folder)."""
    in_args, files_from = batch.in_args, batch.options.files_from
    uses_stdin = "-" in in_args or files_from == "-"
    if uses_stdin and sys.stdin is None:
        raise click.UsageError("'-' needs stdin")
    if uses_stdin and batch.rank.active:
        raise click.UsageError(
            "stdin ('-', --files-from -) cannot be shared by torchrun ranks; "
            "pass files/folders, or use --shard K/N with one process per list"
        )
    if batch.options.null_separated and not files_from:
        raise click.UsageError(
            "-0/--null goes with --files-from (a list of paths); " + OLD_STDIN_SPELLING
        )
    if "-" in in_args and (len(in_args) > 1 or files_from == "-"):
        raise click.UsageError("'-' (an image on stdin) must be the only input")
    if "-" in in_args:
        return [_stdin_input(batch.out, file_out)]
    return _listed_inputs(batch, also_exclude)


def _stdin_input(out: str, file_out: bool) -> inputs.InputItem:
    """IN '-' (the only input), once OUT is known to suit it."""
    from oldphoto_cli import imageio

    item = _stdin_image()
    if out != "-" and not file_out:
        raise click.UsageError("with '-' as IN, OUT is '-' (the result on stdout)")
    if out != "-":
        check_unwritable(Path(out))
    if out != "-" and (not imageio.is_image_path(out) or Path(out).is_dir()):
        raise click.UsageError("with '-' as IN, OUT is '-' (stdout) or a file name such as new.jpg")
    return item


def _listed_inputs(batch: Batch, also_exclude: tuple[str | None, ...]) -> list[inputs.InputItem]:
    """The files and folders of IN... and --files-from, sorted; notes say what was skipped."""
    from oldphoto_cli import inputs

    options = batch.options
    files_from, null_separated = options.files_from, options.null_separated
    listed: list[str] = []
    try:
        inputs.parse_shard(options.shard)
        if files_from:
            if files_from == "-":
                listed = inputs.read_path_list(_stdin_bytes(), null_separated)
            else:
                with open(files_from, "rb") as handle:
                    listed = inputs.read_path_list(handle.read(), null_separated)
        collected = inputs.collect_inputs(
            batch.in_args,
            recursive=options.recursive,
            listed=listed,
            exclude=[e for e in (batch.out, *also_exclude) if e and e != "-"],
        )
        items = inputs.shard_items(collected.items, None)
    except OSError as error:
        raise click.UsageError(f"--files-from {files_from}: {error.strerror or error}") from None
    except inputs.InputError as error:
        raise click.UsageError(str(error)) from None
    for note in collected.notes:
        batch.reporter.note(note)
    return items


def check_unwritable(out: Path) -> None:
    """OUT named with the extension of a format oldphoto does not write (``x.avif``)."""
    from oldphoto_cli import imageio

    suffix = out.suffix.lower()
    if suffix in imageio.UNWRITABLE_IMAGE_EXTENSIONS and not out.is_dir():
        raise click.UsageError(f"OUT {out}: cannot write {suffix} images; output formats: "
                               f"{', '.join(imageio.IMAGE_EXTENSIONS)}")  # fmt: skip


def drop_own_outputs(
    items: list[inputs.InputItem],
    outputs_of: Callable[[inputs.InputItem], Any],
    reporter: Reporter,
) -> list[inputs.InputItem]:
    """The items that are not this run's own outputs (a rerun in place); a note for each
    that is dropped."""
    from oldphoto_cli import inputs

    items, notes = inputs.drop_own_outputs(items, outputs_of)
    for note in notes:
        reporter.note(note)
    return items


def _check_writable(items: list[inputs.InputItem], outputs_of: OutputsOf) -> None:
    from oldphoto_cli import inputs

    paths = [p for i in items if not i.error for p in outputs_of(i) if p != inputs.STDIO]
    try:
        inputs.check_writable(paths)
    except inputs.InputError as error:
        raise click.UsageError(str(error)) from None


def _check_side_outputs(paths: dict[str, Path]) -> None:
    from oldphoto_cli import inputs

    for option, path in paths.items():
        try:
            inputs.check_writable([path])
        except inputs.InputError as error:
            raise click.UsageError(f"{option}: {error}") from None


def _device(batch: Batch, fp16: bool) -> tuple[str, str]:
    """(device, precision) for the run; a precision the device lacks becomes fp32 + note."""
    from oldphoto_cli.device import DeviceError, resolve_device, resolve_precision

    precision = batch.options.precision
    if fp16:
        if precision not in ("auto", "fp16"):
            raise click.UsageError(f"--fp16 contradicts --precision {precision}")
        precision = "fp16"
    device = distributed.rank_device(batch.options.device, batch.rank)
    try:
        resolved = resolve_device(device)
    except DeviceError as error:
        raise click.UsageError(str(error)) from None
    precision, note = resolve_precision(resolved, precision)
    if note:
        batch.reporter.note(note.replace("--precision fp16", "--fp16") if fp16 else note)
    return str(resolved), precision


def make_pipeline(options: Any, detect_only: bool = False, eager_detector: bool = False) -> Any:
    """Build every stage the run will use before the first image, so bad weights fail
    once (exit 1, one line) instead of once per image."""
    from oldphoto_cli import hostmem, runner
    from oldphoto_cli.pipeline import RestorePipeline

    hostmem.keep_freed_memory()  # ~1/3 less CPU per image (see hostmem)
    try:
        pipeline = RestorePipeline(options, detect_only=detect_only)
        if eager_detector and not detect_only:
            getattr(pipeline, "detector", None)  # built on first use otherwise
        return pipeline
    except KeyboardInterrupt:
        click.echo("oldphoto: error: interrupted while loading the models; nothing written",
                   err=True)  # fmt: skip
        sys.exit(runner.EXIT_INTERRUPTED)
    except (KeyError, ValueError) as error:  # unknown stage, bad option: usage error
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        raise click.UsageError(runner.one_line(message)) from None  # type: ignore[arg-type]
    except Exception as error:  # missing/corrupt weights and the like: clear line, exit 1
        click.echo(
            f"oldphoto: error: cannot set up the pipeline: {runner.one_line(error)}", err=True
        )
        sys.exit(runner.EXIT_FAILED)


def _run(
    batch: Batch,
    items: list[inputs.InputItem],
    job: runner.StagedJob,
    description: str,
    outputs_of: OutputsOf,
) -> list[runner.ItemResult]:
    """Overlapped read/compute/write with I/O threads, or one image after the other with 0.

    Ctrl-C: the records of the images already written are out; exit 130 after a summary.
    """
    from oldphoto_cli import runner

    io_threads, reporter = batch.options.io_threads, batch.reporter
    results: list[runner.ItemResult] = []
    settings: dict[str, Any] = dict(
        reporter=reporter,
        description=description,
        skip_existing=not batch.options.overwrite,
        outputs_of=outputs_of,
        results=results,  # what finished, should Ctrl-C end the run
    )
    try:
        if io_threads > 0:
            return runner.run_overlapped(items, job, io_threads=io_threads, **settings)
        return runner.run_batch(items, job, **settings)
    except KeyboardInterrupt:
        reporter.stop()
        done = runner.summary(results) if results else "nothing finished"
        reporter.error(f"interrupted: {done}; rerun the same command to resume")
        sys.exit(runner.EXIT_INTERRUPTED)


def _finish(
    results: list[runner.ItemResult], reporter: Reporter, rank: distributed.RankInfo
) -> NoReturn:
    """Summary and exit status; under torchrun merged over all ranks (same exit everywhere)."""
    from oldphoto_cli import runner

    failed = runner.exit_code(results) != runner.EXIT_OK
    try:
        merged = distributed.merge_results(results, failed, rank)
    except Exception as error:  # a rank died or the rendezvous broke
        click.echo(
            f"oldphoto: error: rank {rank.rank}: cannot merge results with the other ranks: "
            f"{runner.one_line(error)}",
            err=True,
        )
        sys.exit(runner.EXIT_FAILED)
    for result in merged.others:
        reporter.record(result.to_json())
    results = merged.all_results
    processes = f" ({rank.world} processes)" if rank.active and rank.can_merge else ""
    if rank.active and not rank.can_merge:
        processes = f" (rank {rank.rank} of {rank.world}; no rendezvous to merge with)"
    if results:
        reporter.note(runner.summary(results) + processes)
        if why := runner.skip_reasons(results):
            reporter.note(why)
    else:
        reporter.note("no images to process" + processes)
    sys.exit(runner.EXIT_FAILED if merged.failed else runner.EXIT_OK)
