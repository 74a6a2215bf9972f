"""``oldphoto restore`` and ``oldphoto detect``: thin wrappers over inputs/runner/imageio.

Exit codes: 0 every image ok (or skipped), 1 some images failed, 2 usage error.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from oldphoto_cli import distributed, imageio, inputs, runner
from oldphoto_cli.pipeline import DEFAULT_MIN_AREA, DEFAULT_THRESHOLD
from oldphoto_cli.progress import Reporter

SHARD_HELP = (
    "Process only part K of N (e.g. 3/8): inputs sorted by relative path, index % N == K-1. "
    "For SLURM arrays / GNU parallel. Under torchrun each rank takes its part automatically."
)


def _common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by restore and detect (applied bottom-up, shown in this order)."""
    options = [
        click.argument("paths", nargs=-1, required=True, metavar="IN... OUT"),
        click.option(
            "--recursive",
            "-r",
            is_flag=True,
            help="Descend into subfolders; the output mirrors the subfolder tree.",
        ),
        click.option(
            "-0",
            "--null",
            "null_separated",
            is_flag=True,
            help="With '-': stdin paths are NUL-separated (find -print0).",
        ),
        click.option(
            "--overwrite",
            is_flag=True,
            help="Replace existing outputs (default: skip them, so reruns resume).",
        ),
        click.option("--shard", metavar="K/N", help=SHARD_HELP),
        click.option(
            "--device",
            default="auto",
            show_default=True,
            help="auto, cpu, cuda, cuda:N or mps (auto picks CUDA when available).",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Images handed to the pipeline per batch (with --io-threads 0).",
        ),
        click.option(
            "--io-threads",
            type=click.IntRange(min=0),
            default=2,
            show_default=True,
            metavar="N",
            help="Threads reading the next images and writing finished ones while the "
            "current one is computed (0: read, compute, write in turn, in batches).",
        ),
        click.option(
            "--weights-dir",
            type=click.Path(file_okay=False),
            help="Look for weights here first (also: OLDPHOTO_WEIGHTS).",
        ),
        click.option(
            "--max-megapixels",
            type=click.FloatRange(min=0, min_open=True),
            default=imageio.DEFAULT_MAX_MEGAPIXELS,
            show_default=True,
            help="Refuse larger images (decompression-bomb guard).",
        ),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            help="One JSON object per image on stdout (messages stay on stderr).",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar and no notes."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _usage(message: str) -> click.UsageError:
    return click.UsageError(message)


def _split_paths(paths: tuple[str, ...]) -> tuple[list[str], str]:
    if len(paths) < 2:
        raise _usage("need at least one input and an output: IN... OUT ('-' reads stdin)")
    return list(paths[:-1]), paths[-1]


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
    if rank.main:
        return Reporter(quiet=quiet, json_lines=as_json)
    return Reporter(quiet=True, json_lines=False)


def _shard(
    items: list[inputs.InputItem], shard: str | None, rank: distributed.RankInfo
) -> list[inputs.InputItem]:
    """This process's part: ``--shard`` and the torchrun rank together. Applied after the
    outputs are planned on the full list, so collisions between shards are still seen."""
    try:
        parsed = inputs.parse_shard(shard)
    except inputs.InputError as error:
        raise _usage(str(error)) from None
    return inputs.shard_items(items, distributed.effective_shard(parsed, rank))


def _collect(
    in_args: list[str],
    out: str,
    recursive: bool,
    null_separated: bool,
    shard: str | None,
    reporter: Reporter,
    rank: distributed.RankInfo | None = None,
) -> list[inputs.InputItem]:
    """All inputs, sorted (not yet sharded: see :func:`_shard`)."""
    if "-" in in_args and sys.stdin is None:
        raise _usage("'-' needs a list of paths on stdin")
    if "-" in in_args and rank is not None and rank.active:
        raise _usage(
            "'-' (paths on stdin) cannot be shared by torchrun ranks; "
            "pass files/folders, or use --shard K/N with one process per list"
        )
    try:
        inputs.parse_shard(shard)
        collected = inputs.collect_inputs(
            in_args,
            recursive=recursive,
            stdin=click.get_text_stream("stdin"),
            null_separated=null_separated,
        )
        items = inputs.shard_items(collected.items, None)
    except inputs.InputError as error:
        raise _usage(str(error)) from None
    for note in collected.notes:
        reporter.note(note)
    if out == "-":
        raise _usage("OUT must be a folder (or a file name for a single input), not '-'")
    return items


def _device(
    device: str, fp16: bool, reporter: Reporter, rank: distributed.RankInfo | None = None
) -> tuple[str, bool]:
    from oldphoto_cli.device import DeviceError, resolve_device, resolve_precision

    if rank is not None:
        device = distributed.rank_device(device, rank)
    try:
        resolved = resolve_device(device)
    except DeviceError as error:
        raise _usage(str(error)) from None
    use_fp16, note = resolve_precision(resolved, fp16)
    if note:
        reporter.note(note)
    return str(resolved), use_fp16


def _finish(
    results: list[runner.ItemResult],
    reporter: Reporter,
    rank: distributed.RankInfo | None = None,
) -> None:
    """Summary and exit status; under torchrun merged over all ranks (same exit everywhere)."""
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
    else:
        reporter.note("no images to process" + processes)
    sys.exit(runner.EXIT_FAILED if merged.failed else runner.EXIT_OK)


def _run(
    items: list[inputs.InputItem],
    job: Any,
    *,
    io_threads: int,
    batch_size: int,
    reporter: Reporter,
    description: str,
    skip_existing: bool,
    outputs_of: Callable[[inputs.InputItem], list[Path]] | None = None,
) -> list[runner.ItemResult]:
    """Overlapped read/compute/write with I/O threads, or the plain batch loop with 0."""
    if io_threads > 0:
        return runner.run_overlapped(
            items,
            job,
            io_threads=io_threads,
            reporter=reporter,
            description=description,
            skip_existing=skip_existing,
            outputs_of=outputs_of,
        )
    return runner.run_batch(
        items,
        runner.per_item(job),
        batch_size=batch_size,
        reporter=reporter,
        description=description,
        skip_existing=skip_existing,
        outputs_of=outputs_of,
    )


def _make_pipeline(options: Any, detect_only: bool = False) -> Any:
    from oldphoto_cli.pipeline import RestorePipeline

    try:
        return RestorePipeline(options, detect_only=detect_only)
    except (KeyError, ValueError) as error:  # unknown stage, bad option: usage error
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        raise _usage(runner.one_line(message)) from None  # type: ignore[arg-type]
    except Exception as error:  # missing/corrupt weights and the like: clear line, exit 1
        click.echo(
            f"oldphoto: error: cannot set up the pipeline: {runner.one_line(error)}", err=True
        )
        sys.exit(runner.EXIT_FAILED)


@click.command(name="restore")
@_common_options
@click.option("--detector", metavar="NAME", help="Scratch detector stage (see `oldphoto stages`).")
@click.option("--translator", metavar="NAME", help="Translate stage (see `oldphoto stages`).")
@click.option("--face-enhancer", metavar="NAME|none", help="Face enhancement stage, or none.")
@click.option(
    "--face-enhance/--no-face-enhance",
    default=True,
    show_default=True,
    help="Enhance faces (--no-face-enhance = --face-enhancer none).",
)
@click.option("--only-center-face", is_flag=True, help="Enhance only the face nearest the centre.")
@click.option(
    "--save-faces",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Also save face crops before/after enhancement here.",
)
@click.option(
    "--spare-faces/--no-spare-faces",
    default=None,
    help="Drop detected defects lying wholly inside a face (eyes, teeth, wrinkles). "
    "Default: on when faces are enhanced (the faces are found anyway).",
)
@click.option(
    "--with-scratch",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Scratch repair: auto (detect), on (always), off.",
)
@click.option(
    "--mask-dir",
    type=click.Path(exists=True, file_okay=False),
    metavar="DIR",
    help="Masks to use instead of detection: <stem>_mask.png or <stem>.png (0/255).",
)
@click.option(
    "--strength",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Blend of restored and input (1 = fully restored).",
)
@click.option(
    "--keep-tone/--no-keep-tone",
    default=True,
    show_default=True,
    help="Keep the photo's overall tone/colour cast.",
)
@click.option(
    "--tile",
    type=click.IntRange(min=1),
    metavar="N",
    help="Process in NxN tiles (default: chosen from free memory).",
)
@click.option(
    "--save-intermediates",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write intermediate images (mask, pre-face, ...) here.",
)
@click.option("--fp16", is_flag=True, help="Half precision (CUDA/MPS only; ignored on CPU).")
@click.option("--ext", metavar="EXT", help="Output extension (default: the input's), e.g. png.")
@click.option(
    "--suffix", default="", metavar="TEXT", help="Appended to output stems, e.g. _restored."
)
@click.option(
    "--compile",
    "compile_models",
    is_flag=True,
    help="torch.compile the models (slow first image, faster after; for long runs).",
)
def restore_command(
    paths,
    recursive,
    null_separated,
    overwrite,
    shard,
    device,
    batch_size,
    io_threads,
    weights_dir,
    max_megapixels,
    as_json,
    quiet,
    detector,
    translator,
    face_enhancer,
    face_enhance,
    only_center_face,
    save_faces,
    spare_faces,
    with_scratch,
    mask_dir,
    strength,
    keep_tone,
    tile,
    save_intermediates,
    fp16,
    ext,
    suffix,
    compile_models,
) -> None:
    """Restore old photos (IN: files, folders or '-' for paths on stdin; OUT: a folder).

    Outputs keep each input's size, mode (grayscale, alpha, 16-bit) and extension unless
    --ext/--suffix say otherwise; existing outputs are skipped unless --overwrite.
    """
    rank = _rank()
    reporter = _reporter(quiet, as_json, rank)
    in_args, out = _split_paths(paths)
    if not face_enhance:
        face_enhancer = "none"
    try:
        ext = inputs.normalize_ext(ext)
    except inputs.InputError as error:
        raise _usage(str(error)) from None
    if "/" in suffix or "\\" in suffix:
        raise _usage("--suffix must not contain path separators")
    items = _collect(in_args, out, recursive, null_separated, shard, reporter, rank)
    try:
        inputs.plan_outputs(items, out, ext=ext, suffix=suffix)
    except inputs.InputError as error:
        raise _usage(str(error)) from None
    items = _shard(items, shard, rank)
    _check_stage("detect", detector)
    _check_stage("translate", translator)
    _check_stage("face_enhance", face_enhancer)
    device_name, use_fp16 = _device(device, fp16, reporter, rank)
    from oldphoto_cli.pipeline import RestoreOptions

    wanted = dict(
        device=device_name,
        detector=detector,
        translator=translator,
        face_enhancer=face_enhancer,
        with_scratch=with_scratch,
        spare_faces=spare_faces,
        strength=strength,
        keep_tone=keep_tone,
        tile=tile,
        fp16=use_fp16,
        only_center_face=only_center_face,
        save_faces_dir=save_faces,
        weights_dir=weights_dir,
    )
    known = {f.name for f in dataclasses.fields(RestoreOptions)}
    if compile_models:
        wanted["compile"] = True
        if "compile" not in known:
            reporter.note("--compile: this pipeline has no compile support yet; ignored")
    options = RestoreOptions(**{k: v for k, v in wanted.items() if k in known})
    pending = [i for i in items if overwrite or i.error or not (i.output and i.output.exists())]
    pipeline = _make_pipeline(options) if pending else None
    job = runner.RestoreJob(
        pipeline,
        mask_dir=Path(mask_dir) if mask_dir else None,
        intermediates_dir=Path(save_intermediates) if save_intermediates else None,
        max_megapixels=max_megapixels,
    )
    results = _run(
        items,
        job,
        io_threads=io_threads,
        batch_size=batch_size,
        reporter=reporter,
        description="restoring",
        skip_existing=not overwrite,
    )
    _finish(results, reporter, rank)


@click.command(name="detect")
@_common_options
@click.option("--detector", metavar="NAME", help="Scratch detector stage (see `oldphoto stages`).")
@click.option(
    "--save-mask/--no-save-mask",
    default=True,
    show_default=True,
    help="Write <stem>_mask.png (0/255, input size) per input.",
)
@click.option(
    "--mask-dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write masks here instead of OUT (then use with restore --mask-dir).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=DEFAULT_THRESHOLD,
    show_default=True,
    help="Pixels with scratch probability above this are marked.",
)
@click.option(
    "--dilate",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="N",
    help="Grow the mask by N pixels (restore's auto-detection uses 1).",
)
@click.option(
    "--min-area",
    type=click.IntRange(min=0),
    default=DEFAULT_MIN_AREA,
    show_default=True,
    metavar="PX",
    help="Drop detected regions smaller than PX pixels (isolated grain specks).",
)
@click.option(
    "--spare-faces/--no-spare-faces",
    default=True,
    show_default=True,
    help="Drop detected defects lying wholly inside a face (as restore does).",
)
@click.option("--overlay", is_flag=True, help="Also write <stem>_overlay.png (mask in red).")
def detect_command(
    paths,
    recursive,
    null_separated,
    overwrite,
    shard,
    device,
    batch_size,
    io_threads,
    weights_dir,
    max_megapixels,
    as_json,
    quiet,
    detector,
    save_mask,
    mask_dir,
    threshold,
    dilate,
    min_area,
    spare_faces,
    overlay,
) -> None:
    """Detect scratches: write a 0/255 mask PNG (and optionally a red overlay) per input.

    IN are files, folders or '-' (paths on stdin); OUT is a folder.

    --json prints per-image stats: defect_share (fraction of pixels marked) and
    components (connected scratch regions).
    """
    rank = _rank()
    reporter = _reporter(quiet, as_json, rank)
    in_args, out_arg = _split_paths(paths)
    items = _collect(in_args, out_arg, recursive, null_separated, shard, reporter, rank)
    out = Path(out_arg)
    mask_root = Path(mask_dir) if mask_dir else None

    def outputs_of(item: inputs.InputItem) -> dict[str, Path]:
        return runner.detect_outputs(item, out, mask_root, save_mask, overlay)

    input_keys = {inputs.path_key(i.path) for i in items}
    claimed: dict[Path, Path] = {}
    for item in items:
        paths_of = outputs_of(item)
        item.output = next(iter(paths_of.values()), None)
        for path in paths_of.values():
            key = inputs.path_key(path)
            if key in input_keys:
                raise _usage(f"refusing to write {path}: it is an input file")
            if key in claimed and not item.error:
                item.error = f"output {path} would also be written for {claimed[key]}"
            claimed.setdefault(key, item.path)
    items = _shard(items, shard, rank)
    _check_stage("detect", detector)
    device_name, _ = _device(device, False, reporter, rank)
    from oldphoto_cli.pipeline import RestoreOptions

    options = RestoreOptions(
        device=device_name,
        detector=detector,
        threshold=threshold,
        dilate=dilate,
        min_area=min_area,
        spare_faces=spare_faces,
        weights_dir=weights_dir,
    )
    pipeline = _make_pipeline(options, detect_only=True) if items else None
    job = runner.DetectJob(pipeline, outputs_of, max_megapixels)
    results = _run(
        items,
        job,
        io_threads=io_threads,
        batch_size=batch_size,
        reporter=reporter,
        description="detecting",
        skip_existing=not overwrite,
        outputs_of=lambda item: list(outputs_of(item).values()),
    )
    _finish(results, reporter, rank)


COMMANDS: list[click.Command] = [restore_command, detect_command]
