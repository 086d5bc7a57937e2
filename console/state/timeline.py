"""A call's life read back from the event log: queue entry, wait, answer, conference, hangup.

Pure functions over Events, plus the queued-call outcomes the history page lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from console.state.outcomes import ABANDON_REASONS, ANSWERED_REASONS
from console.telnyx.events import Event


@dataclass(frozen=True)
class Step:
    """One line of a timeline."""

    at: datetime | None
    kind: str
    text: str


def _seconds(value) -> str:
    return f"{float(value):.0f} s" if value is not None else "an unknown time"


def _describe(event: Event, subject: str, names: dict[str, str]) -> tuple[str, str] | None:
    """(kind, sentence) for one event, seen from the call `subject`; None when it says nothing useful."""
    p = event.payload
    kind = event.event_type
    who = names.get(p.get("call_control_id"), p.get("call_control_id") or "someone")
    mine = p.get("call_control_id") == subject
    conference = names.get(p.get("conference_id"), p.get("conference_id"))
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
            conference_id = event.payload.get("conference_id")
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
        p = event.payload
        mine = p.get("call_control_id") == call_control_id
        conference_id = p.get("conference_id")
        if mine and event.event_type == "conference.participant.joined":
            inside.add(conference_id)
        if not mine and conference_id not in inside:
            continue
        described = _describe(event, call_control_id, names)
        if described:
            steps.append(Step(event.ordered_at, *described))
        if mine and event.event_type == "conference.participant.left":
            inside.discard(conference_id)
    return steps


def queued_call_outcomes(events: list[Event]) -> list[dict]:
    """One row per queue visit: who, which queue, when, how long, and how it ended (newest first)."""
    callers: dict[str, dict] = {}
    visits: dict[str, dict] = {}
    rows = []
    for event in sorted(events, key=lambda e: (e.ordered_at is None, e.ordered_at or datetime.min)):
        p = event.payload
        ccid = p.get("call_control_id")
        if event.event_type == "call.initiated" and ccid:
            callers[ccid] = {"from_number": p.get("from"), "to_number": p.get("to"),
                             "name": p.get("caller_id_name") or p.get("from")}
        elif event.event_type == "call.enqueued" and ccid:
            visit = {"call_control_id": ccid, "queue": p.get("queue"), "enqueued_at": event.ordered_at,
                     "position": p.get("current_position"), "left_at": None, "wait": None, "outcome": "waiting",
                     "reason": None, **callers.get(ccid, {"from_number": None, "to_number": None, "name": None})}
            visits[ccid] = visit
            rows.append(visit)
        elif event.event_type in ("call.dequeued", "call.hangup") and ccid in visits:
            visit = visits.pop(ccid)
            reason = p.get("reason") or "hangup"
            visit["left_at"] = event.ordered_at
            visit["reason"] = reason
            visit["wait"] = (event.ordered_at - visit["enqueued_at"]).total_seconds() \
                if event.ordered_at and visit["enqueued_at"] else p.get("wait_time_secs")
            visit["outcome"] = ("answered" if reason in ANSWERED_REASONS else "abandoned"
                                if reason in ABANDON_REASONS else "left")
    rows.reverse()
    return rows


def matches(row: dict, text: str) -> bool:
    """Whether a history row mentions the search text (name, number, queue or conference name)."""
    text = text.strip().lower()
    if not text:
        return True
    return any(text in str(row.get(field) or "").lower()
               for field in ("name", "from_number", "to_number", "queue", "call_control_id", "id"))
