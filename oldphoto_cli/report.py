"""``oldphoto restore --report DIR``: a static before/after page to look at the results.

``DIR/index.html`` opens from disk (no server, no network: CSS and script are inline) and
shows, per photo, a before/after slider over the full-resolution images, the mask that was
used as a red overlay that can be switched on, the faces found as boxes, and the figures of
its JSON record. The images sit next to it in ``DIR/images/`` as JPEG (before, after) and
PNG (mask, transparent where clean), so any browser shows them whatever the photo's format.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from PIL import Image

from oldphoto_cli.imageio import atomic_write_bytes


@dataclass
class Entry:
    key: str  # file name stem inside images/
    input: str
    width: int
    height: int
    record: dict[str, Any]
    has_mask: bool = False
    faces: list[list[float]] = field(default_factory=list)  # [x, y, w, h] in pixels


def _jpeg(rgb: np.ndarray) -> bytes:
    u8 = np.clip(np.rint(np.asarray(rgb, np.float32) * 255), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(u8).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _mask_png(mask: np.ndarray) -> bytes:
    """Red where the mask is set, transparent elsewhere."""
    on = np.asarray(mask) > 0
    rgba = np.zeros((*on.shape, 4), np.uint8)
    rgba[on] = (255, 0, 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _key(path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem)[:40] or "photo"
    return f"{stem}-{hashlib.sha1(path.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


class ReportWriter:
    """Collects each restored photo (thread-safe: the I/O threads call :meth:`add`) and
    writes ``index.html`` at the end (:meth:`write`)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.images = self.folder / "images"
        self.entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def add(self, item: Any, image: Any, result: Any, done: Any) -> None:
        """A restored photo: ``image`` (LoadedImage), ``result`` (RestoreResult), ``done``
        (its ItemResult)."""
        self.add_arrays(str(item.path), image.rgb, result.image, result.mask, done.to_json(),
                        result.info.get("face_boxes") or [])  # fmt: skip

    def add_arrays(
        self,
        name: str,
        before: np.ndarray,
        after: np.ndarray,
        mask: np.ndarray | None,
        record: dict[str, Any],
        face_boxes: list[dict[str, Any]] | None = None,
    ) -> Entry:
        key = _key(name)
        atomic_write_bytes(self.images / f"{key}_before.jpg", _jpeg(before))
        atomic_write_bytes(self.images / f"{key}_after.jpg", _jpeg(after))
        if mask is not None:
            atomic_write_bytes(self.images / f"{key}_mask.png", _mask_png(mask))
        faces = [list(map(float, f["box"])) for f in face_boxes or [] if "box" in f]
        entry = Entry(key, name, before.shape[1], before.shape[0], record,
                      mask is not None, faces)  # fmt: skip
        with self._lock:
            self.entries[name] = entry
        return entry

    def add_finished(self, result: Any) -> None:
        """A photo restored by an earlier run (skipped now): before/after from the files."""
        from oldphoto_cli import imageio

        if result.input in self.entries or not result.output or result.output == "-":
            return
        try:
            before = imageio.read_image(result.input).rgb
            after = imageio.read_image(result.output).rgb
        except Exception:
            return
        if before.shape == after.shape:
            self.add_arrays(result.input, before, after, None, result.to_json())

    def write(self, results: list[Any], title: str = "oldphoto restore") -> Path:
        """``index.html`` for ``results`` (ItemResult, in this order); returns its path."""
        sections = []
        for result in results:
            entry = self.entries.get(result.input)
            if entry is None:
                sections.append(_failed_section(result.to_json()))
            else:
                entry.record = result.to_json()  # final: seconds are set after the write
                sections.append(_section(entry))
        page = PAGE.replace("{title}", html.escape(title))
        page = page.replace("{count}", str(len(self.entries)))
        page = page.replace("{sections}", "\n".join(sections))
        path = self.folder / "index.html"
        atomic_write_bytes(path, page.encode("utf-8", "surrogateescape"))
        return path


