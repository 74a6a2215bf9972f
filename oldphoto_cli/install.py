"""``oldphoto install`` / ``uninstall``: pip, run in the environment oldphoto runs in.

As ``llm install``: a plugin installed this way lands next to oldphoto, whatever ``pip``
is first on the PATH, and ``oldphoto plugins`` shows it at once.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

OWN_DISTRIBUTION = "oldphoto"


class InstallError(Exception):
    """A request pip must not be given (e.g. uninstalling oldphoto itself)."""


def pip_install_args(
    packages: Sequence[str],
    editable: Sequence[str] = (),
    upgrade: bool = False,
    force_reinstall: bool = False,
    no_cache_dir: bool = False,
    pre: bool = False,
) -> list[str]:
    """The pip command line for ``oldphoto install``: names, paths and ``-e PATH``."""
    if not packages and not editable:
        raise InstallError("name at least one package, path or -e PATH")
    args = [sys.executable, "-m", "pip", "install"]
    for flag, wanted in (("--upgrade", upgrade), ("--force-reinstall", force_reinstall),
                         ("--no-cache-dir", no_cache_dir), ("--pre", pre)):  # fmt: skip
        if wanted:
            args.append(flag)
    for path in editable:
        args += ["--editable", path]
    return args + list(packages)


def pip_uninstall_args(packages: Sequence[str], yes: bool = False) -> list[str]:
    """The pip command line for ``oldphoto uninstall``; refuses to remove oldphoto."""
    if not packages:
        raise InstallError("name at least one package")
    own = [p for p in packages if p.lower().replace("_", "-") == OWN_DISTRIBUTION]
    if own:
        raise InstallError(f"refusing to uninstall {own[0]} itself (use pip for that)")
    return [sys.executable, "-m", "pip", "uninstall", *(["--yes"] if yes else []), *packages]


def run_pip(args: Sequence[str]) -> int:
    """Run pip (inheriting stdin/stdout/stderr: its prompts and progress show); its status."""
    return subprocess.run(list(args), check=False).returncode
