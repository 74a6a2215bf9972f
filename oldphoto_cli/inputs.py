"""Which files a command works on, and where each result goes.

Inputs are files, folders (``recursive`` mirrors the subfolder tree into the output) or
``-`` for a list of paths on stdin (one per line, or NUL-separated). Hidden files and
non-images are skipped with a note. ``--shard K/N`` keeps the items whose index in the
sorted list of relative paths is ``K-1`` modulo ``N``, so N workers cover every image once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from oldphoto_cli.imageio import IMAGE_EXTENSIONS, is_image_path


class InputError(Exception):
    """A usage problem with the inputs or output (exit code 2)."""


@dataclass
class InputItem:
    path: Path  # the file to read
    rel: Path  # where it sits relative to its root: the output mirrors this
    output: Path | None = None
    error: str | None = None  # set when the item is known bad before reading (e.g. missing)
    extra: dict = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.path.stem


@dataclass
class Collected:
    items: list[InputItem]
    notes: list[str]  # one line each: skipped hidden files / non-images


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") and part not in (".", "..") for part in rel.parts)


def read_path_list(stream: IO[str] | IO[bytes], null_separated: bool = False) -> list[str]:
    """Paths from a stdin-like stream: one per line, or NUL-separated with ``-0``."""
    data = stream.read()
    if isinstance(data, bytes):
        data = os.fsdecode(data)
    if null_separated:
        parts = data.split("\0")
    else:
        parts = [line.rstrip("\r") for line in data.split("\n")]
    return [part for part in parts if part.strip()]


def _walk(root: Path, recursive: bool) -> Iterable[Path]:
    if not recursive:
        yield from sorted(p for p in root.iterdir() if not p.is_dir())
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def collect_inputs(
    args: Iterable[str],
    *,
    recursive: bool = False,
    stdin: IO[str] | IO[bytes] | None = None,
    null_separated: bool = False,
) -> Collected:
    """Expand command-line inputs to image items.

    Missing command-line paths are a usage error (:class:`InputError`); a missing path read
    from stdin becomes an item with ``error`` set, so the batch goes on.
    """
    items: list[InputItem] = []
    notes: list[str] = []
    seen: set[Path] = set()

    def add(path: Path, rel: Path, explicit: bool) -> None:
        if _hidden(rel if not explicit else Path(path.name)):
            notes.append(f"skipped hidden file {path}")
            return
        if not is_image_path(path):
            notes.append(f"skipped {path}: not an image extension ({', '.join(IMAGE_EXTENSIONS)})")
            return
        key = path.resolve()
        if key in seen:
            return
        seen.add(key)
        items.append(InputItem(path=path, rel=rel))

    for arg in args:
        if arg == "-":
            if stdin is None:
                raise InputError("'-' given but no stdin to read paths from")
            for line in read_path_list(stdin, null_separated):
                path = Path(line)
                if path.is_dir():
                    for file in _walk(path, recursive):
                        add(file, file.relative_to(path), explicit=False)
                elif path.exists():
                    add(path, Path(path.name), explicit=True)
                else:
                    key = path.absolute()
                    if key not in seen:
                        seen.add(key)
                        items.append(InputItem(path, Path(path.name), error="no such file"))
            continue
        path = Path(arg)
        if path.is_dir():
            for file in _walk(path, recursive):
                add(file, file.relative_to(path), explicit=False)
        elif path.exists():
            add(path, Path(path.name), explicit=True)
        else:
            raise InputError(f"input does not exist: {arg}")
    return Collected(items, notes)


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """``"K/N"`` (1 <= K <= N) -> (K, N); None passes through."""
    if spec is None:
        return None
    try:
        k_text, n_text = spec.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise InputError(f"--shard must look like K/N (e.g. 2/8), got {spec!r}") from None
    if n < 1 or not 1 <= k <= n:
        raise InputError(f"--shard {spec}: need 1 <= K <= N")
    return k, n


def shard_items(items: list[InputItem], shard: tuple[int, int] | None) -> list[InputItem]:
    """Deterministic split: sort by relative path, keep index % N == K - 1."""
    ordered = sorted(items, key=lambda item: (item.rel.as_posix(), str(item.path)))
    if shard is None:
        return ordered
    k, n = shard
    return [item for index, item in enumerate(ordered) if index % n == k - 1]


def normalize_ext(ext: str | None) -> str | None:
    if ext is None:
        return None
    ext = ext if ext.startswith(".") else "." + ext
    if ext.lower() not in IMAGE_EXTENSIONS:
        raise InputError(f"--ext {ext}: not one of {', '.join(IMAGE_EXTENSIONS)}")
    return ext


def output_path(
    item: InputItem, out: Path, *, ext: str | None = None, suffix: str = "", single_file=False
) -> Path:
    if single_file:
        return out
    name = item.path.stem + suffix + (ext or item.path.suffix)
    return out / item.rel.parent / name


def plan_outputs(
    items: list[InputItem],
    out: str | os.PathLike[str],
    *,
    ext: str | None = None,
    suffix: str = "",
) -> list[InputItem]:
    """Set ``item.output`` for each item; refuses (``InputError``) to write over an input.

    ``out`` is a folder, or a file name when there is exactly one input and ``out`` has an
    image extension and is not an existing folder. Two inputs mapping to one output: the
    later one gets an error, it never overwrites the earlier one's result.
    """
    out = Path(out)
    single_file = len(items) == 1 and is_image_path(out) and not out.is_dir()
    inputs = {path_key(item.path) for item in items}
    claimed: dict[Path, Path] = {}
    for item in items:
        item.output = output_path(item, out, ext=ext, suffix=suffix, single_file=single_file)
        key = path_key(item.output)
        if key in inputs:
            raise InputError(
                f"refusing to write {item.output}: it is an input file "
                "(choose another output folder, or --suffix/--ext)"
            )
        if key in claimed and item.error is None:
            item.error = f"output {item.output} would also be written for {claimed[key]}"
        else:
            claimed[key] = item.path
    return items


def path_key(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def find_mask(mask_dir: str | os.PathLike[str], item: InputItem) -> Path | None:
    """A mask for ``item`` in ``mask_dir``: ``<stem>_mask.png`` or ``<stem>.png``.

    The mirrored subfolder (``--recursive``) is tried first, then the top of ``mask_dir``.
    """
    mask_dir = Path(mask_dir)
    stem = item.path.stem
    for folder in dict.fromkeys([mask_dir / item.rel.parent, mask_dir]):
        for name in (f"{stem}_mask.png", f"{stem}.png"):
            candidate = folder / name
            if candidate.is_file() and path_key(candidate) != path_key(item.path):
                return candidate
    return None
