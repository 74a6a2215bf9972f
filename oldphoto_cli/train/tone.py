"""Training the tone-curve network (:mod:`oldphoto_cli.archs.tone_arch`).

Samples are clean photos (the training split of ``--clean``), a random square window of
40-100 % of the short side resized to ``--crop``, given global tone damage by
:func:`oldphoto_cli.degrade.tone_curves.age_tone` (or left intact: do no harm). The loss
is the one the structure score measures: the curved sample's error after the best
per-channel affine fit to the clean one, relative to the damaged sample's own, so that a
mildly curved photo counts as much as a badly faded one and an intact photo, whose
damaged error is zero, must come back as it was. A network with levels (black and white
points) adds the plain error's change, as a log ratio (the PSNR change): the tone itself.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from oldphoto_cli.archs import tone_arch
from oldphoto_cli.archs.tone_arch import (
    ToneCurveConfig,
    ToneCurveNet,
    apply_curve,
    apply_levels,
    thumbnail,
)
from oldphoto_cli.data import ImageCache, batch_of, sample_rng, training_split
from oldphoto_cli.degrade.tone_curves import age_tone
from oldphoto_cli.metrics import psnr, tone_fitted_psnr
from oldphoto_cli.train.common import Trainer, TrainOptions, unwrap, wrap_ddp
from oldphoto_cli.train.vae import VAL_SEED
from oldphoto_cli.weights import save_weights

INTACT_SHARE = 0.2  # samples left as they are (target: the identity)
GREY_SHARE = 0.15  # samples made grey first (grey prints fade too)
FLOOR = 1e-4  # added to the damaged sample's error in the relative loss
# The plain-error term is a log ratio, the PSNR change itself (what restore is scored on),
# with the errors floored at 35 dB (the do-no-harm bar): a ratio floored at 40 dB, like the
# fitted term's, made any move of an intact photo's black point cost more than a faded
# photo could gain, and the black and white points stayed where they were.
PLAIN_FLOOR = 10 ** -3.5
# A photo the curve makes worse counts this many times its loss of PSNR (the default of
# --harm-weight): a naturally light photo (fog, snow, a sky crop) looks like a faded one,
# and the network, trained on the plain log ratio, darkened a few such intact crops by
# 20-40 dB to gain on faded ones.
HARM_WEIGHT = 3.0


class ToneSamples(Dataset):
    """Item ``index`` (a pure function of the seed): {"damaged", "clean"}, (3, S, S) in [0, 1]."""

    salt = 7301

    def __init__(self, paths: list[Path], size: int, seed: int, length: int = 10**9) -> None:
        self.images, self.size, self.seed, self.length = ImageCache(paths, 768), size, seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = sample_rng(self.seed, index, self.salt)
        img = self.images[int(rng.integers(len(self.images)))]
        h, w = img.shape[:2]
        side = max(8, int(rng.uniform(0.4, 1.0) * min(h, w)))
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        window = np.ascontiguousarray(img[y : y + side, x : x + side])
        clean = cv2.resize(window, (self.size, self.size), interpolation=cv2.INTER_AREA)
        clean = clean.astype(np.float32) / 255
        if rng.random() < 0.5:
            clean = clean[:, ::-1]
        if rng.random() < GREY_SHARE:
            clean = np.repeat(clean.mean(axis=2, keepdims=True), 3, axis=2)
        damaged = clean if rng.random() < INTACT_SHARE else age_tone(clean, rng)[0]
        to_chw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))  # noqa: E731
        return {"damaged": to_chw(damaged), "clean": to_chw(clean)}


def fitted_mse(out: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(B,) mean squared error of ``out`` after the best per-channel affine map onto
    ``ref`` (both (B, 3, H, W)): :func:`oldphoto_cli.metrics.tone_fit`, differentiable."""
    o, r = out.flatten(2), ref.flatten(2)
    o = o - o.mean(2, keepdim=True)
    r_mean = r.mean(2, keepdim=True)
    slope = (o * (r - r_mean)).mean(2, keepdim=True) / (o.pow(2).mean(2, keepdim=True) + 1e-8)
    return (slope * o + r_mean - r).pow(2).mean((1, 2))


