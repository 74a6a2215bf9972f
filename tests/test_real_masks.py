"""The hand-traced real mask renderer: damage kinds, the label image and the loader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "trace_real_masks.py"


def _module():
    from conftest import benchmark_script

    return benchmark_script("trace_real_masks")


def test_render_writes_kinds_and_union(tmp_path):
    trm = _module()
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    grey = np.full((80, 100, 3), 128, np.uint8)
    grey[40:43, 5:95] = 50  # a 3 px dark scratch across
    grey[10, 10] = 255  # a white speck (photos are not .png: those are masks)
    cv2.imwrite(str(photos / "Synth.bmp"), grey)
    cv2.imwrite(str(photos / "Intact.bmp"), np.full((30, 40, 3), 128, np.uint8))
    spec = {
        "_about": "synthetic",
        "Synth": {
            "zones": [{"polygon": [[0, 0], [30, 0], [30, 30], [0, 30]], "kind": "dust"}],
            "lines": [{"points": [[0, 41], [99, 41]], "width": 9, "kind": "scratch"}],
            "areas": [
                {"polygon": [[60, 60], [90, 60], [90, 75], [60, 75]], "kind": "stain"},
                {"polygon": [[80, 36], [99, 36], [99, 79], [80, 79]], "kind": "tear"},
            ],
            "erase": [[[0, 38], [10, 38], [10, 46], [0, 46]]],
        },
        "Intact": {"note": "nothing"},
    }
    strokes = masks / "strokes.json"
    strokes.write_text(json.dumps(spec))
    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "render",
            "--real-old",
            str(photos),
            "--strokes",
            str(strokes),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    loaded = trm.load_real_masks(photos, masks)
    assert sorted(loaded) == ["Intact", "Synth"]
    mask, kinds = loaded["Synth"]
    union = cv2.imread(str(masks / "Synth.png"), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(union)) == {0, 255} and (mask == (union > 0)).all()
    assert ((kinds > 0) == (mask > 0)).all()  # a kind exactly where the union is set
    assert kinds[10, 10] == trm.KINDS.index("dust") + 1 == 3
    assert (kinds[40:43, 20:60] == 2).all() and not mask[36:39, 20:60].any()  # its width
    assert not mask[40:43, 0:10].any()  # erased
    assert (kinds[60:75, 60:79] == 5).all()  # the stain
    assert (kinds[60:75, 81:90] == 4).all() and kinds[41, 90] == 4  # the later tear wins
    assert kinds[41, 70] == 2
    assert set(np.unique(kinds)) == {0, 2, 3, 4, 5}
    empty, empty_kinds = loaded["Intact"]
    assert empty.shape == (30, 40) and not empty.any() and not empty_kinds.any()
    table = trm.stats_table(loaded)
    assert "| Synth | 100x80 |" in table and "2 photos, 1 with an empty mask" in table


def test_component_width_classes_and_unknown_kind():
    trm = _module()
    mask = np.zeros((40, 60), np.uint8)
    mask[5, 5:50] = 1  # 1 px
    mask[15:19, 5:50] = 1  # 4 px
    mask[25:39, 5:25] = 1  # 14 px
    labels, width = trm.component_widths(mask)
    classes = sorted(trm.width_class(width[labels[y, 10]]) for y in (5, 16, 30))
    assert classes == [0, 1, 3]
    black = np.zeros((10, 10, 3), np.float32)
    area = [[0, 0], [5, 0], [5, 5], [0, 5]]
    with pytest.raises(ValueError, match="kind"):
        trm.render_kinds(black, {"areas": [{"polygon": area, "kind": "scribble"}]})
    mask, kinds = trm.render_kinds(black, {"areas": [area]})  # no kind: unknown label
    assert mask[2, 2] == 1 and kinds[2, 2] == trm.UNKNOWN
    mask, kinds = trm.render_kinds(black, {"kind": "tear", "areas": [area]})  # photo default
    assert kinds[2, 2] == 4


def test_ignore_regions_are_unlabelled_in_training_masks_and_refused_in_evaluation(tmp_path):
    trm = _module()
    photo = np.full((40, 60, 3), 128, np.uint8)
    photo[20:22, :] = 40  # a dark scratch across
    spec = {"lines": [{"points": [[0, 21], [59, 21]], "width": 5, "kind": "scratch"}],
            "ignore": [[[40, 0], [59, 0], [59, 39], [40, 39]]]}  # fmt: skip
    mask = trm.render(photo[..., ::-1] / 255.0, spec)
    labels = trm.training_labels(mask, spec)
    assert (labels[20:22, :40] == 255).all() and (labels[:, 40:] == 128).all()
    assert (labels[:18, :40] == 0).all()
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    cv2.imwrite(str(photos / "P.bmp"), photo)
    cv2.imwrite(str(masks / "P.png"), labels)
    (masks / "kinds").mkdir()
    cv2.imwrite(str(masks / "kinds" / "P.kinds.png"), (labels == 255).astype(np.uint8) * 2)
    with pytest.raises(ValueError, match="unlabelled"):
        trm.load_real_masks(photos, masks)
