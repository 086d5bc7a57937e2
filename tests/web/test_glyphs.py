"""No symbol in a template, style sheet or script that Debian's default fonts (DejaVu) lack: it would render as a box."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every non-ASCII character here is drawn by the DejaVu fonts Debian installs by default (checked with
# `fc-list ":charset=<hex>"`); emoji and symbols such as U+1F507, U+26D4 and U+23F8 are not, so the
# console draws those as SVG masks (static/console.css) or says them in words.
ALLOWED = set("—–·…“”‘’→←↑↓●◌▲▼■‼⚠×✓°")


def sources() -> list[Path]:
    files = sorted((ROOT / "templates").glob("*.html"))
    files += sorted(p for p in (ROOT / "static").glob("*") if p.suffix in {".css", ".js", ".svg"})
    return files


def strays(text: str) -> list[tuple[int, str]]:
    return [(number, char) for number, line in enumerate(text.splitlines(), 1)
            for char in line if ord(char) > 127 and char not in ALLOWED]


def test_the_scan_finds_the_sources_and_catches_an_emoji():
    assert any(p.name == "console.css" for p in sources())
    assert any(p.name == "base.html" for p in sources())
    assert strays('a::before { content: "\U0001F507"; }\nb — c') == [(1, "\U0001F507")]


@pytest.mark.parametrize("path", sources(), ids=lambda p: p.name)
def test_no_glyph_outside_debians_fonts(path):
    found = strays(path.read_text(encoding="utf-8"))
    assert found == [], f"{path.name}: " + ", ".join(f"line {n}: {c!r} U+{ord(c):04X}" for n, c in found)
