"""Trainers on tiny configs: losses go down, resume is bit-exact, exports load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from oldphoto_cli.archs.mapping_arch import MappingConfig
from oldphoto_cli.archs.unet_arch import UNetConfig
from oldphoto_cli.archs.vae_arch import VAEConfig
from oldphoto_cli.distributed import RankInfo
from oldphoto_cli.train.common import StepBatches, TrainOptions
from oldphoto_cli.train.detector import DetectorTrainer
from oldphoto_cli.train.mapping import MappingTrainer
from oldphoto_cli.train.vae import VAETrainer
from oldphoto_cli.weights import read_metadata

TINY_VAE = VAEConfig(base_channels=8, latent_channels=8, n_res=1)


@pytest.fixture(scope="module")
def photo_dirs(tmp_path_factory):
    """A few small textured images; names chosen so some fall in the validation split."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for sub in ("clean", "old"):
        (root / sub).mkdir()
        for i in range(12):
            base = rng.random((6, 6, 3))
            img = np.kron(base, np.ones((8, 8, 1)))  # blocky 48x48, learnable
            img = (img * 255).astype(np.uint8)
            Image.fromarray(img).save(root / sub / f"img{i:02d}.png")
    return root / "clean", root / "old"


def _opts(tmp_path, **kw):
    base = dict(out_dir=str(tmp_path), batch_size=4, crop=32, steps=6, log_every=1,
                val_every=0, checkpoint_every=3, lr=2e-3)  # fmt: skip
    base.update(kw)
    return TrainOptions(**base)


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "log.jsonl").read_text().splitlines()]


def test_vae2_loss_decreases_and_exports(tmp_path, photo_dirs):
    clean, _ = photo_dirs
    torch.manual_seed(0)
    trainer = VAETrainer(_opts(tmp_path, steps=30), "clean", str(clean), vae_cfg=TINY_VAE)
    trainer.make_batch = lambda start, count: {"x": trainer_batch}  # fixed tiny batch
    trainer_batch = VAETrainer.make_batch(trainer, 0, 4)["x"]
    metrics = trainer.run()
    losses = [r["l1"] for r in _log(tmp_path) if "l1" in r]
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])
    meta = read_metadata(tmp_path / "vae2.safetensors")
    assert meta["arch"] == "vae" and meta["training"]["steps"] == 30
    assert meta["metrics"] == metrics and "recon_psnr_y" in metrics


def test_resume_continues_bit_exactly(tmp_path, photo_dirs):
    clean, old = photo_dirs
    full = VAETrainer(_opts(tmp_path / "a", steps=6), "old", str(clean), str(old),
                      vae_cfg=TINY_VAE)  # fmt: skip
    full.run()
    first = VAETrainer(_opts(tmp_path / "b", steps=3), "old", str(clean), str(old),
                       vae_cfg=TINY_VAE)  # fmt: skip
    first.run()
    resumed = VAETrainer(_opts(tmp_path / "b", steps=6, resume=True), "old", str(clean),
                         str(old), vae_cfg=TINY_VAE)  # fmt: skip
    assert resumed.step == 3
    resumed.run()
    a = full.models["vae"].state_dict()
    b = resumed.models["vae"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    log_a = [r for r in _log(tmp_path / "a") if "loss" in r]
    log_b = [r for r in _log(tmp_path / "b") if "loss" in r]
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]


def test_worker_processes_feed_the_same_batches(tmp_path, photo_dirs):
    """--workers only moves the damage synthesis off the training process: the run is the
    same to the bit, resumed mid-stream included."""
    clean, old = photo_dirs

    def run(name, workers, steps=5, resume=False):
        trainer = DetectorTrainer(_opts(tmp_path / name, steps=steps, workers=workers,
                                        resume=resume), str(clean), UNetConfig(width=4, depth=2),
                                  real_old_dir=str(old), graphics=0.5)  # fmt: skip
        trainer.run()
        return trainer.models["unet"].state_dict()

    inline, pooled = run("inline", 0), run("pooled", 2)
    assert all(torch.equal(inline[k], pooled[k]) for k in inline)
    run("resumed", 2, steps=3)
    resumed = run("resumed", 2, steps=5, resume=True)
    assert all(torch.equal(inline[k], resumed[k]) for k in inline)
    shifted = StepBatches(lambda start, count: {"start": torch.tensor(start)}, 7, 9, 4,
                          RankInfo())  # fmt: skip
    assert [int(shifted[i]["start"]) for i in range(len(shifted))] == [28, 32]


