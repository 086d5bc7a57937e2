"""A call's life read back from the event log: queue entry, wait, answer, conference, hangup.

Pure functions over Events, plus the queued-call outcomes the history page lists. The log keeps
whatever Telnyx sent, so ids are used only when they are text and waits only when they are
numbers; an event that still cannot be drawn is shown (or, in the outcomes, left out) as
unreadable and logged, never allowed to fail the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from console.state.event_rows import UNREADABLE, report_unreadable
from console.state.outcomes import ABANDON_REASONS, ANSWERED_REASONS
from console.state.row_views import display_name
from console.telnyx.events import Event

# What a stored value of a shape no code expected raises while a sentence or a row is made from it.
SHAPE_ERRORS = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError)


@dataclass(frozen=True)
class Step:
    """One line of a timeline."""

    at: datetime | None
    kind: str
    text: str
    leg: str | None = None  # the other call a step is about (who joined, left, hung up), so pages can say who it is


def _id(value) -> str | None:
    """A call or conference id as the timeline uses it: text, else nothing."""
    return value if isinstance(value, str) else None


def _number(value) -> float | None:
    """A count of seconds as the timeline uses it: a finite number, else nothing."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


def _seconds(value) -> str:
    seconds = _number(value)
    return f"{seconds:.0f} s" if seconds is not None else "an unknown time"


def _unreadable(event: Event) -> tuple[str, str]:
    """(kind, sentence) standing in for an event that cannot be read or drawn; the log has the details."""
    stored_type = event.payload.get("event_type") if event.event_type == UNREADABLE else event.event_type
    return "unreadable", (f"An event ({str(stored_type or 'of no type')[:80]}, id {event.id[:80]}) could not be"
                          " read; it has been logged")


def _describe(event: Event, subject: str, names: dict[str, str]) -> tuple[str, str] | None:
    """(kind, sentence) for one event, seen from the call `subject`; None when it says nothing useful."""
    p = event.payload
    kind = event.event_type
    leg = _id(p.get("call_control_id"))
    who = names.get(leg) or leg or "someone"
    mine = leg == subject
    conference = names.get(_id(p.get("conference_id"))) or p.get("conference_id")
    if kind == "call.initiated":
        return "call", f"Call from {p.get('from') or 'unknown'} to {p.get('to') or 'unknown'} ({p.get('direction') or 'call'})"
    if kind == "call.answered":
        return "call", "Call answered"
    if kind == "call.enqueued":
        return "queue", f"Entered queue {p.get('queue')} at position {p.get('current_position')}"
    if kind == "call.dequeued":
        reason = p.get("reason")
        outcome = ("answered" if reason in ANSWERED_REASONS else "abandoned" if reason in ABANDON_REASONS
                   else "left the queue")
        return "queue", (f"Left queue {p.get('queue')} ({reason}, {outcome}) after waiting "
                         f"{_seconds(p.get('wait_time_secs'))}")
    if kind == "conference.participant.joined":
        role = p.get("supervisor_role")
        return "conference", (f"{'Joined' if mine else who + ' joined'} conference {conference}"
                              + (f" as {role}" if role and role != "none" else ""))
    if kind == "conference.participant.left":
        return "conference", f"{'Left' if mine else who + ' left'} conference {conference}"
    if kind == "console.participant.updated":
        changes = []
        for flag, on, off in (("muted", "muted", "unmuted"), ("on_hold", "put on hold", "taken off hold")):
            if p.get(flag) is not None:
                changes.append(on if p[flag] else off)
        if p.get("supervisor_role") is not None:
            changes.append(f"role changed to {p['supervisor_role']}")
        if not changes:
            return None
        return "control", f"{'This call' if mine else who}: {', '.join(changes)}"
    if kind == "call.speak.started":
        return "media", "A message began playing to the caller"
    if kind == "call.speak.ended":
        status = p.get("status") or "ended"
        return "media", "Message to the caller " + ("finished" if status == "completed" else f"cut short ({status})")
    if kind == "conference.recording.saved":
        return "recording", f"Recording saved ({p.get('format') or 'audio'})"
    if kind.startswith("conference.") and kind.endswith((".started", ".ended")):
        return "media", kind.removeprefix("conference.").replace(".", " ").replace("participant ", "")
    if kind == "conference.ended":
        return "conference", f"Conference {conference} ended ({p.get('reason') or 'ended'})"
    if kind == "call.hangup":
        return "call", (f"{'Hung up' if mine else who + ' hung up'} ({p.get('hangup_cause') or 'hangup'}, "
                        f"by {p.get('hangup_source') or 'unknown'})")
    return None


