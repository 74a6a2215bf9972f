"""Default values that command-line options show, importable without numpy, OpenCV or torch.

``oldphoto --help`` must start fast, so the option defaults live here rather than in the
modules that use them (which re-export them under their old names).
"""

from __future__ import annotations

# The mask rule, chosen on a tuning set synthesized from *training-split* photos (best
# pixel F1 there, 0.840; every threshold from 0.5 to 0.8 scores within 0.003), then
# measured once on the validation split: F1 0.823 (benchmarks/RESULTS.md, "Studies whose
# scripts were removed").
DEFAULT_THRESHOLD = 0.6
DEFAULT_MIN_AREA = 8
# Connectivity and shape (oldphoto_cli.mask_rule); None: the plain threshold.
DEFAULT_LOW_THRESHOLD: float | None = None
DEFAULT_BLOB_THRESHOLD: float | None = None

# Refuse larger images (decompression-bomb guard; ``imageio.read_image``).
DEFAULT_MAX_MEGAPIXELS = 300.0

# Numeric precision of the networks (``--precision``): ``auto`` picks per device.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# Ranges of the numeric options, so that no accepted value hangs or exhausts memory.
# --tile: latent pixels per decode tile side. Below 32 the decoder's 8-pixel halo is
# computed over and over (--tile 1 ran for minutes on a 220x276 photo); above 512 one
# tile's activations pass 2 GiB (~8 KiB per latent pixel).
MIN_TILE, MAX_TILE = 32, 512
# --dilate: the elliptic kernel's cost grows with its area (5 s at 64 on 24 MP).
MAX_DILATE = 64
# --io-threads: each thread reads one image ahead (a whole photo in memory).
MAX_IO_THREADS = 16
