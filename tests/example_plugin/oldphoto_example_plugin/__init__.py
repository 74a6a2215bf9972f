"""A third-party oldphoto plugin: one stage of each kind a plugin usually adds.

Installed with ``pip install ./tests/example_plugin``; registered through the ``oldphoto``
entry-point group exactly like any other plugin. The worked examples of docs/plugins.md:

- ``example-smooth`` (translate, latent space): fills damaged latent cells with a learned
  3x3 average of their neighbours; its weights ship inside this package;
- ``example-specks`` (detect): bright or dark specks that stand out from their 5x5
  median, i.e. dust;
- ``example-sharpen`` (face_enhance): an unsharp mask on each aligned face crop;
- ``example-invert`` (translate, image space): inverts the photo (the smallest stage);
- ``example-pixels`` (encode and decode): 2x2 pixel blocks as latent channels and back, an
  exact pair (``--encoder example-pixels --decoder example-pixels``).

Stages are registered by ``"module:Class"`` so nothing heavy is imported until one is used.
"""

from __future__ import annotations

from oldphoto_cli import hookimpl


@hookimpl
def oldphoto_register_stages(register):
    register("translate", "example-smooth", "oldphoto_example_plugin.smooth:ExampleSmooth",
             description="learned 3x3 latent in-fill of damaged cells (example plugin)")  # fmt: skip
    register("detect", "example-specks", "oldphoto_example_plugin.specks:ExampleSpecks",
             description="dust specks against their 5x5 median (example plugin)")  # fmt: skip
    register("face_enhance", "example-sharpen", "oldphoto_example_plugin.sharpen:ExampleSharpen",
             description="unsharp mask on aligned face crops (example plugin)")  # fmt: skip
    register("translate", "example-invert", "oldphoto_example_plugin.invert:ExampleInvert",
             description="invert colours (example third-party plugin)")  # fmt: skip
    register("encode", "example-pixels", "oldphoto_example_plugin.pixels:ExamplePixelsEncoder",
             description="2x2 pixel blocks as latent channels (example plugin)")  # fmt: skip
    register("decode", "example-pixels", "oldphoto_example_plugin.pixels:ExamplePixelsDecoder",
             description="latent channels back to 2x2 pixel blocks (example plugin)")  # fmt: skip
