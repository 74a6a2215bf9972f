"""Which files a command works on, and where each result goes.

Inputs are files, folders (``recursive`` mirrors the subfolder tree into the output) or
a list of paths (``--files-from``: one per line, or NUL-separated). Hidden files and
non-images are skipped with a note; so are the output folder when it lies inside an input
folder, and files that are this run's own outputs (a rerun in place with ``--suffix``).
``-`` as IN or OUT is one image through stdin/stdout (see ``oldphoto_cli.cli_io``). ``--shard K/N`` keeps the items whose index in the
sorted list of relative paths is ``K-1`` modulo ``N``, so N workers cover every image once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from oldphoto_cli.imageio import (
    IMAGE_EXTENSIONS,
    OTHER_PHOTO_EXTENSIONS,
    is_image_path,
    unsupported_format,
)

STDIO = Path("-")  # IN '-': the image's bytes on stdin; OUT '-': the result to stdout


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


def read_path_list(stream: IO[str] | IO[bytes] | bytes, null_separated: bool = False) -> list[str]:
    """Paths from a stream (read as bytes: names need not be UTF-8) or bytes: one per line,
    or NUL-separated with ``-0``. Undecodable bytes survive via ``os.fsdecode``."""
    data = stream if isinstance(stream, bytes | str) else stream.read()
    if isinstance(data, bytes):
        data = os.fsdecode(data)
    if null_separated:
        parts = data.split("\0")
    else:
        parts = [line.rstrip("\r") for line in data.split("\n")]
    return [part for part in parts if part.strip()]


def _walk(
    root: Path,
    recursive: bool,
    exclude: frozenset[Path] = frozenset(),
    notes: list[str] | None = None,
) -> Iterable[Path]:
    """Files in ``root`` (sorted); ``recursive`` descends, never into ``exclude`` (OUT)."""
    if not recursive:
        files, folders = [], 0
        for p in root.iterdir():
            if p.is_dir():
                folders += not p.name.startswith(".") and path_key(p) not in exclude
            else:
                files.append(p)
        if folders and notes is not None:
            notes.append(f"{root}: skipped {folders} subfolder{'s' * (folders != 1)} "
                         "(use -r/--recursive to descend)")  # fmt: skip
        yield from sorted(files)
        return
    for dirpath, dirnames, filenames in os.walk(root):
        kept = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            if exclude and path_key(Path(dirpath) / d) in exclude:
                if notes is not None:
                    notes.append(f"not descending into {Path(dirpath) / d}: it is an output")
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            yield Path(dirpath) / name


def collect_inputs(
    args: Iterable[str],
    *,
    recursive: bool = False,
    stdin: IO[str] | IO[bytes] | None = None,
    null_separated: bool = False,
    listed: Iterable[str] = (),
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> Collected:
    """Expand command-line inputs to image items.

    ``listed`` are paths from ``--files-from`` (``"-"`` in ``args`` reads such a list from
    ``stdin``, the library's older spelling). ``exclude`` (output folders) are never
    descended into. Missing command-line paths are a usage error (:class:`InputError`); a
    missing listed path becomes an item with ``error`` set, so the batch goes on.
    """
    items: list[InputItem] = []
    notes: list[str] = []
    seen: set[Path] = set()

    def add(path: Path, rel: Path, explicit: bool) -> None:
        if _hidden(rel if not explicit else Path(path.name)):
            notes.append(f"skipped hidden file {path}")
            return
        other_format = path.suffix.lower() in OTHER_PHOTO_EXTENSIONS
        if not is_image_path(path) and not other_format:
            notes.append(f"skipped {path}: not an image extension ({', '.join(IMAGE_EXTENSIONS)})")
            return
        key = path_key(path)
        if key in seen:
            return
        seen.add(key)
        # A photo in a format oldphoto does not restore (AVIF, HEIC, ...) fails with the
        # same error as such an image on stdin: it is not passed over as if it were no photo.
        error = unsupported_format(path.suffix[1:].upper()) if other_format else None
        items.append(InputItem(path=path, rel=rel, error=error))

    excluded = frozenset(path_key(Path(e)) for e in exclude)

    def add_listed(lines: Iterable[str]) -> None:
        for line in lines:
            path = Path(line)
            if path.is_dir():
                for file in _walk(path, recursive, excluded, notes):
                    add(file, file.relative_to(path), explicit=False)
            elif path.exists() or path.is_symlink():
                add(path, Path(path.name), explicit=True)
            else:
                key = path.absolute()
                if key not in seen:
                    seen.add(key)
                    items.append(InputItem(path, Path(path.name), error="no such file"))

    for arg in args:
        if arg == "-":
            if stdin is None:
                raise InputError("'-' given but no stdin to read paths from")
            add_listed(read_path_list(stdin, null_separated))
            continue
        path = Path(arg)
        if path.is_dir():
            for file in _walk(path, recursive, excluded, notes):
                add(file, file.relative_to(path), explicit=False)
        elif path.exists() or path.is_symlink():  # a dangling or looping link fails alone
            add(path, Path(path.name), explicit=True)
        else:
            raise InputError(f"input does not exist: {arg}")
    add_listed(listed)
    return Collected(items, notes)


def drop_own_outputs(
    items: list[InputItem], outputs_of: Callable[[InputItem], Iterable[Path]]
) -> tuple[list[InputItem], list[str]]:
    """Leave out inputs that are outputs this run would write (a rerun in place, e.g.
    ``restore . . --suffix _r`` sees last run's ``a_r.jpg``): they are never inputs."""
    producer = {path_key(p): item for item in items for p in outputs_of(item)}

    def own_output(item: InputItem) -> bool:  # an item's output being itself stays refused
        maker = producer.get(path_key(item.path))
        return maker is not None and maker is not item

    kept = [item for item in items if not own_output(item)]
    dropped = len(items) - len(kept)
    notes = []
    if dropped:
        notes.append(f"skipped {dropped} file{'s' * (dropped != 1)} that are this run's own "
                     "outputs")  # fmt: skip
    return kept, notes


def check_existing_out(
    out: str | os.PathLike[str], inputs: int, overwrite: bool, file_out: bool = True
) -> None:
    """Refuse (``InputError``) an OUT that is an existing image file where it may be a photo.

    A shell glob (``oldphoto restore photos/*.jpg``) passes its last photo as OUT. So an
    existing image named as OUT is never written over: with several inputs OUT must be a
    folder, and with one input ``--overwrite`` does not replace it (without ``--overwrite``
    it is kept and the input skipped, as any existing output, and the summary says why).
    ``file_out=False``: OUT is always a folder (``detect``).
    """
    out = Path(out)
    if out == STDIO or out.is_dir() or not (out.is_file() and is_image_path(out)):
        return
    glob = f"{out.parent.as_posix()}/*{out.suffix}" if out.parent != Path() else f"*{out.suffix}"
    if inputs > 1 or not file_out:
        count = f"with {inputs} inputs " if file_out else ""
        raise InputError(
            f"OUT {out} is an existing image, not a folder: {count}OUT must be "
            f"a folder. If it is a photo (a glob such as {glob} names its last photo as OUT), "
            "add an output folder after the inputs"
        )
    if overwrite:
        raise InputError(
            f"OUT {out} exists and is an image: --overwrite never replaces a file named as "
            f"OUT, which may be a photo (a glob such as {glob} names its last photo as OUT). "
            "Delete it first, or name an output folder"
        )


def check_writable(paths: Iterable[Path]) -> None:
    """Fail once, before any image, when an output could not be written: the nearest
    existing folder above each output must be a writable folder (``InputError``)."""
    checked: set[Path] = set()
    for path in paths:
        folder = Path(path).parent
        if folder in checked:
            continue
        checked.add(folder)
        probe = folder
        while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise InputError(f"cannot write into {folder}: {probe} is not a folder")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise InputError(f"cannot write into {folder}: {probe} is not writable")


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
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
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
