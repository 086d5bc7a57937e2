"""The README documents every setting and opens with the demo and test commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from console.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _table_rows() -> dict[str, str]:
    """Setting name -> its README table row."""
    rows = {}
    for line in README.splitlines():
        match = re.match(r"\|\s*`([A-Z0-9_]+)`\s*\|", line)
        if match:
            rows[match.group(1)] = line
    return rows


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme_table(setting):
    rows = _table_rows()
    assert setting.name in rows, f"{setting.name} is missing from the README settings table"
    assert setting.help.split(";")[0].split("(")[0].strip()[:30] in rows[setting.name]


def test_readme_table_has_no_stale_settings():
    documented = set(_table_rows())
    known = {setting.name for setting in SETTINGS}
    assert documented <= known, f"README documents unknown settings: {sorted(documented - known)}"


def test_readme_opens_with_demo_then_test_command():
    blocks = re.findall(r"```bash\n(.+?)\n```", README)
    assert "supervisor-console demo" in blocks[0]
    assert "pytest" in blocks[1]
    assert README.index("<!-- demo-command -->") < README.index("<!-- test-command -->")
