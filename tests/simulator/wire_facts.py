"""Facts of the Telnyx wire, copied by hand from the spec so tests can hold the simulator to them.

Nothing here is read from the spec at run time: each literal was transcribed from the official
OpenAPI spec (team-telnyx/openapi, spec3.yml) and Telnyx's rate-limiting docs page, as cited.
"""

from __future__ import annotations

# components.schemas.ConferenceEnded.payload.reason (the webhook), which is narrower than the
# Conference resource's end_reason (that one adds ended_via_api).
CONFERENCE_ENDED_REASONS = frozenset({"all_left", "host_left", "time_exceeded"})

# Every (HTTP status, error code) pair the spec's components.responses document together, plus the
# docs page's 429 "10011 Too many requests" (the spec itself declares no 429 for these endpoints).
DOCUMENTED_ERRORS = frozenset({
    # BadRequestResponse
    (400, "90040"), (400, "10028"), (400, "10015"), (400, "90050"),
    # UnauthorizedResponse
    (401, "10009"),
    # NotFoundResponse
    (404, "10005"), (404, "90058"), (404, "10007"),
    # UnprocessableEntityResponse
    (422, "90061"), (422, "90018"), (422, "90038"), (422, "90034"), (422, "90020"), (422, "90019"),
    (422, "90033"), (422, "90031"), (422, "90015"), (422, "10015"), (422, "10032"), (422, "10016"),
    (422, "90032"), (422, "90045"), (422, "10004"), (422, "90036"), (422, "10011"), (422, "90054"),
    (422, "10033"),
    # rate-limiting docs page (developers.telnyx.com, api-fundamentals/reliability/rate-limiting)
    (429, "10011"),
    # InternalServerErrorResponse, ServiceUnavailableResponse
    (500, "10007"), (503, "10007"),
})

DOCUMENTED_STATUSES = frozenset(status for status, _ in DOCUMENTED_ERRORS)


def undocumented(status: int, code: str) -> tuple[int, str] | None:
    """The pair when the spec does not document it, else None (so an assert shows what broke)."""
    pair = (status, str(code))
    return None if pair in DOCUMENTED_ERRORS else pair
