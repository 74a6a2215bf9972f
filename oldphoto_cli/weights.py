"""Model weights as safetensors files with string metadata. No pickle anywhere.

Metadata keys (all strings): ``format_version``, ``arch`` (architecture name), ``config``
(JSON of the architecture's config dataclass), ``training`` (JSON summary: data, steps,
time, hardware) and ``metrics`` (JSON of validation figures).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where tensors are read or written, not to list files
    import torch

FORMAT_VERSION = "1"
MANIFEST = "manifest.json"


class WeightsError(Exception):
    """A weights file is missing, corrupt, or for another architecture/config."""


def save_weights(
    path: str | Path,
    tensors: dict[str, torch.Tensor],
    arch: str,
    config: Any,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """Write ``tensors`` atomically with metadata; ``config`` may be a dataclass or dict;
    ``extra`` adds string metadata entries (e.g. ``licence``)."""
    from safetensors.torch import save_file

    path = Path(path)
    config_dict = asdict(config) if is_dataclass(config) else dict(config)
    metadata = {
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "config": json.dumps(config_dict, sort_keys=True),
        "training": json.dumps(training or {}, sort_keys=True),
        "metrics": json.dumps(metrics or {}, sort_keys=True),
        **(extra or {}),
    }
    contiguous = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_file(contiguous, str(tmp), metadata=metadata)
    os.chmod(tmp, 0o666 & ~_umask())  # the writer creates 0600; weights are for sharing
    os.replace(tmp, path)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Metadata with JSON fields decoded; raises WeightsError for a non-safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    try:
        header = read_header(path)
    except (OSError, ValueError) as error:
        raise WeightsError(f"{path}: not a valid safetensors file ({error})") from error
    raw = header.pop("__metadata__", None) or {}
    n_params = sum(_numel(entry["shape"]) for entry in header.values())
    meta: dict[str, Any] = dict(raw)
    for key in ("config", "training", "metrics"):
        if key in meta:
            try:
                meta[key] = json.loads(meta[key])
            except json.JSONDecodeError as error:
                raise WeightsError(f"{path}: metadata field {key!r} is not JSON") from error
    meta["parameters"] = n_params
    return meta


MAX_HEADER_BYTES = 100 << 20  # as the safetensors library


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, read without torch (or numpy).

    ``oldphoto weights list`` needs only names, shapes and metadata; torch costs more
    than a second to import. The header is checked as far as listing needs: its length,
    JSON, one entry per tensor with dtype, shape and offsets, and the data ending exactly
    at the end of the file (a truncated file is refused). Raises ValueError.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ValueError("file shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise ValueError(f"header length {length} does not fit a {size}-byte file")
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            if entry is not None and not isinstance(entry, dict):
                raise ValueError("__metadata__ is not an object")
            continue
        try:
            shape, (start, stop) = entry["shape"], entry["data_offsets"]
            entry["dtype"]  # noqa: B018 (must be present)
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"tensor {key!r}: missing dtype, shape or data_offsets") from None
        if not all(isinstance(d, int) and d >= 0 for d in shape) or not 0 <= start <= stop:
            raise ValueError(f"tensor {key!r}: bad shape or offsets")
        end = max(end, stop)
    if 8 + length + end != size:
        raise ValueError(f"data ends at byte {8 + length + end}, the file has {size} bytes")
    return header


def _numel(shape: list[int]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


def load_weights(
    path: str | Path,
    arch: str | None = None,
    config: Any = None,
    device: str | torch.device = "cpu",
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load tensors after checking the architecture name and (optionally) the config."""
    path = Path(path)
    meta = read_metadata(path)
    if arch is not None and meta.get("arch") != arch:
        raise WeightsError(f"{path}: holds architecture {meta.get('arch')!r}, expected {arch!r}")
    if config is not None:
        expected = asdict(config) if is_dataclass(config) else dict(config)
        if meta.get("config") != expected:
            raise WeightsError(f"{path}: config {meta.get('config')} does not match {expected}")
    from safetensors import SafetensorError, safe_open

    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as handle:
            for key in handle.keys():
                tensors[key] = handle.get_tensor(key)
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{path}: cannot read tensors ({error})") from error
    return tensors, meta


INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_",
                  "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "orthogonal_")  # fmt: skip


@contextmanager
def _skip_init() -> Iterator[None]:
    """Random initialisation is wasted before a strict load replaces every parameter and
    persistent buffer: skip it (a third of building the four networks, ~0.1 s a run).
    Buffers a module computes itself (non-persistent) are built as usual."""
    import torch

    saved = {name: getattr(torch.nn.init, name) for name in INIT_FUNCTIONS}
    try:
        for name in INIT_FUNCTIONS:
            setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, function in saved.items():
            setattr(torch.nn.init, name, function)


