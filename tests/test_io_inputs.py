"""Input collection, stdin lists, shards, output planning, mask lookup, runner, device."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import gradient, save_pil
from PIL import Image

from oldphoto_cli import device, inputs, runner
from oldphoto_cli.inputs import InputError, InputItem


def names(items):
    return [item.rel.as_posix() for item in items]


def test_folder_skips_hidden_and_non_images_with_notes(photo_dir):
    got = inputs.collect_inputs([str(photo_dir)])
    assert sorted(names(got.items)) == ["a.png", "b.jpg"]
    assert any(".hidden.png" in n for n in got.notes)
    assert any("notes.txt" in n for n in got.notes)


def test_recursive_keeps_relative_tree(tmp_path):
    root = tmp_path / "in"
    for rel in ["top.png", "sub/x.png", "sub/deeper/y.png", ".git/z.png", "sub/.h/w.png"]:
        save_pil(root / rel, Image.fromarray(gradient(4, 4)))
    assert names(inputs.collect_inputs([str(root)]).items) == ["top.png"]
    got = inputs.collect_inputs([str(root)], recursive=True)
    assert sorted(names(got.items)) == ["sub/deeper/y.png", "sub/x.png", "top.png"]
    planned = inputs.plan_outputs(got.items, tmp_path / "out")
    assert {str(i.output.relative_to(tmp_path / "out")) for i in planned} == {
        "top.png",
        "sub/x.png",
        "sub/deeper/y.png",
    }


def test_missing_argument_is_usage_error_but_missing_stdin_path_is_item_error(tmp_path):
    with pytest.raises(InputError):
        inputs.collect_inputs([str(tmp_path / "nope.png")])
    got = inputs.collect_inputs(["-"], stdin=io.StringIO(f"{tmp_path / 'nope.png'}\n"))
    assert got.items[0].error == "no such file"


def test_stdin_lines_and_nul(photo_dir):
    a, b = photo_dir / "a.png", photo_dir / "b.jpg"
    lines = inputs.collect_inputs(["-"], stdin=io.StringIO(f"{a}\n\n{b}\r\n"))
    assert [i.path for i in lines.items] == [a, b]
    weird = photo_dir / "new\nline.png"
    save_pil(weird, Image.fromarray(gradient(4, 4)))
    nul = inputs.collect_inputs(
        ["-"], stdin=io.BytesIO(f"{a}\0{weird}\0".encode()), null_separated=True
    )
    assert [i.path for i in nul.items] == [a, weird]


def test_duplicates_collapse(photo_dir):
    got = inputs.collect_inputs([str(photo_dir / "a.png"), str(photo_dir)])
    assert sorted(names(got.items)) == ["a.png", "b.jpg"]


def test_shard_partition_is_exact_and_deterministic():
    items = [InputItem(Path(f"{n}.png"), Path(f"{n}.png")) for n in "qwertyuiopasdfg"]
    shards = [inputs.shard_items(list(reversed(items)), (k, 4)) for k in range(1, 5)]
    seen = [i.rel for shard in shards for i in shard]
    assert sorted(seen) == sorted(i.rel for i in items) and len(seen) == len(set(seen))
    assert names(inputs.shard_items(items, (2, 4))) == names(shards[1])
    ordered = sorted(names(items))
    assert names(shards[0]) == ordered[0::4]


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "x", "1/2/3"])
def test_bad_shard(spec):
    with pytest.raises(InputError):
        inputs.parse_shard(spec)


def test_output_naming_and_input_refusal(photo_dir, tmp_path):
    items = inputs.collect_inputs([str(photo_dir)]).items
    planned = inputs.plan_outputs(items, tmp_path / "o", ext=".png", suffix="_r")
    assert sorted(i.output.name for i in planned) == ["a_r.png", "b_r.png"]
    with pytest.raises(InputError, match="refusing"):
        inputs.plan_outputs(inputs.collect_inputs([str(photo_dir)]).items, photo_dir)
    one = inputs.collect_inputs([str(photo_dir / "a.png")]).items
    assert inputs.plan_outputs(one, tmp_path / "single.jpg")[0].output == tmp_path / "single.jpg"


def test_two_inputs_one_output_second_errors(tmp_path):
    for d in ("x", "y"):
        save_pil(tmp_path / d / "same.png", Image.fromarray(gradient(4, 4)))
    items = inputs.collect_inputs([str(tmp_path / "x/same.png"), str(tmp_path / "y/same.png")])
    planned = inputs.plan_outputs(items.items, tmp_path / "o")
    assert planned[0].error is None and "also be written" in planned[1].error


@pytest.mark.parametrize(
    "name", ["photo.final.jpeg", "with space.png", "fotó ünï 写真.jpg", "a_mask.png"]
)
@pytest.mark.parametrize("pattern", ["{stem}_mask.png", "{stem}.png"])
def test_find_mask_tricky_names(tmp_path, name, pattern):
    src = tmp_path / "in" / name
    masks = tmp_path / "masks"
    masks.mkdir()
    stem = Path(name).stem
    (masks / pattern.format(stem=stem)).write_bytes(b"x")
    (masks / "unrelated_mask.png").write_bytes(b"x")
    item = InputItem(src, Path(name))
    assert inputs.find_mask(masks, item) == masks / pattern.format(stem=stem)
    assert inputs.find_mask(tmp_path, item) is None


def test_find_mask_prefers_mirrored_subfolder(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "p_mask.png").write_bytes(b"top")
    (tmp_path / "sub" / "p_mask.png").write_bytes(b"sub")
    item = InputItem(Path("/src/sub/p.jpg"), Path("sub/p.jpg"))
    assert inputs.find_mask(tmp_path, item) == tmp_path / "sub" / "p_mask.png"


# --------------------------------------------------------------------------- runner


def _items(tmp_path, n):
    return [
        InputItem(tmp_path / f"{i}.png", Path(f"{i}.png"), output=tmp_path / f"o{i}.png")
        for i in range(n)
    ]


def test_run_batch_isolates_a_failing_item(tmp_path):
    seen = []

    def process(item):
        seen.append(item.path.stem)
        if item.path.stem == "2":
            raise ValueError("bad pixel\nsecond line")
        return runner.result_for(item, runner.OK)

    results = runner.run_batch(_items(tmp_path, 5), process)
    assert [r.status for r in results] == ["ok", "ok", "error", "ok", "ok"]
    assert results[2].error == "bad pixel"
    assert seen == ["0", "1", "2", "3", "4"] and runner.exit_code(results) == 1
    assert runner.summary(results) == "4 ok, 0 skipped, 1 failed"


def test_run_batch_skips_existing_and_known_errors(tmp_path):
    items = _items(tmp_path, 3)
    items[0].output.write_bytes(b"done")
    items[1].error = "no such file"
    results = runner.run_batch(items, lambda item: runner.result_for(item, runner.OK))
    status = {Path(r.input).name: r.status for r in results}
    assert status == {"0.png": "skipped", "1.png": "error", "2.png": "ok"}
    again = runner.run_batch(items, lambda i: runner.result_for(i, "ok"), skip_existing=False)
    assert {Path(r.input).name: r.status for r in again}["0.png"] == "ok"


def test_reporter_json_lines_and_stderr(tmp_path):
    from oldphoto_cli.progress import Reporter

    out, err = io.StringIO(), io.StringIO()
    reporter = Reporter(json_lines=True, stdout=out, stderr=err)
    assert not reporter.show_bar  # StringIO is not a TTY
    runner.run_batch(
        _items(tmp_path, 2),
        lambda item: runner.result_for(item, "error", error="boom"),
        reporter=reporter,
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all('"status": "error"' in line for line in lines)
    assert err.getvalue().count("boom") == 2


def test_mask_stats_and_binarize():
    from oldphoto_cli.pipeline import mask_from_probability, mask_stats

    prob = np.zeros((10, 10), np.float32)
    prob[1, 1] = 0.9
    prob[7, 2:6] = 0.6
    mask = mask_from_probability(prob, 0.5, 0)
    assert mask_stats(mask) == {"defect_share": 0.05, "components": 2}
    assert mask_from_probability(prob, 0.5, dilate=1).sum() > mask.sum()


# --------------------------------------------------------------------------- device


def test_device_resolution():
    assert device.resolve_device("cpu").type == "cpu"
    auto = device.resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(device.DeviceError):
        device.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(device.DeviceError, match="CUDA is not available"):
            device.resolve_device("cuda:1")
    assert device.resolve_device(" CPU ").type == "cpu"
    assert device.resolve_precision(torch.device("cuda"), True) == ("fp16", None)


def test_precision_auto_follows_the_cpu_flags():
    cpu, none, bf16 = torch.device("cpu"), frozenset({"avx2", "fma"}), frozenset({"avx512_bf16"})
    assert device.resolve_precision(cpu, "auto", flags=none) == ("fp32", None)
    assert device.resolve_precision(cpu, "auto", flags=bf16) == ("bf16", None)
    assert device.resolve_precision(cpu, "auto", flags=frozenset({"amx_bf16"}))[0] == "bf16"
    assert device.resolve_precision(torch.device("cuda"), "auto") == ("fp16", None)
    assert device.resolve_precision(torch.device("mps"), "auto") == ("fp32", None)
    # An explicit precision the CPU has no native arithmetic for: fp32 and a note saying so.
    used, note = device.resolve_precision(cpu, "bf16", flags=none)
    assert used == "fp32" and "--precision bf16 ignored" in note
    assert device.resolve_precision(cpu, "bf16", flags=bf16) == ("bf16", None)
    used, note = device.resolve_precision(cpu, True, flags=bf16)  # --fp16: no avx512_fp16
    assert used == "fp32" and "fp16" in note
    assert device.resolve_precision(cpu, "FP32", flags=none) == ("fp32", None)
    with pytest.raises(ValueError, match="expected auto"):
        device.resolve_precision(cpu, "fp8", flags=none)


def test_cpu_flags_are_read_from_proc_cpuinfo():
    flags = device.cpu_flags()
    assert isinstance(flags, frozenset)
    if os.path.exists("/proc/cpuinfo") and os.uname().machine == "x86_64":
        assert "sse2" in flags  # every x86-64 CPU has it
