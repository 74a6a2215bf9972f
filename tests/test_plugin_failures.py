"""A plugin that raises SystemExit while loading is a broken plugin, not the end of the CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from oldphoto_cli.cli import cli


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


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
