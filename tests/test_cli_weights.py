"""``oldphoto weights list`` / ``verify`` against throwaway weights dirs."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from oldphoto_cli import weights
from oldphoto_cli.cli import cli


@pytest.fixture
def wdir(tmp_path, monkeypatch, isolated_plugins):  # installed weights packages stay out
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
    assert "sha256" not in row  # a plain listing reads headers only
    assert row["where"] == str(wdir)
    table = invoke("weights", "list", "--weights-dir", wdir)
    assert "tiny" in table.stdout and "tinyarch" in table.stdout and "17" in table.stdout


def test_list_sha256_hashes_the_files(wdir):
    digest = weights.sha256_of(wdir / "tiny.safetensors")
    (row,) = json.loads(invoke("weights", "list", "--weights-dir", wdir, "--sha256", "--json").stdout)
    assert row["sha256"] == digest
    table = invoke("weights", "list", "--weights-dir", wdir, "--sha256").stdout
    assert digest[:12] in table


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


def test_verify_without_manifest_fails(tmp_path, monkeypatch, isolated_plugins):
    monkeypatch.setattr(weights, "shipped_dir", lambda: tmp_path)
    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)
    assert invoke("weights", "verify").exit_code == 1


def test_list_reads_headers_and_flags_broken_files(wdir):
    """``weights list`` parses safetensors headers itself (no torch): same figures as the
    safetensors library, and an error row for files it would refuse."""
    from safetensors import safe_open

    good = wdir / "tiny.safetensors"
    header = weights.read_header(good)
    with safe_open(str(good), framework="pt") as handle:
        assert set(header) - {"__metadata__"} == set(handle.keys())
        assert header["__metadata__"] == handle.metadata()
        assert [header[k]["shape"] for k in handle.keys()] == [
            list(handle.get_slice(k).get_shape()) for k in handle.keys()
        ]
    data = good.read_bytes()
    (wdir / "cut.safetensors").write_bytes(data[:-4])  # header intact, data short
    (wdir / "junk.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{bad}")
    (wdir / "tiny2.safetensors").write_bytes(b"\xff" * 8)  # absurd header length
    rows = {r["name"]: r for r in json.loads(invoke("weights", "list", "--weights-dir", wdir,
                                                    "--json").stdout)}  # fmt: skip
    assert "error" not in rows["tiny"]
    assert "data ends at byte" in rows["cut"]["error"]
    assert "not JSON" in rows["junk"]["error"]
    assert "header length" in rows["tiny2"]["error"]
    for name in ("cut", "junk", "tiny2"):
        with pytest.raises(weights.WeightsError, match=f"{name}.safetensors"):
            weights.read_metadata(wdir / f"{name}.safetensors")


def test_the_package_folder_holds_only_the_shipped_weights_and_research_one_point_each():
    """weights/ (installed as oldphoto_weights) holds the files of its manifest, its model
    card and nothing else: training logs and continuation points live in research/, at most
    one per network, float16."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(json.loads((root / "weights" / "manifest.json").read_text())["files"])
    present = {p.name for p in (root / "weights").iterdir() if p.name != "__pycache__"}
    assert present == listed | {"README.md", "__init__.py", "manifest.json"}
    for path in sorted((root / "research" / "checkpoints").iterdir()):
        meta = weights.read_metadata(path)  # a loadable weights file, named by its network
        assert path.suffix == ".safetensors" and meta["arch"], path
        header = weights.read_header(path)
        header.pop("__metadata__", None)
        dtypes = {entry["dtype"] for entry in header.values()}
        assert dtypes <= {"F16", "I64"}, (path.name, dtypes)  # float16 (+ BatchNorm counts)
