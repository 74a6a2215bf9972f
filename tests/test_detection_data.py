"""Detector data: the wider training damage, thin-line hard negatives, the independent
validation renderer (oldphoto_cli/damage2.py), the detector benchmark's width measure and
the hand-traced real masks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import benchmark_script
from importgraph import import_graph, reachable

from oldphoto_cli import damage2
from oldphoto_cli.data import DataConfig, SyntheticPairs, draw_dot_prints, draw_thin_content
from oldphoto_cli.degrade import (
    DegradeConfig,
    degrade_image,
    get_degradations,
    rng_for,
    wide_config,
)
from oldphoto_cli.degrade import structured as st
from oldphoto_cli.degrade.compose import WIDE_GROUP_P

ROOT = Path(__file__).resolve().parents[1]
NEW_OPS = ("scratches_varied", "film_scratches", "cracks_varied", "hairs", "flaking")
REAL_OPS = ("film_overlays", "print_cracks", "tears")  # degrade.real_config
SPARSE_OPS = ("lone_crack",)  # only in the detector's sparse-damage crops (data.sparse_config)


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    from skimage import data

    return cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA).astype(
        np.float32
    ) / np.float32(255)


def test_wider_groups_are_off_by_default_and_take_no_draw(img):
    """The default stream (and so the validation pairs) is what it was before the new
    ops existed: leaving them out by name gives bit-identical results."""
    specs = get_degradations()
    recoverable = ("soft_blur", "resample", "jpeg_strong")  # the restorer's unstructured ops
    off = NEW_OPS + REAL_OPS + SPARSE_OPS + recoverable
    for name in off:
        assert specs[name].structured == (name not in recoverable)
        assert DegradeConfig().group_p[specs[name].group] == 0
    old = tuple(n for n in specs if n not in off)
    for i in range(12):
        for always in (False, True):
            a = degrade_image(img, rng_for(4, i), DegradeConfig(always=always))
            b = degrade_image(img, rng_for(4, i), DegradeConfig(always=always, only=old))
            assert a.ops == b.ops and np.array_equal(a.image, b.image)
            assert not {o["name"] for o in a.ops} & set(off)


def test_wide_config_draws_the_new_ops_with_exact_masks(img):
    seen = set()
    for i in range(40):
        cfg = wide_config(jpeg_after=0.0)
        full = degrade_image(img, rng_for(8, i), cfg)
        base = degrade_image(img, rng_for(8, i), wide_config(structured=False, jpeg_after=0.0))
        seen |= {o["name"] for o in full.ops}
        changed = np.abs(full.image - base.image).max(axis=2) > 0
        assert np.array_equal(changed, full.mask.astype(bool))
    assert set(NEW_OPS) <= seen
    assert set(WIDE_GROUP_P) <= set(wide_config().group_p)


def test_new_ops_can_be_previewed_by_name(img):
    res = degrade_image(img, rng_for(1, 0), DegradeConfig(only=("scratch_varied",), always=True))
    assert [o["name"] for o in res.ops] == ["scratches_varied"] and res.mask.any()


def test_jpeg_after_damage_keeps_the_damage_mask(img):
    for i in range(6):
        plain = degrade_image(img, rng_for(2, i), wide_config(jpeg_after=0.0))
        jpeg = degrade_image(img, rng_for(2, i), wide_config(jpeg_after=1.0))
        assert jpeg.ops[-1]["name"] == "jpeg_after" and 30 <= jpeg.ops[-1]["params"]["quality"] <= 90
        assert np.array_equal(plain.mask, jpeg.mask)
        assert not np.array_equal(plain.image, jpeg.image)  # compressed everywhere


def _widths(mask: np.ndarray) -> float:
    """Mean stroke width of a mask: its area over its skeleton's length."""
    from skimage.morphology import skeletonize

    mask = np.asarray(mask) > 0
    return float(mask.sum()) / max(1, int(skeletonize(mask).sum()))


