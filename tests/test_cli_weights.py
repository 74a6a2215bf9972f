"""``oldphoto weights list`` / ``verify`` against throwaway weights dirs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from oldphoto_cli import weights
from oldphoto_cli.cli import cli


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setattr(weights, "shipped_dir", lambda: shipped)
    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)
    folder = tmp_path / "w"
    folder.mkdir()
    weights.save_weights(
        folder / "tiny.safetensors",
        {"a": torch.zeros(3, 4), "b": torch.ones(5)},
        "tinyarch",
        {"width": 4},
    )
    weights.write_manifest(folder)
    return folder


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_list_json(wdir):
    result = invoke("weights", "list", "--weights-dir", wdir, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["name"], row["arch"], row["parameters"]) == ("tiny", "tinyarch", 17)
    assert row["sha256"] == weights.sha256_of(wdir / "tiny.safetensors")
    assert row["where"] == str(wdir)
    table = invoke("weights", "list", "--weights-dir", wdir)
    assert "tiny" in table.stdout and "tinyarch" in table.stdout and "17" in table.stdout


def test_verify_ok_then_tampered(wdir):
    assert invoke("weights", "verify", "--weights-dir", wdir).exit_code == 0
    path = wdir / "tiny.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    result = invoke("weights", "verify", "--weights-dir", wdir, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)[0]["status"] == "sha256-mismatch"
    path.unlink()
    assert "missing" in invoke("weights", "verify", "--weights-dir", wdir).stdout


def test_verify_without_manifest_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "shipped_dir", lambda: tmp_path)
    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)
    assert invoke("weights", "verify").exit_code == 1
