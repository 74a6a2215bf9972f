"""Smaller user reports: tiny images, skipped subfolders, frames, plugins that exit,
a missing --mask-dir mask, file OUT vs --ext, and the reference's JSON field list."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gradient, save_pil
from PIL import Image

from oldphoto_cli.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


@pytest.fixture
def run(fake_pipeline):
    return invoke


@pytest.mark.parametrize("weights", ["shipped", "tiny"])
def test_tiny_images_are_restored_not_a_torch_message(tmp_path, tiny_weights, weights):
    src = tmp_path / "in"
    for w, h in [(1, 1), (3, 3), (7, 40), (16, 5), (200, 2)]:
        save_pil(src / f"t{w}x{h}.png", Image.fromarray(gradient(h, w)))
    extra = ["--weights-dir", tiny_weights] if weights == "tiny" else []
    for command in ("restore", "detect"):
        result = invoke(command, src, tmp_path / command, "--json", "--device", "cpu", *extra)
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["status"] for r in records] == ["ok"] * 5
    for path in (tmp_path / "restore").iterdir():
        w, h = map(int, re.findall(r"\d+", path.stem))
        assert Image.open(path).size == (w, h)


def test_folder_without_r_counts_skipped_subfolders(run, photo_dir, tmp_path):
    (photo_dir / "1950s").mkdir()
    (photo_dir / "1960s").mkdir()
    result = run("restore", photo_dir, tmp_path / "out")
    assert result.exit_code == 0
    assert "skipped 2 subfolders (use -r/--recursive" in result.stderr


def test_animated_and_multipage_say_only_the_first_frame(run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    frames = [Image.fromarray(np.roll(gradient(), 5 * i, axis=1)) for i in range(3)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(src / "anim.png", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(src / "pages.tif", save_all=True, append_images=frames[1:])
    result = run("restore", src, tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    for name in ("anim.gif", "anim.png", "pages.tif"):
        assert f"{name}: has 3 frames/pages; only the first is restored" in result.stderr
        with Image.open(tmp_path / "out" / name) as out:
            out.load()
    assert all(r["frames"] == 3 for r in map(json.loads, result.stdout.splitlines()))


def test_plugin_raising_systemexit_is_a_broken_plugin(isolated_plugins, monkeypatch, tmp_path):
    from importlib import metadata

    from oldphoto_cli import plugins

    (tmp_path / "exits_at_import.py").write_text("raise SystemExit('no GPU, bye')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [metadata.EntryPoint("exits", "exits_at_import", plugins.GROUP)]
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group=None: eps)
    monkeypatch.setattr(plugins, "_loaded", False)
    plugins.load_plugins()  # must not exit
    assert [b.name for b in plugins.BROKEN_PLUGINS] == ["exits"]
    info = json.loads(invoke("plugins").stdout)
    assert any(p["name"] == "exits" and "SystemExit" in p["error"] for p in info)


def test_missing_mask_in_mask_dir_says_it_detected(run, photo_dir, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(masks / "a_mask.png")
    result = run("restore", photo_dir, tmp_path / "out", "--mask-dir", masks, "--json")
    assert result.exit_code == 0
    assert "b.jpg: no mask for it in" in result.stderr and "detecting instead" in result.stderr
    by_name = {Path(r["input"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert by_name["b.jpg"]["mask_source"] == "detected: no mask in --mask-dir"
    assert by_name["a.png"]["mask_source"].endswith("a_mask.png")


def test_file_out_formats_and_ext(run, photo_dir, tmp_path):
    gif = run("restore", photo_dir / "a.png", tmp_path / "o.gif")
    assert gif.exit_code == 0 and Image.open(tmp_path / "o.gif").format == "GIF"
    heic = run("restore", photo_dir / "a.png", tmp_path / "o.heic")
    assert heic.exit_code == 2 and "cannot write .heic" in heic.output
    assert not (tmp_path / "o.heic").exists()
    clash = run("restore", photo_dir / "a.png", tmp_path / "o.png", "--ext", "webp")
    assert clash.exit_code == 2 and "--ext" in clash.output
    same = run("restore", photo_dir / "a.png", tmp_path / "o2.webp", "--ext", "webp")
    assert same.exit_code == 0 and Image.open(tmp_path / "o2.webp").format == "WEBP"


def test_newline_in_a_file_name_keeps_its_error_on_one_line(run, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "two\nlines.jpg").write_bytes(b"not a jpeg")
    result = run("restore", src, tmp_path / "out")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "two\\nlines.jpg" in errors[0]


def test_reference_lists_the_json_fields(tiny_weights, photo_dir, tmp_path):
    """Every field of a real restore record is in the --json field list of the command
    reference (docs/usage.md)."""
    readme = (Path(__file__).resolve().parents[1] / "docs" / "usage.md").read_text()
    listing = readme[readme.index("- `--json` fields:"):]
    listing = listing[: listing.index("\n\n")]
    result = invoke("restore", photo_dir / "a.png", tmp_path / "o", "--json", "--device", "cpu",
                    "--weights-dir", tiny_weights, "--with-scratch", "on")  # fmt: skip
    record = json.loads(result.stdout)
    for key in record:
        assert f"`{key}`" in listing, key
    for key in record["pipeline"]:
        if not key.startswith("seconds_"):
            assert f"`{key}`" in listing, f"pipeline.{key}"
