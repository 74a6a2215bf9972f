"""Choosing the torch device and precision for a run.

torch is imported only once a device has to be looked at, so a malformed ``--device``
is refused without it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# /proc/cpuinfo flags of native low-precision matrix arithmetic. Without them torch runs
# bf16/fp16 convolutions on a reference path: measured ~120x slower than fp32 on an AVX2
# CPU (benchmarks/RESULTS.md), so ``auto`` keeps fp32 there and an explicit request falls
# back to fp32 with a note.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
CPU_FP16_FLAGS = ("amx_fp16", "avx512_fp16")


class DeviceError(ValueError):
    """The requested device does not exist on this machine (a usage error)."""


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str | None = "auto") -> torch.device:
    """``auto`` -> first CUDA device if available, else CPU; ``cpu``, ``cuda``, ``cuda:N``,
    ``mps`` are checked and refused with a clear message when unavailable.

    MPS is never picked by ``auto``: ask for it explicitly.
    """
    spec = (spec or "auto").strip().lower()
    if spec not in ("auto", "cpu", "mps", "cuda") and not re.fullmatch(r"cuda:\S*", spec):
        raise DeviceError(f"--device {spec!r}: expected auto, cpu, cuda, cuda:N or mps")
    import torch

    if spec == "auto":
        return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise DeviceError("--device mps: Apple MPS is not available on this machine")
        return torch.device("mps")
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


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def native_precisions(device: torch.device, flags: frozenset[str] | None = None) -> set[str]:
    """Precisions the device computes natively (fast), fp32 always included."""
    native = {"fp32"}
    if device.type == "cuda":
        import torch

        native.add("fp16")
        try:
            if torch.cuda.is_bf16_supported():
                native.add("bf16")
        except (AssertionError, RuntimeError):  # no CUDA in this build or machine
            pass
    elif device.type == "mps":
        native.add("fp16")
    elif device.type == "cpu":
        flags = cpu_flags() if flags is None else flags
        if any(f in flags for f in CPU_BF16_FLAGS):
            native.add("bf16")
        if any(f in flags for f in CPU_FP16_FLAGS):
            native.add("fp16")
    return native


def supports_fp16(device: torch.device) -> bool:
    return "fp16" in native_precisions(device)


def resolve_precision(
    device: torch.device, requested: str | bool = "auto", flags: frozenset[str] | None = None
) -> tuple[str, str | None]:
    """(precision to use, note or None) for ``--precision`` on ``device``.

    ``auto``: fp16 on CUDA, bf16 on a CPU with native bf16 (``amx_bf16`` or
    ``avx512_bf16`` in its flags), else fp32 (MPS included). An explicit bf16/fp16 the
    device has no native arithmetic for falls back to fp32 with a note: emulated, it is
    two orders of magnitude slower. ``requested`` may be a bool (the older ``--fp16``).
    ``flags`` replaces the CPU's own (tests).
    """
    if isinstance(requested, bool):
        requested = "fp16" if requested else "fp32"
    requested = requested.lower()
    native = native_precisions(device, flags)
    if requested == "auto":
        if device.type == "cuda":
            return "fp16", None
        if device.type == "cpu" and "bf16" in native:
            return "bf16", None
        return "fp32", None
    if requested not in ("fp32", "bf16", "fp16"):
        raise ValueError(f"precision {requested!r}: expected auto, fp32, bf16 or fp16")
    if requested in native:
        return requested, None
    what = {"cpu": "this CPU", "cuda": "this GPU"}.get(device.type, device.type)
    return "fp32", (
        f"--precision {requested} ignored: {what} has no native {requested} arithmetic "
        "(emulated it is far slower); using fp32"
    )
