"""The 40-file bad-input corpus through ``restore`` and ``detect`` with the real stages
(tiny weights): no traceback, no lost record, no corrupt output, inputs untouched."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from badcorpus import make_corpus
from click.testing import CliRunner
from PIL import Image

from oldphoto_cli import imageio
from oldphoto_cli.cli import cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, make_corpus(folder)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.iterdir() if p.is_file() and not p.is_symlink()}  # fmt: skip


def _check_run(result, folder: Path, expected: dict[str, str]) -> dict[str, dict]:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    records = {Path(os.fsencode(r["input"]).decode("utf-8", "surrogateescape")).name: r
               for r in map(json.loads, result.stdout.splitlines())}  # fmt: skip
    wanted = {n for n, outcome in expected.items() if outcome != "skipped"}
    assert set(records) == wanted  # one record per input: none lost, none extra
    for name, record in records.items():
        assert record["status"] == expected[name], (name, record)
        if record["status"] == "error":
            assert record["error"] and "\n" not in record["error"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("oldphoto: error:")]
    assert len(errors) == sum(r["status"] == "error" for r in records.values())
    assert any("new\\nline.jpg" in line for line in errors)  # one line, newline escaped
    for name in ("animated.gif", "animated.png", "pages.tif"):
        assert f"{name}: has 3 frames/pages; only the first" in result.stderr
    for name in (".hidden.jpg", "notes.txt"):
        assert name in result.stderr
    return records


def test_corpus_through_restore(corpus, tmp_path, tiny_weights):
    folder, expected = corpus
    before = _digest(folder)
    out = tmp_path / "out"
    args = ["restore", str(folder), str(out), "--json", "--device", "cpu", "--weights-dir",
            str(tiny_weights), "--max-memory", "4"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    records = _check_run(result, folder, expected)
    for name, record in records.items():
        if record["status"] != "ok":
            continue
        with Image.open(record["output"]) as written:  # decodes: not corrupt
            written.load()
            assert written.size == imageio.read_image(folder / name).size, name
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp files
    assert _digest(folder) == before  # no input modified
    again = CliRunner().invoke(cli, args)  # a rerun resumes: the same records, all kept
    statuses = {json.loads(line)["status"] for line in again.stdout.splitlines()}
    assert again.exit_code == 1 and statuses == {"skipped", "error"}


def test_corpus_through_detect(corpus, tmp_path, tiny_weights):
    folder, expected = corpus
    out = tmp_path / "masks"
    result = CliRunner().invoke(cli, ["detect", str(folder), str(out), "--json", "--device",
                                      "cpu", "--weights-dir", str(tiny_weights),
                                      "--max-memory", "4"])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == sum(outcome != "skipped" for outcome in expected.values())
    for record in records:
        if record["status"] == "ok":
            with Image.open(record["outputs"]["mask"]) as mask:
                mask.load()