def test_real_negatives_keep_their_share_of_a_large_batch(tmp_path, photo_dirs):
    """Two real old crops in a CPU batch of 6-8, a quarter of a GPU batch of 24: a fixed
    two diluted them there and the detector marked real photos' grain."""
    clean, old = photo_dirs

    def negatives(batch_size):
        trainer = DetectorTrainer(_opts(tmp_path / f"b{batch_size}", batch_size=batch_size),
                                  str(clean), UNetConfig(width=4, depth=2),
                                  real_old_dir=str(old))  # fmt: skip
        return trainer.make_batch(0, batch_size)["negative"].shape[0]

    assert [negatives(n) for n in (6, 8, 24)] == [2, 2, 6]


def test_held_out_photos_are_never_negatives(tmp_path, photo_dirs):
    """Photos of an evaluation set (the hand-traced real masks) stay out of training."""
    clean, old = photo_dirs

    def negative_paths(held_out):
        trainer = DetectorTrainer(_opts(tmp_path / f"h{len(held_out)}"), str(clean),
                                  UNetConfig(width=4, depth=2), real_old_dir=str(old),
                                  held_out=held_out)  # fmt: skip
        return {p.stem for p in trainer.negatives.images.paths}

    every = negative_paths(frozenset())
    held = frozenset(sorted(every)[:3])
    assert len(every) > 3 and negative_paths(held) == every - held


def test_detector_learns_from_intact_crops(tmp_path, photo_dirs):
    """Intact crops (empty masks) carry no weight in the class-balanced BCE and almost
    none in Dice; the intact term is what teaches the detector not to mark them."""
    clean, _ = photo_dirs

    def marked_after(intact_weight):
        torch.manual_seed(0)
        trainer = DetectorTrainer(_opts(tmp_path / f"w{intact_weight}", steps=40, lr=3e-2),
                                  str(clean), UNetConfig(width=4, depth=2), clean_share=1.0,
                                  intact_weight=intact_weight)  # fmt: skip
        batch = trainer.make_batch(0, 4)
        assert not batch["mask"].any()  # every crop intact
        unet = trainer.models["unet"]
        with torch.no_grad():  # start from a detector that marks everything
            unet.head.bias.fill_(3.0)
        losses = [trainer.train_step(step, batch) for step in range(40)]
        with torch.no_grad():  # batch statistics, as in the steps
            return torch.sigmoid(unet(batch["image"])).mean().item(), losses

    before_weighting, losses = marked_after(0.0)
    assert "intact" not in losses[0]
    trained, losses = marked_after(0.5)
    assert losses[-1]["intact"] < losses[0]["intact"]
    assert trained < 0.25 * before_weighting  # measured: 0.05 against 0.60


def test_mapping_and_detector_train_a_few_steps(tmp_path, photo_dirs):
    clean, old = photo_dirs
    vae_dir = tmp_path / "vae"
    VAETrainer(_opts(vae_dir, steps=2), "clean", str(clean), vae_cfg=TINY_VAE).run()
    vae = str(vae_dir / "vae2.safetensors")
    cfg = MappingConfig(latent_channels=8, width=16, n_pre=1, n_local=1, n_post=1,
                        nonlocal_inner=8)  # fmt: skip
    trainer = MappingTrainer(_opts(tmp_path / "map", steps=12), str(clean), vae, vae, cfg)
    batch = trainer.make_batch(0, 4)
    batch["mask"][:, :, 8:12, :] = 1  # make sure the partial non-local path runs
    trainer.make_batch = lambda start, count: batch
    trainer.run()
    losses = [r["loss"] for r in _log(tmp_path / "map") if "loss" in r]
    assert losses[-1] < losses[0]
    assert read_metadata(tmp_path / "map" / "mapping.safetensors")["arch"] == "mapping"
    det = DetectorTrainer(
        _opts(tmp_path / "det", steps=12), str(clean), UNetConfig(width=4, depth=2)
    )
    det_batch = det.make_batch(0, 4)
    det_batch["mask"][:, :, 10:13, :] = 1
    det.make_batch = lambda start, count: det_batch
    det.run()
    losses = [r["loss"] for r in _log(tmp_path / "det") if "loss" in r]
    assert losses[-1] < losses[0]
    assert set(read_metadata(tmp_path / "det" / "detector.safetensors")["metrics"]) >= {"f1", "iou"}


