"""``restore --report DIR``: a static before/after page, checked as files and in Chromium."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from chromium import Chromium, find_chromium
from click.testing import CliRunner
from conftest import save_pil
from PIL import Image

from oldphoto_cli.cli import cli

BEFORE = (60, 160, 60)  # green; the fake "test-invert" translator makes it magenta
AFTER = tuple(255 - v for v in BEFORE)


@pytest.fixture
def report(fake_pipeline, test_plugin, tmp_path):
    """A report of two photos (one with a dark scratch: a mask) and one broken file."""
    src = tmp_path / "in"
    flat = np.zeros((150, 240, 3), np.uint8) + np.array(BEFORE, np.uint8)
    scratched = flat.copy()
    scratched[70:74, 20:220] = 0  # dark: the fake detector marks it
    save_pil(src / "flat.png", Image.fromarray(flat))
    save_pil(src / "scratched <b>.png", Image.fromarray(scratched))
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    folder = tmp_path / "report"
    result = CliRunner().invoke(cli, ["restore", str(src), str(tmp_path / "out"), "--report",
                                      str(folder), "--translator", "test-invert", "--json"])
    assert result.exit_code == 1, result.output  # the broken file
    assert f"report: {folder / 'index.html'}" in result.stderr
    return folder


def test_report_files_and_page(report):
    page = (report / "index.html").read_text()
    images = sorted(p.name for p in (report / "images").iterdir())
    assert len([n for n in images if n.endswith("_before.jpg")]) == 2
    assert len([n for n in images if n.endswith("_after.jpg")]) == 2
    assert len([n for n in images if n.endswith("_mask.png")]) == 2
    for src in re.findall(r'src="([^"]+)"', page):  # every image the page shows exists
        assert (report / src).is_file(), src
    assert "http://" not in page and "https://" not in page  # opens offline
    assert "scratched &lt;b&gt;.png" in page and "<b>.png" not in page  # names escaped
    assert "broken.jpg" in page and "error" in page
    assert page.count('class="slider"') == 2 and "toggle-mask" in page
    # full resolution and the mask where the scratch is
    with Image.open(next((report / "images").glob("scratched*_before.jpg"))) as before:
        assert before.size == (240, 150)
    mask = np.asarray(Image.open(next((report / "images").glob("scratched*_mask.png"))))
    assert mask[72, 100, 3] == 255 and mask[10, 10, 3] == 0
    assert "defects marked" in page
    assert "<th>seconds</th><td>0.0</td>" not in page  # the final record, timed


def test_rerun_report_shows_the_skipped_photos(report, tmp_path):
    again = CliRunner().invoke(cli, ["restore", str(tmp_path / "in"), str(tmp_path / "out"),
                                     "--report", str(tmp_path / "r2"), "--translator",
                                     "test-invert"])  # fmt: skip
    assert again.exit_code == 1
    page = (tmp_path / "r2" / "index.html").read_text()
    assert page.count('class="slider"') == 2


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _share(png: bytes, colour: tuple[int, int, int]) -> float:
    return float((np.abs(_pixels(png) - np.array(colour)).sum(-1) < 60).mean())


def _red(png: bytes) -> float:
    r, g, b = np.moveaxis(_pixels(png), -1, 0)
    return float(((r > 180) & (g < 80) & (b < 100)).mean())


def _clip(browser, element: str) -> dict[str, float]:
    """Page coordinates of an element (screenshots clip in page, not viewport, pixels)."""
    return json.loads(browser.evaluate(
        f"(() => {{ const r = {element}.getBoundingClientRect(); return JSON.stringify("
        "{x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}); })()"
    ))  # fmt: skip


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed "
                    "(apt-get install chromium): the report is not checked in a browser")
def test_report_in_headless_chromium(report, tmp_path):
    ready = "[...document.images].every(i => i.complete && i.naturalWidth > 0)"
    with Chromium() as browser:
        browser.open((report / "index.html").as_uri(), ready)
        clip = _clip(browser, "document.querySelector('.photo .compare')")
        halves = browser.screenshot(clip)
        assert 0.4 < _share(halves, BEFORE) < 0.6 and 0.4 < _share(halves, AFTER) < 0.6
        # the user drags the slider to a fifth
        slider = json.loads(browser.evaluate(
            "JSON.stringify(document.querySelector('.photo .slider').getBoundingClientRect())"
        ))  # fmt: skip
        y = slider["y"] + slider["height"] / 2
        browser.drag(slider["x"] + slider["width"] / 2, y, slider["x"] + slider["width"] * 0.2, y)
        moved = browser.screenshot(clip)
        assert 0.12 < _share(moved, BEFORE) < 0.28, _share(moved, BEFORE)
        assert 0.72 < _share(moved, AFTER) < 0.88
        (tmp_path / "report.png").write_bytes(browser.screenshot())
        # the mask overlay of the scratched photo: hidden, then shown in red
        second = "[...document.querySelectorAll('.photo')].find(p => p.querySelector('h2')" \
            ".textContent.includes('scratched'))"
        browser.evaluate(f"{second}.scrollIntoView()")
        clip2 = _clip(browser, f"{second}.querySelector('.compare')")
        assert _red(browser.screenshot(clip2)) < 0.005
        toggle = json.loads(browser.evaluate(
            f"JSON.stringify({second}.querySelector('.toggle-mask').getBoundingClientRect())"
        ))  # fmt: skip
        browser.click(toggle["x"] + toggle["width"] / 2, toggle["y"] + toggle["height"] / 2)
        shown = browser.screenshot(clip2)
        assert 0.01 < _red(shown) < 0.1  # the 4-row scratch (dilated), nothing else

