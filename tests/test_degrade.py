"""Tests of the degradation synthesis (oldphoto_cli.degrade) and ``oldphoto degrade``."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from oldphoto_cli import plugins
from oldphoto_cli.degrade import (
    DegradeConfig,
    degrade_image,
    get_degradations,
    make_contact_sheet,
    registry,
    rng_for,
)
from oldphoto_cli.degrade import structured as st
from oldphoto_cli.degrade import unstructured as un

cv2.setNumThreads(1)


@pytest.fixture(scope="module")
def img() -> np.ndarray:
    from skimage import data

    return cv2.resize(data.astronaut(), (96, 96), interpolation=cv2.INTER_AREA).astype(
        np.float32
    ) / np.float32(255)


def _hf_energy(x: np.ndarray) -> float:
    g = x.mean(axis=2) if x.ndim == 3 else x
    return float(np.abs(cv2.Laplacian(g, cv2.CV_32F)).mean())


STRUCTURED = [s for s in get_degradations().values() if s.structured]
UNSTRUCTURED = [s for s in get_degradations().values() if not s.structured]


def test_builtins_registered_with_groups():
    specs = get_degradations()
    for name in (
        "gaussian_blur",
        "gaussian_noise",
        "jpeg",
        "low_resolution",
        "grayscale",
        "scratches",
        "cracks",
        "dust",
        "stains",
        "worn_edges",
        "fold_lines",
    ):
        assert specs[name].plugin == "degradations"
    assert specs["scratches"].structured and not specs["jpeg"].structured
    assert specs["defocus_blur"].group == "blur"


def test_determinism(img):
    a = degrade_image(img, rng_for(7, 3))
    b = degrade_image(img, rng_for(7, 3))
    c = degrade_image(img, rng_for(7, 4))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert a.ops == b.ops
    assert not np.array_equal(a.image, c.image) or a.ops != c.ops
    json.dumps(a.ops)  # serialisable


def test_result_types_and_ranges(img):
    for i in range(12):
        res = degrade_image(img, rng_for(1, i))
        assert res.image.dtype == np.float32 and res.image.shape == img.shape
        assert res.image.min() >= 0.0 and res.image.max() <= 1.0
        assert res.mask.dtype == np.uint8 and res.mask.shape == img.shape[:2]
        assert set(np.unique(res.mask)) <= {0, 1}
        for op in res.ops:
            assert set(op) == {"name", "group", "params"}


@pytest.mark.parametrize("shape", [(37, 53, 3), (37, 53), (37, 53, 1), (5, 4, 3)])
def test_odd_sizes_and_grayscale(shape):
    rng = np.random.default_rng(0)
    x = rng.random(shape, dtype=np.float32)
    cfg = DegradeConfig(always=True)
    for i in range(3):
        res = degrade_image(x, rng_for(0, i), cfg)
        assert res.image.shape == x.shape and res.image.dtype == np.float32
        assert res.mask.shape == shape[:2]
        assert res.image.min() >= 0.0 and res.image.max() <= 1.0


def test_mask_exact_against_unstructured_run(img):
    """mask == 1 exactly where the full result differs from the structured-free run."""
    for i in range(10):
        full = degrade_image(img, rng_for(5, i), DegradeConfig(always=i % 2 == 0))
        base = degrade_image(img, rng_for(5, i), DegradeConfig(structured=False, always=i % 2 == 0))
        assert not base.mask.any()
        assert [
            o for o in full.ops if not registry.get_degradations()[o["name"]].structured
        ] == base.ops
        changed = np.abs(full.image - base.image).max(axis=2) > 0
        assert np.array_equal(changed, full.mask.astype(bool))
        # and the change survives 8-bit quantisation
        q = np.abs(un.to_uint8(full.image).astype(int) - un.to_uint8(base.image)).max(axis=2)
        assert np.array_equal(q > 0, full.mask.astype(bool))


def test_grayscale_mask_exact():
    x = np.random.default_rng(1).random((40, 50), dtype=np.float32)
    full = degrade_image(x, rng_for(2, 0), DegradeConfig(always=True))
    base = degrade_image(x, rng_for(2, 0), DegradeConfig(always=True, structured=False))
    assert np.array_equal(full.image != base.image, full.mask.astype(bool))


@pytest.mark.parametrize("spec", STRUCTURED, ids=lambda s: s.name)
def test_structured_op_mask_exact(spec, img):
    for i in range(4):
        out, mask, params = spec.fn(img, rng_for(3, i))
        json.dumps(params)
        assert out.shape == img.shape and mask.dtype == np.uint8
        changed = np.abs(out - img).max(axis=2)
        assert mask.any(), spec.name
        assert np.all(changed[mask == 0] == 0)
        assert np.all(changed[mask == 1] >= st.MIN_CHANGE)
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("spec", UNSTRUCTURED, ids=lambda s: s.name)
def test_unstructured_op_shapes(spec, img):
    out, params = spec.fn(img, rng_for(0, 1))
    json.dumps(params)
    assert out.shape == img.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    assert not np.shares_memory(out, img)


@pytest.mark.parametrize(
    "fn", [un.gaussian_blur, un.defocus_blur, un.motion_blur, un.low_resolution]
)
def test_blur_lowers_high_frequencies(fn, img):
    for i in range(3):
        out, _ = fn(img, rng_for(0, i))
        assert _hf_energy(out) < 0.8 * _hf_energy(img)


@pytest.mark.parametrize("fn", [un.gaussian_noise, un.poisson_noise, un.speckle_noise])
def test_noise_sigma_in_range(fn):
    grey = np.full((128, 128, 3), 0.5, np.float32)
    for i in range(4):
        out, params = fn(grey, rng_for(0, i))
        assert 5 <= params["sigma"] <= 50
        measured = float((out - grey).std()) * 255
        expected = params["sigma"] * (0.5 if fn is un.speckle_noise else 1.0)
        assert abs(measured - expected) < 0.1 * expected + 0.5


def test_salt_and_pepper():
    grey = np.full((100, 100, 3), 0.5, np.float32)
    out, params = un.salt_pepper_noise(grey, rng_for(0, 0))
    hit = (out != 0.5).any(axis=2).mean()
    assert 0.3 * params["amount"] < hit < 3 * params["amount"]
    assert set(np.unique(out)) <= {0.0, 0.5, 1.0}


def test_jpeg_is_real_encoder(img):
    for i in range(3):
        out, params = un.jpeg(img, rng_for(0, i))
        assert 40 <= params["quality"] <= 100
        ok, buf = cv2.imencode(
            ".jpg", un.to_uint8(img)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, params["quality"]]
        )
        ref = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(un.to_uint8(out), ref)


def test_grayscale_equal_channels(img):
    out, _ = un.grayscale(img, rng_for(0, 0))
    assert np.allclose(out[..., 0], out[..., 1]) and np.allclose(out[..., 1], out[..., 2])


def test_tone_ops_change_colour(img):
    sat = lambda x: float((x.max(axis=2) - x.min(axis=2)).mean())  # noqa: E731
    faded, _ = un.fade(img, rng_for(0, 0))
    assert sat(faded) < sat(img) and faded.min() > 0.02
    low, p = un.contrast_gamma(img, rng_for(0, 0))
    assert p["contrast"] < 1
    vig, _ = un.vignette(img, rng_for(0, 0))
    assert vig[0, 0].sum() < img[0, 0].sum()
    sep, p = un.tint(np.full((8, 8, 3), 0.6, np.float32), rng_for(0, 0))
    assert sep[0, 0, 0] > sep[0, 0, 2]  # warm


def test_grain_depends_on_luminance():
    dark = np.full((128, 128, 3), 0.02, np.float32)
    mid = np.full((128, 128, 3), 0.5, np.float32)
    d, _ = un.film_grain(dark, rng_for(0, 0))
    m, _ = un.film_grain(mid, rng_for(0, 0))
    assert (m - mid).std() > 2 * (d - dark).std()


def test_only_restricts(img):
    for i in range(5):
        res = degrade_image(img, rng_for(0, i), DegradeConfig(only=("blur", "jpeg"), always=True))
        assert {o["group"] for o in res.ops} == {"blur", "jpeg"}
        assert not res.mask.any()
    res = degrade_image(img, rng_for(0, 0), DegradeConfig(only=("scratches",), always=True))
    assert [o["name"] for o in res.ops] == ["scratches"] and res.mask.any()


class _Dup:
    @plugins.hookspecs.hookimpl
    def oldphoto_register_degradations(self, register):
        register("jpeg", lambda x, r: x, group="jpeg")


class _Inverter:
    @plugins.hookspecs.hookimpl
    def oldphoto_register_degradations(self, register):
        register("invert", lambda x, r: (1.0 - x, {"k": 1}), group="mytest", p=1.0)


@pytest.fixture
def third_party():
    registered = []

    def add(obj, name):
        plugins.load_plugins()
        plugins.pm.register(obj, name=name)
        registered.append(obj)
        registry.reset()

    yield add
    for obj in registered:
        plugins.pm.unregister(obj)
    registry.reset()


def test_duplicate_name_names_both_plugins(third_party):
    third_party(_Dup(), "dup-plugin")
    with pytest.raises(plugins.PluginError, match="degradations.*dup-plugin|dup-plugin.*degr"):
        get_degradations()


def test_third_party_degradation_used(third_party, img, tmp_path):
    third_party(_Inverter(), "inverter")
    spec = get_degradations()["invert"]
    assert spec.plugin == "inverter" and spec.group == "mytest"
    res = degrade_image(img, rng_for(0, 0), DegradeConfig(only=("invert",)))
    assert res.ops == [{"name": "invert", "group": "mytest", "params": {"k": 1}}]
    assert np.allclose(res.image, 1.0 - img)
    # the CLI picks it up too
    from oldphoto_cli.cli import cli

    src = tmp_path / "a.png"
    cv2.imwrite(str(src), (img * 255).astype(np.uint8))
    r = CliRunner().invoke(
        cli,
        ["degrade", str(src), str(tmp_path / "o"), "--only", "mytest", "--size", "32", "--quiet"],
    )
    assert r.exit_code == 0, r.output
    line = json.loads((tmp_path / "o" / "manifest.jsonl").read_text().splitlines()[0])
    assert line["ops"][0]["name"] == "invert"
    # ... and so do the listings: degrade --list (no arguments needed) and stages
    r = CliRunner().invoke(cli, ["degrade", "--list"])
    assert r.exit_code == 0, r.output
    listed = {line.split()[0]: line.split() for line in r.output.splitlines()[1:] if line}
    assert listed["invert"][1:] == ["mytest", "unstructured", "1.00", "inverter"]
    assert listed["scratches"][1:4] == ["scratch", "structured", "0.60"]
    assert listed["hairs"][3] == "0.00"  # a group the default mix leaves out
    assert set(get_degradations()) <= set(listed)
    rows = json.loads(CliRunner().invoke(cli, ["stages", "--json"]).output)["degrade"]
    assert {"name": "invert", "plugin": "inverter", "default": False, "group": "mytest",
            "structured": False, "description": "unstructured, group mytest"} in rows
    table = CliRunner().invoke(cli, ["stages"]).output
    assert {"invert,", "scratches,"} <= set(table.split("\ndegrade", 1)[1].split())


def test_contact_sheet(img):
    res = degrade_image(img, rng_for(0, 0))
    sheet = make_contact_sheet([(img, res.image, res.mask)] * 2, tile=64, gap=2)
    assert sheet.shape == (64 * 2 + 2, 64 * 3 + 4, 3) and sheet.dtype == np.uint8


def test_cli_degrade(tmp_path, img):
    from oldphoto_cli.cli import cli

    src = tmp_path / "src"
    src.mkdir()
    big = cv2.resize(img, (120, 90))
    cv2.imwrite(str(src / "one.png"), (big * 255).astype(np.uint8))
    cv2.imwrite(str(src / "two.jpg"), (big[::-1] * 255).astype(np.uint8))
    (src / "bad.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    args = [
        "degrade",
        str(src),
        str(out),
        "--count",
        "5",
        "--size",
        "48",
        "--seed",
        "3",
        "--preview",
        str(tmp_path / "sheet.png"),
    ]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert r.output.count("bad.jpg") == 1 and "cannot decode" in r.output
    names = sorted(p.name for p in (out / "degraded").iterdir())
    assert len(names) == 5 and names[0].startswith("000000_")
    for sub in ("clean", "mask"):
        assert sorted(p.name for p in (out / sub).iterdir()) == names
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [x["name"] for x in lines] == names
    assert all(x["crop"]["size"] == 48 for x in lines)
    clean = cv2.imread(str(out / "clean" / names[0]))
    assert clean.shape == (48, 48, 3)
    assert cv2.imread(str(tmp_path / "sheet.png")) is not None
    # same seed -> same files; --no-structured -> empty masks
    out2 = tmp_path / "out2"
    assert CliRunner().invoke(cli, args[:2] + [str(out2)] + args[3:9]).exit_code == 0
    for n in names:
        assert (out / "degraded" / n).read_bytes() == (out2 / "degraded" / n).read_bytes()
    out3 = tmp_path / "out3"
    r = CliRunner().invoke(
        cli,
        [
            "degrade",
            str(src / "one.png"),
            str(out3),
            "--count",
            "2",
            "--no-structured",
            "--size",
            "32",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    for p in (out3 / "mask").iterdir():
        assert cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).max() == 0


def test_cli_size_0_keeps_the_whole_image(tmp_path):
    from oldphoto_cli.cli import cli

    src = tmp_path / "a.png"
    cv2.imwrite(str(src), np.full((40, 60, 3), 128, np.uint8))
    r = CliRunner().invoke(cli, ["degrade", str(src), str(tmp_path / "o"), "--size", "0", "-q"])
    assert r.exit_code == 0, r.output
    assert cv2.imread(str(next((tmp_path / "o" / "degraded").iterdir()))).shape == (40, 60, 3)
    r = CliRunner().invoke(cli, ["degrade", str(src), str(tmp_path / "p"), "--size", "4"])
    assert r.exit_code == 2 and "0 keeps whole images" in r.output


def test_cli_unknown_only(tmp_path, img):
    from oldphoto_cli.cli import cli

    src = tmp_path / "a.png"
    cv2.imwrite(str(src), (img * 255).astype(np.uint8))
    r = CliRunner().invoke(cli, ["degrade", str(src), str(tmp_path / "o"), "--only", "nope"])
    assert r.exit_code != 0 and "nope" in r.output


def test_degradations_registered_by_name_import_on_first_call():
    import numpy as np

    from oldphoto_cli.contract import PluginError
    from oldphoto_cli.degrade.registry import DegradationSpec, LazyFunction

    spec = DegradationSpec.from_registration("inv", "numpy:negative", plugin="p")
    assert isinstance(spec.fn, LazyFunction) and spec.fn._fn is None
    assert np.array_equal(spec.fn(np.ones(2)), -np.ones(2))
    assert spec.fn.resolve() is np.negative
    with pytest.raises(PluginError, match="module:function"):
        DegradationSpec.from_registration("bad", "numpy.negative", plugin="p")


# --- recoverable ageing (the restorer's mix) ---------------------------------------------


def test_soft_blur_kernel_is_normalised_and_oriented():
    k = un._rotated_gaussian(2.0, 0.5, 0.0, 1.0)
    assert abs(float(k.sum()) - 1) < 1e-5
    assert k[k.shape[0] // 2].sum() > 2 * k[:, k.shape[1] // 2].sum()  # wide along x
    turned = un._rotated_gaussian(2.0, 0.5, np.pi / 2, 1.0)
    assert np.allclose(turned, k.T, atol=1e-6)
    plateau = un._rotated_gaussian(1.5, 1.5, 0.0, 2.5)
    gauss = un._rotated_gaussian(1.5, 1.5, 0.0, 1.0)
    centre = gauss.shape[0] // 2
    assert plateau[centre, centre + 1] / plateau[centre, centre] > (
        gauss[centre, centre + 1] / gauss[centre, centre])  # flatter top


def test_recoverable_ops_are_milder_than_the_default_ones(img):
    """Each recoverable op keeps more detail than its default counterpart on average."""
    kept = lambda fn: np.mean([_hf_energy(fn(img, rng_for(3, i))[0]) for i in range(8)])  # noqa: E731
    assert kept(un.soft_blur) > kept(un.gaussian_blur)
    assert kept(un.resample) > kept(un.low_resolution)
    for i in range(4):
        out, params = un.soft_blur(img, rng_for(3, i))
        assert _hf_energy(out) < _hf_energy(img)
        assert 0.2 <= min(params["sigma_x"], params["sigma_y"]) <= 2.2
        assert abs(float(out.mean() - img.mean())) < 0.01  # blur keeps the tone


def test_resample_loses_detail_and_keeps_size(img):
    for i in range(4):
        out, params = un.resample(img, rng_for(5, i))
        assert 1.2 <= params["factor"] <= 3.0 and params["up"] != "nearest"
        assert out.shape == img.shape and _hf_energy(out) < _hf_energy(img)


def test_jpeg_strong_subsamples_chroma():
    """A red/blue edge: 4:2:0 JPEG bleeds chroma across it even at quality 95."""
    edge = np.zeros((64, 64, 3), np.float32)
    edge[:, :33] = (1, 0, 0)
    edge[:, 33:] = (0, 0, 1)
    qualities = set()
    for i in range(6):
        out, params = un.jpeg_strong(edge, rng_for(7, i))
        qualities.add(params["quality"])
        assert 15 <= params["quality"] <= 95
        assert out[:, 31:35, 2].max() > 0.15  # blue in the red half, next to the edge
    assert len(qualities) > 1


def test_strong_jpeg_is_applied_last():
    from oldphoto_cli.data import recoverable_config

    cfg = recoverable_config(structured=False)
    seen = 0
    for i in range(30):
        ops = [op["group"] for op in degrade_image(np.full((32, 32, 3), 0.5, np.float32),
                                                   rng_for(1, i), cfg).ops]  # fmt: skip
        assert "blur" not in ops and "resize" not in ops and "jpeg" not in ops
        if "jpeg_strong" in ops:
            seen += 1
            assert ops[-1] == "jpeg_strong"
    assert seen > 5


def test_recoverable_groups_are_off_by_default(img):
    cfg = DegradeConfig()
    assert all(cfg.group_p[g] == 0 for g in ("soft_blur", "resample", "jpeg_strong"))
    for i in range(20):
        ops = degrade_image(img, rng_for(2, i)).ops
        assert not {op["group"] for op in ops} & {"soft_blur", "resample", "jpeg_strong"}
