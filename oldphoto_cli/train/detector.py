"""Training the U-Net scratch detector (paper section 3.3).

Inputs are grayscale versions of synthetic old photos: structured defects with exact
masks, plus unstructured degradation on top so grain and blur are not taken for
scratches. Loss: the paper's class-balanced BCE (:func:`weighted_bce`) plus soft Dice.

Optional *real negatives* (``real_old_dir``): crops of real old photos with an all-clean
target at a small weight. Real photos have real scratches too, but they cover a tiny
share of pixels, while the film grain, halftone, paper texture and object edges that a
detector trained on synthetic data alone marks as defects cover a lot: a weak
"mostly clean" prior suppresses those false positives (seen on ``real_old``). Its cost
is recall on real damage, which cannot be measured without real masks: at weight 0.2
the shipped detector finds less of the real cracks it found at an earlier step.

*Traced real crops* (``real_masks_dir``, ``traced_per_batch``): real old photos with
hand-traced labels (:class:`~oldphoto_cli.data.TracedRealCrops`; ``research/real_traces``)
in every batch, with the synthetic crops' loss over their labelled pixels and the intact
penalty on their intact ones; a traced photo is never an all-clean negative. Real labels
moved the detector's precision/recall curve on real photos, which no synthetic-data, loss
or threshold change had done (``benchmarks/RESULTS.md``). ``drawn_on_traced`` draws one
labelled synthetic defect on that share of them, so "a real photo" never means "intact".
*Transplanted real damage* (``transplanted_per_batch``): the traced photos' damage cut out
and pasted on crops of traced and clean photos (:class:`~oldphoto_cli.data.
TransplantedDamageCrops`), with the traced crops' loss; measured level with the recipe
without it (``benchmarks/RESULTS.md``, 2026-12-07, evening, last).
*Sparse damage* (``sparse_share``): crops with mild ageing and one defect
(:func:`~oldphoto_cli.data.sparse_config`), as sparse as damage on most real prints.

*Graphics* (``graphics``, a probability per crop): printed content (words on sign plates,
thick frames, hard-edged shapes; :func:`oldphoto_cli.data.draw_graphics`) drawn into the
clean crop before it is damaged, so it is labelled clean: synthetic hard negatives for the
text and crisp edges that real photos have and natural training crops rarely do.

*The spectrum* (``clean_share``, ``mild_share``): intact crops with an empty mask, and
crops whose base is only mildly degraded (:func:`oldphoto_cli.data.mild_config`) before
the defects are drawn. The default mix blurs, fades and resamples most bases, and a
detector trained on it alone marks the crisp edges of sharp photos as damage: the shipped
one marks 1.27 % of 30 intact validation crops, 0.89 % of the same mildly degraded and
0.28 % of them degraded by the default mix (1.90 % of all 55 intact ones:
``benchmarks/false_alarms.py``). Real old photos are sharper than the default mix makes
them (``benchmarks/degradation_stats.py``), and the intact photo is what restore's
do-no-harm row feeds in. Crops with an empty mask need their own term (``intact_weight``,
a -log(1-p) penalty as for the real negatives): the class-balanced BCE weights clean
pixels by the image's scratch share, 0 here, and the Dice loss of an empty target barely
moves once a few pixels are marked.
"""

from __future__ import annotations

from pathlib import Path

import torch

from oldphoto_cli.archs import unet_arch
from oldphoto_cli.archs.unet_arch import UNet, UNetConfig, weighted_bce
from oldphoto_cli.data import (
    DataConfig,
    RealOldCrops,
    SyntheticPairs,
    TracedRealCrops,
    TransplantedDamageCrops,
    batch_of,
    split,
    traced_items,
    training_split,
)
from oldphoto_cli.imageio import list_images
from oldphoto_cli.metrics import detection_scores
from oldphoto_cli.train.common import Trainer, TrainOptions, unwrap, wrap_ddp
from oldphoto_cli.train.vae import VAL_SEED
from oldphoto_cli.weights import save_weights


