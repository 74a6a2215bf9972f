"""The options of ``oldphoto restore`` and ``oldphoto detect``: their declarations, the
types that check them, how ``--help`` shows them (in sections), and the dataclasses a
command receives them in (:func:`bundled`).

Options both commands take are declared once (:data:`BATCH_OPTIONS`, :data:`DETECTOR_OPTION`,
:data:`PRECISION_OPTION`) and arrive as one :class:`BatchOptions`. Importing this module
loads click only.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from oldphoto_cli.defaults import (
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_MIN_AREA,
    DEFAULT_THRESHOLD,
    MAX_DILATE,
    MAX_IO_THREADS,
    MAX_TILE,
    MIN_TILE,
    PRECISIONS,
)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

EXIT_CODES = (
    "Exit codes: 0 every image ok or skipped; 1 some images failed, or the pipeline could "
    "not be set up (weights); 2 usage error, before any image; 130 interrupted (Ctrl-C: "
    "what was written keeps its record; rerun to resume)."
)

SHARD_HELP = (
    "Process only part K of N (e.g. 3/8): inputs sorted by relative path, index % N == K-1. "
    "For SLURM arrays / GNU parallel. Under torchrun each rank takes its part automatically."
)


class FiniteFloatRange(click.FloatRange):
    """A float range that refuses nan and inf (``FloatRange`` lets nan through: every
    comparison with it is false)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


