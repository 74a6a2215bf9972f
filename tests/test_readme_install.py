"""README.md's install and test lines: a plain user install with YuNet, a developer install,
the test command, and `.ci/run` doing exactly what they say."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def blocks(section: str) -> list[list[str]]:
    """The bash blocks of README.md's ``## section``, as lists of commands (comments cut)."""
    text = (ROOT / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"```bash\n(.*?)```", body, re.S)
    return [[line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
            for block in found]  # fmt: skip


def ci_lines() -> list[str]:
    return [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]


def test_user_install_is_plain_and_includes_yunet():
    user = blocks("Install")[0]
    assert user[0] == "pip install torch==2.13.0"  # torch first, on its own line
    assert user[1] == "pip install . ./plugins/oldphoto-yunet"
    assert not any(" -e " in line or "--editable" in line or "[dev]" in line for line in user)


def test_developer_install_is_editable_with_the_dev_tools():
    developer = blocks("Install")[1]
    assert developer[0] == "pip install torch==2.13.0"
    assert any(line.startswith('pip install -e ".[dev]"') for line in developer)


def test_ci_installs_as_the_readme_says_and_runs_its_test_command():
    ci = ci_lines()
    developer = blocks("Install")[1]
    at = [ci.index(line) for line in developer]  # every line, as written, in order
    assert at == sorted(at)
    user_line = blocks("Install")[0][1]
    in_venv = user_line.replace("pip ", '"$venv_dir/bin/pip" ', 1)  # as written, in a fresh venv
    assert in_venv in ci
    (test_command,) = blocks("Test")[0]
    assert test_command in ci