@pytest.mark.parametrize("name", ["mapping", "detector"])
def test_resume_from_the_export_alone(tmp_path, photo_dirs, name):
    """A fresh clone has the committed export and no checkpoint: --resume continues from it."""
    from oldphoto_cli.weights import load_weights

    clean, _ = photo_dirs
    if name == "detector":
        def make(steps, resume=False):  # noqa: E306
            return DetectorTrainer(_opts(tmp_path / "run", steps=steps, resume=resume),
                                   str(clean), UNetConfig(width=4, depth=2))  # fmt: skip
    else:
        VAETrainer(_opts(tmp_path / "vae", steps=1), "clean", str(clean), vae_cfg=TINY_VAE).run()
        vae = str(tmp_path / "vae" / "vae2.safetensors")
        cfg = MappingConfig(latent_channels=8, width=16, n_pre=1, n_local=1, n_post=1,
                            nonlocal_inner=8)  # fmt: skip

        def make(steps, resume=False):
            return MappingTrainer(_opts(tmp_path / "run", steps=steps, resume=resume),
                                  str(clean), vae, vae, cfg)  # fmt: skip
    make(4).run()
    (tmp_path / "run" / "checkpoint.safetensors").unlink()
    exported, _ = load_weights(tmp_path / "run" / f"{name}.safetensors")
    resumed = make(6, resume=True)
    assert resumed.step == 4
    state = resumed.models[resumed.exported_model].state_dict()
    assert all(torch.equal(state[k], v) for k, v in exported.items())
    if name == "mapping":  # an export of another architecture is refused, not half-loaded
        import dataclasses

        cfg = dataclasses.replace(cfg, n_post=2)
        with pytest.raises(RuntimeError, match="does not fit"):
            make(6, resume=True)


def test_graphics_are_drawn_into_the_clean_crop_and_never_labelled(photo_dirs):
    from oldphoto_cli.data import DataConfig, SyntheticPairs, draw_graphics, list_images

    paths = list_images(photo_dirs[0])
    plain = SyntheticPairs(paths, DataConfig(crop=48, structured=False))
    printed = SyntheticPairs(paths, DataConfig(crop=48, structured=False, graphics=1.0))
    changed = 0
    for index in range(6):
        a, b = plain[index], printed[index]
        assert torch.equal(b["clean"], printed[index]["clean"])  # a pure function of the index
        assert b["mask"].sum() == 0  # printed content is part of the photo, not a defect
        changed += int(not torch.equal(a["clean"], b["clean"]))
    assert changed >= 5  # nearly every crop got something drawn (some land off-crop)
    img = np.full((64, 64, 3), 128, np.uint8)
    rng = np.random.default_rng
    assert (draw_graphics(img, rng(1)) == draw_graphics(img, rng(1))).all()
    assert (img == 128).all()  # the input is not modified


DDP_SCRIPT = r"""
import sys, torch
from oldphoto_cli.archs.vae_arch import VAEConfig
from oldphoto_cli.distributed import RankInfo
from oldphoto_cli.train.common import StepBatches, TrainOptions
from oldphoto_cli.train.vae import VAETrainer
torch.set_num_threads(1)
out, clean = sys.argv[1], sys.argv[2]
opts = TrainOptions(out_dir=out, batch_size=4, crop=32, steps=4, log_every=1, val_every=0,
                    checkpoint_every=100, lr=1e-3)
VAETrainer(opts, "clean", clean, vae_cfg=VAEConfig(base_channels=8, latent_channels=8, n_res=1),
           losses=None).run()
"""