def conferences_joined(events: list[Event], call_control_id: str) -> list[str]:
    """Conference ids the call joined, in order."""
    found = []
    for event in events:
        if event.event_type == "conference.participant.joined" and event.payload.get("call_control_id") == call_control_id:
            conference_id = _id(event.payload.get("conference_id"))
            if conference_id and conference_id not in found:
                found.append(conference_id)
    return found


def timeline(call_control_id: str, events: list[Event], names: dict[str, str] | None = None) -> list[Step]:
    """The call's steps, oldest first; conference events are kept only while the call was in it."""
    names = names or {}
    # At the same instant a hangup comes last: leaving the conference and queue is its consequence.
    ordered = sorted({event.id: event for event in events}.values(),
                     key=lambda e: (e.ordered_at is None, e.ordered_at or datetime.min, e.event_type == "call.hangup"))
    inside: set[str] = set()
    steps = []
    for event in ordered:
        if event.event_type == UNREADABLE:  # the log chose it for this call or one of its conferences
            steps.append(Step(event.ordered_at, *_unreadable(event)))
            continue
        p = event.payload
        mine = _id(p.get("call_control_id")) == call_control_id
        conference_id = _id(p.get("conference_id"))
        if mine and event.event_type == "conference.participant.joined":
            inside.add(conference_id)
        if not mine and conference_id not in inside:
            continue
        try:
            described = _describe(event, call_control_id, names)
        except SHAPE_ERRORS as exc:  # a stored value no sentence expected must cost one line, not the page
            report_unreadable(event.id, "drawn", exc)
            described = _unreadable(event)
        if described:
            steps.append(Step(event.ordered_at, *described, leg=None if mine else _id(p.get("call_control_id"))))
        if mine and event.event_type == "conference.participant.left":
            inside.discard(conference_id)
    return steps


def timeline_title(call_control_id: str, events: list[Event], leg: dict | None = None) -> str | None:
    """Who a call's timeline is about: the leg's label, caller id name or number, else the caller id name or
    number its call.initiated webhook gave; None when the console knows only the call_control_id."""
    name = display_name(leg) if leg else None
    if name and name != call_control_id:
        return name
    for event in events:
        p = event.payload
        if event.event_type == "call.initiated" and _id(p.get("call_control_id")) == call_control_id:
            for key in ("caller_id_name", "from"):
                if isinstance(p.get(key), str) and p[key].strip():
                    return p[key].strip()
    return None


def queued_call_outcomes(events: list[Event]) -> list[dict]:
    """One row per queue visit: who, which queue, when, how long, and how it ended (newest first).

    `event_id` names the call.enqueued event that opened the visit.
    """
    callers: dict[str, dict] = {}
    visits: dict[str, dict] = {}
    rows = []
    for event in sorted(events, key=lambda e: (e.ordered_at is None, e.ordered_at or datetime.min)):
        try:
            _follow_visit(event, callers, visits, rows)
        except SHAPE_ERRORS as exc:  # a stored value no row expected must cost one event, not the page
            report_unreadable(event.id, "drawn", exc)
    rows.reverse()
    return rows


def _follow_visit(event: Event, callers: dict[str, dict], visits: dict[str, dict], rows: list[dict]) -> None:
    """Note who is calling, open a queue visit, or close one, as this event says."""
    p = event.payload
    ccid = _id(p.get("call_control_id"))
    if event.event_type == "call.initiated" and ccid:
        callers[ccid] = {"from_number": p.get("from"), "to_number": p.get("to"),
                         "name": p.get("caller_id_name") or p.get("from")}
    elif event.event_type == "call.enqueued" and ccid:
        visit = {"event_id": event.id, "call_control_id": ccid, "queue": p.get("queue"),
                 "enqueued_at": event.ordered_at, "position": p.get("current_position"), "left_at": None,
                 "wait": None, "outcome": "waiting", "reason": None,
                 **callers.get(ccid, {"from_number": None, "to_number": None, "name": None})}
        visits[ccid] = visit
        rows.append(visit)
    elif event.event_type in ("call.dequeued", "call.hangup") and ccid in visits:
        visit = visits.pop(ccid)
        reason = p.get("reason") if isinstance(p.get("reason"), str) and p.get("reason") else "hangup"
        visit["left_at"] = event.ordered_at
        visit["reason"] = reason
        visit["wait"] = (event.ordered_at - visit["enqueued_at"]).total_seconds() \
            if event.ordered_at and visit["enqueued_at"] else _number(p.get("wait_time_secs"))
        visit["outcome"] = ("answered" if reason in ANSWERED_REASONS else "abandoned"
                            if reason in ABANDON_REASONS else "left")


def matches(row: dict, text: str) -> bool:
    """Whether a history row mentions the search text (name, number, queue or conference name)."""
    text = text.strip().lower()
    if not text:
        return True
    return any(text in str(row.get(field) or "").lower()
               for field in ("name", "from_number", "to_number", "queue", "call_control_id", "id"))
