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
