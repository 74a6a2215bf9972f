"""Ctrl-C keeps the records of what was written; records and the bar follow the writes."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import FakePipeline, gradient, save_pil
from PIL import Image

from oldphoto_cli import runner
from oldphoto_cli.cli import cli
from oldphoto_cli.inputs import InputItem
from oldphoto_cli.progress import RateColumn, Reporter


@pytest.fixture
def five(tmp_path):
    src = tmp_path / "in"
    for i in range(5):
        save_pil(src / f"{i}.png", Image.fromarray(gradient(8, 8)))
    return src


@pytest.mark.parametrize("io_threads", ["0", "2"])
def test_ctrl_c_keeps_finished_records_and_exits_130(five, tmp_path, fake_pipeline, monkeypatch,
                                                      io_threads):  # fmt: skip
    calls = []
    plain = FakePipeline.restore

    def restore(self, rgb, mask=None, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return plain(self, rgb, mask)

    monkeypatch.setattr(FakePipeline, "restore", restore)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["restore", str(five), str(out), "--json",
                                      "--io-threads", io_threads])  # fmt: skip
    assert result.exit_code == 130, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    written = sorted(p.name for p in out.iterdir())
    assert written == ["0.png", "1.png", "2.png"]  # no temp files either
    assert sorted(Path(r["output"]).name for r in records if r["status"] == "ok") == written
    assert "interrupted" in result.stderr


class SlowJob:
    """compute(k) waits until item k-1's record is out: fails when records lag."""

    def __init__(self, reporter_lines):
        self.lines = reporter_lines
        self.waited = []

    def load(self, item):
        return {}

    def compute(self, item, state):
        k = int(item.path.stem)
        deadline = time.monotonic() + 3
        while k > 0 and len(self.lines()) < k and time.monotonic() < deadline:
            time.sleep(0.01)
        self.waited.append(len(self.lines()) >= k)

    def save(self, item, state):
        return runner.result_for(item, runner.OK)


def test_records_come_out_when_each_image_is_written():
    stdout = io.StringIO()
    reporter = Reporter(json_lines=True, stdout=stdout, quiet=True)
    items = [InputItem(Path(f"{k}.png"), Path(f"{k}.png"), Path(f"o/{k}.png")) for k in range(5)]
    job = SlowJob(lambda: stdout.getvalue().splitlines())
    results = runner.run_overlapped(items, job, io_threads=2, reporter=reporter,
                                    skip_existing=False)  # fmt: skip
    assert len(results) == 5
    assert all(job.waited), job.waited


def test_rate_is_images_over_elapsed_time():
    class Task:
        completed, elapsed, finished_speed, speed = 3, 6.0, 115.9, 115.9

    assert RateColumn().render(Task()).plain == "2.0 s/img"
    Task.completed, Task.elapsed = 10, 2.0
    assert RateColumn().render(Task()).plain == "5.0 img/s"
    Task.completed = 0
    assert RateColumn().render(Task()).plain == "-- img/s"


def test_interrupted_write_leaves_no_temp_file(tmp_path, monkeypatch):
    from oldphoto_cli import imageio

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(imageio.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        imageio.write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_real_sigint_keeps_records_of_written_images(tmp_path, tiny_weights):
    """Ctrl-C as a user sends it: to a real process, part-way through a batch."""
    import os
    import signal
    import subprocess
    import sys

    src = tmp_path / "in"
    for i in range(300):
        save_pil(src / f"{i:03d}.png", Image.fromarray(np.roll(gradient(48, 64), i, axis=1)))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "oldphoto_cli", "restore", str(src), str(out), "--json",
         "--device", "cpu", "--weights-dir", str(tiny_weights), "--io-threads", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"},
        # A suite started in the background (`nohup pytest &`) inherits SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: give the child the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    lines = [proc.stdout.readline() for _ in range(3)]  # three images written
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    records = [json.loads(line) for line in [*lines, *rest.splitlines()] if line.strip()]
    assert len(records) < 300
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(Path(r["output"]).name for r in records if r["status"] == "ok")
    assert not [n for n in written if n.startswith(".")]  # no temp files
    assert b"interrupted" in err and b"Traceback" not in err


def test_ctrl_c_while_loading_models_exits_130(photo_dir, tmp_path, monkeypatch):
    from oldphoto_cli import pipeline

    def slow_setup(options, detect_only=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "RestorePipeline", slow_setup)
    result = CliRunner().invoke(cli, ["restore", str(photo_dir), str(tmp_path / "out")])
    assert result.exit_code == 130 and "interrupted while loading" in result.stderr


@pytest.mark.parametrize("where", ["_collect", "_device", "_check_writable"])
def test_ctrl_c_before_the_batch_exits_130_not_aborted(photo_dir, tmp_path, fake_pipeline,
                                                         monkeypatch, where):  # fmt: skip
    """Ctrl-C in the first second (listing inputs, importing torch): 130, not click's
    "Aborted!" and 1."""
    from oldphoto_cli import cli_io

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_io, where, interrupted)
    result = CliRunner().invoke(cli, ["restore", str(photo_dir), str(tmp_path / "out")])
    assert result.exit_code == 130, result.output
    assert "Aborted!" not in result.output and "interrupted" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("library", ["libtorch", "libgomp"])
def test_real_sigint_while_torch_loads_exits_130(tmp_path, tiny_weights, library):
    """A real Ctrl-C in the first second: sent once the process maps ``library`` (torch
    being imported, before any image), not after a fixed delay a loaded machine stretches."""
    import os
    import signal
    import subprocess
    import sys

    save_pil(tmp_path / "in" / "a.png", Image.fromarray(gradient(48, 64)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "oldphoto_cli", "restore", str(tmp_path / "in"),
         str(tmp_path / "out"), "--device", "cpu", "--weights-dir", str(tiny_weights)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    maps = Path(f"/proc/{proc.pid}/maps")
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if library in maps.read_text():
                break
        except OSError:
            pass
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip(f"the run finished before {library} was seen")
    assert proc.returncode == 130, err.decode()
    assert b"Aborted!" not in err and b"Traceback" not in err, err.decode()
    assert not (tmp_path / "out").exists()
