"""Request checks for the simulated Telnyx API: the request schemas of the spec, written as data.

``validate(schema, body)`` raises the first WorldError Telnyx would answer with (10004 missing,
10015 wrong type or bad format, 10016 bad phone number, 10032 bad enum, 10033 out of range) and returns the known
fields that were given. Unknown fields are ignored, as Telnyx does.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass

from console.simulator import errors

REGIONS = ("Australia", "Europe", "Middle East", "US")
BEEPS = ("always", "never", "on_enter", "on_exit")
ROLES = ("barge", "monitor", "none", "whisper")
CONFERENCE_STATUSES = ("init", "in_progress", "completed")
LANGUAGES = (
    "arb", "cmn-CN", "cy-GB", "da-DK", "de-DE", "en-AU", "en-GB", "en-GB-WLS", "en-IN", "en-US", "es-ES",
    "es-MX", "es-US", "fr-CA", "fr-FR", "hi-IN", "is-IS", "it-IT", "ja-JP", "ko-KR", "nb-NO", "nl-NL",
    "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sv-SE", "tr-TR",
)
VOICE_PROVIDERS = ("aws", "azure", "elevenlabs", "inworld", "minimax", "resemble", "rime", "telnyx", "xai")
DTMF = re.compile(r"^[0-9A-Da-d*#wW]+$")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
KIND_NAMES = {"string": "string", "integer": "integer", "boolean": "boolean", "strings": "array",
              "array": "array", "object": "object", "destination": "string", "loop": "integer"}


@dataclass(frozen=True)
class Rule:
    """What one request field must look like."""

    kind: str
    required: bool = False
    enum: tuple = ()
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: str | None = None


def text(**rule) -> Rule:
    return Rule("string", **rule)


def number(**rule) -> Rule:
    return Rule("integer", **rule)


def flag() -> Rule:
    return Rule("boolean")


def ids(**rule) -> Rule:
    return Rule("strings", **rule)


STATE = text(format="base64")
REGION = text(enum=REGIONS)
COMMAND = text()

SCHEMAS: dict[str, dict[str, Rule]] = {
    "dial": {
        "connection_id": text(required=True), "to": Rule("destination", required=True),
        "from": text(required=True, format="phone"), "client_state": STATE, "command_id": COMMAND,
        "from_display_name": text(max_length=128), "timeout_secs": number(minimum=5, maximum=600),
        "time_limit_secs": number(minimum=30, maximum=14400), "supervise_call_control_id": text(),
        "supervisor_role": text(enum=("barge", "whisper", "monitor")), "webhook_url": text(),
        "webhook_url_method": text(enum=("POST", "GET")), "link_to": text(), "bridge_intent": flag(),
    },
    "hangup": {"client_state": STATE, "command_id": COMMAND, "custom_headers": Rule("array")},
    "create_conference": {
        "call_control_id": text(required=True), "name": text(required=True), "beep_enabled": text(enum=BEEPS),
        "client_state": STATE, "comfort_noise": flag(), "command_id": COMMAND, "duration_minutes": number(minimum=1),
        "hold_audio_url": text(), "hold_media_name": text(), "max_participants": number(minimum=2, maximum=800),
        "region": REGION, "start_conference_on_create": flag(),
    },
    "update_participant": {"beep_enabled": text(enum=BEEPS), "end_conference_on_exit": flag(),
                           "soft_end_conference_on_exit": flag()},
    "end": {"command_id": COMMAND},
    "gather_using_audio": {
        "call_control_id": text(required=True), "audio_url": text(), "media_name": text(),
        "invalid_audio_url": text(), "invalid_media_name": text(), "client_state": STATE,
        "gather_id": text(max_length=100), "initial_timeout_millis": number(minimum=0),
        "inter_digit_timeout_millis": number(minimum=0), "timeout_millis": number(minimum=0),
        "minimum_digits": number(minimum=1), "maximum_digits": number(minimum=1),
        "maximum_tries": number(minimum=1), "stop_playback_on_dtmf": flag(), "terminating_digit": text(),
        "valid_digits": text(),
    },
    "hold": {"call_control_ids": ids(), "audio_url": text(), "media_name": text(), "region": REGION},
    "unhold": {"call_control_ids": ids(required=True), "region": REGION},
    "join": {
        "call_control_id": text(required=True), "beep_enabled": text(enum=BEEPS), "client_state": STATE,
        "command_id": COMMAND, "end_conference_on_exit": flag(), "soft_end_conference_on_exit": flag(),
        "hold": flag(), "hold_audio_url": text(), "hold_media_name": text(), "mute": flag(),
        "start_conference_on_enter": flag(), "supervisor_role": text(enum=ROLES),
        "whisper_call_control_ids": ids(), "region": REGION, "label": text(),
    },
    "leave": {"call_control_id": text(required=True), "beep_enabled": text(enum=BEEPS), "command_id": COMMAND,
              "region": REGION},
    "mute": {"call_control_ids": ids(), "region": REGION},
    "unmute": {"call_control_ids": ids(), "region": REGION},
    "play": {"audio_url": text(), "media_name": text(), "call_control_ids": ids(), "loop": Rule("loop"),
             "region": REGION},
    "stop": {"call_control_ids": ids(), "region": REGION},
    "speak": {
        "payload": text(required=True, max_length=3000), "voice": text(required=True),
        "payload_type": text(enum=("text", "ssml")), "language": text(enum=LANGUAGES),
        "voice_settings": Rule("object", enum=VOICE_PROVIDERS), "call_control_ids": ids(), "command_id": COMMAND,
        "region": REGION,
    },
    "send_dtmf": {"digits": text(required=True, format="dtmf"), "call_control_ids": ids(), "client_state": STATE,
                  "duration_millis": number(minimum=100, maximum=500)},
    "record_start": {
        "format": text(required=True, enum=("wav", "mp3")), "channels": text(enum=("single", "dual")),
        "command_id": COMMAND, "custom_file_name": text(min_length=1, max_length=40), "play_beep": flag(),
        "trim": text(enum=("trim-silence",)), "region": REGION,
    },
    "record_stop": {"client_state": STATE, "command_id": COMMAND, "recording_id": text(format="uuid"),
                    "region": REGION},
    "record_pause": {"command_id": COMMAND, "recording_id": text(), "region": REGION},
    "record_resume": {"command_id": COMMAND, "recording_id": text(), "region": REGION},
    "update": {"call_control_id": text(required=True), "supervisor_role": text(required=True, enum=ROLES),
               "whisper_call_control_ids": ids(), "command_id": COMMAND, "region": REGION},
    "create_queue": {"queue_name": text(required=True, min_length=1, max_length=255), "max_size": number(minimum=1)},
    "update_queue": {"max_size": number(required=True, minimum=1)},
    "update_queue_call": {"keep_after_hangup": flag()},
    "enqueue": {"queue_name": text(required=True), "client_state": STATE, "command_id": COMMAND,
                "keep_after_hangup": flag(), "max_size": number(minimum=1), "max_wait_time_secs": number(minimum=1)},
    "leave_queue": {"client_state": STATE, "command_id": COMMAND},
    "speak_call": {
        "payload": text(required=True, max_length=3000), "voice": text(required=True),
        "payload_type": text(enum=("text", "ssml")), "language": text(enum=LANGUAGES),
        "service_level": text(enum=("basic", "premium")), "target_legs": text(enum=("self", "opposite", "both")),
        "loop": Rule("loop"), "voice_settings": Rule("object"), "client_state": STATE, "command_id": COMMAND,
    },
}


# Spec: "<a> and <b> cannot be used together in one request".
EXCLUSIVE = {
    "create_conference": ("hold_audio_url", "hold_media_name"),
    "join": ("hold_audio_url", "hold_media_name"),
    "hold": ("audio_url", "media_name"),
    "play": ("audio_url", "media_name"),
}


def validate(schema: str, body: dict) -> dict:
    """Check ``body`` against a request schema; return the known fields given (None counts as absent)."""
    rules = SCHEMAS[schema]
    for name, rule in rules.items():
        if rule.required and _blank(body.get(name)):
            raise errors.missing(name)
    checked = {}
    for name, rule in rules.items():
        value = body.get(name)
        if value is not None:
            checked[name] = _check(name, rule, value)
    first, second = EXCLUSIVE.get(schema, (None, None))
    if first in checked and second in checked:
        raise errors.bad_value(second, f"{second} and {first} cannot be used together in one request.")
    return checked


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check(name: str, rule: Rule, value):
    """Check one present value against its rule and return it (normalised for loops)."""
    if rule.kind == "loop":
        return _loop(name, value)
    if rule.kind == "destination":
        return _destination(name, value)
    if not _is_kind(rule.kind, value):
        raise errors.wrong_type(name, KIND_NAMES[rule.kind])
    if rule.kind == "object" and rule.enum:
        provider = value.get("type")
        if provider not in rule.enum:
            raise errors.bad_enum(f"{name}/type", rule.enum)
    elif rule.enum and value not in rule.enum:
        raise errors.bad_enum(name, rule.enum)
    if rule.kind == "integer":
        low_ok = rule.minimum is None or value >= rule.minimum
        high_ok = rule.maximum is None or value <= rule.maximum
        if not (low_ok and high_ok):
            raise errors.out_of_range(name, rule.minimum, rule.maximum)
    if rule.kind == "string":
        if (rule.min_length is not None and len(value) < rule.min_length) or (
                rule.max_length is not None and len(value) > rule.max_length):
            raise errors.out_of_range(name, rule.min_length, rule.max_length, what=f"length of '{name}'")
        _check_format(name, rule.format, value)
    return value


def _is_kind(kind: str, value) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "strings":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _check_format(name: str, fmt: str | None, value: str) -> None:
    if fmt == "base64":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise errors.bad_value(name, f"The '{name}' parameter must be a valid Base-64 encoded string.") from None
    elif fmt == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            raise errors.bad_value(name, f"The '{name}' parameter must be a UUID.") from None
    elif fmt == "dtmf" and not DTMF.match(value):
        raise errors.bad_value(name, f"The '{name}' parameter may only hold 0-9, A-D, *, #, w and W.")
    elif fmt == "phone" and not is_address(value):
        raise errors.bad_phone_number(name)


def is_address(value: str) -> bool:
    """An E.164 number or a SIP URI: what Telnyx accepts as ``to`` and ``from``."""
    return bool(E164.match(value)) or value.startswith(("sip:", "sips:"))


def _destination(name: str, value):
    """``to`` is one number or SIP URI, or a list of them; the first one is dialled."""
    targets = value if isinstance(value, list) else [value]
    if not targets or not all(isinstance(item, str) for item in targets):
        raise errors.wrong_type(name, "string")
    for target in targets:
        if not is_address(target.split(",", 1)[0]):
            raise errors.bad_phone_number(name)
    return targets[0].split(",", 1)[0]


def _loop(name: str, value) -> int | None:
    """A loop count: 1..100, or "infinity" (returned as None)."""
    if isinstance(value, str):
        if value == "infinity":
            return None
        if not value.isdigit():
            raise errors.bad_enum(name, ("1..100", "infinity"))
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.wrong_type(name, "integer")
    if not 1 <= value <= 100:
        raise errors.out_of_range(name, 1, 100)
    return value


def page(args) -> tuple[int, int]:
    """``page[number]`` (default 1, at least 1) and ``page[size]`` (default 20, 1 to 250) from a query."""
    number = _query_int(args, "page[number]", 1, 1, None)
    size = _query_int(args, "page[size]", 20, 1, 250)
    return number, size


def _query_int(args, name: str, default: int, low: int, high: int | None) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.wrong_type(name, "integer", in_query=True) from None
    if value < low or (high is not None and value > high):
        raise errors.out_of_range(name, low, high, in_query=True)
    return value


def query_flag(args, name: str) -> bool | None:
    """A boolean query filter sent as ``true``/``false``; None when absent."""
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise errors.wrong_type(name, "boolean", in_query=True)
    return lowered == "true"


def query_choice(args, name: str, allowed) -> str | None:
    """An enumerated query value; None when absent."""
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise errors.bad_enum(name, allowed, in_query=True)
    return raw
