"""Keep a training run's export as its network's one continuation point, in float16.

    python research/keep_checkpoint.py RUN/detector.safetensors [--note TEXT]

Writes ``research/checkpoints/<name>.safetensors`` (``<name>``: the export's file name,
e.g. ``detector``), replacing the one there: floating-point tensors in float16 (half the
size; training resumes in float32 from it), the metadata as it was, plus ``note``.
Resume with ``oldphoto train <network> ... --export research/checkpoints/<name>.safetensors
--resume`` in a run folder without a checkpoint (docs/training.md), then keep the new
export with this script again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("--note", default=None, help="stored as the file's 'note' metadata")
    args = parser.parse_args()

    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(args.export), framework="pt") as handle:
        metadata = dict(handle.metadata() or {})
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    if args.note:
        metadata["note"] = args.note
    out = HERE / "checkpoints" / args.export.name
    out.parent.mkdir(exist_ok=True)
    save_file(half, str(out), metadata=metadata)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