def _free_port() -> int:
    """A port nothing listens on now (a fixed one collides with a parallel run)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path, photo_dirs):
    """torchrun with 2 gloo processes sees the same global batches as 1 process."""
    clean, _ = photo_dirs
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(script), str(tmp_path / "one"), str(clean)], check=True,
                   env=env)  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
         "--master-port", str(_free_port()), str(script), str(tmp_path / "two"), str(clean)],
        check=True, env=env,
    )  # fmt: skip
    one = [r["l1"] for r in _log(tmp_path / "one") if "l1" in r]
    two = [r["l1"] for r in _log(tmp_path / "two") if "l1" in r]
    assert len(one) == len(two) == 4
    # Same data stream and same init; only the sampling noise differs per rank.
    assert np.allclose(one, two, rtol=0.15)


def test_trainer_exports_at_every_validation(tmp_path):
    """A run stopped between validations still leaves its last validated weights."""
    from torch import nn

    from oldphoto_cli.train.common import Trainer

    class Toy(Trainer):
        name, exported_model = "toy", "net"

        def __init__(self, opts):
            self.exports = []
            super().__init__(opts)

        def build(self):
            net = nn.Linear(2, 1)
            return {"net": net}, {"net": torch.optim.SGD(net.parameters(), 0.1)}

        def make_batch(self, start, count):
            return {"x": torch.ones(count, 2)}

        def train_step(self, step, batch):
            loss = self.models["net"](batch["x"]).pow(2).mean()
            self.optimizers["net"].zero_grad()
            loss.backward()
            self.optimizers["net"].step()
            return {"loss": loss.item()}

        def validate(self):
            return {"step_seen": float(self.step)}

        def export(self, metrics):
            self.exports.append(metrics["step_seen"])
            return []

    opts = TrainOptions(out_dir=str(tmp_path / "toy"), batch_size=2, crop=8, steps=5,
                        val_every=2, checkpoint_every=100, threads=1)  # fmt: skip
    toy = Toy(opts)
    toy.run()
    assert toy.exports == [2.0, 4.0, 5.0]


def test_bf16_training_step_on_the_cpu(tmp_path, photo_dirs):
    """--bf16: autocast step with channels-last models; losses fall, exports stay fp32."""
    from oldphoto_cli.train.mapping import MappingLosses
    from oldphoto_cli.weights import load_weights

    clean, _ = photo_dirs
    vae_dir = tmp_path / "vae"
    VAETrainer(_opts(vae_dir, steps=2), "clean", str(clean), vae_cfg=TINY_VAE).run()
    vae = str(vae_dir / "vae2.safetensors")
    cfg = MappingConfig(latent_channels=8, width=16, n_pre=1, n_local=1, n_post=1,
                        nonlocal_inner=8)  # fmt: skip
    trainer = MappingTrainer(_opts(tmp_path / "map", steps=12, bf16=True), str(clean), vae, vae,
                             cfg, MappingLosses(gan_weight=0.1))  # fmt: skip
    for model in (trainer.models["mapping"], trainer.models["d_img"], trainer.vae1):
        conv = next(p for p in model.parameters() if p.dim() == 4 and p.shape[-1] > 1)
        assert conv.is_contiguous(memory_format=torch.channels_last)
    batch = trainer.make_batch(0, 4)
    batch["mask"][:, :, 8:12, :] = 1  # the partial non-local path runs in bf16 too
    trainer.make_batch = lambda start, count: batch
    trainer.run()
    losses = [r["loss"] for r in _log(tmp_path / "map") if "loss" in r]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    tensors, _ = load_weights(tmp_path / "map" / "mapping.safetensors")
    assert {t.dtype for t in tensors.values()} == {torch.float32}


def test_context_pooling_counts_exactly_under_bf16():
    """A cell of 300 intact pixels: bf16 would count it as 300 only by luck (8-bit mantissa)."""
    from oldphoto_cli.archs.nonlocal_arch import pool_context

    features = torch.full((1, 2, 20, 31), 1.0, dtype=torch.bfloat16)
    mask = torch.zeros(1, 1, 20, 31)
    mask[..., 0, :21] = 1  # 620 - 21 = 599 intact pixels in one cell
    sums, counts = pool_context(features, mask, (1, 1))
    assert sums.dtype == counts.dtype == torch.float32
    assert counts.item() == 599 and sums[0, 0, 0].item() == 599


def test_grow_a_mapping_export_wider_and_deeper(tmp_path, photo_dirs):
    """--grow-from: the grown mapping computes what the export computed, then trains its
    new channels and blocks."""
    from oldphoto_cli.archs.mapping_arch import LatentMapping, grown_state

    clean, _ = photo_dirs
    vae_dir = tmp_path / "vae"
    VAETrainer(_opts(vae_dir, steps=2), "clean", str(clean), vae_cfg=TINY_VAE).run()
    vae = str(vae_dir / "vae2.safetensors")
    small = MappingConfig(latent_channels=8, width=16, n_pre=1, n_local=1, n_post=1,
                          nonlocal_inner=8, residual=True)  # fmt: skip
    MappingTrainer(_opts(tmp_path / "small", steps=8), str(clean), vae, vae, small).run()
    export = tmp_path / "small" / "mapping.safetensors"
    big = MappingConfig(latent_channels=8, width=24, n_pre=2, n_local=1, n_post=2,
                        nonlocal_inner=8, residual=True)  # fmt: skip
    trainer = MappingTrainer(_opts(tmp_path / "big", steps=14), str(clean), vae, vae, big)
    trainer.grow_from(str(export))
    assert trainer.step == 8
    old = LatentMapping(small)
    old.load_state_dict(load_weights_only(export))
    z, mask = torch.randn(2, 8, 12, 12), torch.zeros(2, 1, 12, 12)
    mask[:, :, 3:6] = 1  # holes: the non-local branch runs too
    grown = trainer.models["mapping"]
    with torch.no_grad():
        assert torch.allclose(grown(z, mask), old(z, mask), atol=1e-6)
    head_new_rows = grown.head.weight[16:].detach().clone()
    assert not head_new_rows.any()
    trainer.run()
    assert grown.head.weight[16:].abs().sum() > 0  # the new channels learn
    meta = read_metadata(tmp_path / "big" / "mapping.safetensors")
    assert meta["config"]["width"] == 24 and meta["training"]["grown_from"]["steps"] == 8
    with pytest.raises(ValueError, match="shrink"):
        grown_state(grown.state_dict(), big, LatentMapping(small))


def load_weights_only(path):
    from oldphoto_cli.weights import load_weights

    return load_weights(path)[0]


def test_warmup_only_where_the_optimizer_moments_are_fresh(tmp_path, photo_dirs):
    """--warmup-steps ramps the rate after a start without moments (new run, from the
    export), not after a checkpoint whose moments came back."""
    clean, _ = photo_dirs
    seen = []

    def record(trainer):
        step = trainer.train_step

        def wrapped(i, batch):
            optimizer = next(iter(trainer.optimizers.values()))
            seen.append((i, optimizer.param_groups[0]["lr"]))
            return step(i, batch)

        trainer.train_step = wrapped
        return trainer

    def detector(steps, resume=True):
        opts = _opts(tmp_path / "det", steps=steps, warmup_steps=4, lr=1e-3, resume=resume,
                     checkpoint_every=100)  # fmt: skip
        return record(DetectorTrainer(opts, str(clean), UNetConfig(width=4, depth=2)))

    detector(3, resume=False).run()
    assert [lr for _, lr in seen] == pytest.approx([2.5e-4, 5e-4, 7.5e-4])
    seen.clear()
    detector(6).run()  # the checkpoint of step 3: moments back, the ramp goes on
    assert [lr for _, lr in seen] == pytest.approx([1e-3, 1e-3, 1e-3])
    seen.clear()
    (tmp_path / "det" / "checkpoint.safetensors").unlink()
    detector(8).run()  # only the export of step 6: fresh moments, a new ramp from there
    assert seen[0][0] == 6 and [lr for _, lr in seen] == pytest.approx([2.5e-4, 5e-4])


def test_tversky_loss_is_dice_at_one_half_and_weighs_misses_above_it():
    from oldphoto_cli.train.detector import soft_dice, soft_tversky

    target = torch.zeros(1, 1, 16, 16)
    target[..., 4:6, :] = 1  # a 2 px scratch: 32 px
    logits = torch.full_like(target, -2.0)
    logits[..., 4:6, :] = 2.0
    assert torch.allclose(soft_tversky(logits, target, 0.5), soft_dice(logits, target), atol=1e-4)
    missed = logits.clone()
    missed[..., 4:6, :8] = -6.0  # half of the scratch missed
    marked = logits.clone()
    marked[..., 10:12, :8] = 6.0  # as many pixels falsely marked instead
    # the higher beta, the more a miss costs against as many false marks
    gap = {b: float(soft_tversky(missed, target, b) - soft_tversky(marked, target, b))
           for b in (0.3, 0.5, 0.7, 0.9)}  # fmt: skip
    assert gap[0.3] < gap[0.5] < gap[0.7] < gap[0.9] and gap[0.7] > 0


def _traced(tmp_path, photo_dirs, stems=("img00", "img01")):
    """Masks for two of the fixture's old photos: a damage bar, and an unlabelled bottom."""
    masks = tmp_path / "masks"
    masks.mkdir(exist_ok=True)
    for stem in stems:
        labels = np.zeros((48, 48), np.uint8)
        labels[10:14, 4:44] = 255  # a 4 px scratch across the photo
        labels[40:, :] = 128  # the tracer could not tell
        Image.fromarray(labels).save(masks / f"{stem}.png")
    return masks


