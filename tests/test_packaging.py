"""The built-in grammars ship inside the wheel: found after a non-editable install."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_builtin_grammars(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("syncode-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for grammar in sorted(p.name for p in (REPO / "grammars").glob("*.lark")):
        assert f"syncode/grammars/{grammar}" in names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = "import syncode; print(sorted(syncode.Grammar.builtin_names())); syncode.Grammar.builtin('json')"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                         check=True, capture_output=True, text=True).stdout
    assert "'json'" in out and "'sql'" in out
