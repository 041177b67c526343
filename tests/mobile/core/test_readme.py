"""The README shows every screenshot the screen tests save."""

from __future__ import annotations

from tests.conftest import ROOT


def test_every_screenshot_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shots = sorted((ROOT / "docs" / "screenshots").glob("*.png"))
    assert shots
    missing = [p.name for p in shots if f"docs/screenshots/{p.name}" not in readme]
    assert not missing
