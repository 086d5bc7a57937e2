"""Raw webhook JSON, or a change the console makes itself, turned into one immutable Event.

Telnyx wraps events as ``{"data": {"record_type": "event", "id", "event_type", "occurred_at",
"payload"}}``, except that the spec models ``conference.floor.changed`` unwrapped (the same keys
at the top level). ``occurred_at`` sits beside the payload for some event types, inside it for
others, and nowhere for ``conference.recording.saved``, which is ordered by its recording times.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TELNYX = "telnyx"
CONSOLE = "console"


# A JSON escape for half of a UTF-16 surrogate pair; json.loads lets a lone one through.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


# SQLite keeps an integer in a signed 64-bit word; one outside it cannot be stored as a number.
SQLITE_INTEGER_MIN, SQLITE_INTEGER_MAX = -(2**63), 2**63 - 1
_INTEGER_DIGITS = len(str(SQLITE_INTEGER_MIN))  # the longest integer text that can be in range, sign included


class EventParseError(ValueError):
    """The body is not a webhook event this console can read."""


def _refuse_constant(name: str):
    """json hook for NaN, Infinity and -Infinity: no JSON number, and SQLite's JSON cannot read them."""
    raise EventParseError(f"body holds {name}, which is not a JSON number")


def _finite_float(text: str) -> float:
    """json hook for a number with a fraction or exponent: refuse one too large to be finite (1e999)."""
    value = float(text)
    if not math.isfinite(value):
        raise EventParseError(f"number {text[:40]} is too large to store")
    return value


def _storable_int(text: str) -> int:
    """json hook for a whole number: refuse one outside SQLite's signed 64-bit range."""
    if len(text) <= _INTEGER_DIGITS - 2:  # 18 digits or fewer is always in range
        return int(text)
    value = int(text) if len(text) <= _INTEGER_DIGITS else None
    if value is None or not SQLITE_INTEGER_MIN <= value <= SQLITE_INTEGER_MAX:
        raise EventParseError(f"integer {text[:40]}{'...' if len(text) > 40 else ''} is outside the"
                              " signed 64-bit range SQLite can store")
    return value


# Hooks run only on the numbers and constants in a body, so a typical webhook pays for a few calls.
_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_storable_int)


def read_json(text: str):
    """JSON text as Python values, refusing NaN, infinities and integers SQLite cannot hold.

    Raises EventParseError for those, json.JSONDecodeError for text that is not JSON, and
    RecursionError for nesting too deep to read.
    """
    return _STRICT.decode(text)


@dataclass(frozen=True)
class Event:
    """One thing that happened, from Telnyx or from the console; equal events have equal ids."""

    id: str
    event_type: str
    occurred_at: datetime | None
    payload: dict
    source: str = TELNYX
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def ordered_at(self) -> datetime | None:
        """When the event happened, for ordering: occurred_at, else the recording's end or start."""
        if self.occurred_at is not None:
            return self.occurred_at
        for name in ("recording_ended_at", "recording_started_at"):
            value = self.payload.get(name)
            if isinstance(value, str):
                try:
                    return parse_timestamp(value)
                except EventParseError:
                    continue
        return None

    def envelope(self) -> dict:
        """The event as webhook-shaped JSON, so it can cross a process boundary and parse back."""
        data = {"record_type": "event", "id": self.id, "event_type": self.event_type, "payload": self.payload}
        if self.occurred_at is not None:
            data["occurred_at"] = format_timestamp(self.occurred_at)
        return {"data": data}


def parse_timestamp(value: str) -> datetime:
    """Read an ISO-8601 timestamp (``Z``, offsets, any fraction) as an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        raise EventParseError(f"timestamp must be a non-empty string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise EventParseError(f"timestamp {value!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise EventParseError(f"timestamp {value!r} is out of range") from None


def format_timestamp(moment: datetime) -> str:
    """A fixed-width UTC string whose text order is time order (microseconds, trailing Z)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def _decode(body: bytes | bytearray | str | dict) -> Any:
    """Turn the body into parsed JSON without letting any other exception escape."""
    if isinstance(body, dict):
        return body
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventParseError(f"body is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not isinstance(body, str):
        raise EventParseError(f"body must be bytes, str or dict, got {type(body).__name__}")
    try:
        document = read_json(body)
    except RecursionError:
        raise EventParseError("body is nested too deeply") from None
    except EventParseError:
        raise
    except ValueError as exc:
        raise EventParseError(f"body is not JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(body):
        _refuse_lone_surrogates(document)
    return document


def _refuse_lone_surrogates(document: Any) -> None:
    """Refuse text holding half a surrogate pair: it is not Unicode, and SQLite cannot store it."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise EventParseError("body has a \\u escape for half a surrogate pair, which is not text") from None
    except RecursionError:
        raise EventParseError("body is nested too deeply") from None


def _record(document: Any) -> dict:
    """The object holding id, event_type and payload: ``data`` when wrapped, else the top level."""
    if not isinstance(document, dict):
        raise EventParseError(f"body must be a JSON object, got {type(document).__name__}")
    if "data" in document:
        if not isinstance(document["data"], dict):
            raise EventParseError("'data' must be an object")
        return document["data"]
    if "event_type" in document:
        return document
    raise EventParseError("body has neither a 'data' object nor a top-level 'event_type'")


def _required_text(record: dict, name: str) -> str:
    """A string field that must be present and not blank."""
    value = record.get(name)
    if value is None:
        raise EventParseError(f"missing '{name}'")
    if not isinstance(value, str):
        raise EventParseError(f"'{name}' must be a string, got {type(value).__name__}")
    if not value.strip():
        raise EventParseError(f"'{name}' is blank")
    return value


def _occurred_at(record: dict, payload: dict) -> datetime | None:
    """occurred_at from beside the payload, else from inside it, else None."""
    for holder in (record, payload):
        value = holder.get("occurred_at")
        if value is not None:
            return parse_timestamp(value)
    return None


def parse_event(body: bytes | bytearray | str | dict, *, source: str = TELNYX) -> Event:
    """Parse a webhook body; raise EventParseError (and nothing else) when it cannot be read."""
    document = _decode(body)
    record = _record(document)
    record_type = record.get("record_type")
    if record_type is not None and not isinstance(record_type, str):
        raise EventParseError("'record_type' must be a string")
    event_id = _required_text(record, "id")
    event_type = _required_text(record, "event_type")
    payload = record.get("payload", {})
    if not isinstance(payload, dict):
        raise EventParseError(f"'payload' must be an object, got {type(payload).__name__}")
    occurred_at = _occurred_at(record, payload)
    for name in ("recording_started_at", "recording_ended_at"):
        if payload.get(name) is not None:
            parse_timestamp(payload[name])
    return Event(event_id, event_type, occurred_at, payload, source, raw=document)


def console_event(event_type: str, payload: dict, occurred_at: datetime | None = None) -> Event:
    """An event the console itself publishes: a fresh id, source "console", stamped now by default."""
    if not isinstance(event_type, str) or not event_type.strip():
        raise TypeError("event_type must be a non-empty string")
    if not isinstance(payload, dict):
        raise TypeError("payload must be a dict")
    moment = occurred_at or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    event_id = str(uuid.uuid4())
    payload = dict(payload)
    raw = {
        "data": {
            "record_type": "event",
            "id": event_id,
            "event_type": event_type,
            "occurred_at": format_timestamp(moment),
            "payload": payload,
        }
    }
    return Event(event_id, event_type, moment, payload, CONSOLE, raw=raw)
