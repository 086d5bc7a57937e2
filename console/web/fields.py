"""What a control's input may be: Telnyx's enums and limits, a parser per kind of value, the Form base.

A parser turns the raw string a supervisor typed into the typed value Telnyx expects, or raises
Invalid with the message shown beside the field. The limits are Telnyx's own, from its OpenAPI
schemas; the per-action forms built from these live in forms.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

BEEP_OPTIONS = ("always", "never", "on_enter", "on_exit")
SUPERVISOR_ROLES = ("none", "monitor", "whisper", "barge")
RECORDING_FORMATS = ("wav", "mp3")
RECORDING_CHANNELS = ("single", "dual")
PAYLOAD_TYPES = ("text", "ssml")
# The 29 locales of ConferenceSpeakRequest.language in the Telnyx spec.
SPEAK_LANGUAGES = (
    "arb", "cmn-CN", "cy-GB", "da-DK", "de-DE", "en-AU", "en-GB", "en-GB-WLS", "en-IN", "en-US",
    "es-ES", "es-MX", "es-US", "fr-CA", "fr-FR", "hi-IN", "is-IS", "it-IT", "ja-JP", "ko-KR",
    "nb-NO", "nl-NL", "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sv-SE", "tr-TR",
)
DTMF_ALPHABET = "0123456789ABCD*#wW"
GATHER_DIGITS = "0123456789ABCD*#"
SPEAK_PAYLOAD_LIMIT = 3000
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TRUE_WORDS = {"true", "on", "yes", "1"}
FALSE_WORDS = {"false", "off", "no", "0", ""}


class Invalid(ValueError):
    """A value a supervisor typed that Telnyx would refuse; the message is shown beside the field."""


Parser = Callable[[str], Any]


def text(min_length: int = 1, max_length: int | None = None) -> Parser:
    """Free text whose length (after trimming) lies within the bounds."""

    def parse(raw: str) -> str:
        if len(raw) < min_length:
            raise Invalid(f"Enter at least {min_length} characters." if min_length > 1 else "Enter a value.")
        if max_length is not None and len(raw) > max_length:
            raise Invalid(f"Use at most {max_length} characters (this has {len(raw)}).")
        return raw

    return parse


def whole_number(minimum: int | None = None, maximum: int | None = None) -> Parser:
    """A whole number within the bounds, e.g. max_participants from 2 to 800."""

    def parse(raw: str) -> int:
        if not re.fullmatch(r"[+-]?\d{1,12}", raw):
            raise Invalid("Enter a whole number.")
        number = int(raw)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            raise Invalid(_range_message(minimum, maximum))
        return number

    return parse


def _range_message(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"Enter a whole number from {minimum} to {maximum}."
    if minimum is not None:
        return f"Enter a whole number of at least {minimum}."
    return f"Enter a whole number of at most {maximum}."


def choice(options: tuple[str, ...]) -> Parser:
    """One of a fixed set of values, as Telnyx's enums require."""

    def parse(raw: str) -> str:
        if raw not in options:
            raise Invalid(f"Choose one of: {', '.join(options)}.")
        return raw

    return parse


def dtmf_digits(raw: str) -> str:
    """DTMF to send: 0-9, A-D, * and #, with w and W as half-second and one-second pauses."""
    wrong = sorted({c for c in raw if c not in DTMF_ALPHABET})
    if wrong:
        raise Invalid(f"Digits may only be 0-9, A-D, *, #, w and W (not {' '.join(wrong)}).")
    if not raw.strip("wW"):
        raise Invalid("Enter at least one digit to send.")
    return raw


def digit_set(raw: str) -> str:
    """Keys a gather accepts: a non-empty set drawn from 0-9, A-D, * and #."""
    wrong = sorted({c for c in raw if c not in GATHER_DIGITS})
    if wrong:
        raise Invalid(f"Use only 0-9, A-D, * and # (not {' '.join(wrong)}).")
    return raw


