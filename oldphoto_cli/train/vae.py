"""Training VAE1 (real old R + synthetic X, latent discriminator) and VAE2 (clean Y).

Loss per domain (paper eq. 2): KL(E(x) || N(0, I)) + alpha * L1(G(z), x) + LSGAN on the
reconstruction (+ feature matching). VAE1 adds the latent adversarial term: D_RX tells
Z_R from Z_X and the encoder learns to fool it, closing the synthetic-real domain gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from oldphoto_cli.archs import vae_arch
from oldphoto_cli.archs.discriminator_arch import (
    MultiscalePatchGAN,
    PatchGANConfig,
    feature_matching_loss,
    latent_discriminator,
    lsgan_loss,
)
from oldphoto_cli.archs.vae_arch import VAE, VAEConfig, kl_divergence
from oldphoto_cli.data import (
    CleanCrops,
    DataConfig,
    RealOldCrops,
    SyntheticPairs,
    batch_of,
    training_split,
)
from oldphoto_cli.metrics import psnr
from oldphoto_cli.train.common import Trainer, TrainOptions, unwrap, wrap_ddp
from oldphoto_cli.weights import load_weights, save_weights

VAL_SEED = 20201  # fixed validation crops


@dataclass
class VAELosses:
    l1_weight: float = 10.0  # alpha
    kl_weight: float = 0.01
    gan_weight: float = 0.0  # paper: 1; 0 converges much faster on a CPU budget
    fm_weight: float = 10.0
    latent_gan_weight: float = 0.1  # VAE1 only


def gan_generator_terms(disc, fake, real, losses: VAELosses) -> torch.Tensor:
    fake_outs = disc(fake)
    with torch.no_grad():
        real_outs = disc(real)
    return losses.gan_weight * (
        lsgan_loss(fake_outs, True) + losses.fm_weight * feature_matching_loss(fake_outs, real_outs)
    )


def gan_discriminator_loss(disc, fake, real) -> torch.Tensor:
    return 0.5 * (lsgan_loss(disc(fake.detach()), False) + lsgan_loss(disc(real), True))


def init_state(path: str) -> dict[str, torch.Tensor]:
    """VAE tensors from exported weights or from another run's training checkpoint."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        if (handle.metadata() or {}).get("arch") == vae_arch.ARCH:
            return load_weights(path, arch=vae_arch.ARCH)[0]
        prefix = "model.vae."
        return {
            k[len(prefix) :]: handle.get_tensor(k) for k in handle.keys() if k.startswith(prefix)
        }