def test_varied_scratches_span_thin_to_wide_and_soft_and_faint(img):
    widths, mean_change = [], []
    for i in range(24):
        out, mask, params = st.scratches_varied(img, rng_for(6, i))
        assert mask.any()
        widths.append(_widths(mask))
        mean_change.append(float(np.abs(out - img).max(axis=2)[mask > 0].mean()))
    assert min(widths) <= 2.5 and max(widths) >= 4.5  # 1-6 px drawn (anti-aliased: +1)
    assert min(mean_change) < 0.2 < max(mean_change)  # faint ones and strong ones


def test_thin_content_is_drawn_as_content_never_as_damage(img):
    u8 = (img * 255).astype(np.uint8)
    a = draw_thin_content(u8, np.random.default_rng(3))
    b = draw_thin_content(u8, np.random.default_rng(3))
    assert np.array_equal(a, b) and not np.array_equal(a, u8)
    assert np.array_equal(u8, (img * 255).astype(np.uint8))  # input untouched
    changed = np.any(a != u8, axis=2)
    assert 0.002 < changed.mean() < 0.9
    paths = [Path("unused.png")]
    cfg = DataConfig(crop=48, seed=1, structured=False, thin_content=1.0)
    pairs = SyntheticPairs(paths, cfg)
    pairs.images._images[0] = u8
    plain = SyntheticPairs(paths, DataConfig(crop=48, seed=1, structured=False))
    plain.images._images[0] = u8
    drawn = 0
    for index in range(6):
        item, ref = pairs[index], plain[index]
        assert not item["mask"].any()  # labelled clean: a hard negative
        drawn += int(not np.array_equal(item["clean"].numpy(), ref["clean"].numpy()))
    assert drawn >= 4


def test_dot_prints_are_a_regular_lattice_labelled_clean(img):
    u8 = (img * 255).astype(np.uint8)
    a = draw_dot_prints(u8, np.random.default_rng(5))
    assert np.array_equal(a, draw_dot_prints(u8, np.random.default_rng(5)))
    assert np.array_equal(u8, (img * 255).astype(np.uint8))  # input untouched
    assert not np.array_equal(a, u8)
    # Dots, not a flat patch: many separate small specks (a top-hat finds what is smaller
    # than 9 px against its surroundings, light or dark).
    flat = np.zeros((128, 128, 3), np.uint8) + 128
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    for seed in range(6):
        grey = draw_dot_prints(flat, np.random.default_rng(seed)).mean(axis=2).astype(np.uint8)
        hats = (cv2.morphologyEx(grey, op, kernel) for op in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT))
        found = [cv2.connectedComponentsWithStats((hat > 25).astype(np.uint8)) for hat in hats]
        count, _, stats, _ = max(found, key=lambda f: f[0])  # the dots' polarity
        assert count - 1 >= 30, seed
        assert np.median(stats[1:, cv2.CC_STAT_AREA]) <= 50, seed  # radius <= 3 px
    pairs = SyntheticPairs([Path("unused.png")], DataConfig(crop=48, seed=1, structured=False,
                                                            dot_prints=1.0))  # fmt: skip
    pairs.images._images[0] = u8
    assert not any(pairs[i]["mask"].any() for i in range(4))  # labelled clean


def test_wide_damage_data_config_uses_the_wide_mix(img):
    u8 = (img * 255).astype(np.uint8)
    pairs = SyntheticPairs([Path("unused.png")], DataConfig(crop=64, seed=2, wide_damage=True))
    pairs.images._images[0] = u8
    masks = [pairs[i]["mask"] for i in range(8)]
    assert any(m.any() for m in masks)


def test_detector_spectrum_intact_crops_are_untouched_with_empty_masks(img):
    """A detector's intact samples carry the true, empty mask (no simulated false alarms,
    which are the mapping's lesson) and are the crop itself."""
    u8 = (img * 255).astype(np.uint8)
    cfg = DataConfig(crop=64, seed=3, clean_share=1.0, false_alarm_masks=False)
    pairs = SyntheticPairs([Path("unused.png")], cfg)
    pairs.images._images[0] = u8
    for i in range(8):
        item = pairs[i]
        assert not item["mask"].any()
        assert np.array_equal(item["degraded"].numpy(), item["clean"].numpy())
    mapping = SyntheticPairs([Path("unused.png")], DataConfig(crop=64, seed=3, clean_share=1.0))
    mapping.images._images[0] = u8
    assert any(mapping[i]["mask"].any() for i in range(8))  # the mapping's default keeps them


