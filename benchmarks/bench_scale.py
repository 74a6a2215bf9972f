"""Batch restore throughput: one process vs torchrun processes, with and without I/O threads.

    python benchmarks/bench_scale.py [--n 64] [--megapixels 0.5] [--cores 2]
        [--weights-dir DIR] [--keep DIR] [--out benchmarks/RESULTS.md]

Writes ``--n`` generated photo-like images (smooth gradients, texture, a few scratches) of
``--megapixels`` each as PNG, then times ``oldphoto restore IN OUT --device cpu
--no-face-enhance --json`` end to end (process start, model load, every image) in a fresh
output folder per configuration:

- 1 process x ``cores`` threads (``OMP_NUM_THREADS``), ``--io-threads 0`` and 2
- ``torchrun --nproc-per-node cores`` x 1 thread each, ``--io-threads 2``
- 1 process x 1 thread (the per-core baseline)

Without ``--weights-dir`` (or shipped weights) it writes untrained stand-in weights of the
default architecture sizes: the compute per image is the real one, the pictures are not.
Prints a markdown table; ``--out`` replaces this script's section of the results file
(between its markers) and leaves the other sections alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import machine, write_section  # benchmarks/report.py (script dir is on sys.path)

MARK_START = "<!-- bench_scale:start -->"
MARK_END = "<!-- bench_scale:end -->"
HEADING = "## Batch throughput: processes and I/O threads (`bench_scale.py`)"


def photo(width: int, height: int, seed: int):
    """A smooth, textured RGB uint8 image with a few bright/dark scratches."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width, 3), np.float32)
    for c in range(3):
        fx, fy, phase = rng.uniform(0.5, 3, 2).tolist() + [rng.uniform(0, 6.28)]
        img[..., c] = 0.5 + 0.35 * np.sin(fx * x / width * 6.28 + phase) * np.cos(
            fy * y / height * 6.28
        )
    noise = cv2.GaussianBlur(rng.normal(0, 0.08, (height, width)).astype(np.float32), (0, 0), 2)
    img = np.clip(img + noise[..., None], 0, 1)
    out = (img * 255).astype(np.uint8)
    for i in range(4):
        p0 = (int(rng.integers(0, width)), 0)
        p1 = (int(rng.integers(0, width)), height - 1)
        shade = (235, 235, 230) if i % 2 else (25, 22, 20)
        cv2.line(out, p0, p1, shade, int(rng.integers(1, 3)), cv2.LINE_AA)
    return out


def make_inputs(folder: Path, n: int, megapixels: float) -> tuple[int, int]:
    from PIL import Image

    height = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    width = int(round(height * 4 / 3))
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(photo(width, height, i)).save(folder / f"photo_{i:03d}.png")
    return width, height


def stand_in_weights(folder: Path) -> Path:
    """Untrained weights, default architecture sizes (same compute as trained ones)."""
    import torch

    from oldphoto_cli.archs import mapping_arch, unet_arch, vae_arch
    from oldphoto_cli.archs.mapping_arch import LatentMapping, MappingConfig
    from oldphoto_cli.archs.unet_arch import UNet, UNetConfig
    from oldphoto_cli.archs.vae_arch import VAE, VAEConfig
    from oldphoto_cli.weights import save_weights

    torch.manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name, build, cfg, arch in [
        ("vae1", VAE, VAEConfig(), vae_arch.ARCH),
        ("vae2", VAE, VAEConfig(), vae_arch.ARCH),
        ("mapping", LatentMapping, MappingConfig(), mapping_arch.ARCH),
        ("detector", UNet, UNetConfig(), unet_arch.ARCH),
    ]:
        save_weights(folder / f"{name}.safetensors", build(cfg).state_dict(), arch, cfg)
    return folder


def have_weights(weights_dir: str | None) -> bool:
    from oldphoto_cli.weights import find_weights

    try:
        for name in ("vae1", "vae2", "mapping", "detector"):
            find_weights(name, weights_dir)
    except Exception:
        return False
    return True


