"""The database's tables as named migrations: the event log, the read model, supervisors, users and audit.

sqlite-utils records each migration by its function name under the set "supervisor-console", so
these names and bodies stay as they are: an existing file opens with the same tables and nothing
re-run. ``KEYS`` in projection.py names the read-model tables a row is loaded and saved by.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from console.state import kpi_backfill

migrations = Migrations("supervisor-console")


@migrations()
def create_event_log(db: Database) -> None:
    """The append-only log every table is built from."""
    db["events"].create(
        {"id": str, "event_type": str, "source": str, "occurred_at": str, "order_key": str,
         "received_at": str, "payload": str},
        pk="id", not_null={"event_type", "source", "order_key", "received_at", "payload"},
    )
    db["events"].create_index(["received_at"])


@migrations()
def create_read_model(db: Database) -> None:
    """Conferences, participants, calls, queues, queued calls and recordings."""
    db["conferences"].create(
        {"id": str, "name": str, "status": str, "created_at": str, "ended_at": str, "end_reason": str,
         "ended_by_call_control_id": str, "region": str, "connection_id": str, "expires_at": str,
         "creator_call_control_id": str, "floor_call_control_id": str, "floor_changed_at": str,
         "recording_state": str, "playing": int, "playback_media": str, "speaking": int,
         "beep_enabled": str, "max_participants": int, "_versions": str},
        pk="id",
    )
    db["participants"].create(
        {"conference_id": str, "call_control_id": str, "participant_id": str, "call_leg_id": str,
         "call_session_id": str, "status": str, "joined_at": str, "left_at": str, "muted": int,
         "on_hold": int, "label": str, "supervisor_role": str, "whisper_call_control_ids": str,
         "end_conference_on_exit": int, "soft_end_conference_on_exit": int, "playing": int,
         "playback_media": str, "speaking": int, "_reported_status": str, "_reported_at": str,
         "_versions": str},
        pk=("conference_id", "call_control_id"),
    )
    db["calls"].create(
        {"call_control_id": str, "call_leg_id": str, "call_session_id": str, "connection_id": str,
         "direction": str, "from_number": str, "to_number": str, "caller_id_name": str, "state": str,
         "start_time": str, "answered_at": str, "end_time": str, "hangup_cause": str,
         "hangup_source": str, "sip_hangup_cause": str, "client_state": str, "gather_digits": str,
         "gather_status": str, "gather_ended_at": str, "_versions": str},
        pk="call_control_id",
    )
    db["queues"].create(
        {"name": str, "id": str, "max_size": int, "average_wait_time_secs": float, "created_at": str,
         "deleted": int, "_versions": str},
        pk="name",
    )
    db["queue_calls"].create(
        {"queue_name": str, "call_control_id": str, "call_leg_id": str, "call_session_id": str,
         "status": str, "enqueued_at": str, "left_at": str, "entry_position": int, "last_position": int,
         "wait_time_secs": float, "leave_reason": str, "keep_after_hangup": int, "from_number": str,
         "to_number": str, "_reported_status": str, "_reported_at": str, "_reported_reason": str,
         "_reported_wait_time_secs": float, "_versions": str},
        pk=("queue_name", "call_control_id"),
    )
    db["recordings"].create(
        {"id": str, "conference_id": str, "call_control_id": str, "call_session_id": str, "format": str,
         "channels": str, "started_at": str, "ended_at": str, "recording_urls": str,
         "public_recording_urls": str, "_versions": str},
        pk="id",
    )
    db["conferences"].create_index(["status"])
    db["participants"].create_index(["conference_id", "status"])
    db["participants"].create_index(["call_control_id"])
    db["queue_calls"].create_index(["queue_name", "status", "enqueued_at"])
    db["queue_calls"].create_index(["call_control_id"])
    db["recordings"].create_index(["conference_id"])


@migrations()
def create_supervisors(db: Database) -> None:
    """Each supervisor's phone or SIP address and the call leg that is their supervisor line."""
    db["supervisors"].create(
        {"username": str, "display_name": str, "phone": str, "line_call_control_id": str, "line_source": str,
         "_versions": str},
        pk="username",
    )
    db["supervisors"].create_index(["line_call_control_id"])


# Audit entries travel the bus as console events but live in their own append-only table, not the
# read-model log: they describe who did what, and replaying the log must not depend on them.
AUDIT_EVENT = "console.audit.recorded"
AUDIT_COLUMNS = (
    "id", "at", "user_name", "role", "action", "endpoint", "method", "path", "conference_id", "call_control_id",
    "queue_name", "target_user", "parameters", "result", "status", "error", "client_address",
    "awaits_event_type", "awaits_field", "awaits_value",
)


