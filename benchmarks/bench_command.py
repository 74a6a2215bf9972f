"""What a user waits for: whole ``oldphoto`` commands, start to finish, beside the click floor.

    python benchmarks/bench_command.py [--repeat 5] [--images 4] [--threads 2]
        [--precision auto] [--out benchmarks/RESULTS.md]

Times, each in fresh subprocesses (``--repeat`` runs, min and median reported):

- the floor of any click CLI: ``python -c "import click, rich, pluggy"``;
- ``oldphoto --help``, ``oldphoto stages``, ``oldphoto plugins``, ``oldphoto weights list``
  (none of them may import torch) and, for scale, ``python -c "import torch"``;
- the headline command: ``oldphoto restore photo.jpg out.jpg --no-face-enhance`` on one
  768x1024 photo with scratches (``bench_restore.synthetic_photo``, JPEG q92), from the
  process start to the written file, with its peak memory (``ru_maxrss`` of that process,
  from ``wait4``);
- in one process: model load, the first image, the warm per-image time (median of
  ``--images - 1`` further images) and its cost per megapixel, their ratio, peak memory.

Targets (set on 2026-11-29): ``--help`` and ``stages`` under 0.3 s; the headline command
<= 4.4 s and <= 1.5 GiB on 2 cores; the first image within 1.2x of a warm one. Use a quiet
machine (on this project: ``/work/quiet.sh python benchmarks/bench_command.py``). ``--out``
rewrites this script's section of the results file and keeps the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import machine, write_section  # benchmarks/report.py (script dir is on sys.path)

MARK_START = "<!-- bench_command:start -->"
MARK_END = "<!-- bench_command:end -->"
WIDTH, HEIGHT = 768, 1024
TARGETS = {"help_s": 0.3, "command_s": 4.4, "command_gib": 1.5, "first_over_warm": 1.2}


def oldphoto_exe() -> list[str]:
    """The ``oldphoto`` script next to this Python (a venv), else ``python -m oldphoto_cli``."""
    script = Path(sys.executable).with_name("oldphoto")
    return [str(script)] if script.exists() else [sys.executable, "-m", "oldphoto_cli"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """(wall seconds, exit status, peak RSS bytes) of one subprocess."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip()[-300:]
            raise RuntimeError(f"{' '.join(cmd)} exited {code}: {tail}")
    return seconds, code, usage.ru_maxrss * 1024


def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "n": len(values)}


