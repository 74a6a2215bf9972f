"""Progress and messages on stderr, JSON lines on stdout.

Human messages always go to stderr so ``oldphoto restore ... --json | jq`` sees only JSON.
The progress bar (count, rate, ETA) is drawn only when stderr is a terminal and not
``--quiet``; rich honours ``NO_COLOR``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Images per second (or seconds per image when slow)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-- img/s", style="progress.data.speed")
        if speed < 1:
            return Text(f"{1 / speed:.1f} s/img", style="progress.data.speed")
        return Text(f"{speed:.1f} img/s", style="progress.data.speed")


class Reporter:
    """Where a command's output goes: notes/errors to stderr, JSON records to stdout."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        json_lines: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        show_bar: bool | None = None,
    ) -> None:
        self.quiet = quiet
        self.json_lines = json_lines
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        if show_bar is None:
            isatty = getattr(self.stderr, "isatty", lambda: False)
            show_bar = not quiet and bool(isatty())
        self.show_bar = show_bar
        self.console = Console(
            file=self.stderr,
            no_color="NO_COLOR" in os.environ or None,
            highlight=False,
        )
        self._progress: Progress | None = None
        self._task: Any = None

    # messages -----------------------------------------------------------------------
    def _emit(self, line: str) -> None:
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stderr, flush=True)

    def note(self, message: str) -> None:
        """Informational line; suppressed by ``--quiet``."""
        if not self.quiet:
            self._emit(f"oldphoto: {message}")

    def error(self, message: str) -> None:
        """A per-file error; always shown (one line)."""
        self._emit(f"oldphoto: error: {message}")

    def record(self, obj: dict[str, Any]) -> None:
        """One JSON object per line on stdout, flushed, when ``--json``."""
        if self.json_lines:
            self.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
            self.stdout.flush()

    # progress -----------------------------------------------------------------------
    def start(self, total: int, description: str = "restoring") -> None:
        if not self.show_bar or total <= 0:
            return
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
