"""Typed Telnyx API errors, named as in the official SDK, and the one place that picks them."""

from __future__ import annotations

import http
import json
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of a Telnyx ``{"errors": [...]}`` body, so callers can branch on its code."""

    code: str | None = None
    title: str | None = None
    detail: str | None = None
    pointer: str | None = None
    parameter: str | None = None
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, item: dict) -> ErrorDetail:
        """Read one error object, tolerating missing or oddly typed fields."""
        source = item.get("source") if isinstance(item.get("source"), dict) else {}
        meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
        return cls(
            code=_text(item.get("code")),
            title=_text(item.get("title")),
            detail=_text(item.get("detail")),
            pointer=_text(source.get("pointer")),
            parameter=_text(source.get("parameter")),
            meta=meta,
        )


class TelnyxError(Exception):
    """Root of every error this client raises, so a view needs one handler."""


class APIConnectionError(TelnyxError):
    """Telnyx could not be reached, so whether the command ran is unknown."""


class APITimeoutError(APIConnectionError):
    """Telnyx did not answer within the timeout."""


class APIStatusError(TelnyxError):
    """Telnyx answered with an error status; carries the parsed error entries."""

    def __init__(self, message: str, *, status: int, errors=(), response=None):
        super().__init__(message)
        self.status = status
        self.errors: list[ErrorDetail] = list(errors)
        self.response = response

    @property
    def status_code(self) -> int:
        """The SDK's name for :attr:`status`."""
        return self.status

    @property
    def code(self) -> str | None:
        """The first error's Telnyx code, such as ``"90058"``."""
        return self.errors[0].code if self.errors else None

    @property
    def title(self) -> str | None:
        """The first error's title."""
        return self.errors[0].title if self.errors else None

    @property
    def detail(self) -> str | None:
        """The first error's human-readable detail."""
        return self.errors[0].detail if self.errors else None

    @property
    def pointer(self) -> str | None:
        """The JSON pointer of the request field the first error blames."""
        return self.errors[0].pointer if self.errors else None


class BadRequestError(APIStatusError):
    """400: the request was malformed."""


class AuthenticationError(APIStatusError):
    """401: the API key was missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the API key may not do this."""


class NotFoundError(APIStatusError):
    """404: no such conference, participant, queue or call."""


class ConflictError(APIStatusError):
    """409: the resource was busy with another change."""


class UnprocessableEntityError(APIStatusError):
    """422: Telnyx refused the command, e.g. the call or conference has ended."""


class RateLimitError(APIStatusError):
    """429: too many requests, even after waiting and retrying."""


class InternalServerError(APIStatusError):
    """5xx: Telnyx failed, even after retrying."""


STATUS_ERRORS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_for(response: requests.Response, *, redact: str | None = None) -> APIStatusError:
    """Build the typed error for an error response; ``redact`` is a secret to blank out of it."""
    status = response.status_code
    cls = STATUS_ERRORS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    text = response.text or ""
    if redact:
        text = text.replace(redact, "[redacted]")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    items = body.get("errors") if isinstance(body, dict) else None
    items = items if isinstance(items, list) else []
    errors = [ErrorDetail.from_json(item) for item in items if isinstance(item, dict)]
    return cls(_describe(status, errors), status=status, errors=errors, response=response)


def _describe(status: int, errors: list[ErrorDetail]) -> str:
    """A one-line message led by Telnyx's own words."""
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    first = errors[0] if errors else ErrorDetail()
    headline = first.detail or first.title or f"Telnyx answered {reason}"
    suffix = f", code {first.code}" if first.code else ""
    more = f"; and {len(errors) - 1} more" if len(errors) > 1 else ""
    return " ".join(f"{headline} (HTTP {status}{suffix}){more}".split())


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
