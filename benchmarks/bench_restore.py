"""CPU time and peak memory of the full restore pipeline, and of detection alone.

    python benchmarks/bench_restore.py [--sizes 0.25,768x1024,1,4,16] [--threads 2]
        [--mode both|restore|detect] [--weights-dir DIR] [--out benchmarks/RESULTS.md]
        [--precision fp32|bf16|fp16|auto] [--contiguous] [--system-malloc]
        [--translator NAME]

Full pipeline = the shipped default stages with faces off and ``with_scratch="on"``:
detection, encode, partial non-local translation (holes attend to pooled context of the
whole image) and decode, tiled. Every size runs in a fresh subprocess, so its peak RSS
(``ru_maxrss`` of that child: models, image, activations) is its own. Times exclude model
loading (reported separately) and follow one small warm-up call; per-stage times come from
``result.info``. Input: a smooth photo-like image (skimage astronaut/chelsea, mirrored
tiles) with long thin scratches drawn in, so the scratch path really runs.

The children run as ``oldphoto restore`` does: freed host memory kept for reuse
(``hostmem``; ``--system-malloc`` measures without), channels-last where the stages use
it (``--contiguous`` turns it off), ``--precision`` forced through the library (bf16/fp16
run even where the CPU only emulates them: slow). The section's header names the
configuration; write the default one to RESULTS.md, print the others to compare.

Sizes are megapixels (3:4 portrait) or WxH. 768x1024 is the headline size; targets:
<= 4.4 s and <= 1.5 GiB RSS there, < 4 GiB RSS at 24 MP. ``--out`` rewrites this script's
section of the results file (machine, torch version, weights described) and keeps the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from report import machine, write_section  # benchmarks/report.py (script dir is on sys.path)

HEADLINE = (768, 1024)  # width x height
MARK_START = "<!-- bench_restore:start -->"
MARK_END = "<!-- bench_restore:end -->"
TARGETS = {"headline_seconds": 4.4, "headline_rss_gib": 1.5, "rss_gib_24mp": 4.0}


# --------------------------------------------------------------------------- child


def synthetic_photo(width: int, height: int, seed: int = 0):
    """Smooth photo-like RGB float32 with bright and dark scratches (about 0.5 % of pixels)."""
    import cv2
    import numpy as np
    from skimage import data

    tile = 512
    a = cv2.resize(data.astronaut(), (tile, tile), interpolation=cv2.INTER_AREA)
    c = cv2.resize(data.chelsea(), (tile, tile), interpolation=cv2.INTER_AREA)
    block = np.vstack([np.hstack([a, c[:, ::-1]]), np.hstack([c[::-1], a[::-1, ::-1]])])
    reps_y, reps_x = -(-height // block.shape[0]), -(-width // block.shape[1])
    img = np.tile(block, (reps_y, reps_x, 1))[:height, :width].copy()
    rng = np.random.default_rng(seed)
    n = max(3, int(round(6 * (width * height / 1e6) ** 0.5)))
    for i in range(n):
        x0, x1 = rng.integers(0, width, 2)
        y0, y1 = 0, height - 1
        if i % 3 == 2:  # some cross the other way
            (x0, y0), (x1, y1) = (0, rng.integers(0, height)), (width - 1, rng.integers(0, height))
        thickness = int(rng.integers(1, 3 + width // 1500))
        shade = (235, 235, 230) if i % 2 == 0 else (25, 22, 20)
        cv2.line(img, (int(x0), int(y0)), (int(x1), int(y1)), shade, thickness, cv2.LINE_AA)
    return img.astype(np.float32) / np.float32(255)


def child(args: argparse.Namespace) -> None:
    import resource

    import cv2
    import numpy as np
    import torch

    from oldphoto_cli import hostmem

    if not args.system_malloc:
        hostmem.keep_freed_memory()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)

    def contiguous(*stage_objects) -> None:
        for stage in stage_objects:
            if args.contiguous and hasattr(stage, "memory_format"):
                stage.memory_format = torch.contiguous_format
                stage.model.to(memory_format=torch.contiguous_format)
    width, height = args.width, args.height
    img = synthetic_photo(width, height)
    started = time.perf_counter()
    out: dict = {"mode": args.mode, "width": width, "height": height}
    if args.mode == "restore":
        from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

        options = RestoreOptions(
            device=args.device,
            face_enhancer="none",
            with_scratch="on",
            weights_dir=args.weights_dir,
            precision=args.precision,
            translator=args.translator,
        )
        pipeline = RestorePipeline(options)
        _ = pipeline.detector  # built lazily: load it now, outside the timing
        contiguous(pipeline.detector, pipeline.encoder, pipeline.translator, pipeline.decoder)
        out["precision"] = pipeline.precision
        out["seconds_load"] = round(time.perf_counter() - started, 3)
        pipeline.restore(synthetic_photo(128, 128, seed=1))  # warm-up
        started = time.perf_counter()
        result = pipeline.restore(img)
        out["seconds"] = round(time.perf_counter() - started, 3)
        info = result.info
        out["translator"] = pipeline.translator.name
        for key in ("seconds_detect", "seconds_encode", "seconds_translate_decode",
                    "seconds_translate"):
            out[key] = info.get(key)
        out["scratch_path"] = bool(info.get("scratch_path"))
        out["defect_share"] = (info.get("mask") or {}).get("defect_share")
        out["tile"] = pipeline.tile
        out["finite"] = bool(np.isfinite(result.image).all())
    else:
        from oldphoto_cli import stages

        precision = args.precision
        if precision == "auto":
            from oldphoto_cli.device import resolve_precision

            precision = resolve_precision(torch.device(args.device), "auto")[0]
        detector = stages.build(
            "detect", None, device=torch.device(args.device), weights_dir=args.weights_dir,
            precision=precision,
        )
        contiguous(detector)
        out["precision"] = precision
        out["seconds_load"] = round(time.perf_counter() - started, 3)
        detector(synthetic_photo(128, 128, seed=1))  # warm-up
        started = time.perf_counter()
        prob = detector(img)
        out["seconds"] = round(time.perf_counter() - started, 3)
        out["defect_share"] = round(float((prob > 0.5).mean()), 6)
    out["max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(out))


# --------------------------------------------------------------------------- parent


def parse_size(token: str) -> tuple[int, int]:
    """``768x1024`` (W x H) or megapixels (``4``: 3:4 portrait, sides multiples of 8)."""
    token = token.strip().lower()
    if "x" in token:
        w, h = token.split("x")
        return int(w), int(h)
    pixels = float(token) * 1e6
    width = int(round((pixels * 3 / 4) ** 0.5 / 8)) * 8
    return width, int(round(pixels / width / 8)) * 8


def run_child(mode: str, size: tuple[int, int], args: argparse.Namespace) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--mode", mode,
           "--width", str(size[0]), "--height", str(size[1]), "--threads", str(args.threads),
           "--device", args.device, "--precision", args.precision]  # fmt: skip
    cmd += ["--contiguous"] if args.contiguous else []
    cmd += ["--system-malloc"] if args.system_malloc else []
    if args.weights_dir:
        cmd += ["--weights-dir", args.weights_dir]
    if args.translator:
        cmd += ["--translator", args.translator]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"mode": mode, "width": size[0], "height": size[1], "error": "timeout"}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"mode": mode, "width": size[0], "height": size[1], "error": tail[:160]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def describe_weights(weights_dir: str | None) -> str:
    from oldphoto_cli.weights import find_weights, read_metadata

    parts = []
    for name in ("vae1", "vae2", "mapping", "detector"):
        try:
            path = find_weights(name, weights_dir)
            meta = read_metadata(path)
        except Exception:
            parts.append(f"{name}: missing")
            continue
        steps = (meta.get("training") or {}).get("steps")
        parts.append(f"{name} {meta['parameters'] / 1e6:.2f}M params"
                     + (f", {steps} steps" if steps else ", untrained/unknown"))  # fmt: skip
    where = weights_dir or "default search path"
    return f"{where} ({'; '.join(parts)})"


def gib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**30:.2f}"


def fmt(v, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
    head = next((r for r in rows if (r["width"], r["height"]) == HEADLINE and "error" not in r),
                None)  # fmt: skip
    base = head["seconds"] / (head["width"] * head["height"] / 1e6) if head else None
    lines = [
        "| mode | size | MP | s/image | s/MP | s/MP ÷ headline | detect s | encode s | "
        "translate+decode s | load s | peak RSS GiB | scratch path |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        mp = r["width"] * r["height"] / 1e6
        size = f"{r['width']}x{r['height']}" + (" **(headline)**" if (r["width"], r["height"])
                                                == HEADLINE else "")  # fmt: skip
        if "error" in r:
            lines.append(f"| {r['mode']} | {size} | {mp:.2f} | failed: {r['error']} |"
                         + " |" * 8)  # fmt: skip
            continue
        spm = r["seconds"] / mp
        ratio = spm / base if base and r["mode"] == "restore" else None
        lines.append(
            f"| {r['mode']} | {size} | {mp:.2f} | {r['seconds']:.2f} | {spm:.2f} | "
            f"{fmt(ratio)} | {fmt(r.get('seconds_detect'))} | {fmt(r.get('seconds_encode'))} | "
            f"{fmt(r.get('seconds_translate_decode'))} | {r['seconds_load']:.2f} | "
            f"{gib(r['max_rss_bytes'])} | "
            f"{'yes' if r.get('scratch_path') else ('-' if r['mode'] == 'detect' else 'no')} |"
        )
    return "\n".join(lines)


def verdict(rows: list[dict]) -> str:
    notes = []
    for r in rows:
        if r["mode"] != "restore" or "error" in r:
            continue
        rss = r["max_rss_bytes"] / 2**30
        if (r["width"], r["height"]) == HEADLINE:
            ok = r["seconds"] <= TARGETS["headline_seconds"] and rss <= TARGETS["headline_rss_gib"]
            notes.append(f"headline 768x1024: {r['seconds']:.2f} s, {rss:.2f} GiB "
                         f"(target <= 4.4 s, <= 1.5 GiB): {'met' if ok else 'NOT met'}")  # fmt: skip
        if r["width"] * r["height"] >= 23e6:
            ok = rss < TARGETS["rss_gib_24mp"]
            notes.append(f"{r['width']}x{r['height']}: {rss:.2f} GiB (target < 4 GiB): "
                         f"{'met' if ok else 'NOT met'}")  # fmt: skip
    return "\n".join(f"- {n}" for n in notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--sizes", default="0.25,768x1024,1,4,16",
                        help="comma list of megapixels or WxH (add 24 for the big-memory check)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mode", choices=["both", "restore", "detect"], default="both")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--translator", default=None, help="a translate stage (default: the default)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per size")
    parser.add_argument("--out", type=Path, default=None,
                        help="rewrite this script's section of a markdown file")  # fmt: skip
    parser.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--contiguous", action="store_true",
                        help="no channels-last memory format (for comparison)")  # fmt: skip
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave glibc malloc as it is (for comparison)")  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.mode = "restore" if args.mode == "both" else args.mode
        child(args)
        return
    sizes = [parse_size(t) for t in args.sizes.split(",") if t.strip()]
    modes = ["restore", "detect"] if args.mode == "both" else [args.mode]
    rows = []
    for mode in modes:
        for size in sizes:
            print(f"{mode} {size[0]}x{size[1]} ...", file=sys.stderr, flush=True)
            rows.append(run_child(mode, size, args))
            r = rows[-1]
            print(f"  {r.get('seconds', r.get('error'))} s, "
                  f"{gib(r.get('max_rss_bytes'))} GiB", file=sys.stderr, flush=True)  # fmt: skip
    header = (
        f"## Restore / detect on CPU ({time.strftime('%Y-%m-%d')})\n\n"
        f"- machine: {machine()}; {args.threads} threads (shared machine: times are noisy)\n"
        f"- weights: {describe_weights(args.weights_dir)}\n"
        "- full pipeline: default stages, faces off, with_scratch=on; times exclude model "
        "load, after one warm-up; peak RSS is the whole child process\n"
        f"- precision {args.precision}; "
        f"{'contiguous' if args.contiguous else 'channels-last where the stages use it'}; "
        f"{'system malloc' if args.system_malloc else 'freed host memory kept (hostmem)'}\n"
        f"- command: `python benchmarks/bench_restore.py {' '.join(sys.argv[1:])}`\n"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header += f"- load average at the end: {load:.1f} (other jobs share these cores)\n"
    section = header + "\n" + table(rows) + "\n\n" + verdict(rows) + "\n"
    print(section)
    if args.out:
        write_section(args.out, section, MARK_START, MARK_END)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