def test_traced_crops_carry_their_labels_and_unknown_pixels(tmp_path, photo_dirs):
    from oldphoto_cli.data import DataConfig, TracedRealCrops, traced_items

    _, old = photo_dirs
    crops = TracedRealCrops(traced_items(_traced(tmp_path, photo_dirs), old),
                            DataConfig(crop=32, seed=3))  # fmt: skip
    items = [crops[i] for i in range(40)]
    assert items[0]["old"].shape == (3, 32, 32) and items[0]["mask"].shape == (1, 32, 32)
    with_damage = sum(bool(it["mask"].any()) for it in items)
    with_unknown = sum(bool((it["known"] == 0).any()) for it in items)
    assert with_damage >= 20  # half the crops are centred on damage, the rest see it often
    assert 0 < with_unknown < 40
    for it in items:  # damage is never unlabelled, and the labels are binary
        assert not bool((it["mask"] * (1 - it["known"])).any())
        assert set(it["known"].unique().tolist()) <= {0.0, 1.0}
    # the scratch is a 4 px band of the photo: a marked row is marked nearly all along
    marked_rows = [row for it in items for row in it["mask"][0] if row.sum() > 0]
    assert np.median([row.sum().item() for row in marked_rows]) >= 16


def test_traced_items_refuse_a_mask_without_its_photo(tmp_path, photo_dirs):
    from oldphoto_cli.data import traced_items

    _, old = photo_dirs
    masks = _traced(tmp_path, photo_dirs, stems=("img00", "no_such_photo"))
    with pytest.raises(FileNotFoundError, match="no_such_photo"):
        traced_items(masks, old)


