"""Choosing the torch device and precision for a run."""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    """The requested device does not exist on this machine (a usage error)."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str | None = "auto") -> torch.device:
    """``auto`` -> first CUDA device if available, else CPU; ``cpu``, ``cuda``, ``cuda:N``,
    ``mps`` are checked and refused with a clear message when unavailable.

    MPS is never picked by ``auto``: ask for it explicitly.
    """
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise DeviceError("--device mps: Apple MPS is not available on this machine")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"--device {spec}: CUDA is not available (torch {torch.__version__}, "
                f"built with CUDA {torch.version.cuda or 'none'}); use --device cpu"
            )
        index = 0
        if ":" in spec:
            try:
                index = int(spec.split(":", 1)[1])
            except ValueError:
                raise DeviceError(f"--device {spec}: expected cuda:N with N a number") from None
        count = torch.cuda.device_count()
        if not 0 <= index < count:
            raise DeviceError(f"--device {spec}: only {count} CUDA device(s) (cuda:0..{count - 1})")
        return torch.device("cuda", index)
    raise DeviceError(f"--device {spec!r}: expected auto, cpu, cuda, cuda:N or mps")


def supports_fp16(device: torch.device) -> bool:
    return device.type in ("cuda", "mps")


def resolve_precision(device: torch.device, fp16: bool) -> tuple[bool, str | None]:
    """(use_fp16, note): half precision only where the device supports it."""
    if fp16 and not supports_fp16(device):
        return False, f"--fp16 ignored: half precision is not supported on {device.type}"
    return fp16, None
