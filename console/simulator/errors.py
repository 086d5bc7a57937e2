"""Telnyx API errors as the simulator raises them: status, code, title, detail and source.

Every error is built here, and each uses a status and code the spec documents together (SPEC
``components.responses``: 400, 401, 404, 422, 500, 503), except 429/10011, which comes from Telnyx's
rate-limiting docs page rather than the spec. Where the documented code is only the nearest fit for
a case the spec does not describe, its factory says so.
"""

from __future__ import annotations

ERRORS_URL = "https://developers.telnyx.com/docs/overview/errors/"


class WorldError(Exception):
    """A Telnyx API error: status, code, title, detail, pointer=None, parameter=None."""

    def __init__(self, status: int, code: str, title: str, detail: str, *, pointer=None, parameter=None,
                 meta=None):
        super().__init__(f"{status} {code} {title}: {detail}")
        self.status = status
        self.code = str(code)
        self.title = title
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.meta = meta

    def body(self) -> dict:
        """The JSON body Telnyx answers with: ``{"errors": [{code, title, detail, source}]}``."""
        error = {"code": self.code, "title": self.title, "detail": self.detail}
        source = {}
        if self.pointer:
            source["pointer"] = self.pointer
        if self.parameter:
            source["parameter"] = self.parameter
        if source:
            error["source"] = source
        if self.meta:
            error["meta"] = self.meta
        return {"errors": [error]}


def _where(field: str | None, in_path: bool) -> dict:
    """Point at a body field (JSON pointer) or name a path/query parameter."""
    if field is None:
        return {}
    return {"parameter": field} if in_path else {"pointer": "/" + field}


def unauthorized() -> WorldError:
    return WorldError(401, "10009", "Authentication failed",
                      "The required authentication headers were either invalid or not included in the request.",
                      meta={"url": ERRORS_URL + "10009"})


def missing(field: str) -> WorldError:
    return WorldError(422, "10004", "Missing required parameter",
                      f"The '{field}' parameter is required and cannot be blank.", pointer="/" + field)


def wrong_type(field: str, kind: str, *, in_query: bool = False) -> WorldError:
    """A value of the wrong JSON type: the spec documents no code for this, so 10015, its invalid-value code."""
    return WorldError(422, "10015", "Invalid value",
                      f"The '{field}' parameter must be of type '{kind}'.", **_where(field, in_query))


def bad_enum(field: str, allowed, *, in_query: bool = False) -> WorldError:
    return WorldError(422, "10032", "Invalid enumerated value",
                      f"The value must be one of: {', '.join(sorted(allowed))}.", **_where(field, in_query))


def out_of_range(field: str, low=None, high=None, *, in_query: bool = False, what: str = "value") -> WorldError:
    if low is not None and high is not None:
        detail = f"The {what} is outside of allowed range {low} to {high}"
    elif low is not None:
        detail = f"The {what} must be at least {low}"
    else:
        detail = f"The {what} must be at most {high}"
    return WorldError(422, "10033", "Value outside of range", detail, **_where(field, in_query))


def bad_value(field: str | None, detail: str) -> WorldError:
    return WorldError(422, "10015", "Bad Request", detail, **_where(field, False))


def bad_request(detail: str) -> WorldError:
    """A request the server cannot read at all (not JSON, or refused by the HTTP layer)."""
    return WorldError(400, "10015", "Bad Request", detail)


def bad_encoding() -> WorldError:
    return WorldError(400, "10028", "Character encoding error", "The request body is not valid UTF-8.")


def bad_phone_number(field: str) -> WorldError:
    return WorldError(422, "10016", "Phone number must be in +E164 format",
                      f"The '{field}' parameter must be in E164 format.", pointer="/" + field)


def invalid_connection_id() -> WorldError:
    return WorldError(422, "10015", "Invalid value for connection_id (Call Control App ID)",
                      "The requested connection_id (Call Control App ID) is either invalid or does not exist. "
                      "Only Call Control Apps with valid webhook URL are accepted.", pointer="/connection_id")


def invalid_call_control_id(field: str = "call_control_id", *, in_path: bool = False) -> WorldError:
    return WorldError(422, "90015", "Invalid Call Control ID", "The call_control_id provided was not valid.",
                      **_where(field, in_path))


def call_ended() -> WorldError:
    return WorldError(422, "90018", "Call has already ended",
                      "This call is no longer active and can't receive commands.")


def call_not_answered() -> WorldError:
    return WorldError(422, "90034", "Call not answered yet",
                      "This call can't receive this command because it has not been answered yet.")


def conference_not_found(parameter: str = "id") -> WorldError:
    return WorldError(404, "90058", "Invalid conference_id", "The conference does not exist.", parameter=parameter)


def conference_ended() -> WorldError:
    return WorldError(422, "90019", "Conference has already ended",
                      "This conference is no longer active and can't receive commands.")


def conference_full(limit: int) -> WorldError:
    return WorldError(422, "90032", "Maximum number of participants reached",
                      f"The maximum allowed value of `max_participants` has been reached at {limit}.")


def conference_name_active() -> WorldError:
    return WorldError(422, "90033", "Unable to execute command",
                      "Conference with given name already exists and it's active.")


def queue_full(name: str) -> WorldError:
    return WorldError(422, "90036", "Queue full", f"The '{name}' queue is full and can't accept more calls.")


def already_in_queue() -> WorldError:
    return WorldError(422, "90038", "Call already in queue", "Call can't be added to a queue it's already in.")


def queue_name_taken(name: str) -> WorldError:
    """POST /queues with a name in use: the spec documents no code for this, so its invalid-value code."""
    return WorldError(422, "10015", "Bad Request", f"A queue named '{name}' already exists.", pointer="/queue_name")


def queue_not_empty() -> WorldError:
    return WorldError(400, "90050", "Unable to delete queue", "Only empty queues can be deleted.")


def not_found(parameter: str | None = None) -> WorldError:
    return WorldError(404, "10007", "Resource not found", "Resource not found", parameter=parameter)


def recording_not_found() -> WorldError:
    return WorldError(404, "10005", "Recording not found",
                      "The recording could not be found. Please check the recording_id and try again.",
                      pointer="/recording_id")


def route_not_found() -> WorldError:
    """No such path, or not with this method: the spec declares no 405, so a generic 404 (10007)."""
    return WorldError(404, "10007", "Resource not found", "The requested resource or URL could not be found.")


def too_many_requests() -> WorldError:
    """Rate limited: status, code and title as Telnyx's rate-limiting docs page gives them (not in the spec)."""
    return WorldError(429, "10011", "Too many requests",
                      "You have exceeded the maximum number of allowed requests.")


def internal_error() -> WorldError:
    return WorldError(500, "10007", "Internal server error", "Internal server error")


def service_unavailable() -> WorldError:
    """What a request held by the "timeout" fault finally answers, if its client still waits."""
    return WorldError(503, "10007", "Service unavailable", "Service unavailable")
