"""Rerunning a command resumes: OUT inside IN is never read, this run's own outputs are
never inputs, and in place without --suffix a photo is never taken for an output."""

from __future__ import annotations

import pytest
from conftest import gradient, json_lines, save_pil
from PIL import Image


def test_rerun_with_out_inside_in_resumes(run, photo_dir):
    out = photo_dir / "restored"
    first = run("restore", photo_dir, out, "-r", "--json")
    assert first.exit_code == 0, first.output
    again = run("restore", photo_dir, out, "-r", "--json")
    assert again.exit_code == 0, again.output
    assert sorted(r["status"] for r in json_lines(again)) == ["skipped", "skipped"]
    assert not (out / "restored").exists()


def test_rerun_in_place_with_suffix_resumes(run, photo_dir):
    assert run("restore", photo_dir, photo_dir, "--suffix", "_r").exit_code == 0
    again = run("restore", photo_dir, photo_dir, "--suffix", "_r", "--json")
    assert again.exit_code == 0, again.output
    assert sorted(r["status"] for r in json_lines(again)) == ["skipped", "skipped"]
    assert not list(photo_dir.glob("*_r_r.*"))
    assert "this run's own outputs" in again.stderr


def test_in_place_without_suffix_never_takes_a_photo_for_an_output(run, tmp_path):
    """a.jpg -> a.png with --ext png, beside the owner's own a.png: refused, not overwritten."""
    src = tmp_path / "in"
    save_pil(src / "a.jpg", Image.fromarray(gradient()))
    save_pil(src / "a.png", Image.fromarray(255 - gradient()))
    original = (src / "a.png").read_bytes()
    for extra in ([], ["--overwrite"]):
        result = run("restore", src, src, "--ext", "png", *extra)
        assert result.exit_code == 2 and "refusing" in result.output
    assert (src / "a.png").read_bytes() == original


@pytest.mark.parametrize("sub", ["", "masks"])
def test_detect_rerun_with_out_inside_in_resumes(run, photo_dir, sub):
    out = photo_dir / sub if sub else photo_dir
    assert run("detect", photo_dir, out, "-r", "--overlay").exit_code == 0
    again = run("detect", photo_dir, out, "-r", "--overlay", "--json")
    assert again.exit_code == 0, again.output
    assert sorted(r["status"] for r in json_lines(again)) == ["skipped", "skipped"]
    assert not list(photo_dir.rglob("*_mask_mask.png"))
