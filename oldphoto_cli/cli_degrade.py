"""``oldphoto degrade``: synthesise degraded/clean/mask training pairs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

COMMANDS: list[click.Command] = []


def _split(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip()) or None


def _list_degradations(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--list``: the registered degradations, their groups and default probabilities."""
    if not value or ctx.resilient_parsing:
        return
    from oldphoto_cli import catalog

    rows = catalog.degradation_table()
    click.echo(f"{'name':20s} {'group':16s} {'kind':13s} {'p':>5s}  plugin")
    for row in rows:
        kind = "structured" if row["structured"] else "unstructured"
        click.echo(f"{row['name']:20s} {row['group']:16s} {kind:13s} {row['p']:5.2f}  "
                   f"{row['plugin']}")  # fmt: skip
    click.echo("\np: how likely the group is to fire in the default mix (0: only with "
               "--only NAME --always).")  # fmt: skip
    ctx.exit()


@click.command(name="degrade")
@click.argument("clean_dir", type=click.Path(exists=True, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--count",
    "-n",
    type=click.IntRange(min=1),
    default=None,
    help="Number of pairs (default: one per clean image).",
)
@click.option(
    "--size",
    type=click.IntRange(min=0),
    default=256,
    show_default=True,
    help="Random crop size in pixels; 0 keeps whole images.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--structured/--no-structured",
    default=True,
    show_default=True,
    help="Also add scratches, cracks, dust, stains, edges and folds.",
)
@click.option(
    "--only",
    default=None,
    metavar="NAMES",
    help="Comma-separated op or group names, e.g. blur,noise,scratch (--list names them).",
)
@click.option("--always", is_flag=True, help="Apply every selected group (probability 1).")
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a clean | degraded | mask contact sheet of the first 6 images.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--list",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_list_degradations,
    help="List the registered degradations (name, group, default probability) and exit.",
)
def degrade_command(
    clean_dir, out_dir, count, size, seed, structured, only, always, preview, quiet
):
    """Write OUT_DIR/{degraded,clean,mask}/*.png and OUT_DIR/manifest.jsonl from the
    images in CLEAN_DIR (a directory or a single image file)."""
    import cv2
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from oldphoto_cli import degrade, imageio

    if 0 < size < 8:
        raise click.BadParameter(f"{size} is below 8 (0 keeps whole images)", param_hint="--size")
    cv2.setNumThreads(1)
    only_t = _split(only)
    try:
        degrade.check_only(only_t)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--only") from None
    sources = imageio.list_images(clean_dir, recursive=True)
    if not sources:
        raise click.ClickException(f"no images found in {clean_dir}")
    config = degrade.DegradeConfig(structured=structured, only=only_t, always=always)
    total = count or len(sources)

    def on_error(path, message):
        click.echo(f"oldphoto degrade: {message} (skipped)", err=True)

    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("degrading", total=total)
        records = degrade.make_pairs(
            sources,
            out_dir,
            count=total,
            size=size or None,
            seed=seed,
            config=config,
            on_error=on_error,
            on_progress=lambda _r: progress.advance(task),
        )
    if not records:
        raise click.ClickException("no image could be read")
    if preview is not None:
        from oldphoto_cli.degrade.dataset import load_triple, save_image

        sheet = degrade.make_contact_sheet(load_triple(out_dir, r.name) for r in records[:6])
        preview.parent.mkdir(parents=True, exist_ok=True)
        save_image(preview, sheet)
    if not quiet:
        click.echo(f"wrote {len(records)} pairs to {out_dir}", err=True)


COMMANDS.append(degrade_command)
