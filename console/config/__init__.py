"""Settings declared as data: every knob the console reads, its default, and what it does.

The README's settings table is checked against SETTINGS by a test, so a setting cannot
exist without being documented. This is the lowest room: it imports nothing of the console, so
the settings whose text has a shape (queue targets, alert thresholds, proxy networks, group roles,
the Redis URL) are parsed here (shapes.py), into the small values the other rooms then read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.config.shapes import (  # re-exported: the rooms import them from console.config
    ALERT_METRICS,
    ROLES,
    Network,
    ServiceTarget,
    Threshold,
    parse_group_roles,
    parse_networks,
    parse_queue_targets,
    parse_redis_url,
    parse_thresholds,
)

__all__ = ["ALERT_METRICS", "ROLES", "SETTINGS", "ConfigError", "Network", "ServiceTarget", "Setting", "Threshold",
           "load_settings", "parse_group_roles", "parse_networks", "parse_queue_targets", "parse_redis_url",
           "parse_thresholds"]


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


def _whole_number(text: str) -> int:
    """Parse a whole number of zero or more."""
    value = int(text)
    if value < 0:
        raise ValueError(f"expected zero or more, got {text!r}")
    return value


def _percent(text: str) -> int:
    """Parse a percentage from 1 to 100."""
    value = int(text)
    if not 0 < value <= 100:
        raise ValueError(f"expected a percent from 1 to 100, got {text!r}")
    return value


def _time_zone(text: str) -> str:
    """Check an IANA time zone name."""
    try:
        ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}") from None
    return text.strip()


def _formula(text: str) -> str:
    """Check the service level formula name."""
    if text.strip() not in {"answered", "abandons"}:
        raise ValueError(f"expected answered or abandons, got {text!r}")
    return text.strip()


def _secure_cookies(text: str) -> str | bool:
    """`auto`, or a strict true/false."""
    return "auto" if text.strip().lower() == "auto" else _flag(text)


def _header_name(text: str) -> str:
    """Check an HTTP header name."""
    name = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9-]+", name):
        raise ValueError(f"expected an HTTP header name such as X-Forwarded-User, got {text!r}")
    return name


def _frame_ancestors(text: str) -> str:
    """Check CSP frame-ancestors sources: space separated, nothing that would end the directive."""
    sources = text.split()
    if not sources or any(c in text for c in ";,\r\n\"<>"):
        raise ValueError(f"expected space-separated CSP sources such as 'self' https://intranet.example.com, got {text!r}")
    return " ".join(sources)


def _checked(parse: Callable[[str], Any]) -> Callable[[str], str]:
    """A setting checked by one of the parsers above but kept as its text, which the rooms parse again."""

    def check(text: str) -> str:
        parse(text)
        return text

    return check


SETTINGS: tuple[Setting, ...] = (
    Setting("TELNYX_API_KEY", None, "Telnyx API v2 key the console uses for commands and reconciliation."),
    Setting("TELNYX_PUBLIC_KEY", None,
            "Base64 Ed25519 public key from Mission Control; webhooks are verified with it. "
            "`serve` refuses to start without it."),
    Setting("TELNYX_BASE_URL", "https://api.telnyx.com/v2", "Telnyx REST base URL (point it at the simulator for demos)."),
    Setting("TELNYX_CONNECTION_ID", None, "Call Control connection (application) id used to dial supervisor lines."),
    Setting("TELNYX_CALLER_ID", None, "Caller id (E.164) shown when the console dials a supervisor line."),
    Setting("CONSOLE_CALLER_MESSAGE_VOICE", "female",
            "Voice Telnyx speaks a message to a queued caller in: `female`, `male`, or a provider voice such as "
            "`AWS.Polly.Joanna-Neural`."),
    Setting("CONSOLE_DATABASE", "supervisor-console.db", "SQLite file holding the event log and read model."),
    Setting("CONSOLE_RETENTION_DAYS", 35,
            "Days before today whose calls are kept in full (event log, ended conferences, calls, queue-figure "
            "facts); an older day is first folded into daily queue figures, which History and its KPI export "
            "still show, then pruned in small batches in the background. `0` keeps everything. The audit trail "
            "is kept whatever this says.", _whole_number),
    Setting("CONSOLE_SECRET_KEY", None,
            "Secret for signing session cookies; `serve` refuses to start without it, demo makes one up."),
    Setting("CONSOLE_WEBHOOK_TOLERANCE", 300,
            "Seconds a webhook timestamp may differ from the clock (either way) before it is rejected.", _positive_int),
    Setting("CONSOLE_WEBHOOK_MAX_BYTES", 1_048_576,
            "Largest webhook body accepted; bigger ones get 413.", _positive_int),
    Setting("CONSOLE_RECONCILE_INTERVAL", 30.0,
            "Seconds between REST reconciliations that heal missed webhooks.", _positive_float),
    Setting("CONSOLE_TELNYX_TIMEOUT", 10.0, "Seconds the console waits for one Telnyx API request.", _positive_float),
    Setting("CONSOLE_HUB_TICK_MS", 100, "Milliseconds the live hub gathers changes before pushing them to browsers.", _positive_int),
    Setting("CONSOLE_REDIS_URL", "",
            "Redis (>= 6.2) or Valkey for running several instances (e.g. `redis://redis:6379/0`): every event goes "
            "through one Redis Stream and each instance keeps its own read model. Empty: one process, one SQLite "
            "file, no other service. Redis must use `maxmemory-policy noeviction`.", parse_redis_url),
    Setting("CONSOLE_REDIS_PREFIX", "console:",
            "Prefix of every Redis key this console uses, so several consoles can share one Redis."),
    Setting("CONSOLE_REDIS_STREAM_MAXLEN", 1_000_000,
            "Entries the event stream keeps (approximately); a new or rebuilding instance replays what is kept and "
            "the reconciler heals the rest from Telnyx.", _positive_int),
    Setting("CONSOLE_REDIS_DEDUPE_SECONDS", 86_400,
            "Seconds an event id is remembered in Redis, so a webhook retried to any instance is stored once.",
            _positive_int),
    Setting("CONSOLE_REDIS_LEASE_MS", 5_000,
            "Milliseconds of the leader lease: one instance runs the reconciler, the alert watcher and stream "
            "trimming, and another takes over within this time when it dies.", _positive_int),
    Setting("CONSOLE_RENDER_PROCESS", False,
            "Draw live updates in a second process, so a busy console's webhooks and rendering use two cores.", _flag),
    Setting("CONSOLE_WAIT_WARN_SECONDS", 60, "A queue wait turns amber after this many seconds.", _positive_int),
    Setting("CONSOLE_WAIT_CRITICAL_SECONDS", 180,
            "A queue wait turns red (and is announced) after this many seconds.", _positive_int),
    Setting("CONSOLE_TIMEZONE", "UTC", "IANA time zone whose midnight starts the KPI day (e.g. `Europe/Berlin`).", _time_zone),
    Setting("CONSOLE_WRAP_UP_SECONDS", 30,
            "The agent board shows an agent in wrap-up for this many seconds after a call, then idle.", _whole_number),
    Setting("CONSOLE_KPI_WINDOW_SECONDS", 0,
            "Queue KPIs cover this many past seconds (a sliding window); 0 means since midnight in `CONSOLE_TIMEZONE`.",
            _whole_number),
    Setting("CONSOLE_SL_TARGET_SECONDS", 20, "Service level target: answer within this many seconds.", _positive_int),
    Setting("CONSOLE_SL_GOAL_PERCENT", 80, "Service level goal: the percent of calls to answer within the target.", _percent),
    Setting("CONSOLE_SL_QUEUE_TARGETS", "",
            "Per-queue service level overrides as `queue=goal/seconds`, comma separated (e.g. `Sales=90/30`).",
            _checked(parse_queue_targets)),
    Setting("CONSOLE_SL_FORMULA", "answered",
            "Service level over `answered` calls only, or over answered plus abandons past the cutoff (`abandons`).",
            _formula),
    Setting("CONSOLE_SHORT_ABANDON_SECONDS", 5,
            "Callers who hang up sooner than this are short abandons: not offered, not abandoned.", _whole_number),
    Setting("CONSOLE_ALERT_THRESHOLDS", "*:longest_wait=60/180,depth=5/10,service_level=80/60",
            "Alert thresholds as `queue:metric=warning/critical,...` groups separated by `;` (`*` = every queue; "
            "metrics longest_wait seconds, depth callers, service_level percent, which alerts when it falls below).",
            _checked(parse_thresholds)),
    Setting("CONSOLE_ALERT_MIN_CALLS", 10,
            "Service level raises no alert until at least this many calls count towards it in the period, "
            "so two calls at the start of a shift do not read as a crisis; 0 or 1 alerts from the first call.",
            _whole_number),
    Setting("CONSOLE_ALERT_CLEAR_SECONDS", 30,
            "An alert steps down (critical to warning, or back to normal) only after its figure has stayed "
            "below the level this many seconds, so a queue hovering at a threshold does not flap; 0 steps down at once.",
            _whole_number),
    Setting("CONSOLE_WS_PING_SECONDS", 25,
            "Seconds between WebSocket pings to each open page; a page that has not answered one ping by "
            "the next is disconnected (a live browser reconnects by itself). 0 sends no pings.", _whole_number),
    Setting("CONSOLE_REQUEST_READ_SECONDS", 10.0,
            "Seconds a client may take to send a whole request (headers and body) under `serve`; a slower one "
            "gets 408 and is closed. Until then it waits in the event loop, holding no thread.", _positive_float),
    Setting("CONSOLE_SEND_STALL_SECONDS", 10.0,
            "Seconds a write to a client may make no progress before the connection is closed: a page whose "
            "browser stopped reading loses its socket, then reconnects for a fresh snapshot.", _positive_float),
    Setting("CONSOLE_WEBHOOK_THREADS", 8,
            "Threads reserved for `POST /webhooks/telnyx` under `serve`: pages and live sockets never take them.",
            _positive_int),
    Setting("CONSOLE_MAX_SOCKETS", 400,
            "Live pages (WebSockets) one `serve` process holds open, a thread each; one more is answered 503 "
            "with Retry-After.", _positive_int),
    Setting("CONSOLE_MAX_SOCKETS_PER_SESSION", 12,
            "Live pages one signed-in browser may hold open at once; one more is closed with code 1013 and the "
            "page says why and retries. 0 means no limit.", _whole_number),
    Setting("CONSOLE_MAX_SOCKETS_PER_USER", 30,
            "Live pages one user may hold open at once, across browsers (demo mode aside); one more is closed "
            "with code 1013 and the page says why and retries. 0 means no limit.", _whole_number),
    Setting("CONSOLE_SUPERVISOR_PHONE", None,
            "Phone number (E.164) or SIP address dialled as a supervisor's line until they save their own."),
    Setting("CONSOLE_DEMO", False,
            "Demo mode: label the console as a demo and sign every visitor in as a demo admin "
            "(set by `supervisor-console demo`; never in production).", _flag),
    Setting("CONSOLE_SESSION_HOURS", 12,
            "Hours a sign-in lasts before the console asks for the password again.", _positive_int),
    Setting("CONSOLE_SESSION_IDLE_MINUTES", 60,
            "Minutes a sign-in may go unused before it ends (a page left open with its live connection counts "
            "as use); 0 turns the idle timeout off, leaving only `CONSOLE_SESSION_HOURS`.", _whole_number),
    Setting("CONSOLE_LOGIN_FREE_FAILURES", 5,
            "Failed sign-ins an account may have before each next try must wait (a wait that starts at "
            "`CONSOLE_LOGIN_FIRST_DELAY_SECONDS` and doubles); 0 makes the first failure wait.", _whole_number),
    Setting("CONSOLE_LOGIN_LOCKOUT_FAILURES", 10,
            "Failed sign-ins that lock an account for `CONSOLE_LOGIN_LOCKOUT_SECONDS` (each failure after that "
            "locks it again); must be more than `CONSOLE_LOGIN_FREE_FAILURES`.", _positive_int),
    Setting("CONSOLE_LOGIN_ADDRESS_FREE_FAILURES", 20,
            "Failed sign-ins, under any names, one client address may have before each next try from it must wait "
            "(an office behind one address shares this count).", _whole_number),
    Setting("CONSOLE_LOGIN_ADDRESS_LOCKOUT_FAILURES", 50,
            "Failed sign-ins that lock sign-ins from one client address for `CONSOLE_LOGIN_LOCKOUT_SECONDS`; "
            "must be more than `CONSOLE_LOGIN_ADDRESS_FREE_FAILURES`.", _positive_int),
    Setting("CONSOLE_LOGIN_FIRST_DELAY_SECONDS", 2.0,
            "Seconds the first throttled sign-in must wait; each further failure doubles it.", _positive_float),
    Setting("CONSOLE_LOGIN_LOCKOUT_SECONDS", 900.0,
            "Seconds a lockout lasts (also the longest any throttled wait lasts).", _positive_float),
    Setting("CONSOLE_LOGIN_FAILURE_WINDOW_SECONDS", 3600.0,
            "Failed sign-ins are forgotten once this many seconds pass without another for the same account "
            "or address; a right password forgets its account's at once.", _positive_float),
    Setting("CONSOLE_SECURE_COOKIES", "auto",
            "Mark the session cookie Secure (HTTPS only): `true`, `false`, or `auto` = on, except in demo mode "
            "and for plain-HTTP requests to localhost.", _secure_cookies),
    Setting("CONSOLE_TRUSTED_PROXIES", "",
            "Addresses or CIDR networks of reverse proxies whose X-Forwarded-For/Proto/Host/Port/Prefix "
            "(and trusted user headers) are believed, comma separated (e.g. `10.0.0.5,192.168.1.0/24`).",
            _checked(parse_networks)),
    Setting("CONSOLE_TRUSTED_HEADER_AUTH", False,
            "Single sign-on: take the signed-in user from `CONSOLE_TRUSTED_USER_HEADER`, but only on requests "
            "from `CONSOLE_TRUSTED_PROXIES`.", _flag),
    Setting("CONSOLE_TRUSTED_USER_HEADER", "X-Forwarded-User",
            "Header in which the trusted proxy names the signed-in user.", _header_name),
    Setting("CONSOLE_TRUSTED_GROUPS_HEADER", "X-Forwarded-Groups",
            "Header in which the trusted proxy lists the user's groups (comma separated).", _header_name),
    Setting("CONSOLE_GROUP_ROLES", "",
            "Groups mapped to roles for single sign-on as `group=role` pairs, comma separated (e.g. "
            "`ops-admins=admin,ops-sup=supervisor`); the highest role wins; with none, the user's stored role, else viewer.",
            _checked(parse_group_roles)),
    Setting("CONSOLE_FRAME_ANCESTORS", "'self'",
            "Pages that may show the console in a frame (the CSP `frame-ancestors` sources, space separated, "
            "e.g. `'self' https://intranet.example.com`).", _frame_ancestors),
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