class SectionedCommand(click.Command):
    """A command whose ``--help`` lists its options in sections (``sections``: title ->
    parameter names, in order); any option not named lands in "Other options"."""

    def __init__(self, *args: Any, sections: tuple[tuple[str, tuple[str, ...]], ...] = (),
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.sections = sections

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        records = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                records[param.name] = record
        placed: set[str] = set()
        for title, names in self.sections:
            rows = [records[name] for name in names if name in records]
            placed.update(name for name in names if name in records)
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
        rest = [record for name, record in records.items() if name not in placed]
        if rest:
            with formatter.section("Other options"):
                formatter.write_dl(rest)


class StageChoiceOption(click.Option):
    """An option naming a stage of ``kind``: ``--help`` lists the registered choices (read
    when the help is shown, so installed plugins appear) and marks the default."""

    def __init__(self, *args: Any, kind: str, extra_choices: tuple[str, ...] = (),
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.kind, self.extra_choices = kind, extra_choices

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        from oldphoto_cli import stages

        try:
            default = stages.default_name(self.kind)
            names = [s.name + (" (default)" if s.name == default else "")
                     for s in stages.stages_of(self.kind)]  # fmt: skip
        except Exception:  # a broken plugin must not break --help
            return record
        choices = ", ".join(names + list(self.extra_choices))
        return record[0], f"{record[1]} Choices: {choices}."


INPUT_OPTIONS = ("recursive", "files_from", "null_separated", "shard", "max_megapixels",
                 "max_memory")  # fmt: skip
PERFORMANCE_OPTIONS = ("device", "precision", "fp16", "io_threads", "tile", "compile_models")
RESTORE_SECTIONS = (
    ("Inputs", (*INPUT_OPTIONS, "mask_dir")),
    ("Outputs", ("overwrite", "ext", "suffix", "as_json", "quiet", "report_dir",
                 "save_intermediates", "save_faces")),
    ("Pipeline", ("detector", "translator", "encoder", "decoder", "face_enhancer",
                  "face_enhance", "only_center_face", "face_fidelity", "with_scratch",
                  "spare_patterns", "spare_faces", "dilate", "strength", "keep_tone",
                  "tone_curve", "deblock", "weights_dir")),
    ("Performance", PERFORMANCE_OPTIONS),
)  # fmt: skip
DETECT_SECTIONS = (
    ("Inputs", INPUT_OPTIONS),
    ("Outputs", ("overwrite", "save_mask", "mask_dir", "overlay", "as_json", "quiet")),
    ("Pipeline", ("detector", "threshold", "dilate", "min_area", "spare_patterns",
                  "spare_faces", "weights_dir")),
    ("Performance", PERFORMANCE_OPTIONS),
)  # fmt: skip


def stacked(*decorators: Decorator) -> Decorator:
    """One decorator that applies ``decorators`` as if written one above the other: the
    first on top, so ``--help`` and the parameter order follow the order written here."""

    def apply(fn: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return apply


# The options of the shared batch skeleton (oldphoto_cli.cli_io), which both commands take.
BATCH_OPTIONS = stacked(
    click.argument("paths", nargs=-1, required=True, metavar="IN... OUT"),
    click.option(
        "--recursive",
        "-r",
        is_flag=True,
        help="Descend into subfolders; the output mirrors the subfolder tree.",
    ),
    click.option(
        "--files-from",
        metavar="FILE",
        help="Also read input paths from FILE, one per line ('-': stdin), as tar/rsync.",
    ),
    click.option(
        "-0",
        "--null",
        "null_separated",
        is_flag=True,
        help="With --files-from: paths are NUL-separated (find -print0).",
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
        "--io-threads",
        type=click.IntRange(0, MAX_IO_THREADS),
        default=2,
        show_default=True,
        metavar="N",
        help="Threads reading the next images and writing finished ones while the "
        f"current one is computed (0: read, compute, write in turn; at most "
        f"{MAX_IO_THREADS}: each holds an image in memory).",
    ),
    click.option(
        "--weights-dir",
        type=click.Path(exists=True, file_okay=False),
        help="Look for weights here first (also: OLDPHOTO_WEIGHTS).",
    ),
    click.option(
        "--max-megapixels",
        type=FiniteFloatRange(min=0, min_open=True),
        default=DEFAULT_MAX_MEGAPIXELS,
        show_default=True,
        help="Refuse larger images (decompression-bomb guard).",
    ),
    click.option(
        "--max-memory",
        type=FiniteFloatRange(min=0, min_open=True),
        metavar="GB",
        help="Refuse an image whose estimated memory need is above GB, before decoding "
        "it (default: 80 % of the memory available, the rest kept as headroom).",
    ),
    click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="One JSON object per image on stdout (messages stay on stderr).",
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar and no notes."),
)

DETECTOR_OPTION = click.option(
    "--detector", metavar="NAME", help="Scratch detector stage (see `oldphoto stages`)."
)
PRECISION_OPTION = click.option(
    "--precision",
    type=click.Choice(PRECISIONS, case_sensitive=False),
    default="auto",
    show_default=True,
    help="Network arithmetic: auto = bf16 on CPUs with native bf16 (amx_bf16/avx512_bf16), "
    "fp16 on CUDA, else fp32. A precision the device lacks falls back to fp32 with a note.",
)

RESTORE_OPTIONS = stacked(
    BATCH_OPTIONS,
    DETECTOR_OPTION,
    click.option("--translator", metavar="NAME", help="Translate stage (see `oldphoto stages`)."),
    click.option(
        "--encoder",
        cls=StageChoiceOption,
        kind="encode",
        metavar="NAME",
        help="Encode stage (image -> latent), for a latent-space translator.",
    ),
    click.option(
        "--decoder",
        cls=StageChoiceOption,
        kind="decode",
        metavar="NAME",
        help="Decode stage (latent -> image); its scale must be the encoder's.",
    ),
    click.option(
        "--face-enhancer",
        cls=StageChoiceOption,
        kind="face_enhance",
        extra_choices=("none",),
        metavar="NAME|none",
        help="Face enhancement stage, or none ('restorer' and 'face' need their weights from "
        "oldphoto-face-weights, else 'general' runs).",
    ),
    click.option(
        "--face-enhance/--no-face-enhance",
        default=True,
        show_default=True,
        help="Enhance faces (--no-face-enhance = --face-enhancer none).",
    ),
    click.option(
        "--only-center-face", is_flag=True, help="Enhance only the face nearest the centre."
    ),
    click.option(
        "--face-fidelity",
        type=FiniteFloatRange(0, 1),
        default=None,
        metavar="F",
        help="Face-trained enhancers (face, restorer): how much of the photo's own tone and "
        "fine texture they keep (1, the default: repaired defects stay repaired, grain and "
        "skin texture stay; 0: the network's output as it is).",
    ),
    click.option(
        "--save-faces",
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Also save face crops before/after enhancement here.",
    ),
    click.option(
        "--spare-patterns/--no-spare-patterns",
        default=True,
        show_default=True,
        help="Keep detected specks that sit on a printed lattice (polka dots, dot screens): "
        "content, not dust.",
    ),
    click.option(
        "--spare-faces/--no-spare-faces",
        default=None,
        help="Drop detected defects lying wholly inside a face (eyes, teeth, wrinkles). "
        "Default: on when faces are enhanced (the faces are found anyway).",
    ),
    click.option(
        "--with-scratch",
        type=click.Choice(["auto", "on", "off"]),
        default="auto",
        show_default=True,
        help="Scratch repair: auto (detect), on (always), off.",
    ),
    click.option(
        "--mask-dir",
        type=click.Path(exists=True, file_okay=False),
        metavar="DIR",
        help="Masks to use instead of detection: <stem>_mask.png or <stem>.png, white (255) "
        "defects on black; grey counts from 128, a mostly grey mask is refused.",
    ),
    click.option(
        "--dilate",
        type=click.IntRange(0, MAX_DILATE),
        default=1,
        show_default=True,
        metavar="N",
        help="Grow the scratch mask by N pixels before inpainting, whether detected or from "
        f"--mask-dir: the margin inpainting needs around a defect's soft edge (0-{MAX_DILATE}).",
    ),
    click.option(
        "--strength",
        type=FiniteFloatRange(0, 1),
        default=1.0,
        show_default=True,
        help="Blend of restored and input (1 = fully restored).",
    ),
    click.option(
        "--keep-tone/--no-keep-tone",
        default=True,
        show_default=True,
        help="Keep the photo's overall tone/colour cast.",
    ),
    click.option(
        "--tone-curve/--no-tone-curve",
        default=True,
        show_default=True,
        help="Undo a faded print's tone curve and lifted blacks (one monotone curve per "
        "channel, then black and white points, estimated from the whole photo).",
    ),
    click.option(
        "--deblock/--no-deblock",
        default=True,
        show_default=True,
        help="Take JPEG blocks off a photo saved as JPEG at quality 75 or less (quality "
        "estimated from the pixels) before restoring it; detection sees it as it came.",
    ),
    click.option(
        "--tile",
        type=click.IntRange(MIN_TILE, MAX_TILE),
        metavar="N",
        help=f"Decode in tiles of NxN latent pixels, 4N x 4N of the photo ({MIN_TILE}-{MAX_TILE}; "
        "default: chosen from free memory, at most 256). Smaller tiles use less memory and "
        "take longer.",
    ),
    click.option(
        "--save-intermediates",
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Write intermediate images (mask, pre-face, ...) here.",
    ),
    PRECISION_OPTION,
    click.option("--fp16", is_flag=True, help="Same as --precision fp16 (kept for old scripts)."),
    click.option("--ext", metavar="EXT", help="Output extension (default: the input's), e.g. png."),
    click.option(
        "--suffix", default="", metavar="TEXT", help="Appended to output stems, e.g. _restored."
    ),
    click.option(
        "--report",
        "report_dir",
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Also write DIR/index.html: a before/after slider per photo with the mask and "
        "faces found, and its figures (a static page, opens from disk).",
    ),
    click.option(
        "--compile",
        "compile_models",
        is_flag=True,
        help="torch.compile the models (slow first image, faster after; for long runs).",
    ),
)

DETECT_OPTIONS = stacked(
    BATCH_OPTIONS,
    DETECTOR_OPTION,
    click.option(
        "--save-mask/--no-save-mask",
        default=True,
        show_default=True,
        help="Write <stem>_mask.png (0/255, input size) per input (--no-save-mask needs "
        "--overlay: something to write).",
    ),
    click.option(
        "--mask-dir",
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Write masks here instead of OUT (then use with restore --mask-dir).",
    ),
    click.option(
        "--threshold",
        type=FiniteFloatRange(0, 1),
        default=DEFAULT_THRESHOLD,
        show_default=True,
        help="Pixels with scratch probability above this are marked.",
    ),
    click.option(
        "--dilate",
        type=click.IntRange(0, MAX_DILATE),
        default=0,
        show_default=True,
        metavar="N",
        help="Grow the saved mask by N pixels. 0: the detector's own mask, hugging the "
        "damage. restore grows every mask by its own --dilate (1) before inpainting, so a "
        "mask saved here and given to restore --mask-dir repairs what restore would detect.",
    ),
    click.option(
        "--min-area",
        type=click.IntRange(min=0),
        default=DEFAULT_MIN_AREA,
        show_default=True,
        metavar="PX",
        help="Drop detected regions smaller than PX pixels (isolated grain specks).",
    ),
    click.option(
        "--spare-patterns/--no-spare-patterns",
        default=True,
        show_default=True,
        help="Keep detected specks that sit on a printed lattice (polka dots, dot screens): "
        "content, not dust (as restore does).",
    ),
    click.option(
        "--spare-faces/--no-spare-faces",
        default=True,
        show_default=True,
        help="Drop detected defects lying wholly inside a face (as restore does).",
    ),
    click.option("--overlay", is_flag=True, help="Also write <stem>_overlay.png (mask in red)."),
    PRECISION_OPTION,
)


@dataclass(frozen=True)
class BatchOptions:
    """What both commands take: the inputs and OUT, what to do with existing outputs, how
    results are reported, and where and how the networks run."""

    paths: tuple[str, ...]  # IN... OUT
    recursive: bool
    files_from: str | None
    null_separated: bool
    shard: str | None
    max_megapixels: float
    max_memory: float | None  # GB
    overwrite: bool
    as_json: bool
    quiet: bool
    weights_dir: str | None
    device: str
    precision: str
    io_threads: int

    @property
    def max_memory_bytes(self) -> float | None:
        return self.max_memory * 1e9 if self.max_memory else None


@dataclass(frozen=True)
class RestoreOutputOptions:
    ext: str | None
    suffix: str
    report_dir: str | None
    save_intermediates: str | None
    save_faces: str | None


@dataclass(frozen=True)
class RestorePipelineOptions:
    detector: str | None
    translator: str | None
    encoder: str | None
    decoder: str | None
    face_enhancer: str | None
    face_enhance: bool
    only_center_face: bool
    face_fidelity: float | None
    with_scratch: str
    mask_dir: str | None  # masks to use instead of detection
    spare_patterns: bool
    spare_faces: bool | None
    dilate: int
    strength: float
    keep_tone: bool
    tone_curve: bool
    deblock: bool

    @property
    def face_stage(self) -> str | None:
        """The face enhancer to use: ``none`` with --no-face-enhance."""
        return self.face_enhancer if self.face_enhance else "none"


@dataclass(frozen=True)
class RestorePerformanceOptions:
    fp16: bool
    tile: int | None
    compile_models: bool


@dataclass(frozen=True)
class DetectOutputOptions:
    save_mask: bool
    mask_dir: str | None  # masks go here instead of OUT
    overlay: bool


@dataclass(frozen=True)
class DetectPipelineOptions:
    detector: str | None
    threshold: float
    dilate: int
    min_area: int
    spare_patterns: bool
    spare_faces: bool


def bundled(**groups: type) -> Decorator:
    """Call a command with its options bundled into dataclasses: with
    ``@bundled(io=BatchOptions)`` the command gets ``io=BatchOptions(...)`` built from the
    options named like its fields. An option that lands in no group is an error at the
    first call, so none is silently dropped (``option_groups`` lists them for tests)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def with_groups(**options: Any) -> Any:
            grouped = {}
            for name, group in groups.items():
                fields = [field.name for field in dataclasses.fields(group)]
                grouped[name] = group(**{field: options.pop(field) for field in fields})
            if options:
                raise TypeError(f"options in no group: {', '.join(sorted(options))}")
            return command(**grouped)

        with_groups.option_groups = groups  # type: ignore[attr-defined]
        return with_groups

    return decorate
