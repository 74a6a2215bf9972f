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


def printable(text: str) -> str:
    """One line a terminal shows as is: control characters (a newline in a file name) and
    undecodable name bytes (surrogate escapes) written as backslash escapes."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a non-UTF-8 byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 32 or code == 127:
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{code:02x}"))
        else:
            out.append(ch)
    return "".join(out)


class RateColumn(ProgressColumn):
    """Images per second (or seconds per image when slow): images done over the time since
    the bar started. Rich's own windowed speed jumps when images finish in a burst."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        speed = task.completed / elapsed if task.completed and elapsed > 0 else 0.0
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
            self._emit(f"oldphoto: {printable(message)}")

    def error(self, message: str) -> None:
        """A per-file error; always shown (one line, whatever the file name holds)."""
        self._emit(f"oldphoto: error: {printable(message)}")

    def record(self, obj: dict[str, Any]) -> None:
        """One JSON object per line on stdout, flushed, when ``--json``. Names that are not
        UTF-8 come out as ``\\udcXX`` escapes (``os.fsencode`` of the decoded string gives
        the name's bytes back)."""
        if self.json_lines:
            line = json.dumps(obj, ensure_ascii=False, default=str)
            try:
                line.encode(getattr(self.stdout, "encoding", None) or "utf-8")
            except (UnicodeEncodeError, LookupError):
                line = json.dumps(obj, ensure_ascii=True, default=str)
            self.stdout.write(line + "\n")
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
