"""Shared fixtures: single-threaded torch, isolated plugin manager, a fake pipeline, odd files."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pluggy
import pytest
import torch
from PIL import Image

from oldphoto_cli import hookspecs, plugins, registry, stages
from oldphoto_cli.hookspecs import hookimpl


def benchmark_script(name: str):
    """A script of ``benchmarks/`` loaded as a module by its path (scripts are not a
    package; nothing is added to ``sys.path``)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    """Two shared CPU cores: never let a test grab them all."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    yield


@pytest.fixture(autouse=True, scope="session")
def _damage_overlays(tmp_path_factory):
    """A tiny folder of film-damage overlays (one drawn hair, one speck cluster, one
    scratch bundle), so tests never depend on the shared data folder being beside the
    checkout."""
    import os

    root = tmp_path_factory.mktemp("damage_overlays")
    rng = np.random.default_rng(0)
    shapes = {"hair": [], "dirt": [], "scratches": []}
    for kind in shapes:
        (root / kind).mkdir()
        alpha = np.zeros((400, 400), np.uint8)
        if kind == "hair":
            pts = np.cumsum(rng.normal(0, 4, (60, 2)), axis=0) + 200
            cv2.polylines(alpha, [pts.astype(np.int32)], False, 255, 2, cv2.LINE_AA)
        elif kind == "dirt":
            for x, y in rng.integers(120, 280, (40, 2)):
                cv2.circle(alpha, (int(x), int(y)), int(rng.integers(1, 4)), 230, -1)
        else:
            for _ in range(6):
                x, y = rng.integers(80, 320, 2)
                cv2.line(alpha, (int(x), int(y)), (int(x) + 60, int(y) + 90), 200, 1, cv2.LINE_AA)
        cv2.imwrite(str(root / kind / f"{kind}-001.png"), alpha)
    previous = os.environ.get("OLDPHOTO_DAMAGE_OVERLAYS")
    os.environ["OLDPHOTO_DAMAGE_OVERLAYS"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("OLDPHOTO_DAMAGE_OVERLAYS", None)
    else:
        os.environ["OLDPHOTO_DAMAGE_OVERLAYS"] = previous


@pytest.fixture
def isolated_plugins(monkeypatch):
    """A fresh plugin manager with nothing loaded: installed plugins stay out of the test.

    Tests ``register``/``unregister`` their own plugin objects on the returned manager.
    """
    fresh = pluggy.PluginManager(plugins.GROUP)
    fresh.add_hookspecs(hookspecs)
    monkeypatch.setattr(plugins, "pm", fresh)
    monkeypatch.setattr(plugins, "_loaded", True)
    monkeypatch.setattr(plugins, "BROKEN_PLUGINS", [])
    monkeypatch.setattr(plugins, "PLUGIN_DISTRIBUTIONS", {})
    registry.reset_all()
    yield fresh
    registry.reset_all()


@pytest.fixture
def builtin_plugins(isolated_plugins):
    """Only oldphoto's own plugins (stages, degradations, faces): installed plugin packages,
    such as oldphoto-face-weights, stay out of the test."""
    import importlib

    for name, module in plugins.BUILTIN_MODULES.items():
        isolated_plugins.register(importlib.import_module(module), name=name)
    registry.reset_all()
    return isolated_plugins


class _Stage:
    def __init__(self, kind, name, fn):
        self.kind, self.name, self.fn = kind, name, fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


class TestStagesPlugin:
    """A plugin object with a translator and a detector, for CLI tests."""

    __test__ = False  # not a pytest test class

    @hookimpl
    def oldphoto_register_stages(self, register):
        register(
            "translate",
            "test-invert",
            lambda device=None, **kw: _Stage("translate", "test-invert", lambda x, m=None: 1 - x),
            description="invert (tests)",
        )
        register(
            "detect",
            "test-dark",
            lambda device=None, **kw: _Stage("detect", "test-dark", lambda x: x.mean(-1) < 0.1),
            description="dark pixels (tests)",
        )


@pytest.fixture
def test_plugin(isolated_plugins):
    plugin = TestStagesPlugin()
    isolated_plugins.register(plugin, name="testplug")
    stages.reset()
    yield plugin
    isolated_plugins.unregister(name="testplug")
    stages.reset()


class FakePipeline:
    """Stands in for RestorePipeline so CLI tests never load models (fast, deterministic).

    restore: identity, or 1 - x with translator "test-invert"; the mask passed in is echoed.
    detect: probability 1 where the image is dark (< 0.1), else 0.
    """

    created: list = []

    def __init__(self, options=None, detect_only=False):
        from oldphoto_cli.pipeline import RestoreOptions

        self.options = options or RestoreOptions()
        FakePipeline.created.append(self.options)

    def detect(self, rgb):
        return (rgb.mean(-1) < 0.1).astype(np.float32)

    def detected_mask(self, rgb, info=None):
        return self.mask_of(self.detect(rgb)), None

    def mask_of(self, prob, dilate=True):  # the real mask rule, on the fake probabilities
        from oldphoto_cli.pipeline import mask_from_probability

        opts = self.options
        return mask_from_probability(prob, opts.threshold, opts.dilate if dilate else 0,
                                     opts.min_area)  # fmt: skip

    def restore(self, rgb, mask=None, name=None):
        from oldphoto_cli.pipeline import RestoreResult

        out = 1.0 - rgb if self.options.translator == "test-invert" else rgb.copy()
        if mask is None and self.options.with_scratch != "off":
            mask = (self.detect(rgb) >= 0.5).astype(np.uint8)
        return RestoreResult(
            image=out.astype(np.float32),
            mask=mask,
            info={"stages": {"translate": self.options.translator or "fake"}},
            intermediates={"input": rgb},
        )


@pytest.fixture
def fake_pipeline(monkeypatch):
    from oldphoto_cli import pipeline

    FakePipeline.created = []
    monkeypatch.setattr(pipeline, "RestorePipeline", FakePipeline)
    return FakePipeline


# --------------------------------------------------------------------------- odd files


def invoke(*args, input=None):
    """Run the ``oldphoto`` CLI in-process; arguments may be paths."""
    from click.testing import CliRunner

    from oldphoto_cli.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def json_lines(result) -> list:
    """The ``--json`` records a command printed on stdout."""
    import json

    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def run(fake_pipeline):
    """:func:`invoke` with the fake pipeline (no networks)."""
    return invoke


def gradient(h: int = 24, w: int = 32) -> np.ndarray:
    """A deterministic HxWx3 uint8 image with distinct values per channel."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], -1)
    return img.astype(np.uint8)