def run_config(name: str, procs: int, threads: int, io_threads: int, args, src: Path, work: Path):
    out = work / f"out_{name.replace(' ', '_')}"
    shutil.rmtree(out, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS=str(threads), NO_COLOR="1")
    restore = ["restore", str(src), str(out), "--json", "--quiet", "--device", "cpu",
               "--no-face-enhance", "--weights-dir", args.weights_dir,
               "--io-threads", str(io_threads)]  # fmt: skip
    if procs == 1:
        cmd = [sys.executable, "-m", "oldphoto_cli", *restore]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs),
               "--master-port", str(args.port), "-m", "oldphoto_cli", *restore]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    ok = sum(r.get("status") == "ok" for r in records)
    per_image = sorted(r["seconds"] for r in records if r.get("status") == "ok")
    return {
        "config": name,
        "processes": procs,
        "threads": threads,
        "io_threads": io_threads,
        "rc": proc.returncode,
        "ok": ok,
        "wall_s": wall,
        "img_per_s": ok / wall if wall else 0.0,
        "median_image_s": per_image[len(per_image) // 2] if per_image else float("nan"),
        "error": "" if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["?"])[-1],
    }


def load_average() -> str:
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


def table(rows: list[dict]) -> str:
    base = next((r["img_per_s"] for r in rows if r["processes"] == 1 and r["threads"] == 1), 0)
    lines = [
        "| configuration | processes x threads | I/O threads | images ok | wall s | images/s "
        "| vs 1x1 | median s/image (in-process) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        speedup = f"{r['img_per_s'] / base:.2f}x" if base else "-"
        status = "" if r["rc"] == 0 else f" (exit {r['rc']}: {r['error'][:60]})"
        lines.append(
            f"| {r['config']}{status} | {r['processes']} x {r['threads']} | {r['io_threads']} "
            f"| {r['ok']} | {r['wall_s']:.1f} | {r['img_per_s']:.3f} | {speedup} "
            f"| {r['median_image_s']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=64, help="images (default 64)")
    parser.add_argument("--megapixels", type=float, default=0.5)
    parser.add_argument("--cores", type=int, default=2, help="processes/threads to compare")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--port", type=int, default=29533, help="torchrun master port")
    parser.add_argument("--keep", default=None, help="work folder to keep (default: temp)")
    parser.add_argument("--only", default=None, help="comma-separated config numbers (1-4)")
    parser.add_argument("--out", default=None, help="results markdown file to update")
    args = parser.parse_args()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_scale_"))
    weights_note = "given/shipped weights"
    if not have_weights(args.weights_dir):
        args.weights_dir = str(stand_in_weights(work / "weights"))
        weights_note = "untrained stand-in weights, default architecture sizes"
    args.weights_dir = args.weights_dir or ""
    src = work / "in"
    width, height = make_inputs(src, args.n, args.megapixels)
    c = args.cores
    configs = [
        (f"1 process, {c} threads, no overlap", 1, c, 0),
        (f"1 process, {c} threads", 1, c, 2),
        (f"torchrun {c} processes, 1 thread each", c, 1, 2),
        ("1 process, 1 thread", 1, 1, 2),
    ]
    if args.only:
        keep = {int(i) for i in args.only.split(",")}
        configs = [cfg for i, cfg in enumerate(configs, 1) if i in keep]
    load_before = load_average()
    rows = []
    for name, procs, threads, io_threads in configs:
        row = run_config(name, procs, threads, io_threads, args, src, work)
        rows.append(row)
        print(f"{name}: {row['img_per_s']:.3f} img/s ({row['wall_s']:.1f} s)", file=sys.stderr)
    text = table(rows)
    print(text)
    section = (
        f"{HEADING}\n\n"
        f"`python benchmarks/bench_scale.py --n {args.n} --megapixels {args.megapixels} "
        f"--cores {c}`: {args.n} generated PNG photos of {width}x{height} "
        f"({width * height / 1e6:.2f} MP), `oldphoto restore --device cpu --no-face-enhance`, "
        "wall time of the whole command (start-up and model load included).\n\n"
        f"- machine: {machine()}\n"
        f"- load average (1/5/15 min): {load_before} before, {load_average()} after\n"
        f"- weights: {weights_note}\n"
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}\n\n"
        f"{text}\n\n"
        "images/s = images ok / wall s. The median s/image is each image's read + compute "
        "+ write time inside its process. On a shared machine compare rows of one run only.\n"
    )
    if args.out:
        write_section(Path(args.out), section, MARK_START, MARK_END)
        print(f"wrote {args.out}", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