def test_mild_share_with_wide_damage_draws_the_wide_defects(img, monkeypatch):
    """Mildly degraded bases still get the wide defect mix when --wide-damage is on."""
    import oldphoto_cli.data as data_mod
    import oldphoto_cli.degrade as degrade_mod

    seen = []
    real_degrade = degrade_mod.degrade_image

    def spy(image, rng, config=None, **kw):
        seen.append(config)
        return real_degrade(image, rng, config, **kw)

    monkeypatch.setattr(degrade_mod, "degrade_image", spy)
    u8 = (img * 255).astype(np.uint8)
    cfg = DataConfig(crop=64, seed=4, mild_share=1.0, wide_damage=True)
    pairs = SyntheticPairs([Path("unused.png")], cfg)
    pairs.images._images[0] = u8
    for i in range(3):
        pairs[i]
    assert len(seen) == 3
    assert all(c.group_p[k] == p for c in seen for k, p in WIDE_GROUP_P.items())
    assert all(c.group_p["blur"] == data_mod.MILD_GROUP_P["blur"] for c in seen)


def test_training_never_reaches_the_validation_renderer():
    """damage2 validates the detector; training on it would make its figures meaningless.
    No module that training, its data or the damage it draws imports (at any level, through
    any other module) is damage2; and the plugin packages do not import it either."""
    _, graph = import_graph()
    training = [m for m in graph if m.startswith(("oldphoto_cli.train", "oldphoto_cli.degrade",
                                                  "oldphoto_cli.builtin_plugins"))]  # fmt: skip
    assert "oldphoto_cli.train.detector" in training and "oldphoto_cli.data" in graph
    reached = reachable(graph, [*training, "oldphoto_cli.data", "oldphoto_cli.cli_train"])
    assert "oldphoto_cli.damage2" in graph and "oldphoto_cli.data" in reached
    for renderer in ("oldphoto_cli.damage2", "oldphoto_cli.aging2"):
        assert renderer in graph and renderer not in reached
    for path in (ROOT / "plugins").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "damage2" not in text and "aging2" not in text, path


def test_damage2_masks_are_exact_and_every_kind_draws():
    from skimage import data

    clean = cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    for kind in damage2.KINDS:
        d = damage2.damage(clean, np.random.default_rng(5), only=(kind,))
        assert d.kinds == [kind] and d.mask.any(), kind
        diff = np.abs(d.image.astype(int) - d.base.astype(int)).max(axis=2)
        assert np.array_equal(diff >= damage2.MIN_LEVELS, d.mask > 0)
        assert np.all(diff[d.mask == 0] == 0)  # no unmarked change at all
    again = damage2.damage(clean, np.random.default_rng(9))
    assert np.array_equal(again.image, damage2.damage(clean, np.random.default_rng(9)).image)


def test_damage2_pairs_of_one_kind_hold_that_kind_only(tmp_path):
    """eval_detector --per-kind: a set drawn with ``only`` has that kind and nothing else,
    and leaving ``only`` out still draws the fixed validation mix."""
    from skimage import data

    src = tmp_path / "src.png"
    cv2.imwrite(str(src), cv2.resize(data.astronaut(), (160, 160)))

    def drawn(only):
        rng = np.random.default_rng([7, 0, 0])
        rgb = cv2.cvtColor(cv2.imread(str(src)), cv2.COLOR_BGR2RGB)
        return damage2.damage(damage2._crop(rgb, 96, rng), rng, only=only)

    for only, sub in ((("tear",), "tear"), (None, "mix")):
        names = damage2.make_pairs([src], tmp_path / sub, per_image=1, size=96, seed=7, only=only)
        mask = cv2.imread(str(tmp_path / sub / "mask" / names[0]), cv2.IMREAD_GRAYSCALE) > 0
        expected = drawn(only)
        assert np.array_equal(mask, expected.mask > 0), sub
    assert drawn(("tear",)).kinds == ["tear"]
    assert drawn(None).kinds != ["tear"]


