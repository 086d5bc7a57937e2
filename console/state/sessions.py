"""Signed-in sessions as rows the server can end: who, since when, last seen, and when and why it ended.

The browser's cookie carries only a random session id; the row is stored under the SHA-256 of that
id, so reading the table gives nobody a cookie that works. A row is never changed back once ended.
Ended and long-quiet rows are pruned as new sessions start. How long a session may last or stay
idle is the caller's policy (console.access.session_cookie); this module only stores and reads.
Every write is a shared operation (shared_writes.py): in the distributed mode, ending a session on
one instance ends it on all.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from console.state.shared_writes import operation, shared


@dataclass(frozen=True)
class SessionRow:
    """One session as stored, with its user's role, phone and whether they are disabled (None: no such user)."""

    user_name: str
    created_at: float
    last_seen_at: float
    ended_at: float | None
    end_reason: str | None
    role: str | None
    phone: str | None
    disabled: bool | None


def _key(session_id: str) -> str:
    """What a session id is stored as: its SHA-256, so the table holds no working cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(store, user_name: str, now: float, *, forget_before: float) -> str:
    """A new session for this user; returns its id (for the cookie). Rows quiet since `forget_before` go."""
    session_id = secrets.token_urlsafe(32)
    shared(store, "start_session", key=_key(session_id), user_name=user_name, now=now, forget_before=forget_before)
    return session_id


@operation
def start_session(connection, key: str, user_name: str, now: float, forget_before: float) -> None:
    connection.execute("INSERT INTO sessions (id, user_name, created_at, last_seen_at) VALUES (?, ?, ?, ?)",
                       [key, user_name, now, now])
    connection.execute("DELETE FROM sessions WHERE coalesce(ended_at, last_seen_at) < ?", [forget_before])


def find(store, session_id: str) -> SessionRow | None:
    """The session and its user's standing, in one indexed query (None when no such session is stored)."""
    with store._reading() as db:
        row = db.conn.execute(
            "SELECT s.user_name, s.created_at, s.last_seen_at, s.ended_at, s.end_reason, u.role, u.phone, u.disabled"
            " FROM sessions AS s LEFT JOIN users AS u ON u.name = s.user_name WHERE s.id = ?",
            [_key(session_id)]).fetchone()
    if row is None:
        return None
    return SessionRow(*row[:7], None if row[7] is None else bool(row[7]))


def touch(store, session_id: str, now: float) -> None:
    """Note that the session is in use now (callers do this at most every so often, not per request)."""
    shared(store, "touch_session", key=_key(session_id), now=now)


@operation
def touch_session(connection, key: str, now: float) -> None:
    connection.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL AND last_seen_at < ?",
                       [now, key, now])


def end(store, session_id: str, now: float, reason: str) -> bool:
    """End one session, saying why; False when it was already ended or never stored."""
    return shared(store, "end_session", key=_key(session_id), now=now, reason=reason)


@operation
def end_session(connection, key: str, now: float, reason: str) -> bool:
    cursor = connection.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                                [now, reason, key])
    return cursor.rowcount == 1


def end_all_of(store, user_name: str, now: float, reason: str) -> int:
    """End every open session of one user, saying why; returns how many were open."""
    return shared(store, "end_sessions_of", user_name=user_name, now=now, reason=reason)


@operation
def end_sessions_of(connection, user_name: str, now: float, reason: str) -> int:
    cursor = connection.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_name = ? AND ended_at IS NULL",
        [now, reason, user_name])
    return cursor.rowcount


def open_count(store, user_name: str) -> int:
    """How many sessions of this user are not ended (expiry aside), for the admin and the tests."""
    with store._reading() as db:
        return db.conn.execute("SELECT count(*) FROM sessions WHERE user_name = ? AND ended_at IS NULL",
                               [user_name]).fetchone()[0]