class VAETrainer(Trainer):
    """``domain="clean"`` trains VAE2; ``domain="old"`` trains VAE1 on R and X."""

    exported_model = "vae"

    def __init__(self, opts: TrainOptions, domain: str, clean_dir: str,
                 real_old_dir: str | None = None, vae_cfg: VAEConfig | None = None,
                 losses: VAELosses | None = None, init_from: str | None = None) -> None:  # fmt: skip
        self.domain, self.vae_cfg = domain, vae_cfg or VAEConfig()
        self.losses = losses or VAELosses()
        self.name = "vae1" if domain == "old" else "vae2"
        train_clean, val_clean = training_split(clean_dir)
        self.clean_dirs = (clean_dir, real_old_dir)
        data = DataConfig(crop=opts.crop, seed=opts.seed)
        val = DataConfig(crop=opts.crop, seed=VAL_SEED)
        if domain == "old":
            if not real_old_dir:
                raise ValueError("VAE1 needs --real-old")
            train_old, val_old = training_split(real_old_dir)
            self.synthetic = SyntheticPairs(train_clean, data)
            self.real = RealOldCrops(train_old, data)
            self.val_sets = {"x": SyntheticPairs(val_clean, val), "r": RealOldCrops(val_old, val)}
        else:
            self.clean = CleanCrops(train_clean, data)
            self.val_sets = {"y": CleanCrops(val_clean, val)}
        self.init_from = init_from
        super().__init__(opts)

    def build(self):
        vae = VAE(self.vae_cfg).to(self.device)
        if self.init_from:  # a resumed checkpoint, loaded after build(), overrides this
            vae.load_state_dict(init_state(self.init_from))
        models = {"vae": wrap_ddp(vae, self.ddp, self.device)}
        optims = {"vae": torch.optim.Adam(vae.parameters(), self.opts.lr, betas=(0.5, 0.999))}
        if self.losses.gan_weight > 0:
            d_img = MultiscalePatchGAN(PatchGANConfig()).to(self.device)
            models["d_img"] = wrap_ddp(d_img, self.ddp, self.device)
            optims["d_img"] = torch.optim.Adam(d_img.parameters(), self.opts.lr, betas=(0.5, 0.999))
        if self.domain == "old":
            d_lat = latent_discriminator(self.vae_cfg.latent_channels).to(self.device)
            models["d_latent"] = wrap_ddp(d_lat, self.ddp, self.device)
            optims["d_latent"] = torch.optim.Adam(
                d_lat.parameters(), self.opts.lr, betas=(0.5, 0.999)
            )
        return models, optims

    def make_batch(self, start: int, count: int):
        if self.domain == "clean":
            return {"x": batch_of(self.clean, start, count)["clean"]}
        half = max(1, count // 2)
        return {
            "x": batch_of(self.synthetic, start, half)["degraded"],
            "r": batch_of(self.real, start, count - half)["old"],
        }

    def train_step(self, step, batch):
        vae, opt = self.models["vae"], self.optimizers["vae"]
        images = torch.cat([batch["x"], batch["r"]]) if "r" in batch else batch["x"]
        recon, mu, logvar, _ = vae(images)
        l1 = F.l1_loss(recon, images)
        kl = kl_divergence(mu, logvar)
        loss = self.losses.l1_weight * l1 + self.losses.kl_weight * kl
        out = {"l1": l1.item(), "kl": kl.item()}
        if "d_img" in self.models:
            loss = loss + gan_generator_terms(self.models["d_img"], recon, images, self.losses)
        if "d_latent" in self.models:
            n_x = batch["x"].shape[0]
            d_lat = self.models["d_latent"]
            # Encoder fools D_RX: synthetic latents should look real and vice versa.
            adv = lsgan_loss(d_lat(mu[:n_x]), True) + lsgan_loss(d_lat(mu[n_x:]), False)
            loss = loss + self.losses.latent_gan_weight * adv
            out["latent_adv"] = adv.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if "d_img" in self.models:
            d_loss = gan_discriminator_loss(self.models["d_img"], recon, images)
            self.optimizers["d_img"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["d_img"].step()
            out["d_img"] = d_loss.item()
        if "d_latent" in self.models:
            n_x = batch["x"].shape[0]
            d_lat = self.models["d_latent"]
            z = mu.detach()
            d_loss = 0.5 * (lsgan_loss(d_lat(z[n_x:]), True) + lsgan_loss(d_lat(z[:n_x]), False))
            self.optimizers["d_latent"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["d_latent"].step()
            out["d_latent"] = d_loss.item()
        out["loss"] = loss.item()
        return out

    @torch.no_grad()
    def validate(self, n: int = 32):
        vae = unwrap(self.models["vae"]).eval()
        metrics = {}
        for key, dataset in self.val_sets.items():
            field = {"x": "degraded", "r": "old", "y": "clean"}[key]
            images = batch_of(dataset, 0, n)[field].to(self.device)
            recon, *_ = vae(images, sample=False)
            metrics[f"recon_psnr_{key}"] = round(psnr((recon + 1) / 2, (images + 1) / 2), 3)
        vae.train()
        return metrics

    def export(self, metrics):
        path = self.export_path()
        data = {"clean": self.clean_dirs[0], "real_old": self.clean_dirs[1],
                "split": "crc32(name) % 10 == 0 is validation"}  # fmt: skip
        summary = {**self.training_summary(), "data": data, "losses": vars(self.losses)}
        save_weights(path, unwrap(self.models["vae"]).state_dict(), vae_arch.ARCH, self.vae_cfg,
                     summary, metrics)  # fmt: skip
        return [path]
