"""``oldphoto weights list|verify``: what weights are installed and whether they are intact."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

WEIGHTS_DIR_OPTION = click.option(
    "--weights-dir",
    type=click.Path(exists=True, file_okay=False),
    help="Look here first (then $OLDPHOTO_WEIGHTS, the shipped weights, plugins' weights).",
)


def list_weights(override: str | None = None, *, sha256: bool = False) -> list[dict[str, Any]]:
    """Every ``*.safetensors`` in the lookup dirs; earlier dirs shadow later ones.
    ``source`` says why a folder is searched (``--weights-dir``, ``$OLDPHOTO_WEIGHTS``,
    ``shipped``, ``plugin NAME``). ``sha256`` hashes each file: it reads every byte (tens
    of MB), so a plain listing, which only parses headers, leaves it to ``verify``."""
    from oldphoto_cli import weights

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for lookup in weights.weights_sources(override):
        directory = lookup.path
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.safetensors")):
            row: dict[str, Any] = {
                "name": path.stem,
                "file": path.name,
                "where": str(directory),
                "source": lookup.source,
                "bytes": path.stat().st_size,
                "shadowed": path.name in seen,
            }
            try:
                meta = weights.read_metadata(path)
                row["arch"] = meta.get("arch")
                row["parameters"] = meta.get("parameters")
            except weights.WeightsError as error:
                row["arch"] = None
                row["parameters"] = None
                row["error"] = str(error)
            if sha256:
                row["sha256"] = weights.sha256_of(path)
            seen.add(path.name)
            rows.append(row)
    return rows


def _known_weights() -> dict[str, Any]:
    """weights name -> the TorchStage class that loads it (built-in and plugin stages)."""
    from oldphoto_cli import stages
    from oldphoto_cli.registry import resolve
    from oldphoto_cli.torch_stage import TorchStage

    for spec in stages.all_stages():  # import the stage classes registered by name
        try:
            resolve(spec.factory)
        except Exception:  # noqa: S112 (a stage that cannot load has no weights to check)
            continue
    known: dict[str, Any] = {}
    todo = list(TorchStage.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if all(hasattr(cls, attr) for attr in ("weights_name", "build", "config_cls")):
            known.setdefault(cls.weights_name, cls)
    return known


def check_file(path: Any, known: dict[str, Any] | None = None) -> tuple[str, str | None]:
    """(status, error) of one weights file's content: ok, corrupt, wrong-architecture,
    does-not-fit (its config or tensors do not build the architecture its name needs)."""
    from oldphoto_cli import weights

    known = _known_weights() if known is None else known
    try:
        meta = weights.read_metadata(path)
    except weights.WeightsError as error:
        return "corrupt", str(error)
    stage = known.get(path.stem)
    if stage is None:
        return "ok", None
    if meta.get("arch") != stage.arch:
        return "wrong-architecture", f"holds {meta.get('arch')!r}, {path.stem} needs {stage.arch!r}"
    try:
        weights.load_model(path, stage.build, stage.config_cls, stage.arch)
    except weights.WeightsError as error:
        return "does-not-fit", str(error)
    return "ok", None


def verify_weights(override: str | None = None) -> list[dict[str, Any]]:
    """Check each dir's ``manifest.json`` against the files, and load every file.

    status: ok, missing, size-mismatch, sha256-mismatch (manifest), corrupt,
    wrong-architecture, does-not-fit (content: a file that is not safetensors, holds another
    network than its name says, or does not build it); files not in a manifest that load
    are reported as ``unlisted`` (not a failure).
    """
    from oldphoto_cli import weights

    known = _known_weights()
    rows: list[dict[str, Any]] = []
    for directory in weights.weights_dirs(override):
        manifest_path = directory / weights.MANIFEST
        files: dict[str, Any] = {}
        if manifest_path.is_file():
            try:
                files = json.loads(manifest_path.read_text())["files"]
            except (ValueError, KeyError, OSError) as error:
                rows.append(
                    {
                        "file": str(manifest_path),
                        "where": str(directory),
                        "status": "bad-manifest",
                        "error": str(error),
                    }
                )
                files = {}
        for name, expected in sorted(files.items()):
            path = directory / name
            row = {"file": name, "where": str(directory), "status": "ok"}
            if not path.is_file():
                row["status"] = "missing"
            elif path.stat().st_size != expected.get("bytes", path.stat().st_size):
                row["status"] = "size-mismatch"
            elif weights.sha256_of(path) != expected.get("sha256"):
                row["status"] = "sha256-mismatch"
            else:
                row["status"], error = check_file(path, known)
                if error:
                    row["error"] = error
            rows.append(row)
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.safetensors")):
            if path.name not in files:
                status, error = check_file(path, known)
                row = {"file": path.name, "where": str(directory),
                       "status": "unlisted" if status == "ok" else status}  # fmt: skip
                if error:
                    row["error"] = error
                rows.append(row)
    return rows


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@click.group(name="weights")
def weights_group() -> None:
    """Inspect and verify model weights (safetensors + manifest.json)."""


@weights_group.command(name="list")
@WEIGHTS_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--sha256", "with_sha256", is_flag=True,
              help="Also hash each file (reads it whole; `verify` checks the hashes).")
def list_command(weights_dir: str | None, as_json: bool, with_sha256: bool) -> None:
    """Name, architecture, parameters, size and location of each weights file."""
    rows = list_weights(weights_dir, sha256=with_sha256)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no weights found", err=True)
        return
    for row in rows:
        params = f"{row['parameters']:,}" if row.get("parameters") is not None else "?"
        line = (
            f"{row['name']:24s} {str(row.get('arch') or '?'):16s} {params:>12s} "
            f"{_human_size(row['bytes']):>9s}  "
            + (f"{row['sha256'][:12]}  " if with_sha256 else "")
            + f"{row['where']}"
            f"  [{row['source']}]"
        )
        if row["shadowed"]:
            line += "  (shadowed)"
        if row.get("error"):
            line += f"  ERROR: {row['error']}"
        click.echo(line)


@weights_group.command(name="verify")
@WEIGHTS_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def verify_command(weights_dir: str | None, as_json: bool) -> None:
    """Recompute sha256 of every file in manifest.json and load every weights file; exit 1
    on a mismatch or a file that is corrupt or holds the wrong network."""
    rows = verify_weights(weights_dir)
    bad = [r for r in rows if r["status"] not in ("ok", "unlisted")]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            error = f"  {row['error']}" if row.get("error") else ""
            click.echo(f"{row['status']:18s} {row['file']}  ({row['where']}){error}")
    if not any(r["status"] != "unlisted" for r in rows):
        click.echo("oldphoto: nothing to verify (no manifest.json entries found)", err=True)
        sys.exit(1)
    if bad:
        click.echo(f"oldphoto: {len(bad)} weights file(s) failed verification", err=True)
        sys.exit(1)


COMMANDS: list[click.Command] = [weights_group]
