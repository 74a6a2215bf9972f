"""``oldphoto restore`` / ``detect`` through click's CliRunner, with a fake pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import exif_rotated_jpeg, gradient, save_pil, truncated_jpeg
from PIL import Image

from oldphoto_cli.cli import cli


@pytest.fixture
def run(fake_pipeline):
    def invoke(*args, input=None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input)

    return invoke


def json_lines(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_restore_folder_json_and_exit_0(run, photo_dir, tmp_path):
    out = tmp_path / "out"
    result = run("restore", photo_dir, out, "--json")
    assert result.exit_code == 0, result.output
    records = json_lines(result)
    assert sorted(r["status"] for r in records) == ["ok", "ok"]
    for record in records:
        assert {"input", "output", "status", "error", "seconds", "stages", "mask"} <= set(record)
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    assert "notes.txt" in result.stderr and ".hidden.png" in result.stderr
    assert "notes.txt" not in result.stdout


def test_restore_skips_existing_unless_overwrite(run, photo_dir, tmp_path):
    out = tmp_path / "out"
    assert run("restore", photo_dir, out).exit_code == 0
    again = run("restore", photo_dir, out, "--json")
    assert [r["status"] for r in json_lines(again)] == ["skipped", "skipped"]
    forced = run("restore", photo_dir, out, "--json", "--overwrite")
    assert [r["status"] for r in json_lines(forced)] == ["ok", "ok"]


def test_bad_files_fail_individually_exit_1(run, tmp_path):
    src = tmp_path / "in"
    save_pil(src / "good.png", Image.fromarray(gradient()))
    truncated_jpeg(src / "trunc.jpg")
    (src / "zero.png").write_bytes(b"")
    (src / "text.jpg").write_text("I am not a JPEG")
    save_pil(src / "big.png", Image.new("L", (1500, 1000)))
    result = run("restore", src, tmp_path / "out", "--json", "--max-megapixels", "1")
    assert result.exit_code == 1
    status = {r["input"].rsplit("/", 1)[1]: r for r in json_lines(result)}
    assert status["good.png"]["status"] == "ok"
    for name in ("trunc.jpg", "zero.png", "text.jpg", "big.png"):
        assert status[name]["status"] == "error" and status[name]["error"]
        assert sum(name in line for line in result.stderr.splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]


@pytest.mark.parametrize(
    "args",
    [
        ["restore", "only-one-arg"],
        ["restore", "missing.png", "out"],
        ["restore", "IN", "out", "--shard", "3/2"],
        ["restore", "IN", "out", "--ext", "heic"],
        ["restore", "IN", "out", "--device", "tpu"],
        ["restore", "IN", "out", "--strength", "2"],
        ["restore", "IN", "out", "--translator", "no-such-stage"],
        ["detect", "IN", "out", "--threshold", "1.5"],
    ],
)
def test_usage_errors_exit_2(run, photo_dir, tmp_path, args, isolated_plugins):
    args = [str(photo_dir) if a == "IN" else a for a in args]
    result = run(*args)
    assert result.exit_code == 2, result.output


def test_output_equal_to_input_refused(run, photo_dir):
    result = run("restore", photo_dir, photo_dir)
    assert result.exit_code == 2 and "refusing" in result.output
    assert run("restore", photo_dir / "a.png", photo_dir / "a.png").exit_code == 2
    ok = run("restore", photo_dir, photo_dir, "--suffix", "_restored")
    assert ok.exit_code == 0 and (photo_dir / "a_restored.png").exists()


def test_modes_preserved_end_to_end(run, tmp_path):
    import cv2

    src = tmp_path / "in"
    save_pil(src / "gray.jpg", Image.fromarray(gradient()[..., 0]))
    rgba = np.dstack([gradient(), np.full((24, 32), 128, np.uint8)])
    save_pil(src / "rgba.png", Image.fromarray(rgba, "RGBA"))
    cv2.imwrite(str(src / "deep.tif"), np.full((10, 12, 3), 40000, np.uint16))
    exif_rotated_jpeg(src / "rot.jpg")
    save_pil(src / "cmyk.jpg", Image.fromarray(gradient()).convert("CMYK"))
    save_pil(src / "pal.png", Image.fromarray(gradient()).convert("P", palette=Image.ADAPTIVE))
    out = tmp_path / "out"
    result = run("restore", src, out)
    assert result.exit_code == 0, result.output
    assert Image.open(out / "gray.jpg").mode == "L"
    assert Image.open(out / "rgba.png").mode == "RGBA"
    assert cv2.imread(str(out / "deep.tif"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert Image.open(out / "rot.jpg").size == (24, 32)
    assert Image.open(out / "cmyk.jpg").mode == "RGB"
    assert Image.open(out / "pal.png").mode == "RGB"
    for path in out.iterdir():  # every output decodes
        with Image.open(path) as image:
            image.load()


def test_ext_and_suffix(run, photo_dir, tmp_path):
    result = run("restore", photo_dir, tmp_path / "o", "--ext", "webp", "--suffix", "_r")
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a_r.webp", "b_r.webp"]


def test_files_from_lists(run, photo_dir, tmp_path):
    paths = [photo_dir / "a.png", photo_dir / "b.jpg"]
    lines = run("restore", "--files-from", "-", tmp_path / "o1", "--json",
                input="\n".join(map(str, paths)))  # fmt: skip
    assert lines.exit_code == 0 and len(json_lines(lines)) == 2
    nul = run("restore", "--files-from", "-", tmp_path / "o2", "-0",
              input="\0".join(map(str, paths)) + "\0")  # fmt: skip
    assert nul.exit_code == 0 and len(list((tmp_path / "o2").iterdir())) == 2
    missing = run("restore", "--files-from", "-", tmp_path / "o3",
                  input=f"{paths[0]}\n/nonexistent/x.png\n")  # fmt: skip
    assert missing.exit_code == 1 and "no such file" in missing.stderr
    listing = tmp_path / "list.txt"
    listing.write_text(f"{paths[1]}\n")
    from_file = run("restore", "--files-from", listing, photo_dir / "a.png", tmp_path / "o4")
    assert from_file.exit_code == 0 and len(list((tmp_path / "o4").iterdir())) == 2


@pytest.mark.parametrize("args", [["-", "OUT"], ["-", "OUT", "-0"], ["-", "-"]])
def test_old_stdin_spelling_points_to_files_from(run, photo_dir, tmp_path, args):
    args = [tmp_path / "o" if a == "OUT" else a for a in args]
    for command in ("restore", "detect"):
        result = run(command, *args, input=f"{photo_dir / 'a.png'}\n")
        assert result.exit_code == 2, result.output
        assert "--files-from -" in result.output
        assert not (tmp_path / "o").exists()


def test_recursive_mirrors_tree(run, tmp_path):
    src = tmp_path / "in"
    for rel in ["1.png", "2000s/a.jpg", "2000s/x/b.png"]:
        save_pil(src / rel, Image.fromarray(gradient(8, 8)))
    result = run("restore", src, tmp_path / "out", "--recursive")
    assert result.exit_code == 0
    files = sorted(
        p.relative_to(tmp_path / "out").as_posix()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    )
    assert files == ["1.png", "2000s/a.jpg", "2000s/x/b.png"]


def test_shards_cover_every_image_once(run, tmp_path):
    src = tmp_path / "in"
    for i in range(7):
        save_pil(src / f"{i}.png", Image.fromarray(gradient(4, 4)))
    seen = []
    for k in (1, 2, 3):
        result = run("restore", src, tmp_path / "out", "--shard", f"{k}/3", "--json")
        assert result.exit_code == 0
        seen += [r["input"] for r in json_lines(result) if r["status"] == "ok"]
    assert len(seen) == 7 and len(set(seen)) == 7


def test_restore_options_reach_pipeline(run, photo_dir, tmp_path, test_plugin, fake_pipeline,
                                        monkeypatch):  # fmt: skip
    from oldphoto_cli import device

    # An AVX2-only CPU, whatever this machine has (with avx512_fp16, --fp16 would be kept).
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2"}))
    result = run(
        "restore",
        photo_dir / "a.png",
        tmp_path / "o",
        "--translator",
        "test-invert",
        "--no-face-enhance",
        "--strength",
        "0.5",
        "--with-scratch",
        "off",
        "--tile",
        "256",
        "--fp16",
        "--device",
        "cpu",
        "--only-center-face",
        "--no-keep-tone",
    )
    assert result.exit_code == 0, result.output
    options = fake_pipeline.created[-1]
    assert (options.translator, options.face_enhancer, options.strength) == (
        "test-invert",
        "none",
        0.5,
    )
    assert (options.with_scratch, options.tile, options.fp16, options.device) == (
        "off",
        256,
        False,
        "cpu",
    )
    assert options.only_center_face and not options.keep_tone
    assert "--fp16 ignored" in result.stderr
    restored = np.asarray(Image.open(tmp_path / "o" / "a.png"))
    assert np.array_equal(restored, 255 - gradient())


def test_detect_masks_overlay_and_mask_dir_roundtrip(run, tmp_path):
    src = tmp_path / "in"
    img = np.full((24, 32, 3), 200, np.uint8)
    img[5, 2:20] = 0  # one dark "scratch"
    img[15:18, 25:28] = 0  # and a 9 px blob (above the default --min-area)
    names = ["photo.final.jpeg", "with space.png", "fotó 写真.png"]
    for name in names:
        save_pil(src / name, Image.fromarray(img), **({"quality": 100} if "jpeg" in name else {}))
    masks = tmp_path / "masks"
    result = run("detect", src, tmp_path / "det", "--mask-dir", masks, "--overlay", "--json")
    assert result.exit_code == 0, result.output
    for record in json_lines(result):
        assert record["mask"]["components"] == 2
        assert 0 < record["mask"]["defect_share"] < 0.2
    for name in names:
        stem = name.rsplit(".", 1)[0]
        mask = np.asarray(Image.open(masks / f"{stem}_mask.png"))
        assert mask.shape == (24, 32) and set(np.unique(mask)) == {0, 255}
        overlay = np.asarray(Image.open(tmp_path / "det" / f"{stem}_overlay.png"))
        assert overlay[5, 10, 0] > overlay[5, 10, 1]  # painted red
    # a user edits one mask: restore must use it instead of detecting
    edited = np.zeros((24, 32), np.uint8)
    edited[0:3, 0:3] = 255
    Image.fromarray(edited).save(masks / "with space_mask.png")
    restored = run("restore", src, tmp_path / "out", "--mask-dir", masks, "--json")
    assert restored.exit_code == 0
    by_name = {r["input"].rsplit("/", 1)[1]: r for r in json_lines(restored)}
    # restore grows a given mask by its --dilate (1) as it grows its own detection: the
    # 3x3 corner block becomes 15 px (3x3 kernel ellipse = a cross)
    assert by_name["with space.png"]["mask"] == {"defect_share": round(15 / 768, 6),
                                                 "components": 1}  # fmt: skip
    assert by_name["with space.png"]["mask_source"].endswith("with space_mask.png")
    exact = run("restore", src, tmp_path / "out0", "--mask-dir", masks, "--json", "--dilate", "0")
    by_name = {r["input"].rsplit("/", 1)[1]: r for r in json_lines(exact)}
    assert by_name["with space.png"]["mask"] == {"defect_share": round(9 / 768, 6), "components": 1}


def test_detect_saves_the_detectors_own_mask_by_default(run, tmp_path):
    """detect writes the undilated mask (the 18 px dark line exactly); --dilate grows it."""
    img = np.full((24, 32, 3), 200, np.uint8)
    img[5, 2:20] = 0
    src = save_pil(tmp_path / "a.png", Image.fromarray(img))
    assert run("detect", src, tmp_path / "d0").exit_code == 0
    assert run("detect", src, tmp_path / "d1", "--dilate", "1").exit_code == 0
    own = np.asarray(Image.open(tmp_path / "d0" / "a_mask.png")) > 0
    grown = np.asarray(Image.open(tmp_path / "d1" / "a_mask.png")) > 0
    assert own.sum() == 18 and own[5, 2:20].all()
    assert grown.sum() > own.sum() and grown[4, 10] and grown[6, 10]
    text = CliRunner().invoke(cli, ["detect", "--help"]).output
    assert "--dilate" in text and "detector's own mask" in text


def test_detect_threshold_dilate_min_area(run, tmp_path):
    src = save_pil(tmp_path / "x.png", Image.fromarray(np.full((20, 20, 3), 255, np.uint8)))
    arr = np.asarray(Image.open(src)).copy()
    arr[10, 10] = 0  # a lone dark pixel
    arr[2, 2:14] = 0  # a 12 px line
    Image.fromarray(arr).save(src)
    plain = run("detect", src, tmp_path / "a", "--json", "--dilate", "0", "--min-area", "0")
    grown = run("detect", src, tmp_path / "b", "--json", "--dilate", "2", "--min-area", "0")
    default = run("detect", src, tmp_path / "c", "--json", "--dilate", "0")
    strict = run("detect", src, tmp_path / "d", "--json", "--dilate", "0", "--min-area", "13")
    assert json_lines(plain)[0]["mask"] == {"defect_share": 13 / 400, "components": 2}
    assert json_lines(grown)[0]["mask"]["defect_share"] > 13 / 400
    assert json_lines(default)[0]["mask"] == {"defect_share": 12 / 400, "components": 1}
    assert json_lines(strict)[0]["mask"] == {"defect_share": 0.0, "components": 0}
    assert (tmp_path / "a" / "x_mask.png").exists()


def test_save_intermediates(run, photo_dir, tmp_path):
    result = run(
        "restore", photo_dir / "a.png", tmp_path / "o", "--save-intermediates", tmp_path / "mid"
    )
    assert result.exit_code == 0
    assert (tmp_path / "mid" / "a_input.png").exists()


def test_help_mentions_every_option():
    text = CliRunner().invoke(cli, ["restore", "--help"]).output
    for option in [
        "--detector",
        "--translator",
        "--face-enhancer",
        "--mask-dir",
        "--shard",
        "--with-scratch",
        "--strength",
        "--keep-tone",
        "--tile",
        "--fp16",
        "--json",
        "--save-intermediates",
        "--save-faces",
        "--only-center-face",
        "--quiet",
    ]:
        assert option in text


def test_docs_document_every_option():
    """The command reference (docs/usage.md) and docs/training.md are kept in step with
    --help: every option of every command is in one of them, training options in the
    training guide; the README names every command."""
    from pathlib import Path

    import click

    root = Path(__file__).resolve().parents[1]
    reference = (root / "docs" / "usage.md").read_text()
    training = (root / "docs" / "training.md").read_text()
    readme = (root / "README.md").read_text()
    for name in sorted(cli.commands):
        assert f"oldphoto {name}" in readme, f"README lacks the command {name}"
        command = cli.commands[name]
        text = training if name == "train" else reference
        commands = command.commands.values() if isinstance(command, click.Group) else [command]
        for sub in commands:
            for param in sub.params:
                for opt in [*param.opts, *param.secondary_opts]:
                    if opt.startswith("-") and opt not in ("-h", "--help"):
                        assert opt in text, f"docs lack {name} {sub.name} {opt}"


def test_pipeline_setup_failure_is_one_line_exit_1(photo_dir, tmp_path, monkeypatch):
    from oldphoto_cli import pipeline

    def broken(options):
        raise RuntimeError("weights 'mapping.safetensors' not found in: /nowhere")

    monkeypatch.setattr(pipeline, "RestorePipeline", broken)
    result = CliRunner().invoke(cli, ["restore", str(photo_dir), str(tmp_path / "o")])
    assert result.exit_code == 1 and "cannot set up the pipeline" in result.stderr
    assert "Traceback" not in result.output


def test_precision_option_falls_back_with_a_note_and_reaches_the_pipeline(
    run, fake_pipeline, photo_dir, tmp_path, monkeypatch
):
    from oldphoto_cli import device

    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2"}))
    args = ("restore", photo_dir / "a.png", tmp_path / "o", "--device", "cpu", "--overwrite")
    result = run(*args, "--precision", "bf16")
    assert result.exit_code == 0, result.output
    assert fake_pipeline.created[-1].precision == "fp32"
    assert "--precision bf16 ignored" in result.stderr
    result = run(*args)  # auto on a CPU without bf16: fp32, nothing to say
    assert fake_pipeline.created[-1].precision == "fp32" and "ignored" not in result.stderr
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert run(*args).exit_code == 0
    assert fake_pipeline.created[-1].precision == "bf16"  # auto picks native bf16
    assert run(*args, "--precision", "FP32").exit_code == 0
    assert fake_pipeline.created[-1].precision == "fp32"
    result = run(*args, "--fp16", "--precision", "bf16")
    assert result.exit_code == 2 and "--fp16 contradicts --precision bf16" in result.output
    result = run("detect", photo_dir / "a.png", tmp_path / "m", "--device", "cpu",
                 "--precision", "bf16")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert fake_pipeline.created[-1].precision == "bf16"
