"""``oldphoto install`` / ``uninstall``: pip in oldphoto's own environment."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from oldphoto_cli import install
from oldphoto_cli.cli import cli


@pytest.fixture
def pip_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(install, "run_pip", lambda args: calls.append(list(args)) or 0)
    return calls


def test_install_runs_this_pythons_pip_with_names_paths_and_editables(pip_calls):
    result = CliRunner().invoke(
        cli, ["install", "oldphoto-foo", "./local/plugin", "-e", "dev/one", "-e", "dev/two", "-U"]
    )
    assert result.exit_code == 0, result.output
    assert pip_calls == [[sys.executable, "-m", "pip", "install", "--upgrade", "--editable",
                          "dev/one", "--editable", "dev/two", "oldphoto-foo",
                          "./local/plugin"]]  # fmt: skip


def test_install_passes_pips_status_through(monkeypatch):
    monkeypatch.setattr(install, "run_pip", lambda args: 1)
    assert CliRunner().invoke(cli, ["install", "no-such-plugin"]).exit_code == 1


def test_install_without_packages_is_a_usage_error(pip_calls):
    result = CliRunner().invoke(cli, ["install"])
    assert result.exit_code == 2 and "at least one" in result.output and not pip_calls


def test_uninstall_refuses_oldphoto_itself(pip_calls):
    for name in ("oldphoto", "OldPhoto"):
        result = CliRunner().invoke(cli, ["uninstall", "-y", "foo", name])
        assert result.exit_code == 2 and "refusing" in result.output
    assert not pip_calls
    assert CliRunner().invoke(cli, ["uninstall", "-y", "oldphoto-foo"]).exit_code == 0
    assert pip_calls == [[sys.executable, "-m", "pip", "uninstall", "--yes", "oldphoto-foo"]]


@pytest.mark.slow
def test_install_plugins_uninstall_round_trip(tmp_path):
    """A real plugin package from a path: installed, listed, used, uninstalled (~40 s)."""
    package = tmp_path / "pkg"
    (package / "oldphoto_roundtrip").mkdir(parents=True)
    (package / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "oldphoto-roundtrip-test"
        version = "0.0.1"
        [project.entry-points.oldphoto]
        roundtrip = "oldphoto_roundtrip"
        [tool.setuptools]
        packages = ["oldphoto_roundtrip"]
    """))
    (package / "oldphoto_roundtrip" / "__init__.py").write_text(textwrap.dedent("""
        from oldphoto_cli import Detector, hookimpl

        class Blank(Detector):
            name = "roundtrip-blank"

            def __call__(self, rgb):
                return rgb[..., 0] * 0

        @hookimpl
        def oldphoto_register_stages(register):
            register("detect", "roundtrip-blank", Blank)
    """))

    def oldphoto(*args):
        return subprocess.run([sys.executable, "-m", "oldphoto_cli", *args], capture_output=True,
                              text=True, timeout=300)  # fmt: skip

    installed = oldphoto("install", str(package))
    try:
        assert installed.returncode == 0, installed.stderr
        listed = {p["name"]: p for p in json.loads(oldphoto("plugins").stdout)}
        assert listed["roundtrip"]["distribution"] == "oldphoto-roundtrip-test"
        assert listed["roundtrip"]["stages"] == [{"kind": "detect", "name": "roundtrip-blank"}]
    finally:
        removed = oldphoto("uninstall", "-y", "oldphoto-roundtrip-test")
    assert removed.returncode == 0, removed.stderr
    assert "roundtrip" not in {p["name"] for p in json.loads(oldphoto("plugins").stdout)}
