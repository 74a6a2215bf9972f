"""Bit-identity check for refactors: the same fixed restores, hashed, from two installs.

A refactor that must not change behaviour (such as the plugin-contract redesign of 2026-11-29) is checked by restoring a
fixed set of crops with the shipped weights through the CLI of each install and comparing
the sha256 of every output file and every ``--json`` record (timings left out):

    python benchmarks/bit_identity.py inputs --data ../shared/data --out /tmp/bi/in
    REF/bin/python benchmarks/bit_identity.py hash --inputs /tmp/bi/in > ref.json   # main
    .venv/bin/python benchmarks/bit_identity.py hash --inputs /tmp/bi/in > now.json
    python benchmarks/bit_identity.py compare ref.json now.json

``hash`` runs ``python -m oldphoto_cli`` with the interpreter that runs it (in a temporary
folder, so the checkout in the current folder is not imported), so each install restores
with its own code. The commands cover restore (faces on/off, a given mask, forced
scratch path with small tiles, strength, no tone keeping, the classical and identity
translators) and detect with overlays; about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

# (source under --data, output name, side): square centre crops, one made grayscale.
PICKS = [
    ("real_old/1860Girls.jpg", "girls.png", 448),
    ("real_old/1880Paris.jpg", "paris.jpg", 384),
    ("clean/bsds_100007.jpg", "clean.png", 320),
    ("real_old/1850Geography.jpg", "geo_gray.png", 256),
]


def make_inputs(data: Path, out: Path) -> None:
    from PIL import Image, ImageDraw

    (out / "masks").mkdir(parents=True, exist_ok=True)
    for source, name, side in PICKS:
        with Image.open(data / source) as image:
            w, h = image.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            image = image.crop(box).resize((side, side), Image.BICUBIC)
            image = image.convert("L" if name.startswith("geo_gray") else "RGB")
            image.save(out / name, **({"quality": 92} if name.endswith(".jpg") else {}))
    mask = Image.new("L", (384, 384), 0)
    draw = ImageDraw.Draw(mask)
    draw.line((10, 20, 370, 300), fill=255, width=3)
    draw.line((200, 0, 180, 383), fill=255, width=2)
    mask.save(out / "masks" / "paris_mask.png")


def _commands(inputs: Path, t: Path) -> dict[str, list[str]]:
    images = [str(p) for p in sorted(inputs.iterdir()) if p.is_file()]
    return {
        "restore": ["restore", *images, str(t / "restore")],
        "noface": ["restore", *images, str(t / "noface"), "--no-face-enhance"],
        "maskdir": ["restore", str(inputs / "paris.jpg"), str(t / "maskdir"), "--mask-dir",
                    str(inputs / "masks"), "--ext", "png"],  # fmt: skip
        "forced": ["restore", str(inputs / "clean.png"), str(t / "forced"), "--with-scratch",
                   "on", "--tile", "32", "--strength", "0.7", "--no-keep-tone"],  # fmt: skip
        "classical": ["restore", str(inputs / "paris.jpg"), str(t / "classical"), "--translator",
                      "classical", "--detector", "classical", "--face-enhancer", "none"],  # fmt: skip
        "identity": ["restore", str(inputs / "clean.png"), str(t / "identity"), "--translator",
                     "identity"],  # fmt: skip
        "detect": ["detect", *images, str(t / "detect"), "--overlay"],
    }


def _strip(record, root: str):
    if isinstance(record, dict):
        return {k: _strip(v, root) for k, v in record.items() if not k.startswith("seconds")}
    if isinstance(record, list):
        return [_strip(v, root) for v in record]
    return record.replace(root, "T") if isinstance(record, str) else record


def hash_outputs(inputs: Path) -> dict[str, object]:
    hashes: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for name, args in _commands(inputs, t).items():
            if name == "classical" and "classical" not in _stages(tmp):
                continue  # oldphoto-classical not installed here
            done = subprocess.run([sys.executable, "-m", "oldphoto_cli", *args, "-q", "--json"],
                                  capture_output=True, text=True, cwd=tmp)  # fmt: skip
            records = [_strip(json.loads(line), tmp) for line in done.stdout.splitlines()]
            hashes[f"{name}.json"] = sorted(json.dumps(r, sort_keys=True) for r in records)
            hashes[f"{name}.exit"] = done.returncode
        for path in sorted(t.rglob("*")):
            if path.is_file():
                hashes[str(path.relative_to(t))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _stages(cwd: str) -> str:
    # cwd: a folder without the source tree, so ``-m`` runs the install, not the checkout
    return subprocess.run([sys.executable, "-m", "oldphoto_cli", "stages"], capture_output=True,
                          text=True, cwd=cwd).stdout  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("inputs", help="write the fixed crops and a hand mask")
    make.add_argument("--data", type=Path, required=True)
    make.add_argument("--out", type=Path, required=True)
    run = sub.add_parser("hash", help="restore/detect them; print hashes as JSON")
    run.add_argument("--inputs", type=Path, required=True)
    compare = sub.add_parser("compare", help="exit 1 unless two hash files are identical")
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "inputs":
        make_inputs(args.data, args.out)
    elif args.command == "hash":
        print(json.dumps(hash_outputs(args.inputs), indent=1, sort_keys=True))
    else:
        a, b = json.loads(args.a.read_text()), json.loads(args.b.read_text())
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        files = sum(1 for k in a if not k.endswith((".json", ".exit")))
        print(f"{len(differ)} of {len(a)} entries differ ({files} output files): "
              + (", ".join(differ) or "BIT-IDENTICAL"))  # fmt: skip
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
