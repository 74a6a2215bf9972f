"""Plugin registration, collisions, broken plugins, OLDPHOTO_LOAD_PLUGINS; no installed plugins."""

from __future__ import annotations

import json
from importlib import metadata

import pytest
from click.testing import CliRunner

from oldphoto_cli import plugins, stages
from oldphoto_cli.cli import cli
from oldphoto_cli.hookspecs import hookimpl
from oldphoto_cli.plugins import PluginError


def make_plugin(kind, name):
    class Plugin:
        @hookimpl
        def oldphoto_register_stages(self, register):
            register(kind, name, lambda device=None, **kw: None, description=f"{name} stage")

    return Plugin()


def test_register_and_unregister(isolated_plugins):
    isolated_plugins.register(make_plugin("detect", "lines"), name="lineplug")
    stages.reset()
    spec = stages.get("detect", "lines")
    assert spec.plugin == "lineplug" and stages.default_name("detect") == "lines"
    isolated_plugins.unregister(name="lineplug")
    stages.reset()
    with pytest.raises(KeyError, match="no detect stage named 'lines'"):
        stages.get("detect", "lines")


def test_duplicate_stage_names_both_plugins(isolated_plugins):
    isolated_plugins.register(make_plugin("translate", "same"), name="first-plugin")
    isolated_plugins.register(make_plugin("translate", "same"), name="second-plugin")
    stages.reset()
    with pytest.raises(PluginError) as info:
        stages.all_stages()
    assert "first-plugin" in str(info.value) and "second-plugin" in str(info.value)
    assert "translate:same" in str(info.value)


def test_duplicate_reported_by_cli_as_usage_error(isolated_plugins, fake_pipeline, tmp_path):
    isolated_plugins.register(make_plugin("translate", "same"), name="p1")
    isolated_plugins.register(make_plugin("translate", "same"), name="p2")
    stages.reset()
    (tmp_path / "a.png").write_bytes(b"")
    result = CliRunner().invoke(
        cli, ["restore", str(tmp_path / "a.png"), str(tmp_path / "o"), "--translator", "same"]
    )
    assert result.exit_code == 2 and "p1" in result.output and "p2" in result.output


def test_unknown_kind_rejected(isolated_plugins):
    isolated_plugins.register(make_plugin("colourise", "x"), name="odd")
    stages.reset()
    with pytest.raises(PluginError, match="odd"):
        stages.all_stages()


def _fake_entry_points(monkeypatch, entries):
    eps = [metadata.EntryPoint(name, value, plugins.GROUP) for name, value in entries]
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group=None: eps)
    monkeypatch.setattr(plugins, "_loaded", False)


def test_plugin_failing_to_import_is_reported_not_raised(isolated_plugins, monkeypatch, capsys):
    _fake_entry_points(monkeypatch, [("broken", "no_such_module_for_oldphoto"), ("fine", "json")])
    plugins.load_plugins()
    err = capsys.readouterr().err
    assert "broken" in err and "failed to load" in err
    assert [b.name for b in plugins.BROKEN_PLUGINS] == ["broken"]
    assert isolated_plugins.has_plugin("fine") and isolated_plugins.has_plugin("builtin")
    info = json.loads(CliRunner().invoke(cli, ["plugins"]).stdout)
    broken = [p for p in info if p["name"] == "broken"]
    assert broken and "ModuleNotFoundError" in broken[0]["error"]


def test_load_plugins_env_allowlist(isolated_plugins, monkeypatch):
    _fake_entry_points(monkeypatch, [("broken", "no_such_module_for_oldphoto"), ("fine", "json")])
    monkeypatch.setenv("OLDPHOTO_LOAD_PLUGINS", "fine")
    plugins.load_plugins()
    assert isolated_plugins.has_plugin("fine") and not plugins.BROKEN_PLUGINS
    monkeypatch.setattr(plugins, "_loaded", False)
    isolated_plugins.unregister(name="fine")
    monkeypatch.setenv("OLDPHOTO_LOAD_PLUGINS", "")
    plugins.load_plugins()
    assert not isolated_plugins.has_plugin("fine")


def test_stages_command_lists_registered_stage(test_plugin):
    result = CliRunner().invoke(cli, ["stages", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [s["name"] for s in rows["translate"]] == ["test-invert"]
    assert rows["translate"][0]["plugin"] == "testplug"
