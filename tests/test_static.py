"""Vendored assets are the published files, unmodified, and pages load nothing from elsewhere."""

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"


def test_vendored_files_match_the_recorded_checksums():
    table = (VENDOR / "README.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"`([\w.]+)` ([0-9a-f]{64})", table))
    assert recorded, "the vendor README records no checksums"
    for path in VENDOR.rglob("*"):
        if path.is_file() and path.name not in {"README.md", "LICENSE.md"}:
            assert path.name in recorded, f"{path} has no checksum in static/vendor/README.md"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == recorded[path.name], path
    assert (VENDOR / "chart.js" / "4.6.1" / "LICENSE.md").exists()


def test_templates_reference_no_outside_hosts():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']https?://""", text), template
