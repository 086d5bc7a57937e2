"""axe-core, injected by Playwright: the accessibility audit every page must pass in both themes.

axe-core comes from the npm registry (the project's package.json pins it; `npm ci` installs it into
node_modules). The audit fails, never skips, when it is missing, and says how to install it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
THEMES = ("light", "dark")
THEME_KEY = "supervisor-console-theme"  # where the theme toggle keeps the supervisor's choice
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


def axe_path() -> Path:
    """axe.min.js from AXE_CORE_PATH or the project's node_modules; fail with how to get it."""
    candidate = Path(os.environ.get("AXE_CORE_PATH") or ROOT / "node_modules" / "axe-core" / "axe.min.js")
    if candidate.is_file():
        return candidate
    pytest.fail(
        f"No axe-core at {candidate}. Install it from the npm registry with `npm ci` in the project "
        "folder (Node.js and npm: `apt-get install -y nodejs npm`), or set AXE_CORE_PATH to an axe.min.js.",
        pytrace=False,
    )


def prepare(page: Page, theme: str) -> None:
    """Before the first navigation: load axe into every document and pick the theme the page starts in.

    An init script runs before the page's own scripts and outside its Content-Security-Policy, so the
    audit needs no change to the policy the console sends.
    """
    page.add_init_script(path=str(axe_path()))
    page.add_init_script(f"try {{ localStorage.setItem({THEME_KEY!r}, {theme!r}); }} catch (e) {{}}")


@dataclass(frozen=True)
class Finding:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.impact} {self.rule}: {self.help} at {', '.join(self.targets[:5])}"


AUDIT = """async (tags) => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    rule: v.id, impact: v.impact || "", help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


def audit(page: Page) -> list[Finding]:
    """Every WCAG 2.1 A/AA violation axe finds on the page as it is now (collapsed panels opened)."""
    found = page.evaluate(AUDIT, WCAG_TAGS)
    return [Finding(f["rule"], f["impact"], f["help"], tuple(f["targets"])) for f in found]


def blocking(findings: list[Finding]) -> list[str]:
    return [str(f) for f in findings if f.impact in BLOCKING]
