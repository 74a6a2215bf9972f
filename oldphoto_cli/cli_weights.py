"""``oldphoto weights list|verify``: what weights are installed and whether they are intact."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

WEIGHTS_DIR_OPTION = click.option(
    "--weights-dir",
    type=click.Path(file_okay=False),
    help="Look here first (then $OLDPHOTO_WEIGHTS, then the shipped weights).",
)


def list_weights(override: str | None = None) -> list[dict[str, Any]]:
    """Every ``*.safetensors`` in the lookup dirs; earlier dirs shadow later ones."""
    from oldphoto_cli import weights

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for directory in weights.weights_dirs(override):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.safetensors")):
            row: dict[str, Any] = {
                "name": path.stem,
                "file": path.name,
                "where": str(directory),
                "bytes": path.stat().st_size,
                "sha256": weights.sha256_of(path),
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
            seen.add(path.name)
            rows.append(row)
    return rows


def verify_weights(override: str | None = None) -> list[dict[str, Any]]:
    """Check each dir's ``manifest.json`` against the files: one row per manifest entry.

    status: ok, missing, size-mismatch, sha256-mismatch; files not in a manifest are
    reported as ``unlisted`` (not a failure).
    """
    from oldphoto_cli import weights

    rows: list[dict[str, Any]] = []
    for directory in weights.weights_dirs(override):
        manifest_path = directory / weights.MANIFEST
        if not manifest_path.is_file():
            continue
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
            continue
        for name, expected in sorted(files.items()):
            path = directory / name
            row = {"file": name, "where": str(directory), "status": "ok"}
            if not path.is_file():
                row["status"] = "missing"
            elif path.stat().st_size != expected.get("bytes", path.stat().st_size):
                row["status"] = "size-mismatch"
            elif weights.sha256_of(path) != expected.get("sha256"):
                row["status"] = "sha256-mismatch"
            rows.append(row)
        for path in sorted(directory.glob("*.safetensors")):
            if path.name not in files:
                rows.append({"file": path.name, "where": str(directory), "status": "unlisted"})
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
def list_command(weights_dir: str | None, as_json: bool) -> None:
    """Name, architecture, parameters, size, sha256 and location of each weights file."""
    rows = list_weights(weights_dir)
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
            f"{_human_size(row['bytes']):>9s}  {row['sha256'][:12]}  {row['where']}"
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
    """Recompute sha256 of every file in manifest.json; exit 1 on any mismatch."""
    rows = verify_weights(weights_dir)
    bad = [r for r in rows if r["status"] not in ("ok", "unlisted")]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            click.echo(f"{row['status']:16s} {row['file']}  ({row['where']})")
    if not any(r["status"] != "unlisted" for r in rows):
        click.echo("oldphoto: nothing to verify (no manifest.json entries found)", err=True)
        sys.exit(1)
    if bad:
        click.echo(f"oldphoto: {len(bad)} weights file(s) failed verification", err=True)
        sys.exit(1)


COMMANDS: list[click.Command] = [weights_group]
