"""Training the latent mapping T_Z with both VAEs frozen (paper section 3.2).

L_T = lambda1 * L1(T(E_X(x)), E_Y(y)) + image L1(G_Y(T(E_X(x))), y)
      + GAN on the decoded image + lambda2 * feature matching.

The image-space L1 through the frozen decoder is our addition: the latent L1 alone weighs
all latent channels equally, while what matters is the decoded image; it speeds up
convergence on a CPU budget. Structured defects come with exact masks, which drive the
partial non-local branch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from oldphoto_cli.archs import mapping_arch, vae_arch
from oldphoto_cli.archs.discriminator_arch import MultiscalePatchGAN, PatchGANConfig
from oldphoto_cli.archs.mapping_arch import LatentMapping, MappingConfig, latent_mask
from oldphoto_cli.archs.vae_arch import VAE, VAEConfig
from oldphoto_cli.data import DataConfig, SyntheticPairs, batch_of, training_split
from oldphoto_cli.metrics import psnr
from oldphoto_cli.train.common import Trainer, TrainOptions, set_requires_grad, unwrap, wrap_ddp
from oldphoto_cli.train.vae import VAL_SEED, gan_discriminator_loss, gan_generator_terms
from oldphoto_cli.weights import load_model, save_weights


@dataclass
class MappingLosses:
    latent_l1: float = 60.0  # lambda1 (official: 60)
    image_l1: float = 10.0
    gan_weight: float = 0.0  # paper: 1
    fm_weight: float = 10.0  # lambda2
    # Gradient-norm clip: with the exact (unbounded, tanh-free) VAE skip path one heavy
    # batch could throw the mapping off (a run at lr 5e-4 diverged at step ~190 without it).
    clip_grad: float = 1.0


def load_vae(path: str, device) -> VAE:
    model, _ = load_model(path, VAE, VAEConfig, vae_arch.ARCH, device)
    set_requires_grad(model, False)
    return model.eval()


@dataclass
class Spectrum:
    """What the mapping is trained on: the range of photos restore meets."""

    clean_share: float = 0.2  # intact crops, target = input (do no harm)
    mild_share: float = 0.4  # few, light defects
    keep_tone: bool = True  # grey and toned samples keep their tone in the target


class MappingTrainer(Trainer):
    name = "mapping"
    exported_model = "mapping"

    def __init__(self, opts: TrainOptions, clean_dir: str, vae1_path: str, vae2_path: str,
                 cfg: MappingConfig | None = None, losses: MappingLosses | None = None,
                 spectrum: Spectrum | None = None) -> None:  # fmt: skip
        self.cfg, self.losses = cfg or MappingConfig(), losses or MappingLosses()
        self.spectrum = spectrum or Spectrum()
        self.paths = {"clean": clean_dir, "vae1": vae1_path, "vae2": vae2_path}
        train, val = training_split(clean_dir)
        mix = vars(self.spectrum)
        self.pairs = SyntheticPairs(train, DataConfig(crop=opts.crop, seed=opts.seed, **mix))
        # Validation: the full damage mix (as before) and intact crops (do no harm).
        keep = self.spectrum.keep_tone
        self.val_pairs = SyntheticPairs(val, DataConfig(crop=opts.crop, seed=VAL_SEED,
                                                        keep_tone=keep))  # fmt: skip
        self.val_clean = SyntheticPairs(val, DataConfig(crop=opts.crop, seed=VAL_SEED + 1,
                                                        clean_share=1.0))  # fmt: skip
        super().__init__(opts)

    def build(self):
        self.vae1 = load_vae(self.paths["vae1"], self.device)
        self.vae2 = load_vae(self.paths["vae2"], self.device)
        mapping = LatentMapping(self.cfg).to(self.device)
        models = {"mapping": wrap_ddp(mapping, self.ddp, self.device)}
        optims = {
            "mapping": torch.optim.Adam(mapping.parameters(), self.opts.lr, betas=(0.5, 0.999))
        }
        if self.losses.gan_weight > 0:
            disc = MultiscalePatchGAN(PatchGANConfig()).to(self.device)
            models["d_img"] = wrap_ddp(disc, self.ddp, self.device)
            optims["d_img"] = torch.optim.Adam(disc.parameters(), self.opts.lr, betas=(0.5, 0.999))
        return models, optims

    def grow_from(self, path: str) -> None:
        """Start from a smaller mapping export (:func:`mapping_arch.grown_state`): the
        grown model computes what the export computes; its step and minutes carry on."""
        self.grow_from_export(path, mapping_arch, MappingConfig)

    def frozen_models(self):
        return [self.vae1, self.vae2]

    def make_batch(self, start, count):
        return batch_of(self.pairs, start, count)

    def translate(self, mapping, degraded, mask):
        with torch.no_grad():
            z_x, _ = self.vae1.encoder(degraded)
        return mapping(z_x, latent_mask(mask))

    def train_step(self, step, batch):
        mapping = self.models["mapping"]
        z = self.translate(mapping, batch["degraded"], batch["mask"])
        with torch.no_grad():
            z_y, _ = self.vae2.encoder(batch["clean"])
        restored = self.vae2.decoder(z).float()  # losses in fp32 under --bf16 autocast
        z, z_y = z.float(), z_y.float()
        latent_l1 = F.l1_loss(z, z_y)
        image_l1 = F.l1_loss(restored, batch["clean"])
        loss = self.losses.latent_l1 * latent_l1 + self.losses.image_l1 * image_l1
        if "d_img" in self.models:
            loss = loss + gan_generator_terms(self.models["d_img"], restored, batch["clean"],
                                              self.losses)  # fmt: skip
        self.optimizers["mapping"].zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(mapping.parameters(), self.losses.clip_grad)
        self.optimizers["mapping"].step()
        out = {"loss": loss.item(), "latent_l1": latent_l1.item(), "image_l1": image_l1.item(),
               "grad_norm": float(grad_norm)}  # fmt: skip
        if "d_img" in self.models:
            d_loss = gan_discriminator_loss(self.models["d_img"], restored, batch["clean"])
            self.optimizers["d_img"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["d_img"].step()
            out["d_img"] = d_loss.item()
        return out

    @torch.no_grad()
    def validate(self, n: int = 32):
        mapping = unwrap(self.models["mapping"]).eval()
        batch = {k: v.to(self.device) for k, v in batch_of(self.val_pairs, 0, n).items()}
        restored = self.vae2.decoder(self.translate(mapping, batch["degraded"], batch["mask"]))
        clean = {k: v.to(self.device) for k, v in batch_of(self.val_clean, 0, n).items()}
        identity = self.vae2.decoder(self.translate(mapping, clean["degraded"], clean["mask"]))
        mapping.train()
        to01 = lambda t: ((t + 1) / 2).clamp(0, 1)  # noqa: E731
        return {
            "psnr_input": round(psnr(to01(batch["degraded"]), to01(batch["clean"])), 3),
            "psnr_restored": round(psnr(to01(restored), to01(batch["clean"])), 3),
            "psnr_identity": round(psnr(to01(identity), to01(clean["clean"])), 3),
        }

    def export(self, metrics):
        path = self.export_path()
        summary = {**self.training_summary(), "data": self.paths, "losses": vars(self.losses),
                   "spectrum": vars(self.spectrum),
                   "split": "crc32(name) % 10 == 0 is validation"}  # fmt: skip
        if getattr(self, "grown_from", None):
            summary["grown_from"] = self.grown_from
        save_weights(path, unwrap(self.models["mapping"]).state_dict(), mapping_arch.ARCH,
                     self.cfg, summary, metrics)  # fmt: skip
        return [path]
