"""Presentation helpers shared by pages, fragments and live pushes: element ids, OOB marking, formats."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_app_context, url_for
from markupsafe import Markup, escape

WAIT_WARN_DEFAULT = 60
WAIT_CRITICAL_DEFAULT = 180

# Where an app keeps the clock its pages and live frames are drawn by (a test may fix it).
CLOCK = "console.clock"

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9-]")
_FIRST_TAG = re.compile(r"^(\s*<[A-Za-z][A-Za-z0-9-]*)")


def _escape_char(match: re.Match) -> str:
    return "".join(f"_{byte:02x}" for byte in match.group(0).encode("utf-8"))


# Element ids repeat within a tick and across a few (a row redrawn, every page's fragment for it);
# a day's worth of call ids does not need remembering: about 1 MB at most, not 16.
ENCODED_IDS_KEPT = 4096


@lru_cache(maxsize=ENCODED_IDS_KEPT)
def _encode_text(text: str) -> str:
    return _ID_UNSAFE.sub(_escape_char, text)


def _encode_part(part: Any) -> str:
    """Keep letters, digits and '-'; every other character becomes '_' plus its UTF-8 bytes in hex."""
    return _encode_text(str(part))


def render_memo(kind: str, key: Any, compute):
    """`compute()` once per request (or per live-hub tick), so a macro called for every row queries once."""
    if not has_app_context():
        return compute()
    memo = g.setdefault("_render_memo", {})
    if (kind, key) not in memo:
        memo[(kind, key)] = compute()
    return memo[(kind, key)]


def dom_id(kind: str, *parts: Any) -> str:
    """The one element id for a UI atom: `kind` then each part, encoded so the id is HTML- and CSS-safe.

    Parts are joined with '__'; inside a part '_' only ever starts a two-digit hex escape, so
    different part lists can never produce the same id.
    """
    return "__".join([_encode_part(kind), *(_encode_part(part) for part in parts)])


def oob(html: str, how: str = "true") -> Markup:
    """Mark a rendered atom for an out-of-band swap by adding `hx-swap-oob` to its root element."""
    marked, count = _FIRST_TAG.subn(lambda m: f'{m.group(1)} hx-swap-oob="{escape(how)}"', str(html), count=1)
    if not count:
        raise ValueError("an atom must start with an element to be swapped out of band")
    return Markup(marked)


def utc_now() -> datetime:
    """The wall clock as an aware UTC datetime: what pages are drawn by unless a test fixes the clock."""
    return datetime.now(UTC)


def clock_of(app: Flask) -> Callable[[], datetime]:
    """The clock this app draws timers by."""
    return app.extensions.get(CLOCK, utc_now)


def draw_at(moment: datetime) -> None:
    """Draw the rest of this request or hub tick as of `moment` (the hub's tick instant, in either process)."""
    g._drawn_at = moment


def drawn_at() -> datetime:
    """The one instant a request or hub tick is drawn at, so every timer on it agrees: read once, then kept."""
    if not has_app_context():
        return utc_now()
    if "_drawn_at" not in g:
        g._drawn_at = clock_of(current_app)()
    return g._drawn_at


def parse_time(value: Any) -> datetime | None:
    """Read an ISO-8601 string, a datetime or epoch seconds as an aware UTC datetime (None if absent)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, tz=UTC)
    else:
        text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(value: Any) -> str:
    """An ISO-8601 UTC timestamp for `data-*` attributes the browser ticks from ('' when unknown)."""
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if moment else ""


def clock(value: Any) -> str:
    """Time of day (UTC, HH:MM:SS) for a timestamp; the browser rewrites it in local time."""
    moment = parse_time(value)
    return moment.strftime("%H:%M:%S") if moment else "—"


def seconds_since(value: Any, now: datetime | None = None) -> float | None:
    """Seconds elapsed since a timestamp, for the first paint before the browser starts ticking."""
    moment = parse_time(value)
    if moment is None:
        return None
    now = now or drawn_at()
    return max(0.0, (now - moment).total_seconds())


def duration(seconds: Any) -> str:
    """Seconds as m:ss, or h:mm:ss past an hour (the same format console.js ticks)."""
    if seconds is None or seconds == "":
        return "—"
    whole = int(float(seconds))
    hours, rest = divmod(max(0, whole), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def elapsed(value: Any) -> str:
    """Elapsed time since a timestamp, formatted like `duration`."""
    seconds = seconds_since(value)
    return duration(seconds) if seconds is not None else "—"


def span_between(start: Any, end: Any) -> str:
    """The formatted duration between two timestamps ('—' if either is unknown)."""
    first, last = parse_time(start), parse_time(end)
    if first is None or last is None:
        return "—"
    return duration(max(0.0, (last - first).total_seconds()))


def short_id(value: Any, length: int = 8) -> str:
    """A recognisable short form of a long id (its first characters), for things with no name yet."""
    text = str(value or "")
    return text if len(text) <= length else text[:length] + "…"


def wait_level(seconds: Any, warn: float, critical: float) -> str:
    """'ok', 'warn' or 'critical' for a wait, so the first paint matches what the browser computes."""
    if seconds is None:
        return "ok"
    value = float(seconds)
    if value >= critical:
        return "critical"
    if value >= warn:
        return "warn"
    return "ok"


def wait_thresholds(config) -> tuple[int, int]:
    """The amber and red thresholds (seconds) for queue waits, from settings with safe defaults."""
    warn = int(config.get("CONSOLE_WAIT_WARN_SECONDS") or WAIT_WARN_DEFAULT)
    critical = int(config.get("CONSOLE_WAIT_CRITICAL_SECONDS") or WAIT_CRITICAL_DEFAULT)
    return warn, max(warn, critical)


def socket_path(endpoint: str, **values: Any) -> str:
    """The path (with query) of a WebSocket route: url_for builds an absolute ws:// URL for those,
    but the browser should pick ws or wss and the host from the page it is on (proxies, TLS)."""
    parts = urlsplit(url_for(endpoint, **values))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def init_app(app: Flask) -> None:
    """Make the helpers available to every template as globals and filters, and give the app its clock."""
    app.extensions.setdefault(CLOCK, utc_now)
    app.jinja_env.globals.update(
        dom_id=dom_id, socket_path=socket_path, wait_thresholds=lambda: wait_thresholds(app.config)
    )
    app.jinja_env.filters.update(
        oob=oob,
        iso=iso,
        clock=clock,
        duration=duration,
        elapsed=elapsed,
        span_between=span_between,
        short_id=short_id,
        wait_level=lambda since: wait_level(seconds_since(since), *wait_thresholds(app.config)),
    )
    app.context_processor(lambda: {"now_iso": iso(drawn_at())})
