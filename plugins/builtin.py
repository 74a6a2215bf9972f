"""Built-in pipeline stages: the paper's networks (detect, encode, translate, decode)."""

from __future__ import annotations

from oldphoto_cli.hookspecs import hookimpl


@hookimpl
def oldphoto_register_stages(register):
    from oldphoto_cli import pipeline_stages as s

    register("detect", "unet", s.UNetDetector, default=True, description="U-Net scratch detector")
    register("encode", "vae1", s.VAE1Encoder, default=True, description="VAE1 encoder E_RX")
    register(
        "translate",
        "mapping",
        s.LatentMapping,
        default=True,
        description="latent mapping T_Z with partial non-local block",
    )
    register("translate", "identity", s.IdentityTranslator, description="no translation (debug)")
    register("decode", "vae2", s.VAE2Decoder, default=True, description="VAE2 decoder G_Y")