class ToneTrainer(Trainer):
    name = "tone_curve"
    exported_model = "tone"

    def __init__(self, opts: TrainOptions, clean_dir: str, cfg: ToneCurveConfig | None = None,
                 harm_weight: float = HARM_WEIGHT) -> None:  # fmt: skip
        self.cfg = cfg or ToneCurveConfig()
        self.harm_weight = harm_weight
        self.clean_dir = clean_dir
        train_paths, val_paths = training_split(clean_dir)
        self.samples = ToneSamples(train_paths, opts.crop, opts.seed)
        self.val_samples = ToneSamples(val_paths, opts.crop, VAL_SEED)
        super().__init__(opts)

    @property
    def channels_last(self) -> bool:
        return False  # a 64 px thumbnail: nothing to gain, and quantiles want contiguous rows

    def build(self):
        model = ToneCurveNet(self.cfg).to(self.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.opts.lr)
        return {"tone": wrap_ddp(model, self.ddp, self.device)}, {"tone": optimizer}

    def make_batch(self, start, count):
        return batch_of(self.samples, start, count)

    def curved(self, model, damaged: torch.Tensor) -> torch.Tensor:
        lo, hi, knots, levels = model(thumbnail(damaged, self.cfg.thumbnail))
        return apply_levels(apply_curve(damaged, lo, hi, knots), levels).clamp(0, 1)

    def train_step(self, step, batch):
        damaged, clean = batch["damaged"], batch["clean"]
        out = self.curved(self.models["tone"], damaged).float()
        before = fitted_mse(damaged, clean)
        after = fitted_mse(out, clean)
        loss = (after / (before + FLOOR)).mean()
        logged = {"fitted_mse": after.mean().item(), "input_fitted_mse": before.mean().item()}
        if self.cfg.levels:
            before_abs = (damaged - clean).pow(2).mean((1, 2, 3))
            after_abs = (out - clean).pow(2).mean((1, 2, 3))
            change = torch.log((after_abs + PLAIN_FLOOR) / (before_abs + PLAIN_FLOOR))
            loss = loss + torch.where(change > 0, self.harm_weight * change, change).mean()
            logged |= {"mse": after_abs.mean().item(), "input_mse": before_abs.mean().item()}
        self.optimizers["tone"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["tone"].step()
        return {"loss": loss.item(), **logged}

    @torch.no_grad()
    def validate(self, n: int = 96):
        """Tone-fitted PSNR of damaged validation samples before and after the curve, and
        PSNR of intact validation photos after it (what do-no-harm costs)."""
        model = unwrap(self.models["tone"]).eval()
        batch = batch_of(self.val_samples, 0, n)
        out = self.curved(model, batch["damaged"].to(self.device)).cpu()
        hwc = lambda t: t.float().numpy().transpose(1, 2, 0)  # noqa: E731
        before, after, raw_before, raw_after, intact = [], [], [], [], []
        clean_out = self.curved(model, batch["clean"].to(self.device)).cpu()
        for i in range(n):
            clean, damaged, curved = hwc(batch["clean"][i]), hwc(batch["damaged"][i]), hwc(out[i])
            before.append(min(tone_fitted_psnr(damaged, clean), 60.0))
            after.append(min(tone_fitted_psnr(curved, clean), 60.0))
            raw_before.append(min(psnr(damaged, clean), 60.0))
            raw_after.append(min(psnr(curved, clean), 60.0))
            intact.append(min(psnr(hwc(clean_out[i]), clean), 60.0))
        model.train()
        mean = lambda v: round(float(np.mean(v)), 3)  # noqa: E731
        return {"tone_psnr_input": mean(before), "tone_psnr_curved": mean(after),
                "psnr_input": mean(raw_before), "psnr_curved": mean(raw_after),
                "psnr_intact": mean(intact), "psnr_intact_worst": round(float(np.min(intact)), 3)}  # fmt: skip

    def export(self, metrics):
        path = self.export_path()
        licence = f"MIT, as oldphoto. Trained on the photos of {self.clean_dir}"
        summary = {**self.training_summary(), "data": {"clean": self.clean_dir},
                   "licence": licence,
                   "damage": "degrade.tone_curves.age_tone (faded prints, random monotone "
                             f"curves; intact share {INTACT_SHARE})",
                   "loss": "per-channel affine-fitted MSE relative to the input's"
                           + (" plus the log ratio of plain MSEs (floor 10^-3.5), losses "
                              f"weighted {self.harm_weight}" if self.cfg.levels else ""),
                   "split": "crc32(name) % 10 == 0 is validation"}  # fmt: skip
        save_weights(path, unwrap(self.models["tone"]).state_dict(), tone_arch.ARCH, self.cfg,
                     summary, metrics, extra={"licence": licence})  # fmt: skip
        return [path]
