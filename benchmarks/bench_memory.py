"""Peak memory and time of ``oldphoto restore`` on one photo of 4, 24 and 100 megapixels
(and any other size), as a user runs it: a fresh process each, peak resident memory from
the kernel (``ru_maxrss``), wall time from start to written file.

The photo is a real old photo (``--photo``) resized to each size, with scratches drawn on
it, so that every stage runs (detection, the scratch path with its non-local context, faces
where the photo has them). Bytes per pixel: the growth of the peak from one size to the next over
the pixels added, the slope the memory estimate (``imageio.RESTORE_BYTES_PER_PIXEL``) must
stay above; below about 4 MP the tiles, and so their buffers, still grow with the photo
(``imageio.FIXED_BYTES`` covers them).

    python benchmarks/bench_memory.py --photo ../shared/data/real_old/Dolores1920s.jpg \\
        --megapixels 4 24 100 --largest-under 7

``--largest-under GB`` adds the largest photo the guard accepts under ``--max-memory GB``
(run with that cap). Each photo is written as JPEG to a temporary folder; nothing stays.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

BASE_MP = 0.25


def make_photo(source: Path, megapixels: float, path: Path) -> tuple[int, int]:
    image = cv2.imread(str(source), cv2.IMREAD_COLOR)
    h, w = image.shape[:2]
    scale = (megapixels * 1e6 / (h * w)) ** 0.5
    width, height = max(32, round(w * scale)), max(32, round(h * scale))
    image = cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    for _ in range(12):  # scratches: thin bright strokes across the photo
        x0, x1 = rng.integers(0, width, 2)
        thickness = max(1, width // 800)
        cv2.line(image, (int(x0), 0), (int(x1), height - 1), (235, 235, 235), thickness)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return width, height


def measure(photo: Path, out: Path, extra: list[str], kill_above: float) -> dict:
    """One run in a child process: its peak RSS from the kernel (``wait4``'s ru_maxrss), and
    a watchdog that ends it above ``kill_above`` bytes resident (other work shares the
    machine: a run that would pass that is reported, not finished)."""
    command = [sys.executable, "-m", "oldphoto_cli", "restore", str(photo), str(out),
               "--device", "cpu", "--json", "-q", *extra]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # reaps it with its rusage
        if pid:
            break
        try:
            fields = Path(f"/proc/{proc.pid}/status").read_text().split("VmRSS:")[1].split()
            if int(fields[0]) * 1024 > kill_above and not killed:
                proc.kill()
                killed = True
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    peak = usage.ru_maxrss * 1024
    result = {"exit": proc.returncode, "seconds": round(seconds, 1), "peak": peak,
              "killed": killed, "stderr": stderr.decode(errors="replace").strip()[-300:]}  # fmt: skip
    if stdout.strip():
        record = json.loads(stdout.splitlines()[-1])
        pipeline = record.get("pipeline", {})
        result.update(status=record.get("status"), error=record.get("error"),
                      faces=pipeline.get("faces"), scratch_path=pipeline.get("scratch_path"))  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, required=True)
    parser.add_argument("--megapixels", type=float, nargs="+", default=[4, 24, 100])
    parser.add_argument(
        "--largest-under",
        type=float,
        metavar="GB",
        help="also the largest photo accepted under --max-memory GB",
    )
    parser.add_argument(
        "--kill-above",
        type=float,
        default=7.8,
        metavar="GIB",
        help="end a run whose resident memory passes this (default 7.8)",
    )
    parser.add_argument(
        "--extra",
        nargs=argparse.REMAINDER,
        default=[],
        help="more restore options (after all others)",
    )
    args = parser.parse_args()
    from oldphoto_cli import imageio

    sizes = [(mp, []) for mp in [BASE_MP, *args.megapixels]]
    if args.largest_under:
        cap = args.largest_under * 1e9
        per = imageio.RESTORE_BYTES_PER_PIXEL
        largest = (cap - imageio.FIXED_BYTES) / per / 1e6 * 0.999
        sizes.append((largest, ["--max-memory", str(args.largest_under)]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mp, extra in sizes:
            photo = Path(tmp) / f"photo_{mp:.2f}mp.jpg"
            width, height = make_photo(args.photo, mp, photo)
            result = measure(photo, Path(tmp) / "out", [*extra, "--overwrite", *args.extra],
                             args.kill_above * 2**30)  # fmt: skip
            photo.unlink()
            row = {
                "width": width,
                "height": height,
                "megapixels": round(width * height / 1e6, 2),
                "cap_gb": args.largest_under if extra else None,
                "estimate_gb": round(imageio.memory_needed(width, height) / 1e9, 2),
                **result,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| photo | megapixels | peak RSS | bytes/pixel from the size above | estimate | time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    previous = None
    for row in sorted(rows, key=lambda r: r["megapixels"]):
        slope = "-"
        if previous is not None and row["megapixels"] > previous["megapixels"]:
            pixels = (row["megapixels"] - previous["megapixels"]) * 1e6
            slope = f"{(row['peak'] - previous['peak']) / pixels:.1f}"
        name = f"{row['width']}x{row['height']}" + (f" (cap {row['cap_gb']:g} GB)"
                                                   if row["cap_gb"] else "")  # fmt: skip
        print(
            f"| {name} | {row['megapixels']:.2f} | {row['peak'] / 2**30:.2f} GiB | {slope} | "
            f"{row['estimate_gb']:.1f} GB | {row['seconds']:.0f} s |"
        )
        previous = row


if __name__ == "__main__":
    main()