def in_process(photo: Path, images: int, precision: str, env: dict[str, str]) -> dict:
    """Model load, first and warm image times in one process, as ``restore`` runs them."""
    code = f"""
import json, resource, time
t0 = time.perf_counter()
from oldphoto_cli import hostmem, imageio
from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline
hostmem.keep_freed_memory()
t1 = time.perf_counter()
pipe = RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none",
                                      precision={precision!r}))
rgb = imageio.read_image({str(photo)!r}).rgb
t2 = time.perf_counter()
times = []
for _ in range({images}):
    s = time.perf_counter()
    result = pipe.restore(rgb)
    times.append(time.perf_counter() - s)
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "times": times,
                  "precision": result.info.get("precision"),
                  "scratch_path": result.info.get("scratch_path"),
                  "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_photo(folder: Path) -> Path:
    import numpy as np
    from bench_restore import synthetic_photo
    from PIL import Image

    path = folder / "photo.jpg"
    rgb = synthetic_photo(WIDTH, HEIGHT)
    Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)).save(path, quality=92)
    return path


def gib(n: float) -> str:
    return f"{n / 2**30:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5, help="runs per command")
    parser.add_argument("--images", type=int, default=4, help="images in the in-process run")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS for the commands (default: torch's choice)")  # fmt: skip
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    env = dict(os.environ)
    if args.threads:
        env |= {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    exe = oldphoto_exe()
    work = Path(tempfile.mkdtemp(prefix="bench_command_"))
    try:
        photo = make_photo(work)
        quick = {
            "floor: `python -c \"import click, rich, pluggy\"`":
                [sys.executable, "-c", "import click, rich, pluggy"],
            "`oldphoto --help`": [*exe, "--help"],
            "`oldphoto stages`": [*exe, "stages"],
            "`oldphoto plugins`": [*exe, "plugins"],
            "`oldphoto weights list`": [*exe, "weights", "list"],
            "`oldphoto restore --help`": [*exe, "restore", "--help"],
        }  # fmt: skip
        rows: dict[str, list[float]] = {name: [] for name in quick}
        for _ in range(args.repeat):  # interleaved: drift hits every command alike
            for name, cmd in quick.items():
                rows[name].append(timed(cmd, env)[0])
        torch_s = [timed([sys.executable, "-c", "import torch"], env)[0] for _ in range(2)]
        restore_cmd = [*exe, "restore", str(photo), str(work / "out.jpg"), "--no-face-enhance",
                       "-q", "--precision", args.precision]  # fmt: skip
        timed(restore_cmd, env)  # page cache warm: we time the command, not the disk
        command_s, command_rss = [], []
        for _ in range(args.repeat):
            # restore never replaces a file named as OUT (it may be a photo): a fresh one
            (work / "out.jpg").unlink(missing_ok=True)
            seconds, _, rss = timed(restore_cmd, env)
            if not (work / "out.jpg").is_file():
                raise RuntimeError("restore wrote no output")
            command_s.append(seconds)
            command_rss.append(rss)
        inproc = in_process(photo, args.images, args.precision, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    first, warm = inproc["times"][0], statistics.median(inproc["times"][1:] or inproc["times"])
    mp = WIDTH * HEIGHT / 1e6
    floor = summary(rows[next(iter(quick))])
    lines = [
        f"## What one command costs (`bench_command.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",  # noqa: E501
        "",
        f"- machine: {machine()}; threads: {args.threads or 'torch default'}; "
        f"precision {args.precision} (used: {inproc['precision']})",
        f"- command: `python benchmarks/bench_command.py {' '.join(sys.argv[1:])}`; "
        f"{args.repeat} runs each, interleaved",
        f"- load average at the end: {os.getloadavg()[0]:.1f}",
        "",
        "| command | min s | median s | over the floor (median) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, values in rows.items():
        s = summary(values)
        lines.append(f"| {name} | {s['min']:.3f} | {s['median']:.3f} | "
                     f"+{s['median'] - floor['median']:.3f} |")  # fmt: skip
    lines.append(f"| `python -c \"import torch\"` (for scale) | {min(torch_s):.3f} | "
                 f"{statistics.median(torch_s):.3f} | |")  # fmt: skip
    c = summary(command_s)
    lines += [
        "",
        f"| one {WIDTH}x{HEIGHT} photo with scratches, faces off | value |",
        "| --- | ---: |",
        f"| whole `oldphoto restore` command, start to written file (min / median) | "
        f"{c['min']:.2f} / {c['median']:.2f} s |",
        f"| its peak memory (max RSS, max over runs) | {gib(max(command_rss))} GiB |",
        f"| in one process: import of the pipeline modules (torch included) | "
        f"{inproc['import_s']:.2f} s |",
        f"| model load + image read | {inproc['load_s']:.2f} s |",
        f"| first image | {first:.2f} s |",
        f"| warm image (median of {len(inproc['times']) - 1}) | {warm:.2f} s |",
        f"| first / warm | {first / warm:.2f} |",
        f"| warm cost per megapixel | {warm / mp:.2f} s/MP |",
        f"| in-process peak memory | {gib(inproc['max_rss'])} GiB |",
        "",
    ]
    help_ok = max(summary(rows["`oldphoto --help`"])["median"],
                  summary(rows["`oldphoto stages`"])["median"]) < TARGETS["help_s"]  # fmt: skip
    command_ok = (c["median"] <= TARGETS["command_s"]
                  and max(command_rss) / 2**30 <= TARGETS["command_gib"])  # fmt: skip
    first_ok = first / warm <= TARGETS["first_over_warm"]
    lines += [
        f"- `--help` and `stages` under 0.3 s (median): {'met' if help_ok else 'NOT met'}",
        f"- whole command <= 4.4 s (median) and <= 1.5 GiB: {'met' if command_ok else 'NOT met'}",
        f"- first image within 1.2x of a warm one: {'met' if first_ok else 'NOT met'}",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.out:
        write_section(args.out, section, MARK_START, MARK_END)
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
