"""What the benchmark scripts share: the machine line and their RESULTS.md sections."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """CPU model, usable cores, torch and Python versions, in one line."""
    import torch

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores available, torch {torch.__version__}, Python {platform.python_version()}"


def write_section(path: Path, section: str, start: str, end: str) -> None:
    """Replace the block between the ``start``/``end`` markers; append it when absent.

    Each script owns one marked section of RESULTS.md and leaves the rest alone.
    """
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{start}\n{section.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
