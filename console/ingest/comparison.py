"""What the reconciler finds: each difference between Telnyx's REST view and the read model.

Telnyx's `conference.created` has no conference name and participant webhooks carry no label, so
the console learns those over REST. A comparison lists conferences, participants, queues and
queued calls and yields a console event for each difference; it never writes. Each correction is
stamped with the moment its REST request was sent, so a webhook for anything that happened after
that moment still wins once the store's ordering rules decide.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from console.telnyx.errors import NotFoundError, TelnyxError
from console.telnyx.events import (
    Event,
    EventParseError,
    console_event,
    format_timestamp,
    parse_timestamp,
)

# What a comparison finds is the reconciler's story, so it is logged under its name.
log = logging.getLogger("console.reconcile")

LIVE_STATUSES = ("init", "in_progress")
_MICROSECOND = timedelta(microseconds=1)


def _now() -> datetime:
    return datetime.now(UTC)


def _differs(observed: dict, known: dict | None, fields: tuple[str, ...]) -> bool:
    """True when REST disagrees with the read model on any of `fields`."""
    if known is None:
        return True
    return any(observed.get(name) != known.get(name) for name in fields if name in observed)


class RestComparison:
    """Compare Telnyx's REST view with the read model and yield a correction event per difference."""

    def __init__(self):
        # Legs whose label was already asked for: the label never changes, so ask once per leg.
        self._labels_checked: set[tuple[str, str]] = set()

    def _nudged(self, store, client, conference_id: str) -> Iterator[Event]:
        """Corrections for one conference the console has only seen by id."""
        observed = _now()
        try:
            conference = client.retrieve_conference(conference_id)
        except NotFoundError:
            return
        if _differs(conference, store.conference(conference_id), ("name", "status")):
            yield console_event("console.conference.synced", conference, observed)
        yield from self._participants(store, client, conference_id)

    def _conferences(self, store, client) -> Iterator[Event]:
        """Corrections for live conferences, and for those the read model still thinks are live."""
        live_rest: dict[str, tuple[dict, datetime]] = {}
        for status in LIVE_STATUSES:
            observed = _now()
            for conference in client.list_conferences(status=status):
                live_rest[conference["id"]] = (conference, observed)
        for conference_id, (conference, observed) in live_rest.items():
            if _differs(conference, store.conference(conference_id), ("name", "status")):
                yield console_event("console.conference.synced", conference, observed)
            yield from self._participants(store, client, conference_id)
        for known in store.live_conferences():
            if known["id"] in live_rest:
                continue
            observed = _now()
            try:
                conference = client.retrieve_conference(known["id"])
            except NotFoundError:
                conference = {"id": known["id"], "status": "completed"}
            if _differs(conference, known, ("name", "status", "end_reason")):
                yield console_event("console.conference.synced", conference, observed)
            ended = conference.get("status") == "completed"
            yield from self._participants(store, client, known["id"], ended=ended, observed=observed)

    def _participants(self, store, client, conference_id: str, ended: bool = False,
                      observed: datetime | None = None) -> Iterator[Event]:
        """Corrections for one conference's legs; every leg of an ended conference has left."""
        rest = {}
        if not ended:
            observed = _now()
            try:
                for participant in client.list_participants(conference_id):
                    rest[participant["call_control_id"]] = participant
            except NotFoundError:
                return
        observed = observed or _now()
        known = {p["call_control_id"]: p for p in store.participants(conference_id, include_left=True)}
        self._fetch_labels(client, conference_id, rest, known)
        for ccid, participant in rest.items():
            if participant.get("status") == "left" and known.get(ccid, {}).get("status") in (None, "left"):
                continue
            if _differs(participant, known.get(ccid), ("status", "muted", "on_hold", "label")):
                yield console_event("console.participant.synced", {**participant, "conference_id": conference_id},
                                    observed)
        for ccid, participant in known.items():
            if ccid not in rest and participant.get("status") != "left":
                yield console_event(
                    "console.participant.synced",
                    {"conference_id": conference_id, "call_control_id": ccid, "status": "left"}, observed)

    def _fetch_labels(self, client, conference_id: str, rest: dict, known: dict) -> None:
        """Labels are only in the single-participant shape: fetch each joined leg's once."""
        if len(self._labels_checked) > 100_000:
            self._labels_checked.clear()
        for ccid, participant in rest.items():
            leg = (conference_id, ccid)
            if participant.get("status") != "joined" or leg in self._labels_checked:
                continue
            if (known.get(ccid) or {}).get("label"):
                self._labels_checked.add(leg)
                continue
            try:
                single = client.retrieve_participant(conference_id, participant["id"])
            except TelnyxError as exc:
                log.info("no label for participant %s: %s", ccid, exc)
                continue
            self._labels_checked.add(leg)
            if single.get("label"):
                participant["label"] = single["label"]

    def _queues(self, store, client) -> Iterator[Event]:
        """Corrections for queue sizes and settings, their waiting calls, and deleted queues."""
        observed = _now()
        rest = {queue["name"]: queue for queue in client.list_queues()}
        known = {queue["name"]: queue for queue in store.queues()}
        for name, queue in rest.items():
            if _differs(queue, known.get(name), ("max_size", "average_wait_time_secs")):
                yield console_event("console.queue.synced", queue, observed)
            yield from self._queue_calls(store, client, name)
        for name in known:
            if name not in rest:
                yield console_event("console.queue.deleted", {"queue_name": name}, observed)

    def _queue_calls(self, store, client, queue_name: str) -> Iterator[Event]:
        """Corrections for who waits in a queue, keeping Telnyx's order of the callers."""
        observed = _now()
        try:
            rest = {call["call_control_id"]: call for call in client.list_queue_calls(queue_name)}
        except NotFoundError:
            return
        known = {call["call_control_id"]: call for call in store.queue_calls(queue_name)}
        ahead: datetime | None = None  # when the caller ahead in Telnyx's order was enqueued, as shown
        for ccid, call in sorted(rest.items(), key=_queue_order):
            shown = _moment_of((known.get(ccid) or call).get("enqueued_at"))
            in_order = ahead is None or (shown is not None and shown > ahead)
            if ccid in known and in_order:
                ahead = shown
                continue
            if not in_order:
                # REST gives enqueued_at to the millisecond, webhooks to the microsecond: callers
                # enqueued in the same millisecond would swap. Telnyx's position decides; the caller
                # was enqueued after the one ahead, so place it a microsecond later.
                shown = max(shown or ahead, ahead + _MICROSECOND)
                call = {**call, "enqueued_at": format_timestamp(shown)}
            ahead = shown
            yield console_event("console.queue_call.synced", {**call, "queue_name": queue_name}, observed)
        for ccid in known:
            if ccid not in rest:
                yield console_event(
                    "console.queue_call.synced",
                    {"queue_name": queue_name, "call_control_id": ccid, "status": "left"}, observed)


def _queue_order(item: tuple[str, dict]) -> tuple[int, int]:
    """REST queue calls by their queue_position (as listed when a position is missing)."""
    position = item[1].get("queue_position")
    return (0, position) if isinstance(position, int) and not isinstance(position, bool) else (1, 0)


def _moment_of(value) -> datetime | None:
    """A queue call's enqueued_at as a moment, or None when it is missing or unreadable."""
    try:
        return parse_timestamp(value)
    except EventParseError:
        return None
