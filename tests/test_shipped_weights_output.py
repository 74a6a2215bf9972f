"""The shipped weights still give the recorded output on two small images.

A change to a stage, the tiling, the mask rule or the weights that moves what users get shows
up here. The recorded outputs are 8-bit PNGs in ``tests/data/shipped_outputs``; re-record
them on purpose, after checking the new output, with ``OLDPHOTO_RECORD=1 pytest
tests/test_shipped_weights_output.py``. The tolerance allows for other CPUs' float rounding.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from oldphoto_cli.degrade import degrade_image, rng_for

HERE = Path(__file__).resolve().parent / "data" / "shipped_outputs"
RECORD = os.environ.get("OLDPHOTO_RECORD") == "1"


def _inputs() -> dict[str, np.ndarray]:
    from skimage import data

    portrait = data.astronaut()[40:168, 160:288].astype(np.float32) / 255
    damaged = degrade_image(portrait, rng_for(5, 0)).image
    street = np.repeat(data.camera()[300:396, 200:328, None], 3, axis=2).astype(np.float32)
    street /= 255
    cv2.line(street, (5, 10), (120, 80), (0.95, 0.95, 0.95), 2)  # a bright scratch
    return {"portrait": damaged, "scratched": street}


@pytest.fixture(scope="module")
def pipeline():
    from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline

    return RestorePipeline(RestoreOptions(device="cpu", face_enhancer="none", precision="fp32"))


@pytest.mark.parametrize("name", ["portrait", "scratched"])
def test_shipped_weights_give_the_recorded_output(name, pipeline):
    image = _inputs()[name]
    result = pipeline.restore(image)
    out = np.clip(np.round(result.image * 255), 0, 255).astype(np.uint8)
    path = HERE / f"{name}.png"
    if RECORD:
        HERE.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    recorded = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    diff = np.abs(out.astype(int) - recorded.astype(int))
    assert diff.max() <= 3 and diff.mean() <= 0.25, (diff.max(), diff.mean())
    # and the restore did something: the recorded output is not the input
    assert np.abs(recorded.astype(int) - np.round(image * 255).astype(int)).mean() > 1