def test_weighted_bce_leaves_unknown_pixels_out():
    from oldphoto_cli.archs.unet_arch import weighted_bce

    torch.manual_seed(0)
    logits, target = torch.randn(2, 1, 8, 8), (torch.rand(2, 1, 8, 8) < 0.2).float()
    known = torch.ones_like(target)
    known[..., 4:, :] = 0
    changed = logits.clone()
    changed[..., 4:, :] = 50.0  # anything at all where the label is unknown
    assert torch.allclose(weighted_bce(logits, target), weighted_bce(logits, target, known * 0 + 1))
    assert torch.allclose(weighted_bce(logits, target, known), weighted_bce(changed, target, known))
    assert not torch.allclose(weighted_bce(logits, target), weighted_bce(changed, target))


def test_traced_real_crops_train_the_detector_and_replace_their_negatives(tmp_path, photo_dirs):
    """Traced photos come with their labels, never as all-clean negatives; a traced photo of
    the held-out evaluation set is refused; the detector learns the traced damage."""
    clean, old = photo_dirs
    masks = _traced(tmp_path, photo_dirs)
    import shutil

    with_val = tmp_path / "old_with_val"  # val8.png falls in the fixed validation split
    shutil.copytree(old, with_val)
    shutil.copy(with_val / "img00.png", with_val / "val8.png")
    (tmp_path / "v").mkdir()
    with pytest.raises(ValueError, match="validation split: val8"):
        DetectorTrainer(_opts(tmp_path / "val"), str(clean), UNetConfig(width=4, depth=2),
                        real_old_dir=str(with_val), real_masks_dir=str(_traced(
                            tmp_path / "v", photo_dirs, ["img00", "val8"])))  # fmt: skip
    with pytest.raises(ValueError, match="held-out"):
        DetectorTrainer(_opts(tmp_path / "held"), str(clean), UNetConfig(width=4, depth=2),
                        real_old_dir=str(old), real_masks_dir=str(masks),
                        held_out=frozenset({"img01"}))  # fmt: skip
    torch.manual_seed(0)
    trainer = DetectorTrainer(_opts(tmp_path / "t", lr=1e-2), str(clean),
                              UNetConfig(width=8, depth=2), real_old_dir=str(old),
                              real_masks_dir=str(masks), negative_weight=0.1)  # fmt: skip
    assert not {"img00", "img01"} & {p.stem for p in trainer.negatives.images.paths}
    batch = trainer.make_batch(0, 4)
    assert batch["traced"].shape[0] == 2 and batch["traced_known"].shape == (2, 1, 32, 32)
    unet = trainer.models["unet"]
    first = trainer.traced_loss(unet(batch["traced"]), batch["traced_mask"],
                                batch["traced_known"])[0].item()  # fmt: skip
    for step in range(60):
        out = trainer.train_step(step, batch)
    assert {"traced_bce", "traced_dice", "traced_marked"} <= set(out)
    with torch.no_grad():
        last = trainer.traced_loss(unet(batch["traced"]), batch["traced_mask"],
                                   batch["traced_known"])[0].item()  # fmt: skip
    assert last < 0.5 * first


