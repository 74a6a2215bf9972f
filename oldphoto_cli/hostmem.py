"""Host memory: reuse freed activation buffers instead of handing them back to the kernel.

glibc's malloc serves every block above its mmap threshold (at most 32 MiB) with a fresh
``mmap`` and returns it with ``munmap`` when freed. A full-resolution activation of the
networks is 25-100 MB, so each layer of each image got new pages from the kernel, which
zeroes them on first touch: on a 768x1024 photo that was ~700,000 page faults and ~2 s of
system time per image at one thread (a third of the CPU time, on every image, first or
not). :func:`keep_freed_memory` makes malloc take big blocks from its heap as well and
keep up to 1 GiB of freed heap for the next layer and the next image. Peak memory stays
the same (measured 0.82 -> 0.84 GiB at 768x1024); memory is not returned to the system
between images, which a CLI run does not need.

The commands that run the networks call it (``restore``, ``detect``, ``eval``); library
users choose for themselves. ``OLDPHOTO_KEEP_FREED_MEMORY=0`` turns it off. The memory kept
is free for this process, so :func:`reusable_bytes` counts it as available when an image's
memory need is checked (``imageio.available_memory``).
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
KEEP_BYTES = 1 << 30
# Above this many pixels a photo's tiles run with big blocks mapped and unmapped again
# (glibc's way): kept on the heap, the buffers of many tiles of several sizes fragment it
# and the peak grew by ~45 bytes per pixel of the photo on top of its own arrays. Their page
# faults cost a share of the time that large photos, with their whole-image work, can spare.
KEEP_UP_TO_PIXELS = 6_000_000
MAP_THRESHOLD = 32 << 20  # glibc's largest mmap threshold

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc malloc as described above, once per process; True when it took effect.

    A no-op returning False off Linux/glibc (macOS, musl) or with
    ``OLDPHOTO_KEEP_FREED_MEMORY=0``.
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("OLDPHOTO_KEEP_FREED_MEMORY", "1").strip() in ("0", "no", "false"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
        gnu_get_libc_version = libc.gnu_get_libc_version  # glibc only (not musl)
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # Order matters little: both are plain settings read by later allocations.
    _done = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
    return _done


def fit_to(pixels: int) -> bool:
    """Keep freed memory for a photo of ``pixels`` up to :data:`KEEP_UP_TO_PIXELS`; above,
    map big blocks apart, trim the heap as glibc does by default, and hand back what is
    kept now (``malloc_trim``: e.g. the decoder's buffers of the photo just read). A no-op
    unless :func:`keep_freed_memory` took effect; returns whether memory is kept now."""
    global _keeping
    if not _done:
        return False
    keep = pixels <= KEEP_UP_TO_PIXELS
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if keep and not _keeping:
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES)
    elif not keep:
        if _keeping:
            libc.mallopt(M_MMAP_THRESHOLD, MAP_THRESHOLD)
            libc.mallopt(M_MMAP_MAX, 65536)  # glibc's default
            libc.mallopt(M_TRIM_THRESHOLD, 128 << 10)  # glibc's default
        libc.malloc_trim(0)
    _keeping = keep
    return keep


_keeping = True


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]  # fmt: skip


def reusable_bytes() -> int:
    """Freed heap memory this process keeps for reuse (0 unless :func:`keep_freed_memory`
    took effect): the system counts it as used, but the next image gets it first."""
    if not _done:
        return 0
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2  # glibc >= 2.33
    except (OSError, AttributeError):
        return 0
    mallinfo2.argtypes, mallinfo2.restype = [], _MallInfo2
    return int(mallinfo2().fordblks)
