"""``oldphoto restore`` and ``oldphoto detect``: thin wrappers over inputs/runner/imageio.

Exit codes: 0 every image ok (or skipped), 1 some images failed (or the pipeline could not
be set up), 2 usage error (found before any image), 130 interrupted (Ctrl-C).

Importing this module (``oldphoto --help``) loads click only: numpy, OpenCV, rich and torch
are imported inside the commands, when there is work for them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oldphoto_cli import distributed
from oldphoto_cli.cli_options import (
    DETECT_OPTIONS,
    DETECT_SECTIONS,
    EXIT_CODES,
    RESTORE_OPTIONS,
    RESTORE_SECTIONS,
    SectionedCommand,
)

if TYPE_CHECKING:
    from oldphoto_cli import inputs, runner
    from oldphoto_cli.progress import Reporter


def _usage(message: str) -> click.UsageError:
    return click.UsageError(message)


OLD_STDIN_SPELLING = (
    "'-' as IN is now one image's bytes on stdin (cat old.jpg | oldphoto restore - - > "
    "new.jpg); stdin here holds a list of paths: use --files-from - (add -0 for "
    "NUL-separated names)"
)


def _split_paths(paths: tuple[str, ...], files_from: str | None) -> tuple[list[str], str]:
    if len(paths) < 2 and not (files_from and paths):
        raise _usage(
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
        raise _usage("'-' reads one image from stdin, and stdin is empty")
    if not imageio.sniff_image(data) and _looks_like_path_list(data):
        raise _usage(OLD_STDIN_SPELLING)
    return inputs.InputItem(inputs.STDIO, Path("stdin"), extra={"data": data})


def _to_stdout(
    items: list[inputs.InputItem],
    as_json: bool,
    fmt: str | None,
    rank: distributed.RankInfo | None = None,
) -> None:
    """OUT '-': the one result goes to stdout as ``fmt`` (None: the input's format)."""
    from oldphoto_cli import inputs

    if rank is not None and rank.active:
        raise _usage("OUT '-' (stdout) cannot be shared by torchrun ranks")
    if len(items) != 1:
        raise _usage(f"OUT '-' (stdout) takes exactly one image, got {len(items)}")
    if as_json:
        raise _usage("--json prints to stdout, which OUT '-' uses for the image")
    items[0].output = inputs.STDIO
    items[0].extra["format"] = fmt


def _check_stage(kind: str, name: str | None) -> None:
    if name is None or (kind == "face_enhance" and name == "none"):
        return
    from oldphoto_cli import stages

    try:
        stages.get(kind, name)
    except KeyError as error:
        raise _usage(str(error.args[0])) from None
    except Exception as error:  # e.g. PluginError: duplicate registrations
        raise _usage(str(error)) from None


def _rank() -> distributed.RankInfo:
    try:
        return distributed.rank_from_env()
    except ValueError as error:
        raise _usage(str(error)) from None


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
        raise _usage(str(error)) from None
    return inputs.shard_items(items, distributed.effective_shard(parsed, rank))


def _collect(
    in_args: list[str],
    out: str,
    recursive: bool,
    files_from: str | None,
    null_separated: bool,
    shard: str | None,
    reporter: Reporter,
    rank: distributed.RankInfo | None = None,
    also_exclude: tuple[str | None, ...] = (),
    file_out: bool = True,
) -> list[inputs.InputItem]:
    """All inputs, sorted (not yet sharded: see :func:`_shard`). Input folders are never
    descended into OUT (nor ``also_exclude``, e.g. the report folder)."""
    from oldphoto_cli import imageio, inputs

    uses_stdin = "-" in in_args or files_from == "-"
    if uses_stdin and sys.stdin is None:
        raise _usage("'-' needs stdin")
    if uses_stdin and rank is not None and rank.active:
        raise _usage(
            "stdin ('-', --files-from -) cannot be shared by torchrun ranks; "
            "pass files/folders, or use --shard K/N with one process per list"
        )
    if null_separated and not files_from:
        raise _usage("-0/--null goes with --files-from (a list of paths); " + OLD_STDIN_SPELLING)
    if "-" in in_args and (len(in_args) > 1 or files_from == "-"):
        raise _usage("'-' (an image on stdin) must be the only input")
    if "-" in in_args:
        item = _stdin_image()
        if out != "-" and not file_out:
            raise _usage("with '-' as IN, OUT is '-' (the result on stdout)")
        if out != "-":
            _check_unwritable(Path(out))
        if out != "-" and (not imageio.is_image_path(out) or Path(out).is_dir()):
            raise _usage("with '-' as IN, OUT is '-' (stdout) or a file name such as new.jpg")
        return [item]
    listed: list[str] = []
    try:
        inputs.parse_shard(shard)
        if files_from:
            if files_from == "-":
                listed = inputs.read_path_list(_stdin_bytes(), null_separated)
            else:
                with open(files_from, "rb") as handle:
                    listed = inputs.read_path_list(handle.read(), null_separated)
        collected = inputs.collect_inputs(
            in_args,
            recursive=recursive,
            listed=listed,
            exclude=[e for e in (out, *also_exclude) if e and e != "-"],
        )
        items = inputs.shard_items(collected.items, None)
    except OSError as error:
        raise _usage(f"--files-from {files_from}: {error.strerror or error}") from None
    except inputs.InputError as error:
        raise _usage(str(error)) from None
    for note in collected.notes:
        reporter.note(note)
    return items


def _check_unwritable(out: Path) -> None:
    """OUT named with the extension of a format oldphoto does not write (``x.avif``)."""
    from oldphoto_cli import imageio

    suffix = out.suffix.lower()
    if suffix in imageio.UNWRITABLE_IMAGE_EXTENSIONS and not out.is_dir():
        raise _usage(f"OUT {out}: cannot write {suffix} images; output formats: "
                     f"{', '.join(imageio.IMAGE_EXTENSIONS)}")  # fmt: skip


def _check_file_out(items: list[inputs.InputItem], out: Path, ext: str | None) -> None:
    """OUT named like an image file: a format we cannot write, or one --ext contradicts."""
    from oldphoto_cli import imageio

    if out.is_dir():
        return
    _check_unwritable(out)
    suffix = out.suffix.lower()
    if len(items) == 1 and imageio.is_image_path(out) and ext and ext.lower() != suffix:
        raise _usage(f"--ext {ext} and OUT {out} disagree: with a file name as OUT its "
                     "extension sets the format (drop --ext, or give a folder)")  # fmt: skip


def _drop_own_outputs(
    items: list[inputs.InputItem],
    outputs_of: Callable[[inputs.InputItem], Any],
    reporter: Reporter,
) -> list[inputs.InputItem]:
    from oldphoto_cli import inputs

    items, notes = inputs.drop_own_outputs(items, outputs_of)
    for note in notes:
        reporter.note(note)
    return items


def _check_writable(items: list[inputs.InputItem], outputs_of=None) -> None:
    from oldphoto_cli import inputs

    outputs_of = outputs_of or (lambda item: [item.output] if item.output else [])
    paths = [p for i in items if not i.error for p in outputs_of(i) if p != inputs.STDIO]
    try:
        inputs.check_writable(paths)
    except inputs.InputError as error:
        raise _usage(str(error)) from None


def _device(
    device: str,
    precision: str,
    fp16: bool,
    reporter: Reporter,
    rank: distributed.RankInfo | None = None,
) -> tuple[str, str]:
    """(device, precision) for the run; a precision the device lacks becomes fp32 + note."""
    from oldphoto_cli.device import DeviceError, resolve_device, resolve_precision

    if fp16:
        if precision not in ("auto", "fp16"):
            raise _usage(f"--fp16 contradicts --precision {precision}")
        precision = "fp16"
    if rank is not None:
        device = distributed.rank_device(device, rank)
    try:
        resolved = resolve_device(device)
    except DeviceError as error:
        raise _usage(str(error)) from None
    precision, note = resolve_precision(resolved, precision)
    if note:
        reporter.note(note.replace("--precision fp16", "--fp16") if fp16 else note)
    return str(resolved), precision


def _finish(
    results: list[runner.ItemResult],
    reporter: Reporter,
    rank: distributed.RankInfo | None = None,
) -> None:
    """Summary and exit status; under torchrun merged over all ranks (same exit everywhere)."""
    from oldphoto_cli import runner

    rank = rank or distributed.RankInfo()
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


def _run(
    items: list[inputs.InputItem],
    job: Any,
    *,
    io_threads: int,
    reporter: Reporter,
    description: str,
    skip_existing: bool,
    outputs_of: Callable[[inputs.InputItem], list[Path]] | None = None,
) -> list[runner.ItemResult]:
    """Overlapped read/compute/write with I/O threads, or the one image after the other with 0.

    Ctrl-C: the records of the images already written are out; exit 130 after a summary.
    """
    from oldphoto_cli import runner

    results: list[runner.ItemResult] = []
    try:
        return _run_all(items, job, io_threads=io_threads, reporter=reporter,
                        description=description, skip_existing=skip_existing,
                        outputs_of=outputs_of, results=results)  # fmt: skip
    except KeyboardInterrupt:
        reporter.stop()
        done = runner.summary(results) if results else "nothing finished"
        reporter.error(f"interrupted: {done}; rerun the same command to resume")
        sys.exit(runner.EXIT_INTERRUPTED)


def _run_all(
    items: list[inputs.InputItem],
    job: Any,
    *,
    io_threads: int,
    reporter: Reporter,
    description: str,
    skip_existing: bool,
    outputs_of: Callable[[inputs.InputItem], list[Path]] | None,
    results: list[runner.ItemResult],
) -> list[runner.ItemResult]:
    from oldphoto_cli import runner

    if io_threads > 0:
        return runner.run_overlapped(
            items,
            job,
            io_threads=io_threads,
            reporter=reporter,
            description=description,
            skip_existing=skip_existing,
            outputs_of=outputs_of,
            results=results,
        )
    return runner.run_batch(
        items,
        job,
        reporter=reporter,
        description=description,
        skip_existing=skip_existing,
        outputs_of=outputs_of,
        results=results,
    )


def _exists(path: Path | None) -> bool:
    from oldphoto_cli import inputs

    return path is not None and path != inputs.STDIO and path.exists()


def _outputs_on_disk(item: inputs.InputItem) -> list[Path]:
    """The outputs whose existence means 'done' (stdout never is)."""
    from oldphoto_cli import inputs

    return [item.output] if item.output and item.output != inputs.STDIO else []


def _make_pipeline(options: Any, detect_only: bool = False, eager_detector: bool = False) -> Any:
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
        raise _usage(runner.one_line(message)) from None  # type: ignore[arg-type]
    except Exception as error:  # missing/corrupt weights and the like: clear line, exit 1
        click.echo(
            f"oldphoto: error: cannot set up the pipeline: {runner.one_line(error)}", err=True
        )
        sys.exit(runner.EXIT_FAILED)


@click.command(name="restore", epilog=EXIT_CODES, cls=SectionedCommand, sections=RESTORE_SECTIONS)
@RESTORE_OPTIONS
def restore_command(
    paths,
    recursive,
    files_from,
    null_separated,
    overwrite,
    shard,
    device,
    io_threads,
    weights_dir,
    max_megapixels,
    max_memory,
    as_json,
    quiet,
    detector,
    translator,
    encoder,
    decoder,
    face_enhancer,
    face_enhance,
    only_center_face,
    face_fidelity,
    save_faces,
    spare_patterns,
    spare_faces,
    with_scratch,
    mask_dir,
    dilate,
    strength,
    keep_tone,
    tile,
    save_intermediates,
    precision,
    fp16,
    ext,
    suffix,
    report_dir,
    compile_models,
) -> None:
    """Restore old photos (IN: files or folders; OUT: a folder, or a file for one input).

    '-' as IN or OUT is one image through stdin/stdout (cat old.jpg | oldphoto restore - -
    > new.jpg); --files-from FILE (or -) reads a list of paths.

    Outputs keep each input's size, mode (grayscale, alpha, 16-bit) and extension unless
    --ext/--suffix say otherwise; existing outputs are skipped unless --overwrite.
    """
    from oldphoto_cli import imageio, inputs, jobs, report, runner

    rank = _rank()
    reporter = _reporter(quiet, as_json, rank)
    in_args, out = _split_paths(paths, files_from)
    if not face_enhance:
        face_enhancer = "none"
    try:
        ext = inputs.normalize_ext(ext)
    except inputs.InputError as error:
        raise _usage(str(error)) from None
    if "/" in suffix or "\\" in suffix:
        raise _usage("--suffix must not contain path separators")
    if report_dir and rank.active:
        raise _usage("--report is for one process: run it without torchrun (or per shard)")
    items = _collect(in_args, out, recursive, files_from, null_separated, shard, reporter, rank,
                     also_exclude=(report_dir,))  # fmt: skip
    if out == "-":
        _to_stdout(items, as_json, imageio.FORMAT_BY_EXT[ext.lower()] if ext else None, rank)
    else:
        out_path = Path(out)
        _check_file_out(items, out_path, ext)
        try:
            inputs.check_existing_out(out_path, len(items), overwrite)
        except inputs.InputError as error:
            raise _usage(str(error)) from None
        # A rerun in place: last run's <stem><suffix> files are outputs, not photos. Without
        # a suffix such a file (a.png beside a.jpg with --ext png) may be the owner's own
        # photo: that stays refused (exit 2), never overwritten.
        folder_out = not (len(items) == 1 and imageio.is_image_path(out) and not out_path.is_dir())
        if folder_out and suffix:
            items = _drop_own_outputs(
                items, lambda i: [inputs.output_path(i, out_path, ext=ext, suffix=suffix)],
                reporter,
            )  # fmt: skip
        try:
            inputs.plan_outputs(items, out, ext=ext, suffix=suffix)
        except inputs.InputError as error:
            raise _usage(str(error)) from None
        _check_writable(items)
    if report_dir:
        try:
            inputs.check_writable([Path(report_dir) / "index.html"])
        except inputs.InputError as error:
            raise _usage(f"--report: {error}") from None
    items = _shard(items, shard, rank)
    _check_stage("detect", detector)
    _check_stage("translate", translator)
    _check_stage("encode", encoder)
    _check_stage("decode", decoder)
    _check_stage("face_enhance", face_enhancer)
    device_name, precision = _device(device, precision, fp16, reporter, rank)
    from oldphoto_cli.pipeline import RestoreOptions

    options = RestoreOptions(
        device=device_name,
        detector=detector,
        translator=translator,
        encoder=encoder,
        decoder=decoder,
        face_enhancer=face_enhancer,
        with_scratch=with_scratch,
        spare_patterns=spare_patterns,
        spare_faces=spare_faces,
        dilate=dilate,
        strength=strength,
        keep_tone=keep_tone,
        tile=tile,
        precision=precision,
        fp16=precision == "fp16",
        only_center_face=only_center_face,
        face_fidelity=face_fidelity,
        save_faces_dir=save_faces,
        weights_dir=weights_dir,
        compile=compile_models,
    )
    pending = [i for i in items if overwrite or i.error or not _exists(i.output)]
    pipeline = _make_pipeline(options, eager_detector=with_scratch != "off") if pending else None
    job = jobs.RestoreJob(
        pipeline,
        mask_dir=Path(mask_dir) if mask_dir else None,
        mask_dilate=dilate,
        intermediates_dir=Path(save_intermediates) if save_intermediates else None,
        max_megapixels=max_megapixels,
        max_memory=max_memory * 1e9 if max_memory else None,
        note=reporter.note,
        report=report.ReportWriter(report_dir) if report_dir else None,
    )
    results = _run(
        items,
        job,
        io_threads=io_threads,
        reporter=reporter,
        description="restoring",
        skip_existing=not overwrite,
        outputs_of=_outputs_on_disk,
    )
    if job.report is not None:
        for result in results:
            if result.status == runner.SKIPPED:
                job.report.add_finished(result)
        page = job.report.write(results)
        reporter.note(f"report: {page}")
    _finish(results, reporter, rank)


@click.command(name="detect", epilog=EXIT_CODES, cls=SectionedCommand, sections=DETECT_SECTIONS)
@DETECT_OPTIONS
def detect_command(
    paths,
    recursive,
    files_from,
    null_separated,
    overwrite,
    shard,
    device,
    io_threads,
    weights_dir,
    max_megapixels,
    max_memory,
    as_json,
    quiet,
    detector,
    save_mask,
    mask_dir,
    threshold,
    dilate,
    min_area,
    spare_patterns,
    spare_faces,
    overlay,
    precision,
) -> None:
    """Detect scratches: write a 0/255 mask PNG (and optionally a red overlay) per input.

    IN are files or folders (--files-from: a list of paths); OUT is a folder. '-' as IN or
    OUT is one image through stdin/stdout (the mask PNG goes to stdout).

    --json prints per-image stats: defect_share (fraction of pixels marked) and
    components (connected scratch regions).
    """
    from oldphoto_cli import inputs, jobs

    rank = _rank()
    reporter = _reporter(quiet, as_json, rank)
    in_args, out_arg = _split_paths(paths, files_from)
    if not save_mask and not overlay:
        raise _usage("--no-save-mask without --overlay leaves nothing to write: add --overlay "
                     "(the mask painted on the photo), or drop --no-save-mask")  # fmt: skip
    items = _collect(in_args, out_arg, recursive, files_from, null_separated, shard, reporter,
                     rank, file_out=False)  # fmt: skip
    out = Path(out_arg)
    try:
        inputs.check_existing_out(out, len(items), overwrite, file_out=False)
    except inputs.InputError as error:
        raise _usage(str(error)) from None
    mask_root = Path(mask_dir) if mask_dir else None
    if out_arg == "-":
        if save_mask == overlay or mask_dir:
            raise _usage("OUT '-' (stdout) takes one image: the mask (default) or, with "
                         "--no-save-mask --overlay, the overlay; not --mask-dir")  # fmt: skip
        _to_stdout(items, as_json, "PNG", rank)

    def outputs_of(item: inputs.InputItem) -> dict[str, Path]:
        if out_arg == "-":
            return {"mask" if save_mask else "overlay": inputs.STDIO}
        return jobs.detect_outputs(item, out, mask_root, save_mask, overlay)

    if out_arg != "-":
        items = _drop_own_outputs(items, lambda i: list(outputs_of(i).values()), reporter)
    input_keys = {inputs.path_key(i.path) for i in items}
    claimed: dict[Path, Path] = {}
    for item in items:
        paths_of = outputs_of(item)
        item.output = next(iter(paths_of.values()), None)
        for path in paths_of.values():
            if path == inputs.STDIO:
                continue
            key = inputs.path_key(path)
            if key in input_keys:
                raise _usage(f"refusing to write {path}: it is an input file")
            if key in claimed and not item.error:
                item.error = f"output {path} would also be written for {claimed[key]}"
            claimed.setdefault(key, item.path)
    _check_writable(items, lambda i: list(outputs_of(i).values()))
    items = _shard(items, shard, rank)
    _check_stage("detect", detector)
    device_name, precision = _device(device, precision, False, reporter, rank)
    from oldphoto_cli.pipeline import RestoreOptions

    options = RestoreOptions(
        device=device_name,
        precision=precision,
        detector=detector,
        threshold=threshold,
        dilate=dilate,
        min_area=min_area,
        spare_patterns=spare_patterns,
        spare_faces=spare_faces,
        weights_dir=weights_dir,
    )
    pipeline = _make_pipeline(options, detect_only=True) if items else None
    job = jobs.DetectJob(pipeline, outputs_of, max_megapixels,
                         max_memory * 1e9 if max_memory else None)  # fmt: skip
    results = _run(
        items,
        job,
        io_threads=io_threads,
        reporter=reporter,
        description="detecting",
        skip_existing=not overwrite,
        outputs_of=lambda item: [p for p in outputs_of(item).values() if p != inputs.STDIO],
    )
    _finish(results, reporter, rank)


COMMANDS: list[click.Command] = [restore_command, detect_command]
