"""The face-trained weights (``face_restorer.safetensors``, ``face.safetensors``) for oldphoto.

A separate package so that a user who must avoid research-only models can leave it out:
oldphoto then restores faces with the ``general`` enhancer (with a note). Installed, its
folder is searched for weights after ``--weights-dir``, ``$OLDPHOTO_WEIGHTS`` and the
shipped weights, and ``restorer`` (the face restorer) becomes the default face enhancer.

Licence of the weights: research use only (non-commercial); see README.md.
"""

from __future__ import annotations

from pathlib import Path

from oldphoto_cli.hookspecs import hookimpl

WEIGHTS_DIR = Path(__file__).parent


@hookimpl
def oldphoto_register_weights(register):
    register(WEIGHTS_DIR)
