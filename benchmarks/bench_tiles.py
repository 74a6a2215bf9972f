"""CPU cost per megapixel of the restore pipeline, one tile against many.

    python benchmarks/bench_tiles.py [--sizes 768x1024,1,4,12] [--threads 1] [--repeat 1]
        [--tile N] [--weights-dir DIR]

Each size runs in a fresh subprocess with ``--threads`` intra-op threads (1 by default:
CPU time of one thread is what contention on a shared machine disturbs least) and reports
the **process CPU time** (user + system, ``time.process_time``) of one restore after a
warm-up, split by stage: detect, encode, translate (``prepare`` and the tile calls) and
decode, each summed over its calls; the ratio column divides each size's CPU s/MP by
the first size's (the headline 768x1024, one tile). Same pipeline and input as
``bench_restore.py`` (faces off, ``with_scratch="on"``, the synthetic scratched photo).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench_restore import parse_size, synthetic_photo  # benchmarks/ is on sys.path


def child(args: argparse.Namespace) -> None:
    import resource

    import numpy as np
    import torch

    from oldphoto_cli import hostmem
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    hostmem.keep_freed_memory()
    torch.set_num_threads(args.threads)
    pipeline = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                              with_scratch="on", tile=args.tile,
                                              weights_dir=args.weights_dir))  # fmt: skip
    spent: dict[str, float] = {}

    def timed(key, fn):
        def wrapper(*a, **k):
            started = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[key] = spent.get(key, 0.0) + time.process_time() - started

        return wrapper

    # Instance attributes shadow the bound methods; callables stay callable.
    det = pipeline.detector
    pipeline.detect = timed("detect", pipeline.detect)
    for key, stage in (("encode", pipeline.encoder), ("translate", pipeline.translator),
                       ("decode", pipeline.decoder)):  # fmt: skip
        stage_cls = type(stage)
        stage.__class__ = type(stage_cls.__name__, (stage_cls,),
                               {"__call__": timed(key, stage_cls.__call__)})  # fmt: skip
    pipeline.translator.prepare = timed("prepare", pipeline.translator.prepare)
    del det
    pipeline.restore(synthetic_photo(128, 128, seed=1))  # warm-up
    img = synthetic_photo(args.width, args.height)
    rows = []
    for _ in range(args.repeat):
        spent.clear()
        started, wall = time.process_time(), time.perf_counter()
        result = pipeline.restore(img)
        rows.append({"cpu": time.process_time() - started, "wall": time.perf_counter() - wall,
                     **spent})  # fmt: skip
    out = {"width": args.width, "height": args.height, "tile": pipeline.tile,
           "runs": rows, "finite": bool(np.isfinite(result.image).all()),
           "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}  # fmt: skip
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--sizes", default="768x1024,1,4,12")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="restores per size (min is kept)")
    parser.add_argument("--tile", type=int, default=None, help="latent tile (default: auto)")
    parser.add_argument("--weights-dir", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    print("| size | MP | tile | CPU s | CPU s/MP | ÷ first | detect | encode | prepare | "
          "translate | decode | wall s | peak RSS GiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    for token in args.sizes.split(","):
        width, height = parse_size(token)
        cmd = [sys.executable, os.path.abspath(__file__), "--child", "--width", str(width),
               "--height", str(height), "--threads", str(args.threads),
               "--repeat", str(args.repeat)]  # fmt: skip
        cmd += ["--tile", str(args.tile)] if args.tile else []
        cmd += ["--weights-dir", args.weights_dir] if args.weights_dir else []
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(f"| {width}x{height} | failed: {proc.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        run = min(r["runs"], key=lambda row: row["cpu"])
        mp = width * height / 1e6
        per_mp = run["cpu"] / mp
        base = base or per_mp
        stage = " | ".join(f"{run.get(k, 0.0):.2f}"
                           for k in ("detect", "encode", "prepare", "translate", "decode"))  # fmt: skip
        print(f"| {width}x{height} | {mp:.2f} | {r['tile']} | {run['cpu']:.2f} | {per_mp:.2f} | "
              f"{per_mp / base:.2f} | {stage} | {run['wall']:.2f} | "
              f"{r['max_rss_bytes'] / 2**30:.2f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
