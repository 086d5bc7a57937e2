"""The rows one write transaction touches, and the change keys it hands back to the pages.

A batch loads each row once, merges every event's writes into it under the rules in
projection.py, settles the derived statuses, saves only the rows that changed and returns the keys
whose rendering may have changed: the entity's own key, plus a participant's conference, a queued
call's queue and the waiting calls behind it (their positions are derived), a call's participants
and queued calls, a recording's conference, and the old and new floor holders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlite_utils import Database

from console.state.projection import (
    KEYS,
    Write,
    entity_key,
    merge,
    order_key,
    settle_participant,
    settle_queue_call,
)
from console.telnyx.events import Event


def select_rows(db: Database, sql: str, params: Iterable = ()) -> list[dict]:
    """Rows as dicts, straight from the connection (sqlite_utils' query() adds a savepoint per call)."""
    cursor = db.conn.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _visible(row: dict | None) -> dict | None:
    """A row without its bookkeeping columns (those starting with an underscore)."""
    return None if row is None else {k: v for k, v in row.items() if not k.startswith("_")}


def _note_shift(shifted_queues: dict, queue_name: str, enqueued: list[str | None]) -> None:
    """Remember the earliest enqueue time from which a queue's positions may have moved."""
    since = None if None in enqueued else min(enqueued)
    if queue_name in shifted_queues:
        known = shifted_queues[queue_name]
        since = None if since is None or known is None else min(since, known)
    shifted_queues[queue_name] = since


_ABSENT = object()


class Batch:
    """The rows one transaction touches: loaded once, merged, settled, then saved when changed."""

    def __init__(self, db: Database, columns: dict[str, list[str]]):
        self.db = db
        self.columns = columns
        self.rows: dict[tuple, dict] = {}
        self.stored: dict[tuple, dict | None] = {}
        self.stored_versions: dict[tuple, dict] = {}

    def _adopt(self, slot: tuple, found: dict | None) -> dict:
        self.stored[slot] = None if found is None else dict(found)
        if found is None:
            table, key = slot
            row = dict.fromkeys(self.columns[table]) | dict(zip(KEYS[table], key))
            row["_versions"] = {}
        else:
            row = dict(found)
            row["_versions"] = json.loads(found["_versions"] or "{}")
            self.stored_versions[slot] = dict(row["_versions"])
        self.rows[slot] = row
        return row

    def get(self, table: str, key: tuple, create: bool = True) -> dict | None:
        """The row for a key, loading it once; a new empty row when absent and `create`."""
        slot = (table, key)
        if slot not in self.rows:
            where = " AND ".join(f"[{column}] = ?" for column in KEYS[table])
            found = next(iter(select_rows(self.db, f"SELECT * FROM [{table}] WHERE {where}", key)), None)
            if found is None and not create:
                return None
            self._adopt(slot, found)
        return self.rows[slot]

    def load_where(self, table: str, column: str, value: str) -> list[tuple]:
        """Load every stored row with column = value; return the slots of all such rows held."""
        for found in select_rows(self.db, f"SELECT * FROM [{table}] WHERE [{column}] = ?", [value]):
            slot = (table, tuple(found[name] for name in KEYS[table]))
            if slot not in self.rows:
                self._adopt(slot, found)
        return [slot for slot, row in self.rows.items() if slot[0] == table and row[column] == value]

    def apply(self, event: Event, writes: list[Write]) -> None:
        version = order_key(event)
        for write in writes:
            merge(self.get(write.table, write.key), version, write)

    def _stored_form(self, slot: tuple) -> dict:
        row = self.rows[slot]
        return row | {"_versions": json.dumps(row["_versions"], sort_keys=True)}

    def _changed(self, slot: tuple) -> bool:
        before = self.stored[slot]
        if before is None:
            return True
        row = self.rows[slot]
        if any(before.get(column, _ABSENT) != value for column, value in row.items() if column != "_versions"):
            return True
        return self.stored_versions[slot] != row["_versions"]

    def _ending_moved(self, slot: tuple) -> bool:
        """Whether a conference's end (status, its version, ended_at) changed, so participants re-settle."""
        before, row = self.stored[slot], self.rows[slot]
        if before is None:
            return True
        before_version = json.loads(before["_versions"] or "{}").get("status")
        return (before["status"], before_version, before["ended_at"]) != (
            row["status"], row["_versions"].get("status"), row["ended_at"])

    def finish(self) -> set[str]:
        """Settle derived columns, save what changed, and return the change keys."""
        for (table, key) in list(self.rows):
            if table == "calls" and self._changed((table, key)):
                self.load_where("participants", "call_control_id", key[0])
                self.load_where("queue_calls", "call_control_id", key[0])
            elif table == "conferences" and self._ending_moved((table, key)):
                self.load_where("participants", "conference_id", key[0])
        for (table, key), row in list(self.rows.items()):
            if table == "participants":
                settle_participant(row, self.get("calls", (key[1],), False),
                                    self.get("conferences", (key[0],), False))
            elif table == "queue_calls":
                settle_queue_call(row, self.get("calls", (key[1],), False))
        keys: set[str] = set()
        shifted_queues: dict[str, str | None] = {}
        for slot in list(self.rows):
            if not self._changed(slot):
                continue
            self._save(slot)
            before, after = _visible(self.stored[slot]), _visible(self.rows[slot])
            if before != after:
                keys |= self._keys_for(slot, before or {}, after, shifted_queues)
        for queue_name, since in shifted_queues.items():
            keys |= self._waiting_after(queue_name, since)
        return keys

    def _save(self, slot: tuple) -> None:
        table, _ = slot
        columns = self.columns[table]
        stored = self._stored_form(slot)
        names = ", ".join(f"[{column}]" for column in columns)
        marks = ", ".join("?" for _ in columns)
        self.db.execute(f"INSERT OR REPLACE INTO [{table}] ({names}) VALUES ({marks})",
                        [stored[column] for column in columns])

    def _keys_for(self, slot: tuple, before: dict, after: dict, shifted_queues: dict) -> set[str]:
        """The row's own key plus the renderings that show it: parent, floor holders, dependents."""
        table, key = slot
        keys = {entity_key(table, key)}
        if table == "participants":
            keys.add(entity_key("conferences", (key[0],)))
        elif table == "recordings" and after["conference_id"]:
            keys.add(entity_key("conferences", (after["conference_id"],)))
        elif table == "queue_calls":
            keys.add(entity_key("queues", (key[0],)))
            if (before.get("status"), before.get("enqueued_at")) != (after["status"], after["enqueued_at"]):
                times = [after["enqueued_at"]] + ([before["enqueued_at"]] if before else [])
                _note_shift(shifted_queues, key[0], times)
        elif table == "calls":
            keys |= {entity_key(*other) for other, row in self.rows.items()
                     if other[0] in ("participants", "queue_calls") and row["call_control_id"] == key[0]}
        elif table == "conferences" and before.get("floor_call_control_id") != after["floor_call_control_id"]:
            for holder in (before.get("floor_call_control_id"), after["floor_call_control_id"]):
                if holder and self.get("participants", (key[0], holder), False) is not None:
                    keys.add(entity_key("participants", (key[0], holder)))
        return keys

    def _waiting_after(self, queue_name: str, since: str | None) -> set[str]:
        """Keys of waiting calls whose derived position may have moved."""
        sql = "SELECT call_control_id FROM queue_calls WHERE queue_name = ? AND status = 'waiting'"
        params = [queue_name]
        if since is not None:
            sql += " AND (enqueued_at IS NULL OR enqueued_at >= ?)"
            params.append(since)
        return {entity_key("queue_calls", (queue_name, row["call_control_id"]))
                for row in select_rows(self.db, sql, params)}
