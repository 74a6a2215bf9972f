"""A tiny third-party oldphoto plugin: an image-space translator that inverts the photo.

Installed with ``pip install ./tests/example_plugin``; registered through the
``oldphoto`` entry-point group exactly like a real plugin.
"""

from __future__ import annotations

import numpy as np

from oldphoto_cli.hookspecs import hookimpl


class ExampleInvert:
    kind = "translate"
    name = "example-invert"
    space = "image"  # works on HxWx3 float images, not latents

    def __init__(self, device=None, **options):
        self.device = device

    def __call__(self, image, mask=None):
        return 1.0 - np.asarray(image, dtype=np.float32)


@hookimpl
def oldphoto_register_stages(register):
    register(
        "translate",
        "example-invert",
        ExampleInvert,
        description="invert colours (example third-party plugin)",
    )
