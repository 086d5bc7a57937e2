"""The agent directory in the console's database: agents by name and team, and the addresses their legs use.

This module only stores and reads; what a valid address or name is, and the words of a refusal,
belong to the agents room (console/agents/). Addresses arrive here already normalised, so one
indexed lookup (`agent_at`) tells whose a leg's address is. Saving an agent replaces its addresses
in one transaction, and refuses the whole save when another agent owns one of them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from console.state.shared_writes import operation, shared
from console.telnyx.events import format_timestamp

_WITH_ADDRESSES = """
SELECT a.id, a.name, a.team, a.created_at, a.updated_at, x.address
FROM agents a LEFT JOIN agent_addresses x ON x.agent_id = a.id
{where}
ORDER BY a.name COLLATE NOCASE, a.id, x.address
"""


class AddressOwned(Exception):
    """A save that would take an address another agent owns; nothing was stored."""

    def __init__(self, address: str, owner: str):
        super().__init__(address, owner)
        self.address, self.owner = address, owner


class NameTaken(Exception):
    """A save that would create a second agent of this name (any case); nothing was stored."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class Saved:
    """What a save did: "added", "updated" or "unchanged", and the agent as it now stands."""

    outcome: str
    agent: dict


def _gathered(rows: Iterable[sqlite3.Row | tuple]) -> list[dict]:
    """Join rows (one per address) folded into one dict per agent, addresses sorted."""
    agents: dict[int, dict] = {}
    for agent_id, name, team, created_at, updated_at, address in rows:
        agent = agents.setdefault(agent_id, {"name": name, "team": team, "created_at": created_at,
                                             "updated_at": updated_at, "addresses": []})
        if address is not None:
            agent["addresses"].append(address)
    return list(agents.values())


def agents(store) -> list[dict]:
    """Every agent with their team and addresses, by name."""
    with store._reading() as db:
        return _gathered(db.conn.execute(_WITH_ADDRESSES.format(where="")).fetchall())


def agent(store, name: str) -> dict | None:
    """One agent by name (any case), or None."""
    with store._reading() as db:
        rows = db.conn.execute(_WITH_ADDRESSES.format(where="WHERE a.name = ? COLLATE NOCASE"), [name]).fetchall()
    found = _gathered(rows)
    return found[0] if found else None


def agent_at(store, address: str) -> dict | None:
    """The agent (name and team) whose address this normalised address is, or None: one indexed lookup."""
    with store._reading() as db:
        row = db.conn.execute("SELECT a.name, a.team FROM agent_addresses x JOIN agents a ON a.id = x.agent_id"
                              " WHERE x.address = ?", [address]).fetchone()
    return {"name": row[0], "team": row[1]} if row else None


def save_agent(store, name: str, team: str, addresses: list[str], *, was: str | None = None,
               new_only: bool = False) -> Saved:
    """Create the agent, or update the one named `was` (default: `name`), giving it exactly these addresses.

    Raises, storing nothing: AddressOwned when another agent already has one of the addresses,
    NameTaken when `new_only` and the name exists, or when a rename would take another agent's name.
    """
    outcome = shared(store, "save_agent_row", name=name, team=team, addresses=list(addresses), was=was,
                     new_only=new_only, now=format_timestamp(store._clock()))
    return Saved(outcome, agent(store, name))


@operation
def save_agent_row(connection, name: str, team: str, addresses: list[str], was: str | None, new_only: bool,
                   now: str) -> str:
    found = connection.execute("SELECT id, name, team FROM agents WHERE name = ? COLLATE NOCASE",
                               [was or name]).fetchone()
    agent_id = found[0] if found else None
    if new_only and found is not None:
        raise NameTaken(found[1])
    if was is not None and was.casefold() != name.casefold():
        other = connection.execute("SELECT name FROM agents WHERE name = ? COLLATE NOCASE", [name]).fetchone()
        if other is not None:
            raise NameTaken(other[0])
    for address in addresses:
        owner = connection.execute(
            "SELECT a.name FROM agent_addresses x JOIN agents a ON a.id = x.agent_id"
            " WHERE x.address = ? AND a.id IS NOT ?", [address, agent_id]).fetchone()
        if owner is not None:
            raise AddressOwned(address, owner[0])
    if found is None:
        agent_id = connection.execute("INSERT INTO agents (name, team, created_at, updated_at) VALUES (?, ?, ?, ?)",
                                      [name, team, now, now]).lastrowid
        outcome = "added"
    else:
        held = sorted(row[0] for row in connection.execute(
            "SELECT address FROM agent_addresses WHERE agent_id = ?", [agent_id]))
        same = (found[1], found[2], held) == (name, team, sorted(addresses))
        outcome = "unchanged" if same else "updated"
        if not same:
            connection.execute("UPDATE agents SET name = ?, team = ?, updated_at = ? WHERE id = ?",
                               [name, team, now, agent_id])
            connection.execute("DELETE FROM agent_addresses WHERE agent_id = ?", [agent_id])
    if outcome != "unchanged":
        connection.executemany("INSERT INTO agent_addresses (address, agent_id) VALUES (?, ?)",
                               [(address, agent_id) for address in dict.fromkeys(addresses)])
    return outcome


def remove_agent(store, name: str) -> bool:
    """Take an agent and their addresses out of the directory; False when there was no such agent."""
    return shared(store, "remove_agent_row", name=name)


@operation
def remove_agent_row(connection, name: str) -> bool:
    found = connection.execute("SELECT id FROM agents WHERE name = ? COLLATE NOCASE", [name]).fetchone()
    if found is None:
        return False
    connection.execute("DELETE FROM agent_addresses WHERE agent_id = ?", [found[0]])
    connection.execute("DELETE FROM agents WHERE id = ?", [found[0]])
    return True
