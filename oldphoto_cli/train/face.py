"""Training the face refinement network (paper section 3.4) on degraded aligned faces.

Data: the 256 px aligned face portraits of ``faces_dir`` (``../shared/data/faces``,
synthetic, research use: see :data:`LICENCE`), split by ``oldphoto_cli.data.is_validation``
(crc32 of the file name). Each sample is the whole face resized to ``face_size`` (256, the
size the face stage aligns to), flipped at random, degraded by
``oldphoto_cli.degrade.degrade_image`` with the unstructured groups plus scratches
(:func:`face_degrade_config`; the other structured defects are left out), target = the
clean face (keeping its grey/tint when the degradation only changed the tone). Like the
mapping, the network sees the spectrum the face stage meets (``clean_share`` intact faces
whose target is themselves, ``mild_share`` faces with the mild mix of
``oldphoto_cli.data.mild_config``): trained on the full mix alone it learned to smooth,
and real old faces, mostly mildly damaged, came back plastic. Training
takes a random ``--crop`` window of that pair: the damage and the features keep the scale
they have at inference while a step costs (crop/face_size)^2 of a whole face. Validation
scores whole faces.

Losses: ``l1 * L1 + gan * LSGAN(multiscale PatchGAN, conditioned on the degraded face) +
fm * feature matching`` (pix2pixHD), the discriminator of ``archs/discriminator_arch.py``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from oldphoto_cli.archs import face_arch
from oldphoto_cli.archs.discriminator_arch import (
    MultiscalePatchGAN,
    PatchGANConfig,
    feature_matching_loss,
    lsgan_loss,
)
from oldphoto_cli.archs.face_arch import FaceConfig, FaceGenerator
from oldphoto_cli.data import ImageCache, batch_of, sample_rng, to_tensor, training_split
from oldphoto_cli.metrics import psnr
from oldphoto_cli.train.common import Trainer, TrainOptions, set_requires_grad, unwrap, wrap_ddp
from oldphoto_cli.weights import save_weights

VAL_SEED = 20213  # fixed degradations of the validation faces
LICENCE = (
    "research use only (non-commercial): trained on synthetic faces made by the MobileStyleGAN "
    "generator of the pip package random-face 2021.7.21.1, distilled from NVIDIA StyleGAN2 "
    "trained on FFHQ (both non-commercial licences); see shared/data/README.md"
)
STRUCTURED_OFF = ("dust", "crack", "stain", "edge", "fold")  # scratches stay


def face_degrade_config(mild: bool = False):
    """The default (or, with ``mild``, the mild) degradation with only scratches among the
    structured defects."""
    from oldphoto_cli.data import mild_config
    from oldphoto_cli.degrade import DegradeConfig

    base = mild_config(structured=True) if mild else DegradeConfig()
    group_p = dict(base.group_p)
    group_p.update({group: 0.0 for group in STRUCTURED_OFF})
    return DegradeConfig(structured=True, group_p=group_p)


class FacePairs(torch.utils.data.Dataset):
    """(degraded, clean) aligned faces; item ``index`` is a pure function of the seed."""

    salt = 17
    spectrum_salt = 19  # clean / mild / full choice, its own stream

    def __init__(self, paths: list[Path], face_size: int, seed: int, length: int = 10**9,
                 crop: int | None = None, clean_share: float = 0.0,
                 mild_share: float = 0.0) -> None:  # fmt: skip
        if not paths:
            raise ValueError("no face images")
        crop = face_size if crop is None else crop
        if not 0 < crop <= face_size:
            raise ValueError(f"crop {crop} must be in 1..face_size ({face_size})")
        if min(clean_share, mild_share) < 0 or clean_share + mild_share > 1:
            raise ValueError("clean_share and mild_share must be >= 0 and sum to <= 1")
        self.images = ImageCache(paths, max_side=None)
        self.size, self.crop, self.seed, self.length = face_size, crop, seed, length
        self.clean_share, self.mild_share = clean_share, mild_share
        self.config, self.mild_config = face_degrade_config(), face_degrade_config(mild=True)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from oldphoto_cli.degrade import degrade_image, rng_for
        from oldphoto_cli.degrade.unstructured import reapply_tone

        rng = sample_rng(self.seed, index, self.salt)
        face = self.images[int(rng.integers(len(self.images)))]
        if face.shape[:2] != (self.size, self.size):
            face = cv2.resize(face, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            face = face[:, ::-1]
        clean = np.ascontiguousarray(face, np.float32) / 255.0
        u = sample_rng(self.seed, index, self.spectrum_salt).random()
        if u < self.clean_share:
            degraded, target = clean, clean
        else:
            config = self.mild_config if u < self.clean_share + self.mild_share else self.config
            result = degrade_image(clean, rng_for(self.seed, index), config)
            degraded, target = np.clip(result.image, 0, 1), reapply_tone(clean, result.ops)
        if self.crop < self.size:
            y, x = (int(v) for v in rng.integers(0, self.size - self.crop + 1, 2))
            window = np.s_[y : y + self.crop, x : x + self.crop]
            degraded, target = degraded[window], target[window]
        return {"degraded": to_tensor(degraded), "clean": to_tensor(target)}


class FaceTrainer(Trainer):
    name = "face"
    exported_model = "generator"

    def __init__(self, opts: TrainOptions, faces_dir: str, cfg: FaceConfig | None = None,
                 l1_weight: float = 10.0, gan_weight: float = 1.0, fm_weight: float = 10.0,
                 d_cfg: PatchGANConfig | None = None,
                 face_size: int = 256, clean_share: float = 0.0,
                 mild_share: float = 0.0) -> None:  # fmt: skip
        self.cfg, self.faces_dir = cfg or FaceConfig(), faces_dir
        self.face_size = face_size
        self.l1_weight, self.gan_weight, self.fm_weight = l1_weight, gan_weight, fm_weight
        self.d_cfg = d_cfg or PatchGANConfig(in_channels=6)
        train, val = training_split(faces_dir)
        if not train or not val:
            raise ValueError(f"{faces_dir}: need faces in both the training and validation split")
        self.n_train, self.n_val = len(train), len(val)
        self.spectrum = {"clean_share": clean_share, "mild_share": mild_share}
        self.pairs = FacePairs(train, face_size, opts.seed, crop=min(opts.crop, face_size),
                               **self.spectrum)  # fmt: skip
        # Validation: the full mix (comparable across runs) and intact faces (do no harm).
        self.val_pairs = FacePairs(val, face_size, VAL_SEED, length=len(val))
        self.val_clean = FacePairs(val, face_size, VAL_SEED, length=len(val), clean_share=1.0)
        super().__init__(opts)

    def build(self):
        gen = FaceGenerator(self.cfg).to(self.device)
        models = {"generator": wrap_ddp(gen, self.ddp, self.device)}
        optimizers = {
            "generator": torch.optim.Adam(gen.parameters(), self.opts.lr, betas=(0.5, 0.999))
        }
        if self.gan_weight > 0 or self.fm_weight > 0:
            disc = MultiscalePatchGAN(self.d_cfg).to(self.device)
            models["discriminator"] = wrap_ddp(disc, self.ddp, self.device)
            optimizers["discriminator"] = torch.optim.Adam(disc.parameters(), self.opts.lr,
                                                           betas=(0.5, 0.999))  # fmt: skip
        return models, optimizers

    def make_batch(self, start, count):
        return batch_of(self.pairs, start, count)

    def train_step(self, step, batch):
        gen = self.models["generator"]
        degraded, clean = batch["degraded"], batch["clean"]
        fake = gen(degraded).float()
        out: dict[str, float] = {}
        loss = self.l1_weight * F.l1_loss(fake, clean)
        out["l1"] = F.l1_loss(fake, clean).item()
        disc = self.models.get("discriminator")
        if disc is not None:
            real_pair, fake_pair = torch.cat([degraded, clean], 1), torch.cat([degraded, fake], 1)
            set_requires_grad(disc, True)
            d_loss = 0.5 * (lsgan_loss(disc(fake_pair.detach()), False)
                            + lsgan_loss(disc(real_pair), True))  # fmt: skip
            self.optimizers["discriminator"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["discriminator"].step()
            set_requires_grad(disc, False)
            fake_outs = disc(fake_pair)
            g_gan = lsgan_loss(fake_outs, True)
            fm = feature_matching_loss(fake_outs, disc(real_pair))
            loss = loss + self.gan_weight * g_gan + self.fm_weight * fm
            out.update(d=d_loss.item(), g_gan=g_gan.item(), fm=fm.item())
        self.optimizers["generator"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["generator"].step()
        return {"loss": loss.item(), **out}

    @torch.no_grad()
    def validate(self, n: int = 32):
        gen = unwrap(self.models["generator"]).eval()
        n = min(n, self.n_val)
        scores = {"psnr": 0.0, "psnr_input": 0.0, "l1": 0.0, "psnr_identity": 0.0}
        for start in range(0, n, 8):
            batch = batch_of(self.val_pairs, start, min(8, n - start))
            fake = gen(batch["degraded"].to(self.device)).cpu()
            for i in range(fake.shape[0]):
                target = (batch["clean"][i] + 1) / 2
                scores["psnr"] += psnr((fake[i] + 1) / 2, target)
                scores["psnr_input"] += psnr((batch["degraded"][i] + 1) / 2, target)
                scores["l1"] += F.l1_loss(fake[i], batch["clean"][i]).item()
        for start in range(0, n, 8):  # intact faces in: what does the network change?
            clean = batch_of(self.val_clean, start, min(8, n - start))["clean"]
            same = gen(clean.to(self.device)).cpu()
            scores["psnr_identity"] += sum(psnr((same[i] + 1) / 2, (clean[i] + 1) / 2)
                                           for i in range(same.shape[0]))  # fmt: skip
        gen.train()
        return {k: round(v / max(n, 1), 4) for k, v in scores.items()}

    def export(self, metrics):
        path = self.export_path()
        summary = {
            **self.training_summary(),
            "data": {"faces": self.faces_dir, "train": self.n_train, "validation": self.n_val,
                     "face_size": self.face_size},
            "split": "crc32(name) % 10 == 0 is validation (oldphoto_cli.data.is_validation)",
            "degradation": "default unstructured groups + scratches (no dust, cracks, stains, "
            "edges, folds)",
            "spectrum": self.spectrum,
            "loss": f"{self.l1_weight} x L1 + {self.gan_weight} x LSGAN (multiscale PatchGAN, "
            f"conditional) + {self.fm_weight} x feature matching",
            "bf16": self.opts.bf16,
            "licence": LICENCE,
        }
        save_weights(path, unwrap(self.models["generator"]).state_dict(), face_arch.ARCH,
                     self.cfg, summary, metrics, extra={"licence": LICENCE})  # fmt: skip
        return [path]