def test_no_all_clean_negatives_when_every_real_photo_is_traced(tmp_path, photo_dirs):
    clean, old = photo_dirs
    from oldphoto_cli.data import training_split

    every = [p.stem for p in training_split(old)[0]]
    trainer = DetectorTrainer(_opts(tmp_path), str(clean), UNetConfig(width=4, depth=2),
                              real_old_dir=str(old),
                              real_masks_dir=str(_traced(tmp_path, photo_dirs, stems=every)))  # fmt: skip
    batch = trainer.make_batch(0, 4)
    assert "negative" not in batch and batch["traced"].shape[0] == 2


def test_a_drawn_defect_on_a_traced_crop_is_labelled_and_known(tmp_path, photo_dirs):
    """Real crops must not become a domain the detector never marks: with drawn_share 1,
    every crop gets one synthetic defect, exactly labelled even inside unlabelled regions."""
    from oldphoto_cli.data import DataConfig, TracedRealCrops, traced_items

    _, old = photo_dirs
    masks = tmp_path / "masks"
    masks.mkdir()
    for stem in ("img00", "img01"):
        Image.fromarray(np.full((48, 48), 128, np.uint8)).save(masks / f"{stem}.png")
    items = traced_items(masks, old)
    plain = TracedRealCrops(items, DataConfig(crop=32, seed=5))
    drawn = TracedRealCrops(items, DataConfig(crop=32, seed=5), drawn_share=1.0)
    for i in range(12):
        a, b = plain[i], drawn[i]
        assert not a["mask"].any() and not a["known"].any()  # all unlabelled
        changed = (a["old"] != b["old"]).any(dim=0)
        assert torch.equal(b["mask"][0] > 0, changed)  # the defect is labelled exactly
        assert torch.equal(b["known"], b["mask"])  # and known where drawn
    assert sum(bool(drawn[i]["mask"].any()) for i in range(12)) >= 10


def test_transplanted_crops_join_the_traced_part_of_the_batch(tmp_path, photo_dirs):
    """--transplanted-per-batch adds labelled crops to the traced crops (their loss, their
    labels); it needs traced masks to cut the damage from."""
    clean, old = photo_dirs
    masks = _traced(tmp_path, photo_dirs)
    trainer = DetectorTrainer(_opts(tmp_path / "t"), str(clean), UNetConfig(width=4, depth=2),
                              real_old_dir=str(old), real_masks_dir=str(masks),
                              transplanted_per_batch=3)  # fmt: skip
    batch = trainer.make_batch(0, 4)
    assert batch["traced"].shape[0] == 2 + 3
    assert batch["traced_mask"].shape == batch["traced_known"].shape == (5, 1, 32, 32)
    pasted = batch["traced_mask"][2:]
    assert pasted.sum() > 0 and not bool((pasted * (1 - batch["traced_known"][2:])).any())
    assert "traced_bce" in trainer.train_step(0, batch)
    plain = DetectorTrainer(_opts(tmp_path / "p"), str(clean), UNetConfig(width=4, depth=2),
                            transplanted_per_batch=3)  # fmt: skip
    assert "traced" not in plain.make_batch(0, 4)


def test_cli_refuses_transplants_without_traced_masks(tmp_path, photo_dirs):
    from conftest import invoke

    clean, _ = photo_dirs
    result = invoke("train", "detector", "--clean", clean, "--transplanted-per-batch", "2",
                    "--out", tmp_path / "r")  # fmt: skip
    assert result.exit_code == 2 and "--real-masks" in result.output
