"""oldphoto: restore old, damaged photographs from the command line.

Implements *Old Photo Restoration via Deep Latent Space Translation* (Wan et al.,
CVPR 2020 / TPAMI) as a pipeline of pluggable stages: detect -> encode -> translate
-> decode -> face_enhance.
"""

__version__ = "0.1.0"
