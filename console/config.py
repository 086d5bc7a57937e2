"""Settings declared as data: every knob the console reads, its default, and what it does.

The README's settings table is checked against SETTINGS by a test, so a setting cannot
exist without being documented.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Setting:
    """One configuration knob: read from the environment variable of the same name."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        """The environment variable that sets it (the same name, as the Telnyx SDK does)."""
        return self.name


def _flag(text: str) -> bool:
    """Parse a boolean environment value strictly."""
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _positive_int(text: str) -> int:
    """Parse a whole number greater than zero."""
    value = int(text)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    """Parse a number greater than zero."""
    value = float(text)
    if value <= 0:
        raise ValueError(f"expected a positive number, got {text!r}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting("TELNYX_API_KEY", None, "Telnyx API v2 key the console uses for commands and reconciliation."),
    Setting(
        "TELNYX_PUBLIC_KEY",
        None,
        "Base64 Ed25519 public key from Mission Control; webhooks are verified with it. "
        "`serve` refuses to start without it.",
    ),
    Setting("TELNYX_BASE_URL", "https://api.telnyx.com/v2", "Telnyx REST base URL (point it at the simulator for demos)."),
    Setting(
        "TELNYX_CONNECTION_ID",
        None,
        "Call Control connection (application) id used to dial supervisor lines.",
    ),
    Setting("TELNYX_CALLER_ID", None, "Caller id (E.164) shown when the console dials a supervisor line."),
    Setting("CONSOLE_DATABASE", "supervisor-console.db", "SQLite file holding the event log and read model."),
    Setting(
        "CONSOLE_SECRET_KEY",
        None,
        "Secret for signing session cookies; `serve` refuses to start without it, demo makes one up.",
    ),
    Setting(
        "CONSOLE_WEBHOOK_TOLERANCE",
        300,
        "Seconds a webhook timestamp may differ from the clock (either way) before it is rejected.",
        _positive_int,
    ),
    Setting(
        "CONSOLE_WEBHOOK_MAX_BYTES",
        1_048_576,
        "Largest webhook body accepted; bigger ones get 413.",
        _positive_int,
    ),
    Setting(
        "CONSOLE_RECONCILE_INTERVAL",
        30.0,
        "Seconds between REST reconciliations that heal missed webhooks.",
        _positive_float,
    ),
    Setting(
        "CONSOLE_TELNYX_TIMEOUT",
        10.0,
        "Seconds the console waits for one Telnyx API request.",
        _positive_float,
    ),
    Setting("CONSOLE_HUB_TICK_MS", 100, "Milliseconds the live hub gathers changes before pushing them to browsers.", _positive_int),
    Setting("CONSOLE_WAIT_WARN_SECONDS", 60, "A queue wait turns amber after this many seconds.", _positive_int),
    Setting(
        "CONSOLE_WAIT_CRITICAL_SECONDS",
        180,
        "A queue wait turns red (and is announced) after this many seconds.",
        _positive_int,
    ),
    Setting("CONSOLE_DEMO", False, "Demo mode: label the console as a demo (set by `supervisor-console demo`).", _flag),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}


class ConfigError(ValueError):
    """A setting has a value the console cannot use."""


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """Defaults, then the environment, then explicit overrides; parse errors name the variable."""
    environ = os.environ if environ is None else environ
    values = {setting.name: setting.default for setting in SETTINGS}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or raw == "":
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env}: {exc}") from exc
    for name, value in (overrides or {}).items():
        setting = BY_NAME.get(name)
        if setting is not None and isinstance(value, str) and setting.parse is not str:
            try:
                value = setting.parse(value)
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from exc
        values[name] = value
    return values
