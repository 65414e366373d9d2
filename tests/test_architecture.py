"""The shape of the code: layers, and the tree written only through mptt."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = [
    "core", "subgroups", "outbox", "members", "content", "analytics", "recall",
    "engagement", "fission", "programme", "grouping", "lifecycle", "community",
]  # fmt: skip


def test_apps_import_only_from_the_layers_below():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 1 kept, 0 broken." in result.stdout


def test_no_code_sets_parent_behind_mptts_back():
    pattern = re.compile(r"\.update\([^)]*\bparent(_id)?\s*=")
    offenders = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