def _figures(record: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    mask = record.get("mask") or {}
    pipe = record.get("pipeline") or {}
    if mask:
        rows.append(("defects marked", f"{100 * mask.get('defect_share', 0):.2f} % of pixels"))
        rows.append(("scratch regions", str(mask.get("components", 0))))
    rows.append(("mask", str(record.get("mask_source") or pipe.get("mask_source") or "none")))
    if "faces" in pipe:
        rows.append(("faces", str(pipe["faces"])))
    spared = pipe.get("mask_spared_in_faces")
    if spared:
        rows.append(("spared in faces", f"{spared.get('pixels', 0)} px"))
    rows.append(("seconds", str(record.get("seconds"))))
    for key, value in pipe.items():
        if key.startswith("seconds_"):
            rows.append((key.replace("seconds_", "") + " s", str(value)))
    stages = record.get("stages")
    if stages:
        text = ", ".join(f"{k}: {v}" for k, v in stages.items()) if isinstance(stages, dict) \
            else ", ".join(map(str, stages))  # fmt: skip
        rows.append(("stages", text))
    if record.get("mode"):
        rows.append(("mode", f"{record['mode']}, {record.get('bit_depth', 8)}-bit"))
    rows.append(("status", str(record.get("status"))))
    return rows


def _section(entry: Entry) -> str:
    esc = html.escape
    src = quote(f"images/{entry.key}")
    faces = "".join(
        f'<div class="face" style="left:{100 * x / entry.width:.3f}%;'
        f"top:{100 * y / entry.height:.3f}%;width:{100 * w / entry.width:.3f}%;"
        f'height:{100 * h / entry.height:.3f}%"></div>'
        for x, y, w, h in entry.faces
    )
    mask = (
        f'<img class="mask" src="{src}_mask.png" alt="detected defects" hidden>'
        if entry.has_mask
        else ""
    )
    toggles = []
    if entry.has_mask:
        toggles.append('<label><input type="checkbox" class="toggle-mask"> mask</label>')
    if entry.faces:
        toggles.append(
            f'<label><input type="checkbox" class="toggle-faces" checked> '
            f"faces ({len(entry.faces)})</label>"
        )
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in
                   _figures(entry.record))  # fmt: skip
    record = esc(json.dumps(entry.record, indent=1, ensure_ascii=True, default=str))
    return f"""<section class="photo" id="{esc(entry.key)}">
<h2>{esc(entry.input)}</h2>
<div class="viewer" style="max-width:{entry.width}px">
<div class="compare" style="aspect-ratio:{entry.width}/{entry.height}">
<img class="after" src="{src}_after.jpg" alt="after" width="{entry.width}" height="{entry.height}">
<img class="before" src="{src}_before.jpg" alt="before" width="{entry.width}" height="{entry.height}">
{mask}<div class="faces">{faces}</div>
<div class="divider"></div>
<span class="tag left">before</span><span class="tag right">after</span>
</div>
<input type="range" class="slider" min="0" max="100" step="0.5" value="50"
 aria-label="before / after position">
</div>
<div class="controls">{" ".join(toggles)}
<a href="{src}_before.jpg">before, full size</a> <a href="{src}_after.jpg">after, full size</a></div>
<table class="figures">{rows}</table>
<details><summary>JSON record</summary><pre>{record}</pre></details>
</section>"""


def _failed_section(record: dict[str, Any]) -> str:
    esc = html.escape
    status = record.get("status")
    text = record.get("error") or status
    return (
        f'<section class="photo {esc(str(status))}"><h2>{esc(str(record.get("input")))}</h2>'
        f"<p>{esc(str(status))}: {esc(str(text))}</p></section>"
    )


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px;
       padding: 0 1em; background: #f4f2ee; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.05em; word-break: break-all; }
.photo { background: #fff; border-radius: 6px; padding: 1em; margin: 0 0 2em; }
.photo.error { background: #fde8e8; } .photo.skipped { background: #eee; }
.compare { position: relative; width: 100%; overflow: hidden; background: #000;
           user-select: none; }
.compare img { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
.compare img.before { clip-path: inset(0 50% 0 0); }
.compare img.mask { opacity: 0.7; pointer-events: none; }
.compare img[hidden] { display: none; }
.faces { position: absolute; inset: 0; pointer-events: none; }
.faces[hidden] { display: none; }
.face { position: absolute; border: 2px solid #3af; box-sizing: border-box; }
.divider { position: absolute; top: 0; bottom: 0; left: 50%; width: 2px; margin-left: -1px;
           background: #fff; box-shadow: 0 0 3px #000; pointer-events: none; }
.tag { position: absolute; top: 6px; padding: 1px 6px; background: rgba(0,0,0,.55);
       color: #fff; font-size: 12px; border-radius: 3px; pointer-events: none; }
.tag.left { left: 6px; } .tag.right { right: 6px; }
.viewer { width: 100%; }
.compare { cursor: ew-resize; touch-action: none; }
.slider { width: 100%; margin: .6em 0; display: block; }
.controls { display: flex; gap: 1.2em; flex-wrap: wrap; align-items: center; }
.figures { border-collapse: collapse; margin-top: .8em; }
.figures th { text-align: left; font-weight: 500; color: #555; padding: 1px 1.2em 1px 0; }
pre { font-size: 12px; overflow: auto; max-height: 20em; }
</style>
</head>
<body>
<h1>{title}: {count} photos</h1>
<p>Drag across a photo (or its slider): left of the line is the photo before, right of it
after. "mask" shows the defects that were repaired in red; boxes are the faces found.</p>
{sections}
<script>
for (const photo of document.querySelectorAll(".photo")) {
  const slider = photo.querySelector(".slider");
  if (!slider) continue;
  const before = photo.querySelector("img.before");
  const divider = photo.querySelector(".divider");
  const show = () => {
    const pos = Number(slider.value);
    before.style.clipPath = "inset(0 " + (100 - pos) + "% 0 0)";
    divider.style.left = pos + "%";
  };
  slider.addEventListener("input", show);
  show();
  const compare = photo.querySelector(".compare");
  const follow = (event) => {
    const box = compare.getBoundingClientRect();
    slider.value = Math.max(0, Math.min(100, 100 * (event.clientX - box.left) / box.width));
    show();
  };
  compare.addEventListener("pointerdown", (event) => {
    compare.setPointerCapture(event.pointerId);
    follow(event);
  });
  compare.addEventListener("pointermove", (event) => { if (event.buttons) follow(event); });
  const mask = photo.querySelector("img.mask");
  const maskToggle = photo.querySelector(".toggle-mask");
  if (mask && maskToggle) {
    maskToggle.addEventListener("change", () => { mask.hidden = !maskToggle.checked; });
  }
  const faces = photo.querySelector(".faces");
  const faceToggle = photo.querySelector(".toggle-faces");
  if (faces && faceToggle) {
    faceToggle.addEventListener("change", () => { faces.hidden = !faceToggle.checked; });
  }
}
</script>
</body>
</html>
"""
