"""Scale-out: shard/rank selection, per-rank devices, overlapped I/O, merged torchrun runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import gradient, save_pil, truncated_jpeg
from PIL import Image

from oldphoto_cli import distributed, runner
from oldphoto_cli.cli import cli
from oldphoto_cli.distributed import RankInfo, effective_shard, rank_device, rank_from_env
from oldphoto_cli.inputs import InputItem, shard_items

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _items(n: int) -> list[InputItem]:
    return [InputItem(Path(f"in/{i:03d}.png"), Path(f"{i:03d}.png")) for i in range(n)]


# --------------------------------------------------------------------------- selection


@pytest.mark.parametrize("n_items", [0, 1, 7, 24])
@pytest.mark.parametrize("shards", [None, 1, 2, 3])
@pytest.mark.parametrize("world", [1, 2, 4])
def test_shard_and_rank_cover_every_item_exactly_once(n_items, shards, world):
    items = _items(n_items)
    seen: list[Path] = []
    for k in range(1, (shards or 1) + 1):
        for rank in range(world):
            info = RankInfo(rank, world, rank, True)
            spec = (k, shards) if shards else None
            mine = shard_items(items, effective_shard(spec, info))
            # the same as sharding by --shard first, then by rank within that shard
            nested = shard_items(shard_items(items, spec), (rank + 1, world))
            assert mine == nested
            seen += [item.path for item in mine]
    assert sorted(seen) == sorted(item.path for item in items)


def test_effective_shard_values():
    assert effective_shard(None, RankInfo()) is None
    assert effective_shard((2, 3), RankInfo()) == (2, 3)
    assert effective_shard(None, RankInfo(1, 4, 1, True)) == (2, 4)
    assert effective_shard((2, 3), RankInfo(1, 2, 1, True)) == (5, 6)


def test_rank_from_env():
    assert rank_from_env({}) == RankInfo()
    assert rank_from_env({"WORLD_SIZE": "1", "RANK": "0"}) == RankInfo()
    env = {
        "WORLD_SIZE": "4",
        "RANK": "3",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "h",
        "MASTER_PORT": "1",
    }
    info = rank_from_env(env)
    assert (info.rank, info.world, info.local_rank, info.can_merge) == (3, 4, 1, True)
    assert info.active and not info.main
    assert not rank_from_env({"WORLD_SIZE": "2", "RANK": "1"}).can_merge
    for bad in ({"WORLD_SIZE": "x"}, {"WORLD_SIZE": "2", "RANK": "2"}):
        with pytest.raises(ValueError):
            rank_from_env(bad)


def test_rank_device():
    two = RankInfo(3, 4, 3, True)
    assert rank_device("auto", two, cuda_count=2) == "cuda:1"
    assert rank_device("CUDA", two, cuda_count=4) == "cuda:3"
    assert rank_device("cuda:0", two, cuda_count=4) == "cuda:0"  # explicit: kept
    assert rank_device("cpu", two, cuda_count=4) == "cpu"
    assert rank_device("auto", two, cuda_count=0) == "auto"
    assert rank_device("auto", RankInfo(), cuda_count=4) == "auto"


def test_merge_without_a_group_keeps_own_results():
    results = [runner.ItemResult("a", "b", runner.OK)]
    merged = distributed.merge_results(results, True, RankInfo(1, 2, 1, can_merge=False))
    assert merged.all_results == results and merged.others == [] and merged.failed


# --------------------------------------------------------------------------- overlapped I/O


class _Job:
    """Records what runs where; ``bad`` maps a stem to the stage that should fail."""

    def __init__(self, bad=None, delay=0.0):
        self.bad = bad or {}
        self.delay = delay
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.compute_threads = set()

    def _maybe_fail(self, item, stage):
        if self.bad.get(item.stem) == stage:
            raise ValueError(f"{stage} failed\nsecond line")

    def load(self, item):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self.delay)
        self._maybe_fail(item, "load")
        return {"x": item.stem}

    def compute(self, item, state):
        self.compute_threads.add(threading.get_ident())
        time.sleep(self.delay)
        self._maybe_fail(item, "compute")
        state["y"] = state["x"].upper()
        return state

    def save(self, item, state):
        self._maybe_fail(item, "save")
        with self.lock:
            self.in_flight -= 1
        return runner.result_for(item, runner.OK, info={"y": state["y"]})


def test_overlapped_keeps_order_isolates_failures_and_bounds_memory(tmp_path):
    items = _items(12)
    for item in items:
        item.output = tmp_path / item.rel
    job = _Job(bad={"003": "load", "005": "compute", "008": "save"}, delay=0.002)
    results = runner.run_overlapped(items, job, io_threads=2)
    assert [r.input for r in results] == [str(i.path) for i in items]
    status = {Path(r.input).stem: r for r in results}
    for stem, stage in job.bad.items():
        assert status[stem].status == runner.ERROR
        assert status[stem].error == f"{stage} failed"
    ok = [r for r in results if r.status == runner.OK]
    assert len(ok) == 9 and all(r.info["y"] == Path(r.input).stem.upper() for r in ok)
    assert job.compute_threads == {threading.get_ident()}
    # read-ahead (2) + the one computing + write-behind (2) + the one being settled
    assert job.max_in_flight <= 6


def test_overlapped_skips_finished_and_known_bad(tmp_path):
    items = _items(3)
    for item in items:
        item.output = tmp_path / item.rel
    items[0].output.write_bytes(b"done")
    items[1].error = "no such file"
    results = runner.run_overlapped(items, _Job(), io_threads=1)
    assert [r.status for r in results] == [runner.SKIPPED, runner.ERROR, runner.OK]


# --------------------------------------------------------------------------- CLI, one process


@pytest.fixture
def run(fake_pipeline, monkeypatch):
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)

    def invoke(*args, env=None, input=None):
        return CliRunner().invoke(cli, [str(a) for a in args], env=env, input=input)

    return invoke


def _photos(folder: Path, n: int) -> Path:
    for i in range(n):
        save_pil(folder / f"p{i}.png", Image.fromarray(np.roll(gradient(), i, axis=1)))
    return folder


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_io_threads_give_the_same_outputs(run, tmp_path):
    src = _photos(tmp_path / "in", 5)
    truncated_jpeg(src / "bad.jpg")
    written = {}
    for io_threads in ("0", "1", "3"):
        out = tmp_path / f"out{io_threads}"
        result = run("restore", src, out, "--json", "--io-threads", io_threads)
        assert result.exit_code == 1
        records = sorted(_records(result.stdout), key=lambda r: Path(r["input"]).name)
        # records come out as each image is written (with I/O threads not always input order)
        names = ["bad.jpg"] + [f"p{i}.png" for i in range(5)]
        assert [Path(r["input"]).name for r in records] == names
        assert [r["status"] for r in records] == ["error"] + ["ok"] * 5
        written[io_threads] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert list(written["0"]) == [f"p{i}.png" for i in range(5)]
    assert written["0"] == written["1"] == written["3"]  # the same bytes, not just names
    for i in range(5):  # the fake pipeline is the identity: each output is its own input
        out_pixels = np.asarray(Image.open(tmp_path / "out3" / f"p{i}.png"))
        assert np.array_equal(out_pixels, np.asarray(Image.open(src / f"p{i}.png")))


def test_rank_without_rendezvous_processes_its_share_quietly(run, tmp_path):
    src = _photos(tmp_path / "in", 5)
    out = tmp_path / "out"
    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}
    result = run("restore", src, out, "--json", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # only rank 0 prints records
    assert sorted(p.name for p in out.iterdir()) == ["p1.png", "p3.png"]
    first = run("restore", src, out, "--json", env={**env, "RANK": "0", "LOCAL_RANK": "0"})
    names = sorted(Path(r["input"]).name for r in _records(first.stdout))
    assert names == ["p0.png", "p2.png", "p4.png"]
    assert len(list(out.iterdir())) == 5


def test_stdin_refused_under_torchrun(run, tmp_path):
    env = {"RANK": "0", "WORLD_SIZE": "2"}
    for args in (["-"], ["--files-from", "-"]):
        result = run("restore", *args, tmp_path / "out", env=env, input="a.png\n")
        assert result.exit_code == 2 and "torchrun" in result.output


def test_outputs_are_planned_before_sharding(run, tmp_path):
    """Two inputs and OUT 'x.png': a folder for every shard, never a shared single file."""
    src = _photos(tmp_path / "in", 2)
    for k in ("1/2", "2/2"):
        assert run("restore", src, tmp_path / "x.png", "--shard", k).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "x.png").iterdir()) == ["p0.png", "p1.png"]


def test_left_over_temp_file_never_counts_as_finished(run, tmp_path):
    src = _photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".p0.png.k2j3.tmp").write_bytes(b"half a png")  # a run killed mid-write
    result = run("restore", src, out, "--json")
    assert [r["status"] for r in _records(result.stdout)] == ["ok"]
    assert (out / "p0.png").stat().st_size > 100


# --------------------------------------------------------------------------- real ranks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    return {**env, "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}


def _tiny_photos(folder: Path, n: int) -> Path:
    for i in range(n):
        save_pil(folder / f"p{i}.png", Image.fromarray(np.roll(gradient(40, 48), 7 * i, axis=0)))
    return folder


@pytest.mark.slow
def test_torchrun_two_processes_write_each_image_once(tmp_path, tiny_weights):
    src, out = _tiny_photos(tmp_path / "in", 6), tmp_path / "out"
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
            "--master-port", str(_free_port()), "-m", "oldphoto_cli", "restore", str(src),
            str(out), "--json", "--device", "cpu", "--weights-dir", str(tiny_weights),
            "--no-face-enhance"]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _records(proc.stdout)
    assert len(records) == 6
    assert sorted(Path(r["input"]).name for r in records) == [f"p{i}.png" for i in range(6)]
    assert all(r["status"] == "ok" for r in records)
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png" for i in range(6)]
    assert "6 ok, 0 skipped, 0 failed (2 processes)" in proc.stderr
    again = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=300)
    assert again.returncode == 0
    assert [r["status"] for r in _records(again.stdout)] == ["skipped"] * 6


@pytest.mark.slow
def test_one_corrupt_input_fails_every_rank(tmp_path, tiny_weights):
    """Ranks started by hand (as torchrun does) so each one's exit status can be seen."""
    src, out = _tiny_photos(tmp_path / "in", 4), tmp_path / "out"
    truncated_jpeg(src / "p9.jpg")  # sorted last: index 4, rank 0's share
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = {**_env(), "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}  # fmt: skip
        args = [sys.executable, "-m", "oldphoto_cli", "restore", str(src), str(out), "--json",
                "--device", "cpu", "--weights-dir", str(tiny_weights), "--no-face-enhance"]  # fmt: skip
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [1, 1], outputs
    (stdout0, stderr0), (stdout1, stderr1) = outputs
    assert stdout1 == ""
    records = _records(stdout0)
    assert len(records) == 5
    assert [r["status"] for r in records if r["input"].endswith("p9.jpg")] == ["error"]
    assert "4 ok, 0 skipped, 1 failed (2 processes)" in stderr0
    assert sum("p9.jpg" in line for line in (stderr0 + stderr1).splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png" for i in range(4)]


def test_compile_flag_reaches_the_pipeline(run, tmp_path, fake_pipeline):
    src = _photos(tmp_path / "in", 1)
    result = run("restore", src, tmp_path / "out", "--compile")
    assert result.exit_code == 0, result.output
    assert fake_pipeline.created[-1].compile is True
    assert run("restore", src, tmp_path / "out2").exit_code == 0
    assert fake_pipeline.created[-1].compile is False
