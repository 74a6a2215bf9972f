"""The external example plugin (tests/example_plugin) through its real entry point.

Runs only when ``pip install ./tests/example_plugin`` was done (``.ci/run`` does it);
otherwise skipped. Uses subprocesses so the real plugin loading path is exercised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest
from PIL import Image


def _installed() -> bool:
    return any(ep.name == "example" for ep in metadata.entry_points(group="oldphoto"))


pytestmark = pytest.mark.skipif(
    not _installed(), reason="example plugin not installed (pip install ./tests/example_plugin)"
)


def oldphoto(*args):
    env = {k: v for k, v in os.environ.items() if k != "OLDPHOTO_LOAD_PLUGINS"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "oldphoto_cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_example_plugin_stage_listed_and_usable(tmp_path):
    result = oldphoto("stages", "--json")
    assert result.returncode == 0, result.stderr
    translate = json.loads(result.stdout)["translate"]
    entry = [s for s in translate if s["name"] == "example-invert"]
    assert entry and entry[0]["plugin"] == "example"

    image = np.full((16, 16, 3), 60, np.uint8)
    Image.fromarray(image).save(tmp_path / "in.png")
    restored = oldphoto(
        "restore",
        tmp_path / "in.png",
        tmp_path / "out",
        "--translator",
        "example-invert",
        "--with-scratch",
        "off",
        "--no-face-enhance",
        "--device",
        "cpu",
        "--json",
    )
    assert restored.returncode == 0, restored.stderr
    record = json.loads(restored.stdout.splitlines()[0])
    assert record["status"] == "ok"
    assert record["stages"]["translate"] == "example-invert"
    out = np.asarray(Image.open(tmp_path / "out" / "in.png"))
    assert out.mean() > 128  # the inverting translator really ran


def test_unknown_translator_refused_with_exit_2(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "in.png")
    result = oldphoto("restore", tmp_path / "in.png", tmp_path / "o", "--translator", "nope")
    assert result.returncode == 2 and "example-invert" in result.stderr
