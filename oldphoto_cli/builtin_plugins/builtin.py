"""Built-in pipeline stages: the paper's networks (detect, encode, translate, decode).

Registered by ``"module:Class"`` name: the stage modules (and torch) are imported only
when a stage is built, so ``oldphoto stages`` and ``plugins`` stay fast.
"""

from __future__ import annotations

from oldphoto_cli.hookspecs import hookimpl


@hookimpl
def oldphoto_register_stages(register):
    register("detect", "unet", "oldphoto_cli.stages.detect:UNetDetector", default=True,
             description="U-Net scratch detector")  # fmt: skip
    register("encode", "vae1", "oldphoto_cli.stages.vae:VAE1Encoder", default=True,
             description="VAE1 encoder E_RX")  # fmt: skip
    register("translate", "mapping", "oldphoto_cli.stages.mapping:LatentMapping",
             description="latent mapping T_Z with partial non-local block (VAE1 -> VAE2)")  # fmt: skip
    register("translate", "identity", "oldphoto_cli.stages.mapping:IdentityTranslator",
             description="no translation (debug)")  # fmt: skip
    # The default since it measured better than the latent mapping on every structure row
    # and on real portraits (benchmarks/RESULTS.md, "the restorer becomes the default").
    register("translate", "restorer", "oldphoto_cli.stages.restorer:ImageRestorer", default=True,
             description="image-space restorer: Telea + NL-means refined by a network")  # fmt: skip
    register("decode", "vae2", "oldphoto_cli.stages.vae:VAE2Decoder", default=True,
             description="VAE2 decoder G_Y")  # fmt: skip
