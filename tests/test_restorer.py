"""The image-space restorer: its targets, its network, its stage and its trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import random_restorer_export
from PIL import Image

from oldphoto_cli.archs.restorer_arch import Restorer, RestorerConfig
from oldphoto_cli.classical import first_estimate
from oldphoto_cli.pipeline import RestoreOptions, RestorePipeline
from oldphoto_cli.train.common import TrainOptions
from oldphoto_cli.train.restorer import RestorerTrainer, restorer_inputs, retone
from oldphoto_cli.weights import load_weights, read_metadata

TINY = RestorerConfig(width=8, blocks=(1, 1))


def _photo(seed: int = 0, size: tuple[int, int] = (64, 80)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.random((size[0] // 8, size[1] // 8, 3))
    return np.kron(base, np.ones((8, 8, 1))).astype(np.float32)


def test_retone_recovers_an_affine_colour_map_and_keeps_grey_grey():
    clean = _photo()
    matrix = np.array([[0.7, 0.1, 0.0], [0.05, 0.6, 0.1], [0.0, 0.1, 0.5]])
    toned = (clean.reshape(-1, 3) @ matrix + [0.1, 0.08, 0.05]).reshape(clean.shape)
    assert np.abs(retone(clean, toned) - toned).max() < 2e-3
    grey = np.repeat(clean.mean(axis=2, keepdims=True), 3, axis=2)
    target = retone(clean, grey)
    assert np.abs(target - target.mean(axis=2, keepdims=True)).max() < 1e-6


def test_retone_of_a_blurred_crop_without_tone_change_is_the_clean_crop():
    """Blur lowers the damaged crop's contrast at fine scales, not its tone: the target must
    stay the clean crop, not a flatter copy (which would teach the network to flatten)."""
    import cv2

    rng = np.random.default_rng(3)
    clean = cv2.GaussianBlur(rng.random((128, 128, 3)).astype(np.float32), (0, 0), 3)
    clean = ((clean - clean.mean()) * 4 + 0.5).clip(0, 1).astype(np.float32)
    blurred = cv2.GaussianBlur(clean, (0, 0), 1.8)
    assert np.abs(retone(clean, blurred) - clean).mean() < 0.01


def test_retone_ignores_the_holes():
    clean = _photo(1)
    damaged = clean * 0.8 + 0.1
    hole = np.zeros(clean.shape[:2], bool)
    hole[10:20] = True
    damaged[hole] = 1.0  # paper-white crack
    assert np.abs(retone(clean, damaged, ~hole) - (clean * 0.8 + 0.1)).max() < 2e-3


def test_network_starts_as_the_first_estimate_and_has_the_declared_reach():
    model = Restorer(TINY).eval()
    x = torch.rand(1, 3, 32, 48)
    est = torch.rand(1, 3, 32, 48)
    mask = torch.zeros(1, 1, 32, 48)
    with torch.no_grad():
        assert torch.equal(model(x, est, mask, torch.tensor([3.0])), est)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        # a change at one pixel reaches no further than receptive_radius()
        x2 = x.clone()
        x2[..., 0, 0] += 1
        moved = (model(x2, est, mask, torch.tensor([3.0])) - model(x, est, mask, torch.tensor([3.0])))
    reach = moved.abs().amax(dim=(0, 1)).nonzero()
    assert reach.numel() and int(reach.max()) <= TINY.receptive_radius()


def test_restorer_inputs_fill_the_holes_and_carry_the_noise_level():
    rng = np.random.default_rng(2)
    clean = _photo(2)
    damaged = np.clip(clean + rng.normal(0, 12 / 255, clean.shape), 0, 1).astype(np.float32)
    mask = np.zeros(clean.shape[:2], np.uint8)
    mask[30:33, :] = 1
    damaged[mask > 0] = 1.0
    sample = restorer_inputs(damaged, clean, mask)
    assert 9 < float(sample["sigma"]) < 15
    assert float(sample["mask"].sum()) > mask.sum()  # grown like restore's --dilate 1
    filled = sample["damaged"].numpy().transpose(1, 2, 0)
    assert filled[31].mean() < 0.9  # the white line is filled from its neighbours
    # the estimate is smoother than the input: NL-means at that level ran
    est = sample["estimate"].numpy().transpose(1, 2, 0)
    assert np.abs(est - clean)[:20].mean() < np.abs(damaged - clean)[:20].mean()


@pytest.fixture()
def weights_dir(tmp_path):
    """A restorer export with a random (non-zero) correction, in a weights folder."""
    random_restorer_export(tmp_path / "restorer.safetensors", TINY)
    return tmp_path


def test_the_stage_gives_the_same_result_in_tiles(weights_dir):
    from oldphoto_cli.stages.restorer import ImageRestorer

    rgb = _photo(3, (96, 128))
    mask = np.zeros(rgb.shape[:2], np.uint8)
    mask[40:43, 10:100] = 1
    stage = ImageRestorer(weights_dir=str(weights_dir))
    whole = stage(rgb, mask)
    stage.tile = 48
    tiled = stage(rgb, mask)
    assert whole.shape == rgb.shape and whole.dtype == np.float32
    # NL-means sees each tile's own halo: a few 8-bit levels at most, none on average
    assert np.abs(whole - tiled).max() < 4 / 255 and np.abs(whole - tiled).mean() < 0.2 / 255


def test_restore_through_the_restorer_repairs_a_scratch(weights_dir):
    rgb = _photo(4, (64, 96))
    damaged = rgb.copy()
    mask = np.zeros(rgb.shape[:2], np.uint8)
    mask[30:32, :] = 1
    damaged[mask > 0] = 1.0
    pipeline = RestorePipeline(RestoreOptions(translator="restorer", weights_dir=str(weights_dir),
                                              face_enhancer="none"))  # fmt: skip
    assert pipeline.stage_names() == {"translate": "restorer"}
    result = pipeline.restore(damaged, mask)
    hole = mask > 0
    assert np.abs(result.image[hole] - rgb[hole]).mean() < 0.5 * np.abs(damaged[hole] - rgb[hole]).mean()


def test_the_restorer_keeps_its_own_fills(weights_dir):
    """The restorer is trained to fill holes (fills_holes): restore leaves its fills as
    they are, where a latent translator's fills are moved to their neighbourhood's mean."""
    from oldphoto_cli.stages.restorer import ImageRestorer

    rgb = _photo(5, (64, 96))
    mask = np.zeros(rgb.shape[:2], np.uint8)
    mask[20:26, 10:80] = 1
    damaged = rgb.copy()
    damaged[mask > 0] = 1.0
    options = RestoreOptions(translator="restorer", weights_dir=str(weights_dir),
                             face_enhancer="none", keep_tone=False, tone_curve=False,
                             dilate=0)  # fmt: skip
    pipeline = RestorePipeline(options)
    assert pipeline.fills_holes
    own = np.clip(ImageRestorer(weights_dir=str(weights_dir))(damaged, mask), 0, 1)
    assert np.array_equal(pipeline.restore(damaged, mask).image, own)
    pipeline.fills_holes = False  # what a translator without fills_holes gets
    harmonised = pipeline.restore(damaged, mask).image
    assert np.abs(harmonised - own)[mask > 0].max() > 1 / 255
    assert np.array_equal(harmonised[mask == 0], own[mask == 0])


def test_a_dropped_defect_is_not_told_but_is_still_a_hole_of_the_loss():
    from oldphoto_cli.train.restorer import drop_components

    mask = np.zeros((64, 80), np.uint8)
    mask[10:12, 5:70] = 1  # a scratch
    mask[40:44, 30:34] = 1  # a dust speck
    rng = np.random.default_rng(0)
    assert np.array_equal(drop_components(mask, 0.0, rng), mask)
    assert not drop_components(mask, 1.0, rng).any()
    kept = [drop_components(mask, 0.5, np.random.default_rng(s)) for s in range(40)]
    counts = {int(k[11, 20]) + int(k[42, 32]) for k in kept}
    assert counts == {0, 1, 2}  # each region is dropped on its own, whole
    assert all(np.array_equal(k[10:12, 5:70], mask[10:12, 5:70]) or not k[10:12, 5:70].any()
               for k in kept)  # fmt: skip
    clean = _photo(6)
    damaged = clean.copy()
    damaged[mask > 0] = 1.0
    told = mask.copy()
    told[40:44, 30:34] = 0  # the speck is left out
    sample = restorer_inputs(damaged, clean, mask, told)
    assert sample["mask"][0, 42, 32] == 0 and sample["damage"][0, 42, 32] == 1
    assert sample["mask"][0, 11, 20] == 1 and sample["damage"][0, 11, 20] == 1
    untold = sample["damaged"].numpy().transpose(1, 2, 0)
    assert np.allclose(untold[42, 32], 1.0)  # not filled: the network sees the speck


def _wired_photo() -> np.ndarray:
    """A smooth grey gradient crossed by a dark 1 px wire and with a bright square."""
    img = np.repeat(np.linspace(0.3, 0.7, 96, dtype=np.float32)[None, :, None], 96, 0)
    img = np.repeat(img, 3, axis=2)
    img[30, 5:90] = 0.05  # the wire
    img[60:66, 60:66] = 0.95  # a compact bright feature
    return img


def test_content_false_alarms_lie_on_the_content_and_are_bounded():
    from oldphoto_cli.data import content_false_alarm_mask

    img = _wired_photo()
    content = np.zeros(img.shape[:2], bool)
    content[28:33, 3:92] = True  # the wire, with the growth and the random extras' slack
    content[57:69, 57:69] = True
    on_content, off_content = 0, 0
    for seed in range(30):
        mask = content_false_alarm_mask(img, np.random.default_rng(seed)) > 0
        assert mask.mean() <= 0.08 + 1e-9
        on_content += int((mask & content).sum())
        off_content += int((mask & ~content).sum())
    # mostly on the content (the rest: random specks and lines a third of the time)
    assert on_content > 3 * off_content
    # a pure function of the generator
    a = content_false_alarm_mask(img, np.random.default_rng(3))
    assert np.array_equal(a, content_false_alarm_mask(img, np.random.default_rng(3)))
    # a flat crop has no content to mark: only the random extras, if any
    flat = np.full((64, 64, 3), 0.5, np.float32)
    assert content_false_alarm_mask(flat, np.random.default_rng(1), max_share=0.01).mean() <= 0.01


def test_false_alarms_are_told_but_are_not_holes_of_the_loss(tmp_path):
    from oldphoto_cli.data import DataConfig, SyntheticPairs
    from oldphoto_cli.train.restorer import RestorerPairs

    Image.fromarray((_wired_photo() * 255).astype(np.uint8)).save(tmp_path / "w.png")
    pairs = SyntheticPairs([tmp_path / "w.png"], DataConfig(crop=64, clean_share=1.0,
                                                            false_alarm_masks=False))  # fmt: skip
    plain = RestorerPairs(pairs, cfg=TINY)
    alarmed = RestorerPairs(pairs, cfg=TINY, false_alarms=1.0)
    told = 0
    for i in range(6):
        a, b = plain[i], alarmed[i]
        assert not a["mask"].any() and not b["damage"].any()  # intact crops: no holes
        assert torch.equal(a["target"], b["target"])  # the target is the content itself
        told += int(b["mask"].sum())
    assert told > 0  # the network is told about marks on intact content
    never = RestorerPairs(pairs, cfg=TINY, false_alarms=0.0)
    assert all(torch.equal(never[i]["mask"], plain[i]["mask"]) for i in range(3))


def test_drop_local_tone_keeps_fine_changes_and_the_holes():
    from oldphoto_cli.stages.restorer import drop_local_tone

    damaged = torch.full((1, 3, 64, 64), 0.5)
    keep = torch.ones(1, 1, 64, 64)
    keep[..., 30:34, :] = 0
    fine = 0.05 * torch.from_numpy(np.indices((64, 64)).sum(0) % 2 * 2 - 1.0).float()
    out = damaged + 0.1 + fine  # a flat brightening (tone) plus a pixel checkerboard
    out[..., 30:34, :] = 0.9  # a filled hole
    kept = drop_local_tone(out, damaged, keep, 4.0)
    intact = keep[0, 0] > 0
    assert torch.allclose(kept[..., 30:34, :], out[..., 30:34, :])  # holes untouched
    assert (kept - damaged)[0][:, intact].mean().abs() < 2e-3  # the brightening is gone
    inner = (kept - damaged - fine)[..., 8:24, 8:56]  # away from edges: the checkerboard stays
    assert inner.abs().max() < 0.01


def test_trainer_learns_and_exports(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    for i in range(10):
        Image.fromarray((_photo(10 + i, (48, 48)) * 255).astype(np.uint8)).save(clean / f"p{i}.png")
    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=4, crop=32, steps=40,
                        log_every=1, val_every=0, checkpoint_every=100, lr=3e-3)  # fmt: skip
    torch.manual_seed(0)
    trainer = RestorerTrainer(opts, str(clean), TINY, real_damage=False, clean_share=0.0,
                              damage_only_share=0.0, mild_share=0.45, recoverable_share=0.0)
    batch = trainer.make_batch(0, 4)
    trainer.make_batch = lambda start, count: batch  # one fixed batch: the loss must fall
    metrics = trainer.run()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])
    meta = read_metadata(tmp_path / "run" / "restorer.safetensors")
    assert meta["arch"] == "restorer" and meta["training"]["steps"] == 40
    assert {"tone_psnr_input", "tone_psnr_estimate", "tone_psnr_restored", "psnr_intact"} <= set(metrics)
    assert meta["metrics"] == metrics


def test_keep_loss_covers_only_pixels_that_need_no_repair(tmp_path):
    """keep_l1 is the L1 over pixels outside the mask that are already at their target:
    about zero for a network that returns its input there, the change for one that does
    not."""
    from oldphoto_cli.train.restorer import RestorerLosses

    clean = tmp_path / "clean"
    clean.mkdir()
    for i in range(4):
        Image.fromarray((_photo(20 + i, (48, 48)) * 255).astype(np.uint8)).save(clean / f"p{i}.png")
    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=4, crop=32, steps=1,
                        log_every=1, val_every=0, checkpoint_every=100, lr=0.0)  # fmt: skip
    trainer = RestorerTrainer(opts, str(clean), TINY, RestorerLosses(keep_l1=1.0),
                              real_damage=False, clean_share=1.0)  # fmt: skip
    batch = trainer.make_batch(0, 4)
    trainer.run_model = lambda model, b: b["damaged"] + 0 * model(b["damaged"], b["estimate"], b["mask"], b["sigma"])
    # intact crops returned as they are: only the re-toned target's rounding is left
    assert trainer.train_step(0, batch)["keep_l1"] < 0.5 / 255
    trainer.run_model = lambda model, b: b["damaged"] + 0.1 + 0 * model(
        b["damaged"], b["estimate"], b["mask"], b["sigma"])
    assert abs(trainer.train_step(0, batch)["keep_l1"] - 0.1) < 0.02




def test_false_alarm_loss_is_the_change_to_content_under_a_wrong_mask(tmp_path):
    """false_alarm_l1 is the L1 over told pixels that are intact: zero for a network that
    returns the photo as it came there (what a seeing restorer can do), the Telea fill's
    error for one that returns the filled photo (what a blind one must)."""
    from oldphoto_cli.train.restorer import RestorerLosses

    clean = tmp_path / "clean"
    clean.mkdir()
    Image.fromarray((_wired_photo() * 255).astype(np.uint8)).save(clean / "w.png")
    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=4, crop=64, steps=1,
                        log_every=1, val_every=0, checkpoint_every=100, lr=0.0)  # fmt: skip
    seeing = RestorerConfig(width=8, blocks=(1, 1), photo_under_mask=True)
    trainer = RestorerTrainer(opts, str(clean), seeing, RestorerLosses(false_alarm_l1=1.0),
                              real_damage=False, clean_share=1.0, false_alarms=1.0)  # fmt: skip
    batch = trainer.make_batch(0, 4)
    assert batch["mask"].sum() > 0 and batch["damage"].sum() == 0  # told, all intact

    def returning(key):
        return lambda model, b: b[key] + 0 * model(b["damaged"], b["estimate"], b["mask"],
                                                   b["sigma"], b["photo"])  # fmt: skip

    trainer.run_model = returning("photo")
    assert trainer.train_step(0, batch)["false_alarm_l1"] < 0.5 / 255
    trainer.run_model = returning("damaged")  # Telea-filled under the mask
    assert trainer.train_step(0, batch)["false_alarm_l1"] > 2 / 255
def test_first_estimate_leaves_a_clean_photo_alone():
    rgb = _photo(5)
    damaged, estimate = first_estimate(rgb, None, sigma=0.5)  # below NL-means' threshold
    assert np.array_equal(damaged, rgb)
    assert np.abs(estimate - rgb).max() <= 0.5 / 255 + 1e-6


def test_shipped_restorer_leaves_a_clean_photo_and_repairs_a_scratch():
    """The shipped weights (weights/restorer.safetensors): a clean photo comes back nearly
    untouched, and a white scratch under its mask comes back close to the photo."""
    import cv2
    from skimage import data

    from oldphoto_cli.metrics import psnr

    photo = cv2.resize(data.astronaut(), (160, 160), interpolation=cv2.INTER_AREA)
    photo = photo.astype(np.float32) / 255
    pipeline = RestorePipeline(RestoreOptions(translator="restorer", face_enhancer="none",
                                              keep_tone=False))  # fmt: skip
    assert psnr(pipeline.restore(photo, np.zeros(photo.shape[:2], np.uint8)).image, photo) > 35
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.line(mask, (10, 20), (150, 140), 1, 2)
    damaged = photo.copy()
    damaged[mask > 0] = 1.0
    repaired = pipeline.restore(damaged, mask).image
    hole = mask > 0
    assert np.abs(repaired[hole] - photo[hole]).mean() < 0.2 * np.abs(damaged[hole] - photo[hole]).mean()


def test_restorer_ops_benchmark_ages_one_operation_at_a_time(tmp_path):
    """``benchmarks/restorer_ops.py``: ``none`` is the crop itself, every other operation
    changes it the same way for the same seed, and the report has one row per operation
    over the crops asked for."""
    from conftest import benchmark_script

    bench = benchmark_script("restorer_ops")
    clean = _photo(4, (64, 64))
    assert bench.age_one(clean, "none", 7) is clean
    for operation in ("grain", "blur", "resolution", "jpeg"):
        aged = bench.age_one(clean, operation, 7)
        assert np.abs(aged - clean).mean() > 1e-3
        assert np.array_equal(aged, bench.age_one(clean, operation, 7))
    assert bench.capped(clean, clean) == bench.CAP
    pairs = tmp_path / "pairs"
    for sub in ("degraded", "clean", "mask"):
        (pairs / sub).mkdir(parents=True)
    for i in range(3):
        photo = (_photo(20 + i, (64, 64)) * 255).astype(np.uint8)
        for sub in ("degraded", "clean"):
            Image.fromarray(photo).save(pairs / sub / f"p{i}.png")
        Image.fromarray(np.zeros((64, 64), np.uint8)).save(pairs / "mask" / f"p{i}.png")
    report = bench.main(["--pairs", str(pairs), "-n", "2", "--mixed", "3"])
    assert set(report["operations"]) == set(bench.OPERATIONS)
    assert all(row["crops"] == 2 for row in report["operations"].values())
    assert report["operations"]["none"]["best"] <= 0  # nothing beats an intact crop
    assert report["mixed"]["pairs"] == 3 and report["mixed"]["input"] == bench.CAP


def test_a_grown_restorer_computes_what_the_narrow_one_did_and_then_learns(tmp_path):
    from oldphoto_cli.archs.restorer_arch import grown_state

    narrow = random_restorer_export(tmp_path / "narrow.safetensors", TINY)
    tensors, _ = load_weights(narrow)
    small = Restorer(TINY)
    small.load_state_dict(tensors)
    wide = Restorer(RestorerConfig(width=12, blocks=(2, 1), noise_estimate="flat_blocks"))
    wide.load_state_dict(grown_state(tensors, TINY, wide))
    rng = torch.Generator().manual_seed(0)
    damaged, estimate = torch.rand(2, 3, 32, 32, generator=rng), torch.rand(2, 3, 32, 32, generator=rng)
    mask, sigma = (torch.rand(2, 1, 32, 32, generator=rng) > 0.9).float(), torch.tensor([2.0, 9.0])
    with torch.no_grad():
        assert torch.allclose(wide(damaged, estimate, mask, sigma), small(damaged, estimate, mask, sigma),
                              atol=1e-5)  # fmt: skip
    # the new channels are not dead: they get a gradient through the rows reading them
    out = wide(damaged, estimate, mask, sigma)
    out.square().mean().backward()
    assert wide.head.weight.grad[TINY.width :].abs().sum() > 0
    with pytest.raises(ValueError, match="shrink"):
        grown_state(wide.state_dict(), wide.cfg, Restorer(TINY))
    with pytest.raises(ValueError, match="levels"):
        grown_state(tensors, TINY, Restorer(RestorerConfig(width=8, blocks=(1, 1, 1))))


def test_a_restorer_grown_to_see_under_the_mask_starts_as_it_was_and_learns_to_look():
    from oldphoto_cli.archs.restorer_arch import grown_state

    torch.manual_seed(1)
    old = Restorer(TINY)
    with torch.no_grad():
        for p in old.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    seeing = Restorer(RestorerConfig(width=8, blocks=(1, 1), photo_under_mask=True))
    seeing.load_state_dict(grown_state(old.state_dict(), TINY, seeing))
    rng = torch.Generator().manual_seed(0)
    damaged, estimate, photo = (torch.rand(2, 3, 32, 32, generator=rng) for _ in range(3))
    mask, sigma = (torch.rand(2, 1, 32, 32, generator=rng) > 0.9).float(), torch.tensor([2.0, 9.0])
    out = seeing(damaged, estimate, mask, sigma, photo)
    with torch.no_grad():
        assert torch.allclose(out, old(damaged, estimate, mask, sigma), atol=1e-6)
    out.square().mean().backward()
    assert seeing.head.weight.grad[:, 4 * 8 :].abs().sum() > 0  # the photo's planes learn
    with pytest.raises(ValueError, match="photo"):
        seeing(damaged, estimate, mask, sigma)  # a seeing restorer needs the photo
    with pytest.raises(ValueError, match="photo under the mask"):
        grown_state(seeing.state_dict(), seeing.cfg, Restorer(TINY))


def test_the_stage_shows_a_seeing_restorer_the_photo_under_the_mask(tmp_path, monkeypatch):
    """The stage hands a restorer that sees under the mask the photo as it came: the
    masked stripe unfilled (its other inputs have it Telea-filled)."""
    cfg = RestorerConfig(width=8, blocks=(1, 1), photo_under_mask=True)
    model = Restorer(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    path = tmp_path / "w"
    path.mkdir()
    from oldphoto_cli.archs import restorer_arch
    from oldphoto_cli.weights import save_weights

    save_weights(path / "restorer.safetensors", model.state_dict(), restorer_arch.ARCH, cfg,
                 {"steps": 0}, {})  # fmt: skip
    seen = []
    forward = Restorer.forward

    def spy(self, damaged, estimate, mask, sigma, photo=None):
        seen.append(photo)
        return forward(self, damaged, estimate, mask, sigma, photo)

    rgb = _photo(3, (64, 64))
    mask = np.zeros((64, 64), np.uint8)
    mask[30:34, :] = 1
    pipe = RestorePipeline(RestoreOptions(device="cpu", translator="restorer",
                                          weights_dir=str(path), face_enhancer="none"))  # fmt: skip
    monkeypatch.setattr(Restorer, "forward", spy)
    pipe.restore(rgb, mask)
    assert seen and seen[0] is not None
    under = seen[0][0, :, 30:34, :].permute(1, 2, 0).numpy()
    assert np.allclose(under, rgb[30:34], atol=1e-6)  # the stripe as it came, not filled


def test_the_trainer_grows_from_an_export_and_records_it(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    for i in range(10):
        Image.fromarray((_photo(30 + i, (48, 48)) * 255).astype(np.uint8)).save(clean / f"p{i}.png")
    narrow = random_restorer_export(tmp_path / "narrow.safetensors", TINY)
    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=2, crop=32, steps=3,
                        log_every=1, val_every=0, checkpoint_every=100)  # fmt: skip
    trainer = RestorerTrainer(opts, str(clean), RestorerConfig(width=12, blocks=(1, 1)),
                              real_damage=False)  # fmt: skip
    trainer.grow_from(str(narrow))
    assert trainer.step == 0 and trainer.grown_from["config"]["width"] == TINY.width
    trainer.run()
    meta = read_metadata(tmp_path / "run" / "restorer.safetensors")
    assert meta["config"]["width"] == 12 and meta["training"]["grown_from"]["file"] == str(narrow)
    # a resumed run still says where it grew from
    opts.steps, opts.resume = 5, True
    RestorerTrainer(opts, str(clean), RestorerConfig(width=12, blocks=(1, 1)), real_damage=False).run()
    meta = read_metadata(tmp_path / "run" / "restorer.safetensors")
    assert meta["training"]["steps"] == 5 and meta["training"]["grown_from"]["file"] == str(narrow)


def test_train_restorer_refuses_a_detail_mix_it_cannot_draw(tmp_path):
    from click.testing import CliRunner

    from oldphoto_cli.cli import cli

    for mix, message in (("blur=0.3", "not a lost-detail group"), ("jpeg_strong", "GROUP=P"),
                         ("jpeg_strong=2", "probability")):  # fmt: skip
        result = CliRunner().invoke(cli, ["train", "restorer", "--clean", str(tmp_path),
                                          "--detail-mix", mix, "--out", str(tmp_path / "run")])  # fmt: skip
        assert result.exit_code == 2 and message in result.output
        assert not (tmp_path / "run").exists()


def test_a_run_resumed_from_an_export_keeps_its_noise_rule(tmp_path):
    """The noise estimate and NL-means level are config, not tensors: resuming an export
    with other ones would export weights that restore differently. It is refused."""
    clean = tmp_path / "clean"
    clean.mkdir()
    for i in range(10):
        Image.fromarray((_photo(40 + i, (48, 48)) * 255).astype(np.uint8)).save(clean / f"p{i}.png")
    cfg = RestorerConfig(width=8, blocks=(1, 1), noise_estimate="flat_blocks", nlm_min_sigma=2.5)
    (tmp_path / "run").mkdir()
    random_restorer_export(tmp_path / "run" / "restorer.safetensors", cfg)
    opts = TrainOptions(out_dir=str(tmp_path / "run"), batch_size=2, crop=32, steps=1, resume=True)
    with pytest.raises(RuntimeError, match="noise_estimate"):
        RestorerTrainer(opts, str(clean), TINY, real_damage=False)
    RestorerTrainer(opts, str(clean), cfg, real_damage=False)  # the same config resumes