@migrations()
def create_users_and_audit(db: Database) -> None:
    """Who may sign in (werkzeug password hashes), and the audit trail of what each of them did."""
    db["users"].create(
        {"name": str, "password_hash": str, "role": str, "phone": str, "disabled": int, "created_at": str,
         "updated_at": str},
        pk="name", not_null={"role"},
    )
    db["audit"].create(
        {column: int if column == "status" else str for column in AUDIT_COLUMNS}
        | {"confirmed_by": str, "confirmed_event_type": str, "confirmed_at": str},
        pk="id",
    )
    db["audit"].create_index(["at"])
    db["audit"].create_index(["user_name", "at"])
    db["audit"].create_index(["conference_id", "at"])
    db["audit"].create_index(["awaits_event_type", "confirmed_by"])


@migrations()
def add_performance_indices(db: Database) -> None:
    """Indices for queries that would otherwise scan a day's calls or ended conferences."""
    db["conferences"].create_index(["status", "ended_at"], if_not_exists=True)
    db["calls"].create_index(["state", "answered_at"], if_not_exists=True)


@migrations()
def create_login_failures(db: Database) -> None:
    """Failed sign-ins counted per account name and per client address, so password guessing is slowed then locked."""
    db["login_failures"].create(
        {"kind": str, "key": str, "failures": int, "last_failed_at": float, "blocked_until": float},
        pk=("kind", "key"), not_null={"failures", "last_failed_at", "blocked_until"},
    )
    db["login_failures"].create_index(["last_failed_at"])


@migrations()
def create_sessions(db: Database) -> None:
    """Signed-in sessions the server can end: the hashed id, the user, when it started, was last seen and ended."""
    db["sessions"].create(
        {"id": str, "user_name": str, "created_at": float, "last_seen_at": float, "ended_at": float,
         "end_reason": str},
        pk="id", not_null={"user_name", "created_at", "last_seen_at"},
    )
    db["sessions"].create_index(["user_name", "ended_at"])
    db["sessions"].create_index(["last_seen_at"])


@migrations()
def create_agent_directory(db: Database) -> None:
    """Who the agents are: a name (unique, any case) and team each, and the addresses their legs use.

    One row per normalised address (``+`` digits, or a lower-case ``sip:`` URI without parameters);
    the address is the key, so a leg's address finds its agent with one indexed lookup.
    """
    db.execute("CREATE TABLE agents (id INTEGER PRIMARY KEY, name TEXT NOT NULL, team TEXT NOT NULL DEFAULT '',"
               " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)")
    db.execute("CREATE UNIQUE INDEX agents_name ON agents (name COLLATE NOCASE)")
    db.execute("CREATE TABLE agent_addresses (address TEXT PRIMARY KEY,"
               " agent_id INTEGER NOT NULL REFERENCES agents (id) ON DELETE CASCADE)")
    db.execute("CREATE INDEX agent_addresses_agent ON agent_addresses (agent_id)")


@migrations()
def index_live_conferences_newest_first(db: Database) -> None:
    """The dashboard lists the newest live conferences: an index in that order, so it reads only those."""
    db.execute("CREATE INDEX IF NOT EXISTS conferences_status_created ON conferences (status, created_at DESC, id)")


# What a call timeline looks events up by: the call leg or conference an event names, read from its
# payload by SQLite itself, so an index on the expression finds them however the row was written.
# A row SQLite cannot read as JSON (NaN, say) is indexed under 0, where the timeline looks for such
# rows by their text. Queries must spell these exactly so, or SQLite will not use the index.
EVENT_CALL = "(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.call_control_id') ELSE 0 END)"
EVENT_CONFERENCE = "(CASE WHEN json_valid(payload) THEN json_extract(payload, '$.conference_id') ELSE 0 END)"