def load_model(path: str | Path, build: Any, config_cls: Any, arch: str, device: Any = "cpu"):
    """Build ``build(config_cls(**meta.config))`` and load the file into it strictly."""
    meta = read_metadata(path)
    if meta.get("arch") != arch:
        raise WeightsError(f"{path}: holds architecture {meta.get('arch')!r}, expected {arch!r}")
    config = make_config(path, config_cls, meta.get("config"), arch)
    try:
        with _skip_init():
            model = build(config)
    except Exception as error:
        raise WeightsError(f"{path}: cannot build {arch} from its config ({error})") from error
    tensors, _ = load_weights(path, arch=arch, device=device)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise WeightsError(f"{path}: tensors do not fit {arch} ({error})") from error
    return model.to(device).eval(), meta


def make_config(path: str | Path, config_cls: Any, config: Any, arch: str) -> Any:
    """``config_cls(**config)``, or a :class:`WeightsError` that says what does not fit."""
    if not isinstance(config, dict):
        raise WeightsError(f"{path}: has no {arch} config in its metadata")
    try:
        return config_cls(**config)
    except (TypeError, ValueError) as error:
        known = {f.name for f in fields(config_cls)} if is_dataclass(config_cls) else set()
        unknown = sorted(set(config) - known) if known else []
        detail = f"fields this version does not know: {', '.join(unknown)}" if unknown else str(error)
        raise WeightsError(
            f"{path}: its {arch} config does not fit this version of oldphoto ({detail}); "
            "it was made by another version, or for another architecture"
        ) from None


def shipped_dir() -> Path:
    """The shipped weights' folder: the installed package ``oldphoto_weights`` or, run from
    a source tree where it is not installed, the tree's ``weights/`` folder."""
    try:
        import oldphoto_weights
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "weights"
    return Path(oldphoto_weights.__file__).parent


def package_dir(package: str) -> Path:
    """The folder of an importable package (a plugin shipping its own weights)."""
    import importlib

    return Path(importlib.import_module(package).__file__).parent


@dataclass(frozen=True)
class WeightsDir:
    """A folder searched for weights and why: ``source`` is ``--weights-dir``,
    ``$OLDPHOTO_WEIGHTS``, ``shipped``, ``package NAME`` or ``plugin NAME`` (a folder
    registered through the ``oldphoto_register_weights`` hook)."""

    path: Path
    source: str
    plugin: str | None = None  # the plugin that registered it


def registered_weights_dirs() -> list[WeightsDir]:
    """Folders that plugins register with ``oldphoto_register_weights(register)``, calling
    ``register(directory)``: a package of weights a user can leave out (research-use face
    weights). Loads the plugins' entry points, which must not import torch."""
    from oldphoto_cli.contract import PluginError
    from oldphoto_cli.plugins import call_register_hook

    found: list[WeightsDir] = []

    def register(directory: str | os.PathLike[str], *, plugin: str = "?") -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise PluginError(f"plugin {plugin!r}: weights folder {directory!r} is not a path")
        found.append(WeightsDir(Path(directory), f"plugin {plugin}", plugin))

    call_register_hook("oldphoto_register_weights", register)
    return found


def weights_sources(override: str | Path | None = None, package: str | None = None) -> list[WeightsDir]:
    """Where weights are looked up, in order: ``override`` (``--weights-dir``),
    $OLDPHOTO_WEIGHTS, the folder of ``package`` (a plugin shipping its weights) or the
    shipped ``oldphoto_weights``, then the folders plugins register (in plugin order)."""
    dirs = []
    for candidate, source in ((override, "--weights-dir"),
                              (os.environ.get("OLDPHOTO_WEIGHTS"), "$OLDPHOTO_WEIGHTS")):  # fmt: skip
        if candidate:
            dirs.append(WeightsDir(Path(candidate), source))
    if package:
        dirs.append(WeightsDir(package_dir(package), f"package {package}"))
    else:
        dirs.append(WeightsDir(shipped_dir(), "shipped"))
    seen = {d.path for d in dirs}
    for registered in registered_weights_dirs():
        if registered.path not in seen:  # a folder searched twice would list its files twice
            seen.add(registered.path)
            dirs.append(registered)
    return dirs


def weights_dirs(override: str | Path | None = None, package: str | None = None) -> list[Path]:
    """The folders of :func:`weights_sources`, in lookup order."""
    return [d.path for d in weights_sources(override, package)]


def find_weights(name: str, override: str | Path | None = None, package: str | None = None) -> Path:
    """Path of ``name`` (with or without ``.safetensors``) in the first dir that has it."""
    filename = name if name.endswith(".safetensors") else f"{name}.safetensors"
    searched = weights_dirs(override, package)
    for directory in searched:
        if (directory / filename).is_file():
            return directory / filename
    raise WeightsError(f"weights {filename!r} not found in: {', '.join(map(str, searched))}")


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: str | Path) -> Path:
    """Record sha256 and size of every safetensors file in ``directory``."""
    directory = Path(directory)
    files = {
        p.name: {"sha256": sha256_of(p), "bytes": p.stat().st_size}
        for p in sorted(directory.glob("*.safetensors"))
    }
    manifest = directory / MANIFEST
    manifest.write_text(json.dumps({"files": files}, indent=2, sort_keys=True) + "\n")
    return manifest
