"""Weights that plugins ship in a package of their own (``oldphoto_register_weights``):
lookup order, ``weights list`` sources, the ``face`` enhancer found there and the fallback
to ``general`` without it; through a real entry point, and the real
``plugins/oldphoto-face-weights`` package when it is installed (``.ci/run`` does)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_tiny_face_restorer_weights, write_tiny_face_weights, write_tiny_weights

from oldphoto_cli import faces, stages, weights
from oldphoto_cli.cli import cli
from oldphoto_cli.contract import PluginError
from oldphoto_cli.hookspecs import hookimpl

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "plugins" / "oldphoto-face-weights"


class WeightsPlugin:
    def __init__(self, *directories):
        self.directories = directories

    @hookimpl
    def oldphoto_register_weights(self, register):
        for directory in self.directories:
            register(directory)


@pytest.fixture
def lookup(builtin_plugins, tmp_path, monkeypatch):
    """Empty shipped folder, no $OLDPHOTO_WEIGHTS, a plugin registering ``plugin_dir``."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setattr(weights, "shipped_dir", lambda: shipped)
    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    builtin_plugins.register(WeightsPlugin(plugin_dir), name="my-weights")
    stages.reset()
    yield {"shipped": shipped, "plugin": plugin_dir, "pm": builtin_plugins}
    stages.reset()


def test_registered_folders_are_searched_last(lookup, tmp_path, monkeypatch):
    env, override = tmp_path / "env", tmp_path / "override"
    monkeypatch.setenv("OLDPHOTO_WEIGHTS", str(env))
    sources = weights.weights_sources(override)
    assert [(d.path, d.source) for d in sources] == [
        (override, "--weights-dir"),
        (env, "$OLDPHOTO_WEIGHTS"),
        (lookup["shipped"], "shipped"),
        (lookup["plugin"], "plugin my-weights"),
    ]
    assert sources[-1].plugin == "my-weights"
    # The first folder that has the file wins; the plugin's is the last resort.
    for folder in (lookup["plugin"], lookup["shipped"], env, override):
        folder.mkdir(exist_ok=True)
        (folder / "face.safetensors").write_bytes(b"x")
        assert weights.find_weights("face", override) == folder / "face.safetensors"
    assert weights.find_weights("face") == env / "face.safetensors"


def test_a_folder_registered_twice_is_searched_once(lookup):
    lookup["pm"].register(WeightsPlugin(lookup["plugin"], str(lookup["plugin"])), name="again")
    assert weights.weights_dirs().count(lookup["plugin"]) == 1


def test_a_registration_that_is_not_a_path_names_the_plugin(builtin_plugins):
    builtin_plugins.register(WeightsPlugin(42), name="bad-weights")
    with pytest.raises(PluginError, match="bad-weights"):
        weights.weights_dirs()


def test_weights_list_says_where_each_file_comes_from(lookup, tmp_path):
    write_tiny_face_weights(lookup["plugin"])
    override = tmp_path / "override"
    write_tiny_face_weights(override)
    result = CliRunner().invoke(cli, ["weights", "list", "--json", "--weights-dir", str(override)])
    assert result.exit_code == 0, result.output
    rows = [(r["name"], r["source"], r["shadowed"]) for r in json.loads(result.stdout)]
    assert rows == [("face", "--weights-dir", False), ("face", "plugin my-weights", True)]
    table = CliRunner().invoke(cli, ["weights", "list"]).stdout
    assert "[plugin my-weights]" in table and str(lookup["plugin"]) in table
    info = json.loads(CliRunner().invoke(cli, ["plugins"]).stdout)
    mine = next(p for p in info if p["name"] == "my-weights")
    assert mine["weights_dirs"] == [str(lookup["plugin"])]


