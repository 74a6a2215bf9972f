"""``oldphoto restore`` and ``oldphoto detect``: what each checks, where it writes, and its
per-image job. The skeleton they share (inputs, outputs, the run, the exit code) is
:mod:`oldphoto_cli.cli_io`; their options are declared in :mod:`oldphoto_cli.cli_options`.

Importing this module (``oldphoto --help``) loads click only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oldphoto_cli.cli_io import (
    Batch,
    BatchCommand,
    check_unwritable,
    drop_own_outputs,
    make_pipeline,
    run_command,
    to_stdout,
)
from oldphoto_cli.cli_options import (
    DETECT_OPTIONS,
    DETECT_SECTIONS,
    EXIT_CODES,
    RESTORE_OPTIONS,
    RESTORE_SECTIONS,
    BatchOptions,
    DetectOutputOptions,
    DetectPipelineOptions,
    RestoreOutputOptions,
    RestorePerformanceOptions,
    RestorePipelineOptions,
    SectionedCommand,
    bundled,
)

if TYPE_CHECKING:
    from oldphoto_cli import inputs, jobs, runner
    from oldphoto_cli.pipeline import RestoreOptions


@dataclass
class Restore(BatchCommand):
    """Restore each photo into OUT: a folder, a file name for one input, or stdout."""

    outputs: RestoreOutputOptions
    pipeline: RestorePipelineOptions
    performance: RestorePerformanceOptions

    @property
    def fp16(self) -> bool:  # type: ignore[override]
        return self.performance.fp16

    def check_options(self, batch: Batch) -> None:
        from oldphoto_cli import inputs

        try:
            ext = inputs.normalize_ext(self.outputs.ext)
        except inputs.InputError as error:
            raise click.UsageError(str(error)) from None
        self.outputs = dataclasses.replace(self.outputs, ext=ext)  # '.png' from here on
        if "/" in self.outputs.suffix or "\\" in self.outputs.suffix:
            raise click.UsageError("--suffix must not contain path separators")
        if self.outputs.report_dir and batch.rank.active:
            raise click.UsageError(
                "--report is for one process: run it without torchrun (or per shard)"
            )

    def not_inputs(self) -> tuple[str | None, ...]:
        return (self.outputs.report_dir,)

    def plan_outputs(self, batch: Batch, items: list[inputs.InputItem]) -> list[inputs.InputItem]:
        from oldphoto_cli import imageio

        ext = self.outputs.ext
        if batch.out == "-":
            to_stdout(items, batch, imageio.FORMAT_BY_EXT[ext.lower()] if ext else None)
            return items
        return self._plan_files(batch, items)

    def _plan_files(self, batch: Batch, items: list[inputs.InputItem]) -> list[inputs.InputItem]:
        """Outputs in OUT, a folder or (one input) a file name."""
        from oldphoto_cli import imageio, inputs

        ext, suffix, out = self.outputs.ext, self.outputs.suffix, Path(batch.out)
        _check_file_out(items, out, ext)
        try:
            inputs.check_existing_out(out, len(items), batch.options.overwrite)
        except inputs.InputError as error:
            raise click.UsageError(str(error)) from None
        # A rerun in place: last run's <stem><suffix> files are outputs, not photos. Without
        # a suffix such a file (a.png beside a.jpg with --ext png) may be the owner's own
        # photo: that stays refused (exit 2), never overwritten.
        folder_out = not (len(items) == 1 and imageio.is_image_path(batch.out) and not out.is_dir())
        if folder_out and suffix:
            items = drop_own_outputs(
                items, lambda i: [inputs.output_path(i, out, ext=ext, suffix=suffix)],
                batch.reporter,
            )  # fmt: skip
        try:
            inputs.plan_outputs(items, batch.out, ext=ext, suffix=suffix)
        except inputs.InputError as error:
            raise click.UsageError(str(error)) from None
        return items

    def outputs_on_disk(self, batch: Batch, item: inputs.InputItem) -> list[Path]:
        from oldphoto_cli import inputs

        return [item.output] if item.output and item.output != inputs.STDIO else []

    def side_outputs(self) -> dict[str, Path]:
        report_dir = self.outputs.report_dir
        return {"--report": Path(report_dir) / "index.html"} if report_dir else {}

    def stages(self) -> dict[str, str | None]:
        chosen = self.pipeline
        return {
            "detect": chosen.detector,
            "translate": chosen.translator,
            "encode": chosen.encoder,
            "decode": chosen.decoder,
            "face_enhance": chosen.face_stage,
        }

    def make_job(
        self, batch: Batch, items: list[inputs.InputItem], device: str, precision: str
    ) -> jobs.RestoreJob:
        from oldphoto_cli import jobs, report

        options, mask_dir = batch.options, self.pipeline.mask_dir
        intermediates_dir, report_dir = self.outputs.save_intermediates, self.outputs.report_dir
        # No model is loaded when every output exists already (a rerun that resumes).
        pending = [i for i in items if options.overwrite or i.error or not _exists(i.output)]
        pipeline = None
        if pending:
            eager_detector = self.pipeline.with_scratch != "off"
            pipeline = make_pipeline(self._restore_options(batch, device, precision),
                                     eager_detector=eager_detector)  # fmt: skip
        return jobs.RestoreJob(
            pipeline,
            mask_dir=Path(mask_dir) if mask_dir else None,
            mask_dilate=self.pipeline.dilate,
            intermediates_dir=Path(intermediates_dir) if intermediates_dir else None,
            max_megapixels=options.max_megapixels,
            max_memory=options.max_memory_bytes,
            note=batch.reporter.note,
            report=report.ReportWriter(report_dir) if report_dir else None,
        )

    def _restore_options(self, batch: Batch, device: str, precision: str) -> RestoreOptions:
        from oldphoto_cli.pipeline import RestoreOptions

        chosen, performance = self.pipeline, self.performance
        return RestoreOptions(
            device=device,
            detector=chosen.detector,
            translator=chosen.translator,
            encoder=chosen.encoder,
            decoder=chosen.decoder,
            face_enhancer=chosen.face_stage,
            with_scratch=chosen.with_scratch,
            spare_patterns=chosen.spare_patterns,
            spare_faces=chosen.spare_faces,
            dilate=chosen.dilate,
            strength=chosen.strength,
            keep_tone=chosen.keep_tone,
            tone_curve=chosen.tone_curve,
            deblock=chosen.deblock,
            tile=performance.tile,
            precision=precision,
            fp16=precision == "fp16",
            only_center_face=chosen.only_center_face,
            face_fidelity=chosen.face_fidelity,
            save_faces_dir=self.outputs.save_faces,
            weights_dir=batch.options.weights_dir,
            compile=performance.compile_models,
        )

    def finished(self, batch: Batch, job: Any, results: list[runner.ItemResult]) -> None:
        """--report: the page covers the skipped photos too (restored by an earlier run)."""
        from oldphoto_cli import runner

        if job.report is None:
            return
        for result in results:
            if result.status == runner.SKIPPED:
                job.report.add_finished(result)
        page = job.report.write(results)
        batch.reporter.note(f"report: {page}")


def _check_file_out(items: list[inputs.InputItem], out: Path, ext: str | None) -> None:
    """OUT named like an image file: a format we cannot write, or one --ext contradicts."""
    from oldphoto_cli import imageio

    if out.is_dir():
        return
    check_unwritable(out)
    suffix = out.suffix.lower()
    if len(items) == 1 and imageio.is_image_path(out) and ext and ext.lower() != suffix:
        raise click.UsageError(f"--ext {ext} and OUT {out} disagree: with a file name as OUT "
                               "its extension sets the format (drop --ext, or give a "
                               "folder)")  # fmt: skip


def _exists(path: Path | None) -> bool:
    from oldphoto_cli import inputs

    return path is not None and path != inputs.STDIO and path.exists()


@dataclass
class Detect(BatchCommand):
    """Write each photo's scratch mask (and/or the mask painted on it) into OUT, a folder,
    or to stdout."""

    outputs: DetectOutputOptions
    pipeline: DetectPipelineOptions

    description = "detecting"
    file_out = False

    def check_options(self, batch: Batch) -> None:
        if not self.outputs.save_mask and not self.outputs.overlay:
            raise click.UsageError(
                "--no-save-mask without --overlay leaves nothing to write: add --overlay "
                "(the mask painted on the photo), or drop --no-save-mask"
            )

    def outputs_of(self, batch: Batch, item: inputs.InputItem) -> dict[str, Path]:
        """What is written for ``item``, by kind: ``mask``, ``overlay``."""
        from oldphoto_cli import inputs, jobs

        save_mask, overlay, mask_dir = (self.outputs.save_mask, self.outputs.overlay,
                                        self.outputs.mask_dir)  # fmt: skip
        if batch.out == "-":
            return {"mask" if save_mask else "overlay": inputs.STDIO}
        mask_root = Path(mask_dir) if mask_dir else None
        return jobs.detect_outputs(item, Path(batch.out), mask_root, save_mask, overlay)

    def outputs_on_disk(self, batch: Batch, item: inputs.InputItem) -> list[Path]:
        from oldphoto_cli import inputs

        return [p for p in self.outputs_of(batch, item).values() if p != inputs.STDIO]

    def plan_outputs(self, batch: Batch, items: list[inputs.InputItem]) -> list[inputs.InputItem]:
        from oldphoto_cli import inputs

        try:
            inputs.check_existing_out(Path(batch.out), len(items), batch.options.overwrite,
                                      file_out=False)  # fmt: skip
        except inputs.InputError as error:
            raise click.UsageError(str(error)) from None
        if batch.out == "-":
            if self.outputs.save_mask == self.outputs.overlay or self.outputs.mask_dir:
                raise click.UsageError("OUT '-' (stdout) takes one image: the mask (default) "
                                       "or, with --no-save-mask --overlay, the overlay; not "
                                       "--mask-dir")  # fmt: skip
            to_stdout(items, batch, "PNG")
        else:
            items = drop_own_outputs(items, lambda i: list(self.outputs_of(batch, i).values()),
                                     batch.reporter)  # fmt: skip
        self._claim_outputs(batch, items)
        return items

    def _claim_outputs(self, batch: Batch, items: list[inputs.InputItem]) -> None:
        """Set each item's output (its first); refuse to write over an input, and fail the
        later of two items whose outputs would be the same file."""
        from oldphoto_cli import inputs

        input_keys = {inputs.path_key(i.path) for i in items}
        claimed: dict[Path, Path] = {}
        for item in items:
            paths_of = self.outputs_of(batch, item)
            item.output = next(iter(paths_of.values()), None)
            for path in paths_of.values():
                if path == inputs.STDIO:
                    continue
                key = inputs.path_key(path)
                if key in input_keys:
                    raise click.UsageError(f"refusing to write {path}: it is an input file")
                if key in claimed and not item.error:
                    item.error = f"output {path} would also be written for {claimed[key]}"
                claimed.setdefault(key, item.path)

    def stages(self) -> dict[str, str | None]:
        return {"detect": self.pipeline.detector}

    def make_job(
        self, batch: Batch, items: list[inputs.InputItem], device: str, precision: str
    ) -> jobs.DetectJob:
        from oldphoto_cli import jobs
        from oldphoto_cli.pipeline import RestoreOptions

        chosen, options = self.pipeline, batch.options
        restore_options = RestoreOptions(
            device=device,
            precision=precision,
            detector=chosen.detector,
            threshold=chosen.threshold,
            dilate=chosen.dilate,
            min_area=chosen.min_area,
            spare_patterns=chosen.spare_patterns,
            spare_faces=chosen.spare_faces,
            weights_dir=options.weights_dir,
        )
        pipeline = make_pipeline(restore_options, detect_only=True) if items else None
        return jobs.DetectJob(pipeline, partial(self.outputs_of, batch), options.max_megapixels,
                              options.max_memory_bytes)  # fmt: skip


@click.command(name="restore", epilog=EXIT_CODES, cls=SectionedCommand, sections=RESTORE_SECTIONS)
@RESTORE_OPTIONS
@bundled(batch_options=BatchOptions, outputs=RestoreOutputOptions,
         pipeline=RestorePipelineOptions, performance=RestorePerformanceOptions)  # fmt: skip
def restore_command(
    batch_options: BatchOptions,
    outputs: RestoreOutputOptions,
    pipeline: RestorePipelineOptions,
    performance: RestorePerformanceOptions,
) -> None:
    """Restore old photos (IN: files or folders; OUT: a folder, or a file for one input).

    '-' as IN or OUT is one image through stdin/stdout (cat old.jpg | oldphoto restore - -
    > new.jpg); --files-from FILE (or -) reads a list of paths.

    Outputs keep each input's size, mode (grayscale, alpha, 16-bit) and extension unless
    --ext/--suffix say otherwise; existing outputs are skipped unless --overwrite.
    """
    run_command(batch_options, Restore(outputs, pipeline, performance))


@click.command(name="detect", epilog=EXIT_CODES, cls=SectionedCommand, sections=DETECT_SECTIONS)
@DETECT_OPTIONS
@bundled(batch_options=BatchOptions, outputs=DetectOutputOptions, pipeline=DetectPipelineOptions)
def detect_command(
    batch_options: BatchOptions, outputs: DetectOutputOptions, pipeline: DetectPipelineOptions
) -> None:
    """Detect scratches: write a 0/255 mask PNG (and optionally a red overlay) per input.

    IN are files or folders (--files-from: a list of paths); OUT is a folder. '-' as IN or
    OUT is one image through stdin/stdout (the mask PNG goes to stdout).

    --json prints per-image stats: defect_share (fraction of pixels marked) and
    components (connected scratch regions).
    """
    run_command(batch_options, Detect(outputs, pipeline))


COMMANDS: list[click.Command] = [restore_command, detect_command]