def to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W), ITU-R 601 luma (the detector sees grayscale)."""
    weights = rgb.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (rgb * weights).sum(1, keepdim=True)


def detector_input(rgb: torch.Tensor, channels: int) -> torch.Tensor:
    """What a detector of ``channels`` input channels sees of (B, 3, H, W) RGB: luma or RGB."""
    return rgb if channels == 3 else to_gray(rgb)


def soft_dice(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2, 3))
    total = prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    return (1 - (2 * inter + eps) / (total + eps)).mean()


def soft_tversky(logits: torch.Tensor, target: torch.Tensor, beta: float,
                 eps: float = 0.5) -> torch.Tensor:  # fmt: skip
    """1 - TP / (TP + (1 - beta) FP + beta FN), soft, per image: beta 0.5 is exactly
    :func:`soft_dice` (whose smoothing 1 is this ``eps`` doubled); above it a missed defect
    pixel costs more than a false mark (recall first)."""
    prob = torch.sigmoid(logits)
    dims = (1, 2, 3)
    tp = (prob * target).sum(dim=dims)
    fp = (prob * (1 - target)).sum(dim=dims)
    fn = ((1 - prob) * target).sum(dim=dims)
    return (1 - (tp + eps) / (tp + (1 - beta) * fp + beta * fn + eps)).mean()


class DetectorTrainer(Trainer):
    name = "detector"
    exported_model = "unet"

    def __init__(self, opts: TrainOptions, clean_dir: str, cfg: UNetConfig | None = None,
                 dice_weight: float = 1.0, real_old_dir: str | None = None,
                 negative_weight: float = 0.1, negatives_per_batch: int | None = None,
                 graphics: float = 0.0, thin_content: float = 0.0,
                 wide_damage: bool = False, dot_prints: float = 0.0,
                 clean_share: float = 0.0, mild_share: float = 0.0,
                 intact_weight: float = 0.2, real_damage: bool = False,
                 held_out: frozenset[str] = frozenset(),
                 tversky_beta: float = 0.5, real_masks_dir: str | None = None,
                 traced_per_batch: int = 0, sparse_share: float = 0.0,
                 drawn_on_traced: float = 0.0, aged_intact_share: float = 0.0,
                 transplanted_per_batch: int = 0) -> None:  # fmt: skip
        self.cfg, self.dice_weight, self.clean_dir = cfg or UNetConfig(), dice_weight, clean_dir
        self.tversky_beta = tversky_beta
        self.real_old_dir, self.negative_weight = real_old_dir, negative_weight
        self.graphics, self.thin_content, self.wide_damage = graphics, thin_content, wide_damage
        self.dot_prints, self.clean_share, self.mild_share = dot_prints, clean_share, mild_share
        self.intact_weight, self.real_damage = intact_weight, real_damage
        self.sparse_share, self.drawn_on_traced = sparse_share, drawn_on_traced
        self.aged_intact_share = aged_intact_share
        self.held_out = len(held_out)
        if real_damage:  # fail now, not in the first batch, when the overlays are missing
            from oldphoto_cli.degrade.film_overlays import _resolve, overlay_index

            overlay_index(_resolve(None))
        # Real negatives keep their share of the batch (2 of a CPU batch of 6-8, a quarter of
        # a GPU batch): a fixed 2 in a batch of 24 diluted them and let the detector mark the
        # grain and paper of real old photos (2.6 % of their pixels instead of 0.3 %).
        if negatives_per_batch is None:
            negatives_per_batch = max(2, round(opts.batch_size / 4))
        self.negatives_per_batch = negatives_per_batch if real_old_dir else 0
        train, val = training_split(clean_dir)
        self.pairs = SyntheticPairs(train, DataConfig(crop=opts.crop, seed=opts.seed,
                                                      graphics=graphics, thin_content=thin_content,
                                                      wide_damage=wide_damage,
                                                      real_damage=real_damage,
                                                      dot_prints=dot_prints,
                                                      clean_share=clean_share,
                                                      aged_intact_share=aged_intact_share,
                                                      mild_share=mild_share,
                                                      sparse_share=sparse_share,
                                                      false_alarm_masks=False))  # fmt: skip
        self.real_masks_dir, self.traced_per_batch = real_masks_dir, 0
        traced_stems: set[str] = set()
        if real_masks_dir:
            if not real_old_dir:
                raise ValueError("traced real masks need the real old photos (real_old_dir)")
            items = traced_items(real_masks_dir, real_old_dir)
            traced_stems = {photo.stem for photo, _ in items}
            validation = {p.stem for p in split(list_images(real_old_dir))[1]} & traced_stems
            if validation:
                raise ValueError("traced training photos are in the validation split: "
                                 + ", ".join(sorted(validation)))  # fmt: skip
            if traced_stems & held_out:
                raise ValueError("traced training photos are in the held-out evaluation set: "
                                 + ", ".join(sorted(traced_stems & held_out)))  # fmt: skip
            self.traced = TracedRealCrops(items, DataConfig(crop=opts.crop, seed=opts.seed),
                                          drawn_share=drawn_on_traced)  # fmt: skip
            self.traced_per_batch = traced_per_batch or max(2, round(opts.batch_size / 4))
        if negative_weight <= 0:
            self.negatives_per_batch = 0
        self.transplanted_per_batch = transplanted_per_batch if real_masks_dir else 0
        if self.transplanted_per_batch:
            self.transplanted = TransplantedDamageCrops(
                items, train, DataConfig(crop=opts.crop, seed=opts.seed))
        if real_old_dir and self.negatives_per_batch:
            old_train, _ = training_split(real_old_dir)
            # photos of an evaluation set (the hand-traced real masks) stay out of training,
            # and traced photos come with their labels, not as all-clean negatives
            old_train = [p for p in old_train if p.stem not in held_out | traced_stems]
            if old_train:
                self.negatives = RealOldCrops(old_train,
                                              DataConfig(crop=opts.crop, seed=opts.seed))  # fmt: skip
            else:  # every training photo is traced: nothing is left to call all clean
                self.negatives_per_batch = 0
        self.val_pairs = SyntheticPairs(val, DataConfig(crop=opts.crop, seed=VAL_SEED))
        super().__init__(opts)

    def build(self):
        unet = UNet(self.cfg).to(self.device)
        opt = torch.optim.Adam(unet.parameters(), self.opts.lr)
        return {"unet": wrap_ddp(unet, self.ddp, self.device)}, {"unet": opt}

    def grow_from(self, path: str) -> None:
        """Start from a grey and/or narrower detector export (:func:`unet_arch.grown_state`):
        the grown detector computes what the export computes; its step and minutes carry
        on."""
        self.grow_from_export(path, unet_arch, UNetConfig)

    def make_batch(self, start, count):
        batch = batch_of(self.pairs, start, count)
        channels = self.cfg.in_channels
        out = {"image": detector_input(batch["degraded"], channels), "mask": batch["mask"]}
        if self.negatives_per_batch:
            first = start // count * self.negatives_per_batch
            out["negative"] = detector_input(
                batch_of(self.negatives, first, self.negatives_per_batch)["old"], channels
            )
        if self.traced_per_batch:
            first = start // count * self.traced_per_batch
            traced = batch_of(self.traced, first, self.traced_per_batch)
            out["traced"] = detector_input(traced["old"], channels)
            out["traced_mask"], out["traced_known"] = traced["mask"], traced["known"]
        if self.transplanted_per_batch:  # labelled real crops too: the traced crops' loss
            first = start // count * self.transplanted_per_batch
            pasted = batch_of(self.transplanted, first, self.transplanted_per_batch)
            for key, part in (("traced", detector_input(pasted["old"], channels)),
                              ("traced_mask", pasted["mask"]),
                              ("traced_known", pasted["known"])):  # fmt: skip
                out[key] = torch.cat([out[key], part]) if key in out else part
        return out

    def traced_loss(self, logits: torch.Tensor, mask: torch.Tensor,
                    known: torch.Tensor) -> tuple[torch.Tensor, dict]:  # fmt: skip
        """Loss on real crops with traced labels: the synthetic crops' class-balanced BCE
        and overlap terms, plus -log(1 - p) on their intact pixels at ``intact_weight`` (the
        class-balanced BCE gives the intact pixels of a crop with little damage almost no
        weight: real content, the false alarms' source, needs its own term), all over the
        labelled (``known``) pixels only."""
        bce = weighted_bce(logits, mask, known)
        masked = logits.masked_fill(known == 0, -30.0)  # p = 0 where unknown: no overlap term
        dice = soft_dice(masked, mask * known)
        clean = known * (1 - mask)
        marked = (torch.nn.functional.softplus(logits) * clean).sum() / clean.sum().clamp(min=1)
        loss = bce + self.dice_weight * dice + self.intact_weight * marked
        return loss, {"traced_bce": bce.item(), "traced_dice": dice.item(),
                      "traced_marked": marked.item()}  # fmt: skip

    def train_step(self, step, batch):
        unet = self.models["unet"]
        n = batch["image"].shape[0]
        parts = [batch["image"]] + [batch[k] for k in ("negative", "traced") if k in batch]
        logits = unet(torch.cat(parts))  # one pass: BatchNorm sees every domain
        n_neg = batch["negative"].shape[0] if "negative" in batch else 0
        bce = weighted_bce(logits[:n], batch["mask"])
        if self.tversky_beta == 0.5:  # the same loss; soft_dice keeps old runs bit-exact
            dice = soft_dice(logits[:n], batch["mask"])
        else:
            dice = soft_tversky(logits[:n], batch["mask"], self.tversky_beta)
        loss = bce + self.dice_weight * dice
        out = {"bce": bce.item(), "dice": dice.item()}
        # An intact crop adds nothing to either term: the class-balanced BCE weights clean
        # pixels by the image's scratch share (0 here) and the Dice loss of an empty target
        # barely moves once a few pixels are marked. Penalise its marks directly, as the
        # real negatives are.
        intact = batch["mask"].flatten(1).amax(dim=1) == 0
        if self.intact_weight > 0 and bool(intact.any()):
            marked = torch.nn.functional.softplus(logits[:n][intact]).mean()  # -log(1 - p)
            loss = loss + self.intact_weight * marked
            out["intact"] = marked.item()
        if "negative" in batch:
            negative = torch.nn.functional.softplus(logits[n : n + n_neg]).mean()  # -log(1 - p)
            loss = loss + self.negative_weight * negative
            out["real_negative"] = negative.item()
        if "traced" in batch:
            traced, parts = self.traced_loss(logits[n + n_neg :], batch["traced_mask"],
                                             batch["traced_known"])  # fmt: skip
            loss = loss + traced
            out |= parts
        self.optimizers["unet"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["unet"].step()
        return {"loss": loss.item(), **out}

    @torch.no_grad()
    def validate(self, n: int = 32, threshold: float = 0.5):
        unet = unwrap(self.models["unet"]).eval()
        batch = batch_of(self.val_pairs, 0, n)
        images = detector_input(batch["degraded"], self.cfg.in_channels)
        prob = torch.sigmoid(unet(images.to(self.device))).cpu()
        unet.train()
        scores = detection_scores(prob.numpy() > threshold, batch["mask"].numpy() > 0.5)
        return {k: round(v, 4) for k, v in scores.items()}

    def export(self, metrics):
        path = Path(self.opts.extra.get("export") or self.out / "detector.safetensors")
        summary = {**self.training_summary(),
                   "data": {"clean": self.clean_dir, "real_old_negatives": self.real_old_dir,
                            "real_old_held_out": self.held_out,
                            "real_traced_masks": self.real_masks_dir},
                   "loss": "class-balanced BCE (rare class weight 1-alpha) + "
                   + ("soft Dice" if self.tversky_beta == 0.5
                      else f"soft Tversky (beta {self.tversky_beta}: misses weigh more)")
                   + (f" + {self.negative_weight} x BCE(real old crops, all clean; "
                      f"{self.negatives_per_batch} a batch)"
                      if self.negatives_per_batch else "")
                   + (f" + the same terms on real crops with traced labels (unlabelled pixels "
                      f"left out; {self.traced_per_batch} a batch, {self.drawn_on_traced} of "
                      f"them with one synthetic defect drawn on)"
                      if self.traced_per_batch else "")
                   + (f" + the same terms on {self.transplanted_per_batch} crops a batch (traced "
                      f"and clean photos) with real damage cut from the traced photos "
                      f"pasted on" if self.transplanted_per_batch else ""),
                   "graphics": f"{self.graphics} of crops get printed content (hard negatives)",
                   "thin_content": f"{self.thin_content} of crops get thin-line content "
                                   "(wires, hair, fences, text, lace; hard negatives)",
                   "dot_prints": f"{self.dot_prints} of crops get dotted fabric prints "
                                 "(polka dots; hard negatives)",
                   "damage": ("real (degrade.real_config: film-damage overlays, print "
                              "cracks, tears)" if self.real_damage
                              else "wide (degrade.wide_config)" if self.wide_damage
                              else "default"),
                   "spectrum": f"{self.clean_share} intact crops (empty mask, marks "
                               f"penalised at {self.intact_weight}), "
                               f"{self.aged_intact_share} aged crops with no defect, "
                               f"{self.sparse_share} with sparse damage (mild ageing, one "
                               f"defect), {self.mild_share} on mildly degraded bases",
                   "split": "crc32(name) % 10 == 0 is validation"}  # fmt: skip
        summary["input"] = "RGB" if self.cfg.in_channels == 3 else "grey (luma)"
        if getattr(self, "grown_from", None):
            summary["grown_from"] = self.grown_from
        save_weights(path, unwrap(self.models["unet"]).state_dict(), unet_arch.ARCH, self.cfg,
                     summary, metrics)  # fmt: skip
        return [path]