@migrations()
def index_every_read(db: Database) -> None:
    """Indices so that no page, hub tick, reconcile pass or alert round reads a whole table that grows with time.

    Call timelines and history rows find events by the call or conference they name; history,
    alerts and KPIs read the log by type and time; the audit page filters by action, and the write
    path finds the entries still awaiting a confirming webhook, and whether an event already
    confirms one, without reading the trail; the dashboard lists every queue's waiting callers by
    status; signing in forgets old sessions by their last moment; readiness reads a tally of the
    log instead of counting it (tests/state/test_query_plans.py checks all of this).
    """
    db.execute(f"CREATE INDEX IF NOT EXISTS events_by_call ON events {EVENT_CALL}")
    db.execute(f"CREATE INDEX IF NOT EXISTS events_by_conference ON events {EVENT_CONFERENCE}")
    db.execute("CREATE INDEX IF NOT EXISTS events_by_type_and_time ON events (event_type, occurred_at)")
    db.execute("CREATE INDEX IF NOT EXISTS audit_by_action ON audit (action, at)")
    db.execute("CREATE INDEX IF NOT EXISTS audit_by_confirmation ON audit (confirmed_by)"
               " WHERE confirmed_by IS NOT NULL")
    db.execute("CREATE INDEX IF NOT EXISTS audit_awaiting ON audit (awaits_event_type, at)"
               " WHERE confirmed_by IS NULL AND awaits_event_type IS NOT NULL")
    db.execute("CREATE INDEX IF NOT EXISTS queue_calls_by_status ON queue_calls (status, queue_name, enqueued_at)")
    db.execute("CREATE INDEX IF NOT EXISTS sessions_forgotten ON sessions (coalesce(ended_at, last_seen_at))")
    # How many events the log holds, kept by SQLite with every insert and delete however made: a count(*)
    # would read the whole log on every readiness probe.
    db.execute("CREATE TABLE IF NOT EXISTS event_tally"
               " (id INTEGER PRIMARY KEY CHECK (id = 1), events INTEGER NOT NULL)")
    db.execute("INSERT OR REPLACE INTO event_tally (id, events) SELECT 1, count(*) FROM events")
    db.execute("CREATE TRIGGER IF NOT EXISTS events_tally_insert AFTER INSERT ON events"
               " BEGIN UPDATE event_tally SET events = events + 1 WHERE id = 1; END")
    db.execute("CREATE TRIGGER IF NOT EXISTS events_tally_delete AFTER DELETE ON events"
               " BEGIN UPDATE event_tally SET events = events - 1 WHERE id = 1; END")


@migrations()
def create_queue_figure_facts(db: Database) -> None:
    """Queue-figure facts kept with each event (kpi_facts.py), filled from the log already there.

    So the figures read by indexed ranges whatever the log's length: one table per kind of fact,
    each keyed by time (integer microseconds) and by call leg, and the version of each 15-minute
    bucket of departures and of answered legs (the agent figures), so sums kept per bucket stay true.
    """
    statements = """
    CREATE TABLE kpi_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, ccid TEXT NOT NULL, kind TEXT NOT NULL,
      at_us INTEGER NOT NULL, conference_id TEXT, queue TEXT, reason TEXT, wait REAL);
    CREATE INDEX kpi_events_leg ON kpi_events (ccid, at_us, seq);
    CREATE TABLE kpi_queues (name TEXT PRIMARY KEY);
    CREATE TABLE kpi_legs (ccid TEXT PRIMARY KEY, first_us INTEGER NOT NULL, last_us INTEGER NOT NULL,
      level INTEGER NOT NULL, facts TEXT NOT NULL);
    CREATE INDEX kpi_legs_first ON kpi_legs (level, first_us, last_us);
    CREATE INDEX kpi_legs_long ON kpi_legs (last_us, first_us) WHERE level = 7; -- kpi_facts.TOP_LEVEL
    CREATE TABLE kpi_departures (id INTEGER PRIMARY KEY, ccid TEXT NOT NULL, seq INTEGER NOT NULL,
      at_us INTEGER NOT NULL, queue TEXT NOT NULL, outcome TEXT NOT NULL, wait REAL NOT NULL);
    CREATE INDEX kpi_departures_at ON kpi_departures (at_us, queue, outcome, wait, ccid);
    CREATE INDEX kpi_departures_leg ON kpi_departures (ccid, outcome, at_us, seq, queue);
    CREATE TABLE kpi_handles (id INTEGER PRIMARY KEY, ccid TEXT NOT NULL, at_us INTEGER NOT NULL,
      queue TEXT NOT NULL, seconds REAL NOT NULL);
    CREATE INDEX kpi_handles_at ON kpi_handles (at_us, queue, seconds, ccid);
    CREATE INDEX kpi_handles_leg ON kpi_handles (ccid);
    CREATE TABLE kpi_waits (id INTEGER PRIMARY KEY, ccid TEXT NOT NULL, queue TEXT NOT NULL,
      since_us INTEGER NOT NULL, until_us INTEGER, level INTEGER NOT NULL);
    CREATE INDEX kpi_waits_level ON kpi_waits (level, since_us, until_us, queue, ccid);
    CREATE INDEX kpi_waits_queue ON kpi_waits (queue, since_us);
    CREATE INDEX kpi_waits_leg ON kpi_waits (ccid);
    CREATE TABLE kpi_joins (id INTEGER PRIMARY KEY, ccid TEXT NOT NULL, conference_id TEXT,
      since_us INTEGER NOT NULL, until_us INTEGER, level INTEGER NOT NULL);
    CREATE INDEX kpi_joins_level ON kpi_joins (level, since_us, until_us, ccid);
    CREATE INDEX kpi_joins_leg ON kpi_joins (ccid);
    CREATE TABLE kpi_buckets (start_us INTEGER PRIMARY KEY, version INTEGER NOT NULL);
    CREATE TABLE answered_buckets (start_us INTEGER PRIMARY KEY, version INTEGER NOT NULL)
    """
    for statement in filter(str.strip, statements.split(";")):  # executescript would commit the migration
        db.execute(statement)
    kpi_backfill.backfill(db.conn)
    kpi_backfill.backfill_answered(db.conn)


