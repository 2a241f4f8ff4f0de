"""What the integration tests share: their marks, and a temporary project configured like this checkout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Integration tests build the real pinned CPython: slow, and skipped with QUICKEN_SKIP_INTEGRATION=1.
MARKS = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(os.environ.get("QUICKEN_SKIP_INTEGRATION")),
                       reason="QUICKEN_SKIP_INTEGRATION set"),
    pytest.mark.skipif(shutil.which("make") is None or shutil.which("gcc") is None, reason="no compiler"),
]


def write_config(root: Path, patches: Path, overlay: Path) -> Path:
    """``root/quicken.toml``: this checkout's settings, with the series read from ``patches`` and
    ``overlay``, and this checkout's benchmarks, differential programs and build fixups."""
    text = (ROOT / "quicken.toml").read_text()
    paths = (f'[paths]\npatches = "{patches}"\noverlay = "{overlay}"\n'
             f'benchmarks = "{ROOT}/benchmarks"\ndifferential = "{ROOT}/tests/differential"\n')
    text = text.replace("[paths]\n", paths, 1)
    for relative in ("benchmarks/pystats/", "tests/fixups/"):
        text = text.replace(f'"{relative}', f'"{ROOT}/{relative}')
    path = root / "quicken.toml"
    path.write_text(text)
    return path
