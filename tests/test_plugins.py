"""Plugin registration, collisions, broken plugins, OLDPHOTO_LOAD_PLUGINS; no installed plugins."""

from __future__ import annotations

import json
from importlib import metadata

import pytest
from click.testing import CliRunner

from oldphoto_cli import ImageTranslator, LatentTranslator, plugins, stages
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


# --------------------------------------------------------------------------- the contract


def _plugin_with(register_calls):
    class Plugin:
        @hookimpl
        def oldphoto_register_stages(self, register):
            for args, kwargs in register_calls:
                register(*args, **kwargs)

    return Plugin()


class NoHalo(LatentTranslator):
    name = "no-halo"  # a latent translator that forgot to declare halo

    def __call__(self, z, mask, context):
        return z


class Inverting(ImageTranslator):
    name = "inverting"

    def __call__(self, rgb, mask):
        return 1 - rgb


def test_contract_is_exported_from_the_package():
    import oldphoto_cli

    for name in ("Detector", "Encoder", "LatentTranslator", "ImageTranslator", "Decoder",
                 "FaceEnhancer", "FaceDetector", "Degradation", "TorchStage", "hookimpl"):  # fmt: skip
        assert hasattr(oldphoto_cli, name), name
    assert oldphoto_cli.AlignedFaceEnhancer.__name__ == "AlignedFaceEnhancer"
    assert oldphoto_cli.LatentTranslator.space == "latent"
    assert oldphoto_cli.ImageTranslator.space == "image"


def test_latent_translator_without_halo_is_refused_naming_the_plugin(
    isolated_plugins, tiny_weights, tmp_path, monkeypatch
):
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    isolated_plugins.register(
        _plugin_with([(("translate", "no-halo", NoHalo), {})]), name="halo-less"
    )
    monkeypatch.setattr(plugins, "_loaded", False)
    plugins.load_plugins()  # the builtin encoder/decoder are needed too
    stages.reset()
    options = RestoreOptions(device="cpu", weights_dir=str(tiny_weights), translator="no-halo",
                             face_enhancer="none")  # fmt: skip
    with pytest.raises(PluginError) as info:
        RestorePipeline(options)
    assert "halo-less" in str(info.value) and "halo" in str(info.value).split(":", 2)[-1]

    # through the CLI: one clear line, exit 1, nothing written
    from PIL import Image

    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    result = CliRunner().invoke(
        cli, ["restore", str(tmp_path / "a.png"), str(tmp_path / "o"), "--translator",
              "no-halo", "--weights-dir", str(tiny_weights), "--no-face-enhance"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "halo-less" in result.stderr and "missing or invalid halo" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_class_registered_as_the_wrong_kind_is_refused(isolated_plugins):
    isolated_plugins.register(
        _plugin_with([(("detect", "inverting", Inverting), {})]), name="mixed-up"
    )
    stages.reset()
    with pytest.raises(PluginError, match="'mixed-up'.*declares kind = 'translate'"):
        stages.all_stages()


def test_class_registered_under_another_name_is_refused(isolated_plugins):
    isolated_plugins.register(
        _plugin_with([(("translate", "renamed", Inverting), {})]), name="renamer"
    )
    stages.reset()
    with pytest.raises(PluginError, match="'renamer'.*declares name = 'inverting'"):
        stages.all_stages()


def test_misspelt_registration_keyword_is_an_error_naming_the_plugin(isolated_plugins):
    isolated_plugins.register(
        _plugin_with([(("translate", "inverting", Inverting), {"defualt": True})]), name="typo"
    )
    stages.reset()
    with pytest.raises(PluginError, match="plugin 'typo': bad stage registration.*defualt"):
        stages.all_stages()


def test_factory_returning_the_wrong_kind_is_caught_when_built(isolated_plugins):
    isolated_plugins.register(
        _plugin_with([(("translate", "sneaky", lambda **kw: Inverting()), {})]), name="sneaky-p"
    )
    stages.reset()
    with pytest.raises(PluginError, match="'sneaky-p'.*name = 'inverting', not 'sneaky'"):
        stages.build("translate", "sneaky", device="cpu")


def test_check_stage_requires_what_each_kind_declares():
    from oldphoto_cli.contract import check_stage

    class Enc:
        kind, name = "encode", "e"

        def __call__(self, x):
            return x

    with pytest.raises(PluginError, match="missing or invalid scale"):
        check_stage(Enc(), "encode", "e", "p")
    Enc.scale = 4
    assert check_stage(Enc(), "encode", "e", "p") is not None
    Enc.scale = True  # a bool is not a factor
    with pytest.raises(PluginError, match="scale"):
        check_stage(Enc(), "encode", "e", "p")


def test_face_detector_and_degradation_registries_share_the_rules(isolated_plugins):
    from oldphoto_cli import faces
    from oldphoto_cli.degrade import registry as degradations

    class Two:
        @hookimpl
        def oldphoto_register_face_detectors(self, register):
            register("mine", lambda **kw: (lambda rgb: []), defualt=True)

    isolated_plugins.register(Two(), name="fd-typo")
    faces.reset()
    with pytest.raises(PluginError, match="plugin 'fd-typo': bad face detector registration"):
        faces.face_detectors()

    class Deg:
        @hookimpl
        def oldphoto_register_degradations(self, register):
            register("fade2", lambda img, rng: img, "tone", structured=False, prob=0.5)

    isolated_plugins.register(Deg(), name="deg-typo")
    degradations.reset()
    with pytest.raises(PluginError, match="plugin 'deg-typo': bad degradation registration"):
        degradations.get_degradations()


def test_stages_and_face_detectors_are_one_spec_class(builtin_plugins):
    from oldphoto_cli import faces
    from oldphoto_cli.registry import FACE_DETECTOR, FactorySpec

    specs = stages.all_stages() + faces.face_detectors()
    assert {type(spec) for spec in specs} == {FactorySpec}
    (haar,) = [spec for spec in faces.face_detectors() if spec.name == "haar"]
    assert haar.key == (FACE_DETECTOR, "haar") and haar.label == "face detector 'haar'"
    assert stages.get("detect", "unet").label == "stage detect:unet"
    with pytest.raises(PluginError, match="face detector 'x' has no factory"):
        FactorySpec.face_detector("x", 42, plugin="p")


def test_plugins_module_knows_nothing_of_stages():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(plugins))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(name and ("stages" in name or "registry" in name) for name in imported)


def test_listing_stages_imports_no_torch():
    """Built-ins register by "module:Class": collecting them imports no stage module."""
    import subprocess
    import sys

    code = ("import sys, oldphoto_cli\nfrom oldphoto_cli import faces, stages\n"
            "stages.all_stages(); faces.face_detectors()\n"
            "assert stages.get('detect').plugin == 'builtin'\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or '.stages.' in m))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
