"""What the agent board reads: every live call leg, who shares each leg's conference, and the day's answered legs.

Three queries for the whole board, however many agents there are, each on an index: live legs by
``calls(state, answered_at)``, the people in their conferences by ``participants(conference_id,
status)``, and the legs answered since a moment (today's) by the same calls index as a range. The
agents room (console/agents/board.py) decides whose each leg is and what state that makes.
"""

from __future__ import annotations

from datetime import datetime

from console.state.row_views import decode, display_name
from console.telnyx.events import format_timestamp

# Calls not yet hung up: parked (ringing or just started), bridging (dialled out), answered.
LIVE_CALL_STATES = ("parked", "bridging", "answered")

LIVE_LEGS = f"""
SELECT k.call_control_id, k.direction, k.from_number, k.to_number, k.caller_id_name, k.state,
  k.start_time, k.answered_at, p.conference_id, p.joined_at, p.muted, p.on_hold, p.supervisor_role,
  p.label
FROM calls k
LEFT JOIN participants p ON p.call_control_id = k.call_control_id AND p.status IN ('joining', 'joined')
WHERE k.state IN ({", ".join(f"'{state}'" for state in LIVE_CALL_STATES)})
ORDER BY k.call_control_id, p.joined_at
"""

PRESENT = """
SELECT p.conference_id, p.call_control_id, p.label, p.supervisor_role, k.from_number, k.to_number,
  k.caller_id_name, k.direction, c.name AS conference_name,
  (SELECT q.queue_name FROM queue_calls q WHERE q.call_control_id = p.call_control_id
   ORDER BY q.enqueued_at DESC LIMIT 1) AS queue_name
FROM participants p
LEFT JOIN calls k ON k.call_control_id = p.call_control_id
LEFT JOIN conferences c ON c.id = p.conference_id
WHERE p.conference_id IN ({marks}) AND p.status IN ('joining', 'joined')
ORDER BY p.conference_id, p.joined_at, p.call_control_id
"""

# One row per pair of ends: an agent's legs share their ends (the support line and the agent), so a
# day of calls folds into a few rows per agent. Handle time: answer to hang-up, in seconds.
ANSWERED_SINCE = """
SELECT direction, from_number, to_number, count(*) AS calls,
  sum(max((julianday(end_time) - julianday(answered_at)) * 86400.0, 0)) AS handle_seconds,
  max(end_time) AS last_ended_at
FROM calls
WHERE state = 'hangup' AND answered_at >= ? AND end_time IS NOT NULL
GROUP BY direction, from_number, to_number
"""


def live_legs(store) -> list[dict]:
    """Every call leg not yet hung up, with the conference it is in (if any) and its settings there."""
    return [decode(row) for row in store._rows(LIVE_LEGS)]


def present_in(store, conference_ids) -> dict[str, list[dict]]:
    """Who is in each of these conferences now (with their numbers and the queue they came from)."""
    wanted = sorted(set(conference_ids))
    found: dict[str, list[dict]] = {conference_id: [] for conference_id in wanted}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for row in store._rows(PRESENT.format(marks=",".join("?" * len(chunk))), chunk):
            person = decode(row)
            person["display_name"] = display_name(person)
            found[person["conference_id"]].append(person)
    return found


def answered_since(store, since: datetime) -> list[dict]:
    """Legs answered at or after `since` and hung up, folded per (direction, from, to)."""
    return [dict(row) for row in store._rows(ANSWERED_SINCE, [format_timestamp(since)])]
