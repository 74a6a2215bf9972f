"""The 43-file bad-input corpus through ``restore`` and ``detect`` with the real stages
(tiny weights): no traceback, no lost record, no corrupt output, inputs untouched; with bad
masks, option values that would hang, and a forgotten OUT."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from badcorpus import make_corpus, make_masks
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


def test_corpus_with_masks_grey_and_drawn(corpus, tmp_path, tiny_weights):
    folder, _ = corpus
    wanted = make_masks(tmp_path / "masks")
    result = CliRunner().invoke(cli, ["restore", str(folder), str(tmp_path / "out"), "--json",
                                      "--device", "cpu", "--weights-dir", str(tiny_weights),
                                      "--max-memory", "4", "--mask-dir",
                                      str(tmp_path / "masks")])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    records = {Path(os.fsencode(r["input"]).decode("utf-8", "surrogateescape")).name: r
               for r in map(json.loads, result.stdout.splitlines())}  # fmt: skip
    for name, outcome in wanted.items():
        assert records[name]["status"] == outcome, records[name]
    assert "grey, not black and white" in records["good.png"]["error"]
    assert records["UPPER.JPG"]["mask_source"].endswith("UPPER.png")


@pytest.mark.parametrize("option", [["--tile", "1"], ["--dilate", "100000"],
                                    ["--strength", "nan"], ["--max-memory", "inf"],
                                    ["--io-threads", "100000"]])  # fmt: skip
def test_corpus_with_option_values_that_would_hang(corpus, tmp_path, tiny_weights, option):
    folder, _ = corpus
    result = CliRunner().invoke(cli, ["restore", str(folder), str(tmp_path / "out"),
                                      "--weights-dir", str(tiny_weights), *option])  # fmt: skip
    assert result.exit_code == 2 and "Invalid value" in result.stderr
    assert not (tmp_path / "out").exists()


def test_corpus_with_a_memory_cap_below_any_photo(corpus, tmp_path, tiny_weights):
    folder, expected = corpus
    result = CliRunner().invoke(cli, ["restore", str(folder), str(tmp_path / "out"), "--json",
                                      "--weights-dir", str(tiny_weights), "--max-memory",
                                      "0.001"])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert not [r for r in records if r["status"] == "ok"]
    assert any("allowed: 1.0 MB (--max-memory)" in (r["error"] or "") for r in records)


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_corpus_with_a_forgotten_out(corpus, tmp_path, fake_pipeline, overwrite):
    """`restore corpus/*.jpg` as a shell passes it: the last photo is OUT."""
    folder, _ = corpus
    before = _digest(folder)
    photos = sorted(str(p) for p in folder.glob("*.jpg") if p.name[0] != ".")
    several = CliRunner().invoke(cli, ["restore", *photos, *overwrite])
    assert several.exit_code == 2 and "not a folder" in several.stderr
    one = CliRunner().invoke(cli, ["restore", *photos[:1], photos[-1], *overwrite])
    assert one.exit_code == (2 if overwrite else 0)
    assert _digest(folder) == before


def test_detect_with_nothing_to_write(corpus, tmp_path, fake_pipeline):
    folder, _ = corpus
    result = CliRunner().invoke(cli, ["detect", str(folder), str(tmp_path / "m"),
                                      "--no-save-mask"])  # fmt: skip
    assert result.exit_code == 2 and not (tmp_path / "m").exists()
