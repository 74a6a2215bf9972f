"""Bad weights fail once, before any image, in a sentence: corrupt files, a config that does
not match, a missing --weights-dir; verify checks an override folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from oldphoto_cli.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def _weights_copy(tiny_weights: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    return folder


def test_corrupt_detector_fails_once_before_any_image(photo_dir, tmp_path, tiny_weights):
    folder = _weights_copy(tiny_weights, tmp_path)
    (folder / "detector.safetensors").write_bytes(b"\0" * 100)
    result = invoke("restore", photo_dir, tmp_path / "out", "--device", "cpu",
                    "--weights-dir", folder, "--no-face-enhance")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.stderr.count("error") == 1 and "cannot set up" in result.stderr
    assert "detector.safetensors" in result.stderr
    assert not (tmp_path / "out").exists()


def test_config_mismatch_is_a_sentence(photo_dir, tmp_path, tiny_weights):
    import torch

    from oldphoto_cli import weights

    folder = _weights_copy(tiny_weights, tmp_path)
    tensors, meta = weights.load_weights(folder / "vae1.safetensors")
    config = dict(meta["config"], bogus_width=3)
    weights.save_weights(folder / "vae1.safetensors", tensors, meta["arch"], config)
    result = invoke("restore", photo_dir, tmp_path / "out", "--device", "cpu",
                    "--translator", "mapping", "--weights-dir", folder)  # fmt: skip
    assert result.exit_code == 1
    assert "bogus_width" in result.stderr and "TypeError" not in result.stderr
    assert "unexpected keyword" not in result.stderr
    del torch


def test_missing_weights_dir_is_a_usage_error(photo_dir, tmp_path):
    for args in (["restore", photo_dir, tmp_path / "o"], ["detect", photo_dir, tmp_path / "o"],
                 ["weights", "verify"], ["weights", "list"], ["eval", photo_dir]):  # fmt: skip
        result = invoke(*args, "--weights-dir", tmp_path / "nowhere")
        assert result.exit_code == 2, (args, result.output)


def test_verify_checks_files_in_an_override_folder(tmp_path, tiny_weights):
    folder = _weights_copy(tiny_weights, tmp_path)
    (folder / "manifest.json").unlink()
    assert invoke("weights", "verify", "--weights-dir", folder).exit_code == 0
    (folder / "detector.safetensors").write_bytes(b"not safetensors")
    corrupt = invoke("weights", "verify", "--weights-dir", folder, "--json")
    assert corrupt.exit_code == 1
    rows = {r["file"]: r for r in json.loads(corrupt.stdout) if r["where"] == str(folder)}
    assert rows["detector.safetensors"]["status"] == "corrupt"
    shutil.copy(folder / "vae1.safetensors", folder / "detector.safetensors")
    wrong = invoke("weights", "verify", "--weights-dir", folder, "--json")
    assert wrong.exit_code == 1
    rows = {r["file"]: r for r in json.loads(wrong.stdout) if r["where"] == str(folder)}
    assert rows["detector.safetensors"]["status"] == "wrong-architecture"
