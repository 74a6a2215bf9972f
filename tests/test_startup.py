"""What a command costs before it does anything: commands that run no model import no torch.

Checked on ``sys.modules`` in a fresh interpreter (not by timing): importing torch is more
than a second of every ``oldphoto --help``. ``benchmarks/bench_command.py`` has the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "numpy", "cv2", "PIL", "rich.progress", "safetensors")

PROBE = """
import json, sys
from click.testing import CliRunner
from oldphoto_cli.cli import cli
results = []
for args in json.loads(sys.argv[1]):
    result = CliRunner().invoke(cli, args)
    results.append([args, result.exit_code, result.output])
print(json.dumps({"results": results,
                  "loaded": [m for m in json.loads(sys.argv[2]) if m in sys.modules]}))
"""


def probe(commands: list[list[str]], env: dict[str, str] | None = None) -> dict:
    """Run ``commands`` through the CLI in one fresh interpreter; what did it import?"""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_cli_and_help_do_not_import_torch():
    report = probe([["--help"]])
    _, code, output = report["results"][0]
    assert code == 0 and "restore" in output and "stages" in output
    assert "torch" not in report["loaded"], report["loaded"]


def test_commands_that_run_no_model_import_no_torch(tmp_path):
    commands = [
        ["--help"],
        ["--version"],
        ["stages"],
        ["stages", "--json"],
        ["plugins"],
        ["weights", "list"],
        ["weights", "list", "--json"],
        *[[name, "--help"] for name in ("restore", "detect", "degrade", "eval", "weights")],
        ["train", "vae1", "--help"],
        ["train", "mapping", "--help"],
    ]
    report = probe(commands)
    for args, code, output in report["results"]:
        assert code == 0, (args, output)
    assert "torch" not in report["loaded"], report["loaded"]
    stages = json.loads(report["results"][3][2])
    assert {"unet", "mapping", "vae1", "vae2"} <= {
        spec["name"] for specs in stages.values() for spec in specs
    }


def test_usage_errors_import_no_torch(tmp_path):
    photo = tmp_path / "a.png"
    photo.write_bytes(b"")  # never read: every command below fails before
    out = str(tmp_path / "out")
    commands = [
        ["restore"],
        ["restore", str(photo)],
        ["restore", str(photo), out, "--device", "tpu"],
        ["restore", str(photo), out, "--precision", "fp8"],
        ["restore", str(photo), out, "--detector", "no-such-detector"],
        ["restore", str(photo), out, "--fp16", "--precision", "bf16"],
        ["detect", str(photo), out, "--detector", "no-such-detector"],
        ["restore", str(tmp_path / "missing.jpg"), out],
    ]
    report = probe(commands)
    for args, code, output in report["results"]:
        assert code == 2, (args, output)
    assert "torch" not in report["loaded"], report["loaded"]


def test_degrade_runs_on_numpy_and_opencv_alone(tmp_path):
    from PIL import Image

    clean = tmp_path / "clean"
    clean.mkdir()
    Image.new("RGB", (80, 60), (120, 90, 60)).save(clean / "a.png")
    out = tmp_path / "pairs"
    report = probe([["degrade", str(clean), str(out), "-n", "2", "--size", "32", "-q"]])
    assert report["results"][0][1] == 0, report["results"][0][2]
    assert len(list((out / "degraded").iterdir())) == 2
    assert "torch" not in report["loaded"], report["loaded"]


def test_listing_commands_with_builtin_plugins_only_import_nothing_heavy():
    """Our own modules and built-in plugins load lazily: not even numpy for --help, nor for
    listing the plugins (built-in degradations are registered by name)."""
    commands = [["--help"], ["stages"], ["plugins"], ["weights", "list"]]
    report = probe(commands, env={"OLDPHOTO_LOAD_PLUGINS": ""})
    assert all(code == 0 for _, code, _ in report["results"])
    assert report["loaded"] == [], report["loaded"]
    listed = json.loads(report["results"][2][2])
    names = {d for plugin in listed for d in plugin.get("degradations", [])}
    assert {"scratches", "film_grain", "jpeg"} <= names


def test_builtin_stage_factories_import_their_module_on_first_build(tiny_weights):
    from oldphoto_cli import stages

    spec = stages.get("detect", "unet")
    assert spec.factory == "oldphoto_cli.stages.detect:UNetDetector"  # a name, not the class
    detector = spec.build(device="cpu", weights_dir=str(tiny_weights), precision="fp32")
    from oldphoto_cli.stages.detect import UNetDetector

    assert isinstance(detector, UNetDetector) and detector.precision == "fp32"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_keep_freed_memory_once_and_opt_out():
    code = (
        "from oldphoto_cli import hostmem; "
        "print(hostmem.keep_freed_memory(), hostmem.keep_freed_memory())"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert run.stdout.split() in (["True", "True"], ["False", "False"])  # musl: False
    env = {**os.environ, "OLDPHOTO_KEEP_FREED_MEMORY": "0"}
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env)  # fmt: skip
    assert off.stdout.split() == ["False", "False"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_memory_kept_for_reuse_counts_as_available():
    """Freed buffers stay in the process (the system counts them as used): the check of an
    image's memory need must count them as available, or a long batch would start
    refusing images that fit."""
    code = """
import numpy as np
from oldphoto_cli import hostmem, imageio
if not hostmem.keep_freed_memory():
    print("skip"); raise SystemExit
block = np.ones((256 << 20) // 8)
block.sum(); del block
print(hostmem.reusable_bytes() >> 20, imageio.available_memory() - imageio._system_available_memory() >> 20)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    if run.stdout.strip() == "skip":
        pytest.skip("no glibc malloc here")
    kept, counted = map(int, run.stdout.split())
    assert kept >= 256 and counted >= 192  # two reads of MemAvailable: other processes move it


# A checkout whose project is not installed (its dependencies are): the installed copy's
# import hooks and metadata are taken away before ``python -m oldphoto_cli`` runs.
NOT_INSTALLED = """
import importlib.metadata as md, runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
entry_points = md.entry_points
md.entry_points = lambda **kw: md.EntryPoints(
    ep for ep in entry_points(**kw) if not (ep.dist and ep.dist.name.lower() == "oldphoto"))
sys.argv = ["oldphoto_cli", *sys.argv[1:]]
try:
    runpy.run_module("oldphoto_cli", run_name="__main__", alter_sys=True)
finally:
    import oldphoto_cli, oldphoto_cli.weights as w
    print("FROM", oldphoto_cli.__file__, w.shipped_dir(), "oldphoto_weights" in sys.modules)
"""


@pytest.mark.parametrize("args", [["--help"], ["stages", "--json"]])
def test_python_m_runs_from_a_checkout_that_is_not_installed(args):
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OLDPHOTO_LOAD_PLUGINS": ""}
    run = subprocess.run([sys.executable, "-c", NOT_INSTALLED, *args], capture_output=True,
                         text=True, timeout=120, cwd=root, env=env)  # fmt: skip
    assert run.returncode == 0 and run.stderr == "", run.stderr
    *output, where = run.stdout.strip().splitlines()
    assert where == f"FROM {root / 'oldphoto_cli' / '__init__.py'} {root / 'weights'} False"
    if args == ["--help"]:
        assert "restore" in "\n".join(output)
    else:
        rows = json.loads("\n".join(output))
        assert {s["plugin"] for s in rows["detect"]} == {"builtin"}
        assert {"face", "restorer", "general"} == {s["name"] for s in rows["face_enhance"]}
