"""Training the image-space restorer (:mod:`oldphoto_cli.archs.restorer_arch`).

Samples are the synthetic pairs of the mapping (clean, mildly and fully damaged crops;
with ``real_damage`` also real film-damage overlays, print cracks and tears), each turned
into the restorer's inputs exactly as the stage makes them at restore time
(:func:`oldphoto_cli.classical.first_estimate` on the true mask grown by restore's
default dilation, at the crop's estimated noise level).

The target is the clean crop *re-toned to the damaged one*: the best affine colour map
(3x3 matrix and offset, least squares over the intact pixels) of the clean crop onto the
damaged crop. Tone (fading, tint, grey, contrast) and structure are separate problems: a
network pulled toward the clean colour photo from randomly toned inputs spends itself on
local tone changes that no global tone fit undoes, and ended below its own input on
structure. Restore keeps the photo's tone anyway (``keep_tone``); this network's job is
grain, blur, JPEG blocks and holes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from oldphoto_cli.archs import restorer_arch
from oldphoto_cli.archs.restorer_arch import Restorer, RestorerConfig
from oldphoto_cli.classical import estimate_noise_sigma, first_estimate
from oldphoto_cli.data import (
    DataConfig,
    SyntheticPairs,
    batch_of,
    content_false_alarm_mask,
    training_split,
)
from oldphoto_cli.metrics import psnr, tone_fitted_psnr
from oldphoto_cli.train.common import Trainer, TrainOptions, unwrap, wrap_ddp
from oldphoto_cli.train.vae import VAL_SEED
from oldphoto_cli.weights import save_weights

OVERLAYS_NOTICE = ("film-damage overlays of Ivanova, Williamson and Henderson (Eurographics "
                   "2023; MIT licence, copyright (c) 2022 Daniela Ivanova)")
TRAIN_DILATE = 1  # restore grows every mask by --dilate 1 before repairing it
KEEP_TOLERANCE = 2 / 255  # a pixel this close to its target needs no repair (keep_l1)


def retone(clean: np.ndarray, damaged: np.ndarray, keep: np.ndarray | None = None,
           smooth: float = 6.0) -> np.ndarray:  # fmt: skip
    """``clean`` (HxWx3 float) under the affine colour map that best matches ``damaged``.

    Least squares of ``damaged ~ clean @ M + b`` over the pixels of ``keep`` (HxW bool; all
    when None or too few), M 3x3: a grey damaged photo gives a grey target, a sepia one a
    sepia target. Both images are first blurred (Gaussian, ``smooth`` px): fitted on the raw
    pixels, grain and blur in the damaged photo dilute the slope (the regression of noisy
    data flattens), and the target would come out with less contrast than the photo has.
    The blur is wider than the photo's own (soft blur reaches 2 px): at 2 px a blurred crop
    with no tone change got a target 1-10 % flatter than the clean crop (44.8 dB from it on
    average, 33 at worst; at 6 px and a smaller ridge 55.7 and 42), teaching the network to
    flatten what it sharpens.
    Returns float32, clipped to [0, 1].
    """
    import cv2

    if smooth > 0:
        fit_x = cv2.GaussianBlur(clean.astype(np.float32), (0, 0), smooth)
        fit_y = cv2.GaussianBlur(damaged.astype(np.float32), (0, 0), smooth)
        if keep is not None:  # the blur carries a hole's values a few pixels out
            reach = int(np.ceil(2 * smooth))
            kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
            keep = cv2.erode(keep.astype(np.uint8), kernel).astype(bool)
    else:
        fit_x, fit_y = clean, damaged
    x = fit_x.reshape(-1, 3).astype(np.float64)
    y = fit_y.reshape(-1, 3).astype(np.float64)
    if keep is not None and keep.sum() >= 64:
        x, y = x[keep.ravel()], y[keep.ravel()]
    design = np.hstack([x, np.ones((len(x), 1))])
    # A little ridge on the matrix keeps flat crops from wild fits; toward zero, not the
    # identity, so that identical damaged channels (a grey photo) give identical targets.
    # Small: it shrinks the slope by about ridge / variance, and blurred crops vary little.
    ridge = np.diag([1e-6 * len(x)] * 3 + [0.0])
    coef = np.linalg.solve(design.T @ design + ridge, design.T @ y)
    full = np.hstack([clean.reshape(-1, 3), np.ones((clean.size // 3, 1))]) @ coef
    return np.clip(full, 0, 1).astype(np.float32).reshape(clean.shape)


def drop_components(mask: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """``mask`` (HxW {0, 1}) without each of its 8-connected regions with probability
    ``share``: the defects a detector misses."""
    import cv2

    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.astype(np.uint8)
    kept = np.concatenate([[0], rng.random(count - 1) >= share]).astype(np.uint8)
    return kept[labels]


def export_config(path: str | Path) -> RestorerConfig:
    """The :class:`RestorerConfig` a restorer export was trained with (from its metadata)."""
    from oldphoto_cli.weights import make_config, read_metadata

    return make_config(path, RestorerConfig, read_metadata(path).get("config"), restorer_arch.ARCH)


def restorer_inputs(damaged: np.ndarray, clean: np.ndarray, mask: np.ndarray,
                    given: np.ndarray | None = None,
                    cfg: RestorerConfig | None = None) -> dict:  # fmt: skip
    """One sample's tensors from float HxWx3 [0, 1] images and an HxW {0, 1} true mask;
    ``given`` (default: the true mask) is the mask the network is told about. Both are
    grown by restore's dilation; ``damage`` is the true one (the holes of the loss). The
    noise level and the first estimate follow the network's ``cfg`` (its noise estimate
    and the level NL-means starts at), as the stage does at restore time."""
    import cv2

    def grown(m: np.ndarray) -> np.ndarray:
        m = m.astype(np.uint8)
        if not TRAIN_DILATE:
            return m
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * TRAIN_DILATE + 1,) * 2)
        return cv2.dilate(m, kernel)

    damage = grown(mask)
    mask = damage if given is None else grown(given)
    has_mask = bool(mask.any())
    cfg = cfg or RestorerConfig()
    sigma = estimate_noise_sigma(damaged, mask if has_mask else None, cfg.noise_estimate)
    photo = damaged
    damaged, estimate = first_estimate(damaged, mask, cfg.nlm_sigma(sigma))  # as restore does
    target = retone(clean, photo, damage == 0)  # false alarms are intact content
    chw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))  # noqa: E731
    plane = lambda m: torch.from_numpy(m.astype(np.float32))[None]  # noqa: E731
    sample = {
        "damaged": chw(damaged),
        "estimate": chw(estimate),
        "mask": plane(mask),
        "damage": plane(damage),
        "sigma": torch.tensor(sigma, dtype=torch.float32),
        "target": chw(target),
        "clean": chw(clean.astype(np.float32)),
    }
    if cfg.photo_under_mask:
        sample["photo"] = chw(np.asarray(photo, np.float32))
    return sample


class RestorerPairs(torch.utils.data.Dataset):
    """:class:`SyntheticPairs` turned into restorer samples (:func:`restorer_inputs`);
    with ``mask_dropout`` each defect is left out of the given mask with that probability
    (its own seeded stream), so the network learns to repair what a detector missed; with
    ``false_alarms`` that share of the samples get false alarms on the clean crop's own
    content added to the given mask (:func:`~oldphoto_cli.data.content_false_alarm_mask`,
    another stream; the holes of the loss stay the true defects), so it learns to keep
    content that a detector marked."""

    salt, false_alarm_salt = 23, 29

    def __init__(self, pairs: SyntheticPairs, mask_dropout: float = 0.0,
                 cfg: RestorerConfig | None = None, false_alarms: float = 0.0) -> None:  # fmt: skip
        self.pairs, self.mask_dropout, self.false_alarms = pairs, mask_dropout, false_alarms
        self.cfg = cfg or RestorerConfig()

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from oldphoto_cli.data import sample_rng

        item = self.pairs[index]
        to01 = lambda t: ((t.numpy().transpose(1, 2, 0) + 1) / 2).clip(0, 1)  # noqa: E731
        mask = item["mask"][0].numpy()
        clean = to01(item["clean"])
        given = None
        if self.mask_dropout > 0:
            rng = sample_rng(self.pairs.cfg.seed, index, self.salt)
            given = drop_components(mask > 0.5, self.mask_dropout, rng)
        if self.false_alarms > 0:
            rng = sample_rng(self.pairs.cfg.seed, index, self.false_alarm_salt)
            if rng.random() < self.false_alarms:
                told = (mask > 0.5) if given is None else given
                given = told.astype(np.uint8) | content_false_alarm_mask(clean, rng)
        return restorer_inputs(to01(item["degraded"]), clean, mask, given, self.cfg)


@dataclass
class RestorerLosses:
    l1: float = 1.0
    hole_l1: float = 1.0  # L1 over the masked pixels alone (they are a small share)
    gradient: float = 0.5  # L1 of image gradients: against the smooth average of grain
    # L1 over the pixels that need no repair (outside the mask and already equal to the
    # target): what the network must leave alone, which the other terms weigh no more
    # than a pixel of grain
    keep_l1: float = 0.0
    # L1 over the pixels the network is told about that are intact (false alarms): content
    # to keep under a wrong mask; like the holes, a small share that needs its own weight
    false_alarm_l1: float = 0.0


class RestorerTrainer(Trainer):
    name = "restorer"
    exported_model = "restorer"

    def __init__(self, opts: TrainOptions, clean_dir: str, cfg: RestorerConfig | None = None,
                 losses: RestorerLosses | None = None, clean_share: float = 0.3,
                 damage_only_share: float = 0.15, mild_share: float = 0.4,
                 recoverable_share: float = 0.0, detail_share: float = 0.0,
                 detail_groups: dict[str, float] | None = None, real_damage: bool = True,
                 mask_dropout: float = 0.0, thin_content: float = 0.0,
                 false_alarms: float = 0.0) -> None:  # fmt: skip
        self.cfg, self.losses = cfg or RestorerConfig(), losses or RestorerLosses()
        self.clean_dir, self.real_damage = clean_dir, real_damage
        self.mask_dropout, self.thin_content = mask_dropout, thin_content
        self.false_alarms = false_alarms
        self.mix = {"clean_share": clean_share, "damage_only_share": damage_only_share,
                    "mild_share": mild_share, "recoverable_share": recoverable_share,
                    "detail_share": detail_share}  # fmt: skip
        if detail_groups:
            self.mix["detail_groups"] = dict(detail_groups)
        train, val = training_split(clean_dir)
        self.pairs = RestorerPairs(SyntheticPairs(train, DataConfig(
            crop=opts.crop, seed=opts.seed, real_damage=real_damage, thin_content=thin_content,
            false_alarm_masks=False, **self.mix)), mask_dropout=mask_dropout,
            cfg=self.cfg, false_alarms=false_alarms)  # fmt: skip
        self.val_pairs = RestorerPairs(SyntheticPairs(val, DataConfig(crop=opts.crop, seed=VAL_SEED)),
                                       cfg=self.cfg)  # fmt: skip
        self.val_clean = RestorerPairs(SyntheticPairs(val, DataConfig(
            crop=opts.crop, seed=VAL_SEED + 1, clean_share=1.0, false_alarm_masks=False)),
            cfg=self.cfg)  # fmt: skip
        # intact crops with false alarms on their content: what a wrong mask costs them
        self.val_alarmed = RestorerPairs(SyntheticPairs(val, DataConfig(
            crop=opts.crop, seed=VAL_SEED + 2, clean_share=1.0, false_alarm_masks=False)),
            cfg=self.cfg, false_alarms=1.0)  # fmt: skip
        super().__init__(opts)

    def build(self):
        model = Restorer(self.cfg).to(self.device)
        opt = torch.optim.Adam(model.parameters(), self.opts.lr)
        return {"restorer": wrap_ddp(model, self.ddp, self.device)}, {"restorer": opt}

    def resume_from_export(self, path: Path) -> None:
        """As the base class, after checking that the export's config is this run's: the
        noise estimate and NL-means level live in the config, not in the tensors, and a
        run resumed with other ones would silently export weights that restore with them."""
        from dataclasses import asdict

        theirs = export_config(path)
        if theirs != self.cfg:
            ours = asdict(self.cfg)
            differ = {k: v for k, v in asdict(theirs).items() if ours[k] != v}
            raise RuntimeError(f"{path}: its config differs from this run's in {differ}; pass "
                               "the same --width, --blocks, --noise-estimate, --nlm-min-sigma")  # fmt: skip
        super().resume_from_export(path)

    def grow_from(self, path: str) -> None:
        """Start from a narrower restorer export (:func:`restorer_arch.grown_state`): the
        grown network computes what the export computes; its step and minutes carry on."""
        self.grow_from_export(path, restorer_arch, RestorerConfig)

    def make_batch(self, start, count):
        return batch_of(self.pairs, start, count)

    def run_model(self, model, batch):
        return model(batch["damaged"], batch["estimate"], batch["mask"], batch["sigma"],
                     batch.get("photo"))  # fmt: skip

    def train_step(self, step, batch):
        out = self.run_model(self.models["restorer"], batch).float()
        target, mask = batch["target"], batch["mask"]
        l1 = F.l1_loss(out, target)
        damage = batch.get("damage", mask)  # the true holes, told or not
        hole = ((out - target).abs() * damage).sum() / (3 * damage.sum()).clamp(min=1.0)
        grad = sum(F.l1_loss(torch.diff(out, dim=d), torch.diff(target, dim=d)) for d in (2, 3))
        loss = self.losses.l1 * l1 + self.losses.hole_l1 * hole + self.losses.gradient * grad
        keep = torch.zeros((), device=out.device)
        if self.losses.keep_l1:
            # the photo as it came: content under a false alarm needs no repair either
            photo = batch.get("photo", batch["damaged"])
            done = (photo - target).abs().amax(1, keepdim=True) < KEEP_TOLERANCE
            done = done & (damage == 0)
            keep = ((out - target).abs() * done).sum() / (3 * done.sum()).clamp(min=1.0)
            loss = loss + self.losses.keep_l1 * keep
        alarm = torch.zeros((), device=out.device)
        if self.losses.false_alarm_l1:
            told_intact = mask * (1 - damage)
            alarm = ((out - target).abs() * told_intact).sum() / (3 * told_intact.sum()).clamp(min=1.0)
            loss = loss + self.losses.false_alarm_l1 * alarm
        self.optimizers["restorer"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["restorer"].step()
        return {"loss": loss.item(), "l1": l1.item(), "hole_l1": hole.item(),
                "gradient": grad.item(), "keep_l1": keep.item(),
                "false_alarm_l1": alarm.item()}  # fmt: skip

    @torch.no_grad()
    def validate(self, n: int = 48):
        """Tone-fitted PSNR (the structure score of ``oldphoto eval``) of the input, the
        first estimate and the network on damaged validation crops; PSNR on intact ones,
        told nothing and told false alarms on their content."""
        model = unwrap(self.models["restorer"]).eval()
        scores: dict[str, list[float]] = {"input": [], "estimate": [], "restored": []}
        batch = batch_of(self.val_pairs, 0, n)
        out = self.run_model(model, {k: self.to_device(v) for k, v in batch.items()})
        hwc = lambda t: t.float().cpu().numpy().transpose(1, 2, 0).clip(0, 1)  # noqa: E731
        for i in range(n):
            clean = hwc(batch["clean"][i])
            for key, image in (("input", batch["damaged"][i]), ("estimate", batch["estimate"][i]),
                               ("restored", out[i])):  # fmt: skip
                scores[key].append(tone_fitted_psnr(hwc(image), clean))
        result = {f"tone_psnr_{k}": round(float(np.mean(v)), 3) for k, v in scores.items()}
        for key, pairs in (("psnr_intact", self.val_clean), ("psnr_false_alarms", self.val_alarmed)):
            intact = batch_of(pairs, 0, n // 2)
            kept = self.run_model(model, {k: self.to_device(v) for k, v in intact.items()})
            result[key] = round(psnr(kept.float().clamp(0, 1).cpu(), intact["clean"]), 3)
        model.train()
        return result

    @property
    def licence(self) -> str:
        """The weights' licence note (metadata ``licence``): what they were trained on."""
        overlays = f" and on {OVERLAYS_NOTICE}" if self.real_damage else ""
        return f"MIT, as oldphoto. Trained on the photos of {self.clean_dir}{overlays}"

    def export(self, metrics):
        path = self.export_path()
        summary = {**self.training_summary(),
                   "data": {"clean": self.clean_dir}, "licence": self.licence,
                   "damage": "real (degrade.real_config: film-damage overlays, print cracks, "
                             "tears)" if self.real_damage else "default",
                   "spectrum": self.mix, "losses": vars(self.losses),
                   "mask_dropout": self.mask_dropout, "thin_content": self.thin_content,
                   "false_alarms": self.false_alarms,
                   "target": "clean crop re-toned to the damaged one (affine colour fit)",
                   "split": "crc32(name) % 10 == 0 is validation"}  # fmt: skip
        if getattr(self, "grown_from", None):
            summary["grown_from"] = self.grown_from
        save_weights(path, unwrap(self.models["restorer"]).state_dict(), restorer_arch.ARCH,
                     self.cfg, summary, metrics, extra={"licence": self.licence})  # fmt: skip
        return [path]