def test_damage2_scratches_vary_in_width():
    widths = [_widths(damage2._scratch_alpha(np.random.default_rng(i), 96, 96) > 0.5)
              for i in range(30)]  # fmt: skip
    assert min(widths) <= 2.0 and max(widths) >= 4.0


def test_stroke_width_measure():
    stroke_width = benchmark_script("eval_detector").stroke_width
    mask = np.zeros((60, 80), np.uint8)
    mask[20:23, 10:70] = 1  # a 3 px wide, 60 px long stroke
    area, length = stroke_width(mask)
    assert area == 180 and 2.7 < area / length < 3.3
    assert stroke_width(np.zeros((5, 5), np.uint8)) == (0.0, 0.0)


def test_traced_masks_render_zones_lines_areas_and_erase():
    render = benchmark_script("trace_real_masks").render
    rgb = np.full((80, 100, 3), 0.5, np.float32)
    rgb[10, 10] = rgb[12, 60] = 1.0  # two white specks on a plain ground
    rgb[40:43, 5:95] = 0.2  # a 3 px dark scratch across
    rgb[60:75, 20:40] = 0.0  # a large dark object (content, too big for a zone)
    spec = {
        "zones": [[[0, 0], [100, 0], [100, 80], [0, 80]]],
        "erase": [[[55, 5], [70, 5], [70, 20], [55, 20]]],
        "lines": [{"points": [[0, 41], [99, 41]], "width": 9}],
        "areas": [[[80, 60], [90, 60], [90, 70], [80, 70]]],
    }
    mask = render(rgb, spec)
    assert mask[10, 10] == 1 and mask[12, 60] == 0  # zone speck kept; the erased one not
    assert mask[40:43, 20:80].all() and not mask[36:39, 20:80].any()  # the scratch's width
    assert not mask[62:73, 22:38].any()  # the large object is no candidate
    assert mask[60:70, 80:90].all()
    committed = sorted((ROOT / "benchmarks" / "real_masks").glob("*.png"))
    assert len(committed) >= 10
    spec_file = (ROOT / "benchmarks" / "real_masks" / "strokes.json").read_text()
    assert all(f'"{p.stem}"' in spec_file for p in committed)


def _record_ops(monkeypatch) -> list[list[dict]]:
    """The ``ops`` of every ``degrade_image`` call from here on, in call order (a spy
    around the real function)."""
    import oldphoto_cli.degrade as degrade_mod

    recorded, real_degrade = [], degrade_mod.degrade_image

    def spy(image, rng, config=None):
        result = real_degrade(image, rng, config)
        recorded.append(result.ops)
        return result

    monkeypatch.setattr(degrade_mod, "degrade_image", spy)
    return recorded


def _pairs_on(img: np.ndarray, cfg: DataConfig) -> SyntheticPairs:
    """Synthetic pairs whose one source photo is ``img`` (float HxWx3 in [0, 1])."""
    pairs = SyntheticPairs([Path("unused.png")], cfg)
    pairs.images._images[0] = (img * 255).astype(np.uint8)
    return pairs


def _changed_without_mask(pairs: SyntheticPairs, count: int) -> int:
    """How many of the first ``count`` items differ from their clean crop; every one of
    them must come with an empty mask."""
    changed = 0
    for i in range(count):
        item = pairs[i]
        assert float(item["mask"].sum()) == 0
        changed += int(not torch.equal(item["degraded"], item["clean"]))
    return changed


def test_recoverable_share_draws_the_recoverable_mix_with_real_damage(img, monkeypatch):
    """The restorer's spectrum: clean, then mild, then recoverable crops, in that order of
    the one uniform draw; recoverable crops age with soft blur / resampling / strong JPEG
    and still get the real damage groups."""
    from oldphoto_cli.data import RECOVERABLE_GROUP_P

    recorded = _record_ops(monkeypatch)
    cfg = DataConfig(crop=64, seed=4, clean_share=0.2, mild_share=0.2, recoverable_share=0.6,
                     real_damage=True)  # fmt: skip
    pairs = _pairs_on(img, cfg)
    for i in range(40):
        pairs[i]
    drawn = [{op["group"] for op in ops} for ops in recorded]
    recoverable = [g for g in drawn if g & {"soft_blur", "resample", "jpeg_strong"}]
    assert len(recoverable) >= 10 and len(drawn) < 40  # some crops were left intact
    assert not any(g & {"blur", "resize", "jpeg"} for g in recoverable)
    assert any(g & {"overlay", "crack_print", "scratch", "dust"} for g in recoverable)
    assert RECOVERABLE_GROUP_P["soft_blur"] > 0 and RECOVERABLE_GROUP_P["blur"] == 0