def save_pil(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def exif_rotated_jpeg(path: Path, orientation: int = 6) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make
    return save_pil(path, Image.fromarray(gradient(24, 32)), exif=exif.tobytes(), quality=95)


def truncated_jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(gradient(64, 64)).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


@pytest.fixture
def photo_dir(tmp_path) -> Path:
    """A folder with two good photos, a hidden file and a text file."""
    folder = tmp_path / "in"
    save_pil(folder / "a.png", Image.fromarray(gradient()))
    save_pil(folder / "b.jpg", Image.fromarray(gradient()), quality=95)
    save_pil(folder / ".hidden.png", Image.fromarray(gradient()))
    (folder / "notes.txt").write_text("not an image\n")
    return folder


def write_tiny_weights(directory: Path, seed: int = 0) -> Path:
    """Untrained tiny vae1/vae2/mapping/detector/restorer/tone_curve weights: the real
    stages, fast in tests (an untrained tone curve is the identity)."""
    from oldphoto_cli.archs import mapping_arch, restorer_arch, tone_arch, unet_arch, vae_arch
    from oldphoto_cli.archs.mapping_arch import LatentMapping, MappingConfig
    from oldphoto_cli.archs.restorer_arch import Restorer, RestorerConfig
    from oldphoto_cli.archs.unet_arch import UNet, UNetConfig
    from oldphoto_cli.archs.vae_arch import VAE, VAEConfig
    from oldphoto_cli.weights import save_weights, write_manifest

    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    vae_cfg = VAEConfig(base_channels=8, latent_channels=8, n_res=1)
    map_cfg = MappingConfig(latent_channels=8, width=16, n_pre=1, n_local=1, n_post=1,
                            nonlocal_inner=8, max_grid=8)  # fmt: skip
    unet_cfg = UNetConfig(width=4, depth=3)
    restorer_cfg = RestorerConfig(width=8, blocks=(1, 1))
    tone_cfg = tone_arch.ToneCurveConfig(widths=(4, 8), hidden=16)
    for name, model, arch, cfg in [
        ("vae1", VAE(vae_cfg), vae_arch.ARCH, vae_cfg),
        ("vae2", VAE(vae_cfg), vae_arch.ARCH, vae_cfg),
        ("mapping", LatentMapping(map_cfg), mapping_arch.ARCH, map_cfg),
        ("detector", UNet(unet_cfg), unet_arch.ARCH, unet_cfg),
        ("restorer", Restorer(restorer_cfg), restorer_arch.ARCH, restorer_cfg),
        ("tone_curve", tone_arch.ToneCurveNet(tone_cfg), tone_arch.ARCH, tone_cfg),
    ]:
        save_weights(directory / f"{name}.safetensors", model.state_dict(), arch, cfg)
    write_manifest(directory)
    return directory


def write_tiny_face_weights(directory: Path, seed: int = 0) -> Path:
    """An untrained tiny ``face.safetensors`` (the face stage's architecture, fast)."""
    from oldphoto_cli.archs import face_arch
    from oldphoto_cli.weights import save_weights

    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    cfg = face_arch.FaceConfig(base_width=8, max_width=16, n_up=2, hidden=8)
    return save_weights(directory / "face.safetensors", face_arch.FaceGenerator(cfg).state_dict(),
                        face_arch.ARCH, cfg, training={"crop": 64},
                        extra={"licence": "research use only (tests)"})  # fmt: skip


def write_tiny_face_restorer_weights(directory: Path, seed: int = 0) -> Path:
    """An untrained tiny ``face_restorer.safetensors`` (the ``restorer`` face stage's)."""
    from oldphoto_cli.archs import restorer_arch
    from oldphoto_cli.weights import save_weights

    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    cfg = restorer_arch.RestorerConfig(width=8, blocks=(1, 1))
    return save_weights(directory / "face_restorer.safetensors",
                        restorer_arch.Restorer(cfg).state_dict(), restorer_arch.ARCH, cfg,
                        training={"crop": 64}, extra={"licence": "research use only (tests)"})  # fmt: skip


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A weights dir of untrained tiny models (use with weights_dir= / --weights-dir)."""
    return write_tiny_weights(tmp_path_factory.mktemp("tiny_weights"))


def random_restorer_export(path: Path, config) -> Path:
    """A restorer export (``config``: a small ``RestorerConfig``) whose correction is random
    and non-zero, so a stage built on it changes what it restores."""
    import torch

    from oldphoto_cli.archs import restorer_arch
    from oldphoto_cli.weights import save_weights

    torch.manual_seed(0)
    model = restorer_arch.Restorer(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    save_weights(path, model.state_dict(), restorer_arch.ARCH, config, {"steps": 0}, {})
    return path
