"""scripts/system-deps (run by `make test`) installs only what is missing, however long the font
list is."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "system-deps"


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def machine(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH where chromium, pdfsig and wrk exist, fc-list lists the CJK fonts among 5,000 lines
    (more than a pipe holds) and apt-get/sudo only write down that they were called."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    for tool in ("chromium", "pdfsig", "wrk"):
        stub(bin_dir, tool, "exit 0")
    stub(
        bin_dir,
        "fc-list",
        'echo "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc: Noto Sans CJK SC:style=Regular"\n'
        'for i in $(seq 5000); do echo "/usr/share/fonts/truetype/Font$i.ttf: Font $i:style=Regular"; done',
    )
    for tool in ("apt-get", "sudo"):
        stub(bin_dir, tool, f'echo "{tool} $*" >> {calls}')
    return bin_dir, calls


def run(bin_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_present_fonts_are_not_reinstalled(machine: tuple[Path, Path]) -> None:
    # given: a machine with every package the tests use
    bin_dir, calls = machine
    # when: make test runs the script
    result = run(bin_dir)
    # then: the fonts are not installed again (they were, on every run, apt-get update and all);
    # only the poppler-data check reads the real disk
    assert result.returncode == 0, result.stderr
    assert "fonts-noto-cjk" not in result.stdout
    called = calls.read_text() if calls.exists() else ""
    assert "fonts-noto-cjk" not in called
    if Path("/usr/share/poppler/cMap").is_dir():
        assert called == ""


def test_a_missing_font_is_installed(machine: tuple[Path, Path]) -> None:
    # given: the CJK fonts are missing
    bin_dir, calls = machine
    stub(bin_dir, "fc-list", 'for i in $(seq 5000); do echo "/f/Font$i.ttf: Some Font $i"; done')
    # when
    result = run(bin_dir)
    # then: they are installed
    assert result.returncode == 0, result.stderr
    assert "fonts-noto-cjk" in calls.read_text()