def terminating_digit(raw: str) -> str:
    """The single key that ends a gather early."""
    if len(raw) != 1 or raw not in GATHER_DIGITS:
        raise Invalid("Enter one key: 0-9, A-D, * or #.")
    return raw


def loop_count(raw: str) -> int | str:
    """How often to play audio: 1 to 100 times, or "infinity" for an endless loop."""
    if raw.lower() == "infinity":
        return "infinity"
    try:
        return whole_number(1, 100)(raw)
    except Invalid:
        raise Invalid("Enter a whole number from 1 to 100, or infinity.") from None


def audio_url(raw: str) -> str:
    """An http(s) URL Telnyx can fetch a WAV or MP3 file from."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in raw:
        raise Invalid("Enter a full http:// or https:// address of a WAV or MP3 file.")
    return raw


def uuid_text(raw: str) -> str:
    """A UUID, as Telnyx requires for recording ids."""
    if not UUID_PATTERN.fullmatch(raw):
        raise Invalid("Enter a recording id like 3fa85f64-5717-4562-b3fc-2c963f66afa6.")
    return raw.lower()


def flag(raw: str) -> bool:
    """A checkbox or yes/no choice."""
    lowered = raw.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise Invalid("Choose yes or no.")


@dataclass(frozen=True)
class Field:
    """One input of a control: its name (the Telnyx field name), parser, and whether it is a list."""

    name: str
    parse: Parser = text()
    required: bool = False
    many: bool = False


class Form:
    """Declared fields plus cross-field checks; validate() fills `data` or `errors`."""

    fields: tuple[Field, ...] = ()

    def __init__(self, formdata: Mapping | None = None):
        self.formdata = formdata if formdata is not None else {}
        self.data: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def _raw_list(self, name: str) -> list[str]:
        getlist = getattr(self.formdata, "getlist", None)
        if getlist is not None:
            return [str(v) for v in getlist(name)]
        value = self.formdata.get(name)
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]

    def value(self, name: str, default: str = "") -> str:
        """What was typed into a field (the last value wins, so a hidden "false" precedes a checkbox)."""
        values = self._raw_list(name)
        return values[-1] if values else default

    def values(self, name: str) -> list[str]:
        """Every non-empty value posted for a list field, such as selected participants."""
        return [v for v in (s.strip() for s in self._raw_list(name)) if v]

    def checked(self, name: str, default: bool = False) -> bool:
        """Whether a yes/no field should render as chosen."""
        if not self._raw_list(name):
            return default
        return self.value(name).strip().lower() in TRUE_WORDS

    def error(self, name: str, message: str) -> None:
        """Record a message for a field (the first one wins)."""
        self.errors.setdefault(name, message)

    def validate(self) -> bool:
        """Parse every field, then run the cross-field checks; True when nothing is wrong."""
        for field in self.fields:
            if field.many:
                self._parse_many(field)
            else:
                self._parse_one(field)
        if not self.errors:
            self.check()
        return not self.errors

    def _parse_one(self, field: Field) -> None:
        raw = self.value(field.name).strip()
        if not raw:
            if field.required:
                self.error(field.name, "This is required.")
            return
        try:
            self.data[field.name] = field.parse(raw)
        except Invalid as exc:
            self.error(field.name, str(exc))

    def _parse_many(self, field: Field) -> None:
        parsed: list[Any] = []
        for raw in self.values(field.name):
            try:
                item = field.parse(raw)
            except Invalid as exc:
                self.error(field.name, str(exc))
                return
            if item not in parsed:
                parsed.append(item)
        if parsed:
            self.data[field.name] = parsed
        elif field.required:
            self.error(field.name, "Choose at least one.")

    def check(self) -> None:
        """Rules that involve more than one field; subclasses add them."""

    def one_of(self, first: str, second: str, *, required: bool = False) -> None:
        """Telnyx takes an audio URL or a media name, never both (and sometimes one is needed)."""
        if first in self.data and second in self.data:
            self.error(second, "Give an audio URL or a media name, not both.")
        elif required and first not in self.data and second not in self.data:
            self.error(first, "Give an audio URL or a media name.")
