"""The reference lists every JSON field restore writes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from oldphoto_cli.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def test_reference_lists_the_json_fields(tiny_weights, photo_dir, tmp_path):
    """Every field of a real restore record is in the --json field list of the command
    reference (docs/usage.md)."""
    readme = (Path(__file__).resolve().parents[1] / "docs" / "usage.md").read_text()
    listing = readme[readme.index("- `--json` fields:") :]
    listing = listing[: listing.index("\n\n")]
    result = invoke("restore", photo_dir / "a.png", tmp_path / "o", "--json", "--device", "cpu",
                    "--weights-dir", tiny_weights, "--with-scratch", "on")  # fmt: skip
    record = json.loads(result.stdout)
    for key in record:
        assert f"`{key}`" in listing, key
    for key in record["pipeline"]:
        if not key.startswith("seconds_"):
            assert f"`{key}`" in listing, f"pipeline.{key}"
