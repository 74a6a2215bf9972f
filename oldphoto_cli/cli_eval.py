"""``oldphoto eval``: the validation table on synthetic pairs (logic in ``evaluate``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

COMMANDS: list[click.Command] = []


@click.command(name="eval")
@click.argument("pairs_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--config",
    "configs",
    multiple=True,
    metavar="NAME=TR:DET[:SCRATCH]",
    help="A pipeline row: translator and detector stage names ('default' for the default; "
    "DET 'true' = the true mask, 'none' = no scratch path), optional with_scratch "
    "auto|on|off. Repeatable.",
)
@click.option("--translator", "translators", multiple=True, metavar="NAME",
              help="Translator(s) to cross with --detector (repeatable).")  # fmt: skip
@click.option("--detector", "detectors", multiple=True, metavar="NAME",
              help="Detector(s) to cross with --translator (repeatable; 'true', 'none').")  # fmt: skip
@click.option("--limit", "-n", type=click.IntRange(min=1), default=None,
              help="Evaluate only the first N pairs.")  # fmt: skip
@click.option("--weights-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder with vae1/vae2/mapping/detector .safetensors.")  # fmt: skip
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N], mps.")
@click.option("--faces", is_flag=True,
              help="Also run the general face enhancer (off: pairs are crops).")  # fmt: skip
@click.option("--face-enhancer", default=None, metavar="NAME",
              help="Run this face enhancer instead (implies --faces; e.g. face, restorer).")  # fmt: skip
@click.option("--keep-tone/--no-keep-tone", default=False, show_default=True,
              help="Keep the input's tone as restore does (off: pairs have colour truth).")  # fmt: skip
@click.option("--tone-curve/--no-tone-curve", default=True, show_default=True,
              help="Undo a faded print's tone curve, as restore does.")  # fmt: skip
@click.option("--deblock/--no-deblock", default=True, show_default=True,
              help="Take JPEG blocks off before restoring, as restore does.")  # fmt: skip
@click.option("--truth", type=click.Choice(["colour", "tone"]), default="colour",
              show_default=True,
              help="Score damaged inputs against the colour original, or against it in the "
              "pair's own grey/sepia tone (restoration without colourisation; with "
              "--keep-tone this is what restore delivers).")  # fmt: skip
@click.option("--no-baselines", is_flag=True, help="Skip the input and classical rows.")
@click.option("--identity/--no-identity", default=True, show_default=True,
              help="Add a do-no-harm row per pipeline row: the clean image in (detection "
                   "included), compared with itself.")  # fmt: skip
@click.option(
    "--make-validation",
    "clean_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="First write PAIRS_DIR from the validation split of this clean folder "
    "(fixed seed 20201, 256 px crops) unless it already holds pairs.",
)
@click.option("--renderer", type=click.Choice(["own", "aging", "aging+damage", "damage"]),
              default="own", show_default=True,
              help="Who damages the --make-validation pairs: the training renderer (own) or "
                   "one that never trains anything: aging (fading, blur, grain, JPEG), "
                   "aging+damage (plus scratches, cracks, dust, tears), damage.")  # fmt: skip
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="torch/OpenCV CPU threads (default: library default).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON on stdout (the table goes to stderr).")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="No progress (and no table with --json).")
def eval_command(
    pairs_dir, configs, translators, detectors, limit, weights_dir, device, faces,
    face_enhancer, keep_tone, tone_curve, deblock, truth, no_baselines, identity, clean_dir, renderer, threads, as_json, quiet,
):  # fmt: skip
    """Restore every pair of PAIRS_DIR (degraded/, clean/, mask/ from `oldphoto degrade`)
    and tabulate PSNR, tone-fitted PSNR (after the best per-channel affine tone map onto
    the truth: structure alone), PSNR on the damaged pixels (pairs with a mask) and on the
    intact ones more than 8 px from them (what the repair did to the rest), SSIM,
    sharpness (gradient energy of the output over the clean image's: 1 keeps detail, below
    1 is paint), detection F1/IoU and seconds per megapixel per configuration.

    Rows: `input`, `classical` (Telea on the true mask + NLM) and `classical-blackhat`
    (Telea on a black-hat line mask + NLM), if oldphoto-classical is installed, and the
    pipeline configurations (default: the shipped pipeline detecting its own mask, and the
    shipped pipeline given the true mask).
    """
    from rich.console import Console

    from oldphoto_cli import evaluate, hostmem

    hostmem.keep_freed_memory()

    if threads:
        import cv2
        import torch

        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
    err = Console(stderr=True)
    try:
        rows = [evaluate.parse_config(spec) for spec in configs]
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if translators or detectors:
        rows += evaluate.configs_from_lists(translators, detectors)
    if clean_dir is not None and not _has_pairs(pairs_dir):
        if not quiet:
            err.print(f"writing validation pairs of {clean_dir} to {pairs_dir}")
        evaluate.make_validation_pairs(clean_dir, pairs_dir, renderer=renderer)

    def progress(index: int, total: int, name: str) -> None:
        if not quiet:
            err.print(f"[{index + 1}/{total}] {name}", highlight=False)

    try:
        report = evaluate.evaluate(
            pairs_dir, rows or None, limit=limit, weights_dir=weights_dir, device=device,
            face_enhancer=face_enhancer or ("general" if faces else "none"), keep_tone=keep_tone,
            tone_curve=tone_curve, deblock=deblock, include_input=not no_baselines,
            include_classical=not no_baselines, identity=identity, truth=truth,
            on_image=progress,
        )  # fmt: skip
    except FileNotFoundError as error:
        raise click.UsageError(str(error)) from None
    except KeyError as error:  # unknown stage name
        raise click.UsageError(str(error.args[0] if error.args else error)) from None
    except Exception as error:  # missing weights and the like: one line, exit 1
        click.echo(f"oldphoto: error: {type(error).__name__}: {error}".splitlines()[0], err=True)
        sys.exit(1)
    table = evaluate.render_table(report)
    if as_json:
        if not quiet:
            err.print(table)
        click.echo(json.dumps(report, indent=2))
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=160)  # files and pipes: no wrapping inside the table
        out.print(table)


def _has_pairs(pairs_dir: Path) -> bool:
    from oldphoto_cli.evaluate import list_pairs

    try:
        return bool(list_pairs(pairs_dir, 1))
    except FileNotFoundError:
        return False


COMMANDS.append(eval_command)