class FaceRestorerTrainer(RestorerTrainer):
    """The restorer trained further on face portraits (the ``restorer`` face enhancer).

    Same samples, inputs, targets and losses as :class:`RestorerTrainer`, drawn from
    ``faces_dir`` (``shared/data/faces``: 256 px aligned synthetic portraits, split by
    file name as every folder is) in ``--crop`` windows at the faces' own scale, which is
    the scale the face stage restores them at. It starts from the general restorer's
    weights (``init_from``; their step count carries on): skin, eyes and hair are a
    narrow domain that it specialises in within a few thousand steps.
    """

    name = "face_restorer"

    def __init__(self, opts: TrainOptions, faces_dir: str, init_from: str | None = None,
                 **kwargs) -> None:  # fmt: skip
        if init_from and "cfg" not in kwargs:  # the architecture and noise estimate it has
            kwargs["cfg"] = export_config(init_from)
        super().__init__(opts, faces_dir, **kwargs)
        if self.step == 0 and init_from:  # a new run (a resumed one has its own weights)
            self.resume_from_export(Path(init_from))

    @property
    def licence(self) -> str:
        from oldphoto_cli.train.face import LICENCE

        overlays = f"; also trained on {OVERLAYS_NOTICE}" if self.real_damage else ""
        return f"{LICENCE}{overlays}"
