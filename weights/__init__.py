"""Shipped model weights (safetensors + manifest.json), installed as ``oldphoto_weights``.

See README.md in this folder for the model card.
"""