def test_detail_share_crops_lose_detail_and_nothing_else(img, monkeypatch):
    """Detail crops (after clean, mild and recoverable in the one uniform draw) get only
    soft blur, resampling and strong JPEG: no mask, no noise, no tone change, and their
    target is the clean crop itself."""
    recorded = _record_ops(monkeypatch)
    cfg = DataConfig(crop=64, seed=5, clean_share=0.25, detail_share=0.75, real_damage=True,
                     false_alarm_masks=False)
    pairs = _pairs_on(img, cfg)
    changed = _changed_without_mask(pairs, 40)
    drawn = [{op["group"] for op in ops} for ops in recorded]
    assert 15 <= len(drawn) < 40 and changed >= 15  # clean crops never reach degrade
    assert all(g <= {"soft_blur", "resample", "jpeg_strong"} for g in drawn)
    assert sum(bool(g) for g in drawn) >= 0.8 * len(drawn)


def test_detail_groups_set_which_losses_of_detail_fire(img, monkeypatch):
    """``detail_groups`` overrides the lost-detail rates: JPEG alone on every detail crop,
    and anything but the three lost-detail groups is refused."""
    from oldphoto_cli.data import check_detail_groups

    recorded = _record_ops(monkeypatch)
    cfg = DataConfig(crop=64, seed=5, detail_share=1.0, real_damage=True, false_alarm_masks=False,
                     detail_groups={"soft_blur": 0.0, "resample": 0.0, "jpeg_strong": 1.0})  # fmt: skip
    pairs = _pairs_on(img, cfg)
    for i in range(12):
        pairs[i]
    assert [{op["group"] for op in ops} for ops in recorded] == [{"jpeg_strong"}] * 12
    with pytest.raises(ValueError, match="not a lost-detail group"):
        check_detail_groups({"grain": 0.5})
    with pytest.raises(ValueError, match="probability"):
        check_detail_groups({"jpeg_strong": 1.5})
    with pytest.raises(ValueError, match="not a lost-detail group"):  # checked with the config
        DataConfig(detail_share=1.0, detail_groups={"noise": 0.2})


def test_aged_intact_crops_are_aged_but_carry_no_defect(img, monkeypatch):
    """The detector's hard negatives: after the clean crops, aged crops (the mild mix's
    unstructured ops) whose mask is empty, whatever the damage mix."""
    from oldphoto_cli.degrade import registry

    recorded = _record_ops(monkeypatch)
    cfg = DataConfig(crop=64, seed=6, clean_share=0.2, aged_intact_share=0.8, real_damage=True,
                     false_alarm_masks=False)  # fmt: skip
    pairs = _pairs_on(img, cfg)
    changed = _changed_without_mask(pairs, 30)
    specs = registry.get_degradations()
    drawn = [[op["name"] for op in ops] for ops in recorded]
    assert 15 <= len(drawn) < 30 and changed >= 15
    assert not any(specs[name].structured for ops in drawn for name in ops if name in specs)


def test_damage_only_crops_change_nothing_but_the_damage(img):
    """Scratches on a sharp print: outside the mask the degraded crop is the clean one."""
    cfg = DataConfig(crop=64, seed=9, damage_only_share=1.0, real_damage=True)
    pairs = _pairs_on(img, cfg)
    damaged = 0
    for i in range(12):
        item = pairs[i]
        keep = item["mask"][0] == 0
        assert torch.equal(item["degraded"][:, keep], item["clean"][:, keep])
        damaged += int((~keep).any())
    assert damaged >= 6