@migrations()
def create_daily_figures(db: Database) -> None:
    """Days past CONSOLE_RETENTION_DAYS kept as queue figures (retention.py), and what pruning reads by.

    ``daily_folds`` has one row per day folded: its time zone, its span in UTC and the length of the
    intervals its figures are kept in. ``daily_figures`` holds that day's figures per interval and
    queue (and ``*``) as the KPI export gave them, with the sums behind each rate, so longer intervals
    add up. Pruning finds ended calls and departed queued calls by when they ended, through these
    indices, as it finds conferences by (status, ended_at) and events by received_at.
    """
    statements = """
    CREATE TABLE daily_folds (day TEXT PRIMARY KEY, zone TEXT NOT NULL, start_at TEXT NOT NULL,
      end_at TEXT NOT NULL, step_seconds INTEGER NOT NULL, folded_at TEXT NOT NULL);
    CREATE TABLE daily_figures (day TEXT NOT NULL, interval_start TEXT NOT NULL, queue TEXT NOT NULL,
      target_seconds INTEGER NOT NULL, target_goal INTEGER NOT NULL, formula TEXT NOT NULL,
      waiting INTEGER NOT NULL, longest_wait REAL NOT NULL, offered INTEGER NOT NULL, answered INTEGER NOT NULL,
      answered_in_target INTEGER NOT NULL, abandoned INTEGER NOT NULL, short_abandoned INTEGER NOT NULL,
      abandoned_beyond_target INTEGER NOT NULL, left_otherwise INTEGER NOT NULL, total_answer_wait REAL NOT NULL,
      handled INTEGER NOT NULL, total_handle REAL NOT NULL, in_conference INTEGER NOT NULL,
      PRIMARY KEY (day, interval_start, queue)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS calls_by_end ON calls (state, end_time);
    CREATE INDEX IF NOT EXISTS queue_calls_by_departure ON queue_calls (status, left_at)
    """
    for statement in filter(str.strip, statements.split(";")):  # executescript would commit the migration
        db.execute(statement)


@migrations()
def create_stream_position(db: Database) -> None:
    """Where a distributed instance stands in the Redis stream (console.cluster.follower).

    One row, written in the same transaction as the entries it counts, with the epoch of the Redis
    dataset it belongs to. An embedded console never writes it.
    """
    db.execute("CREATE TABLE stream_position (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL,"
               " entry_id TEXT NOT NULL)")


# The types whose events make up alert entries (console.queues.acks.LOG_TYPES; tests/queues check
# the two lists agree). Kept here as text: a migration's body must not change with the code above it.
_ALERT_LOG_TYPES = "('console.alert.raised', 'console.alert.cleared', 'console.alert.acknowledged')"


@migrations()
def create_alert_log_version(db: Database) -> None:
    """A number SQLite bumps whenever an alert, a clearing or an acknowledgement enters or leaves the log.

    Alert entries fold every raise of one condition since it was last acknowledged, so reading them
    means reading all alert events kept; with this version a reader folds once per change and reuses
    the result until the next alert (console.queues.acks), instead of on every page and every tick.
    An upsert, so the number only ever grows, even if the row was deleted.
    """
    db.execute("CREATE TABLE alert_log_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)")
    bump = ("BEGIN INSERT INTO alert_log_version (id, version) VALUES (1, 1)"
            " ON CONFLICT (id) DO UPDATE SET version = version + 1; END")
    db.execute(f"CREATE TRIGGER alert_log_insert AFTER INSERT ON events WHEN NEW.event_type IN {_ALERT_LOG_TYPES} "
               + bump)
    db.execute(f"CREATE TRIGGER alert_log_delete AFTER DELETE ON events WHEN OLD.event_type IN {_ALERT_LOG_TYPES} "
               + bump)
    db.execute("CREATE TRIGGER alert_log_update AFTER UPDATE ON events WHEN OLD.event_type IN "
               f"{_ALERT_LOG_TYPES} OR NEW.event_type IN {_ALERT_LOG_TYPES} " + bump)