def test_the_face_restorer_is_the_default_enhancer_only_with_its_weights(lookup):
    assert not faces.face_weights_available()
    assert stages.default_name("face_enhance") == "general"
    write_tiny_face_weights(lookup["plugin"])
    assert faces.face_weights_available()
    stages.reset()
    assert stages.default_name("face_enhance") == "general"  # the face network is opt-in
    write_tiny_face_restorer_weights(lookup["plugin"])
    stages.reset()
    assert stages.default_name("face_enhance") == "restorer"
    # The stage loads the plugin's file (no --weights-dir, nothing shipped).
    stage = stages.build("face_enhance", "face", device="cpu", only_center_face=False,
                         save_faces_dir=None)  # fmt: skip
    assert stage.meta["licence"] == "research use only (tests)"
    crop = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    assert stage.enhance_crop(crop).shape == crop.shape


def test_restore_without_the_weights_package_uses_general_with_a_note(lookup, tmp_path, capsys):
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    lookup["pm"].unregister(name="my-weights")
    stages.reset()
    assert stages.default_name("face_enhance") == "general"
    tiny = str(write_tiny_weights(tmp_path / "tiny"))  # the other stages' weights
    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="face",
                                              weights_dir=tiny))  # fmt: skip
    assert pipeline.face_enhancer.name == "general"
    assert "install oldphoto-face-weights" in pipeline.notes[0]
    assert "note: face network weights not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- entry points


def _fake_distribution(site: Path) -> Path:
    """A plugin distribution on ``site`` (dist-info + package), as pip would lay it out:
    found through importlib.metadata's entry points like any installed package."""
    package = site / "fake_face_weights"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from pathlib import Path\n"
        "from oldphoto_cli.hookspecs import hookimpl\n\n\n"
        "@hookimpl\n"
        "def oldphoto_register_weights(register):\n"
        "    register(Path(__file__).parent)\n"
    )
    write_tiny_face_weights(package)
    write_tiny_face_restorer_weights(package)
    info = site / "fake_face_weights-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-face-weights\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[oldphoto]\nfake-face-weights = fake_face_weights\n")
    return package


PROBE = """
import json, sys
from click.testing import CliRunner
from oldphoto_cli.cli import cli
out = {a: CliRunner().invoke(cli, a.split()).stdout for a in ("weights list --json", "stages --json")}
out["torch"] = "torch" in sys.modules
print(json.dumps(out))
"""


def test_registration_through_a_real_entry_point(tmp_path):
    package = _fake_distribution(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"),
           "OLDPHOTO_LOAD_PLUGINS": "fake-face-weights"}  # fmt: skip
    env.pop("OLDPHOTO_WEIGHTS", None)
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    face = [r for r in json.loads(out["weights list --json"]) if r["name"] == "face"]
    assert [(r["where"], r["source"]) for r in face] == [
        (str(package), "plugin fake-face-weights")
    ]
    default = [s["name"] for s in json.loads(out["stages --json"])["face_enhance"] if s["default"]]
    assert default == ["restorer"]
    assert not out["torch"]  # finding the weights imports no torch


# --------------------------------------------------------------------------- the real package


def _installed() -> bool:
    return any(ep.name == "face-weights" for ep in metadata.entry_points(group="oldphoto"))


def test_package_states_its_research_use_licence():
    project = (PACKAGE / "pyproject.toml").read_text()  # tomllib is Python 3.11+
    assert 'license = { text = "Research use only' in project
    assert 'face-weights = "oldphoto_face_weights"' in project
    assert "research use only" in (PACKAGE / "README.md").read_text().lower()


@pytest.mark.skipif(not _installed(), reason="pip install ./plugins/oldphoto-face-weights")
def test_installed_face_weights_package_registers_its_folder(monkeypatch):
    import oldphoto_face_weights

    monkeypatch.delenv("OLDPHOTO_WEIGHTS", raising=False)
    sources = {d.source: d.path for d in weights.weights_sources()}
    assert sources["plugin face-weights"] == oldphoto_face_weights.WEIGHTS_DIR
    shipped = oldphoto_face_weights.WEIGHTS_DIR / "face.safetensors"
    if not shipped.is_file():
        pytest.skip("the package was built without face.safetensors")
    meta = weights.read_metadata(shipped)
    assert meta["arch"] == "face-spade-v1" and "research use" in meta["licence"]
    assert faces.face_weights_available()
