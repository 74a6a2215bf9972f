"""The README's before/after picture, made by the tool itself from a public-domain image.

    python benchmarks/readme_figure.py [--out docs/images/astronaut_before_after.jpg]

The image is scikit-image's ``astronaut`` (``skimage.data.astronaut()``: NASA portrait of
Eileen Collins, public domain, 512 x 512). It is damaged with ``oldphoto degrade`` (whole
image, seed 6: the default damage mix drew blur, contrast/gamma, grey, tint, JPEG, fading,
low resolution, worn edges, scratches, cracks and dust), restored with ``oldphoto restore``
and its defaults (the README's install: shipped weights, the face restorer of
oldphoto-face-weights), and the two are put side by side, each at ``--side`` px.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path


def oldphoto(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "oldphoto_cli", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="docs/images/astronaut_before_after.jpg")
    parser.add_argument("--seed", default="6")
    parser.add_argument("--side", type=int, default=384)
    args = parser.parse_args()

    from PIL import Image
    from skimage import data

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "clean").mkdir()
        Image.fromarray(data.astronaut()).save(work / "clean" / "astronaut.png")
        oldphoto("degrade", str(work / "clean"), str(work / "pairs"), "--size", "0", "--seed",
                 args.seed, "-q")  # fmt: skip
        damaged = next((work / "pairs" / "degraded").iterdir())
        oldphoto("restore", str(damaged), str(work / "restored"), "-q")
        restored = work / "restored" / damaged.name
        gap = 8
        sheet = Image.new("RGB", (2 * args.side + gap, args.side), "white")
        for i, path in enumerate((damaged, restored)):
            with Image.open(path) as image:
                panel = image.convert("RGB").resize((args.side, args.side), Image.LANCZOS)
            sheet.paste(panel, (i * (args.side + gap), 0))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=85, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
