"""The agent directory's rules: who may be added, edited, removed or imported, and the words of each refusal.

An agent has a name (unique whatever its case), a team (may be empty) and at least one address
(addresses.py says how one is written); an address belongs to one agent only. Every change is
checked first and stored in one transaction (console/state/agents.py), so a refused change, or a
refused line of an import, stores nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from console.agents import addresses as address_rules
from console.agents.addresses import AddressError
from console.state import agents as rows
from console.state.agents import AddressOwned, NameTaken, Saved

NAME_LIMIT = 80
TEAM_LIMIT = 80
ADDRESS_LIMIT = 20
HEADER = ("name", "team", "addresses")


class AgentError(ValueError):
    """A directory change refused, with words an admin can act on; nothing was stored."""


@dataclass(frozen=True)
class Entry:
    """A checked agent: the name and team as written, and their addresses normalised."""

    name: str
    team: str
    addresses: tuple[str, ...]


def _name(text: str | None) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise AgentError("An agent needs a name.")
    if len(name) > NAME_LIMIT:
        raise AgentError(f"An agent's name has at most {NAME_LIMIT} characters.")
    return name


def checked(name: str | None, team: str | None, addresses: Iterable[str] | str | None) -> Entry:
    """The agent as the directory will store it, or AgentError saying what is wrong."""
    written = address_rules.split(addresses) if isinstance(addresses, str) or addresses is None else list(addresses)
    team = " ".join((team or "").split())
    if len(team) > TEAM_LIMIT:
        raise AgentError(f"A team's name has at most {TEAM_LIMIT} characters.")
    name = _name(name)
    if not written:
        raise AgentError(f"{name} needs at least one address: an E.164 number or a SIP URI.")
    if len(written) > ADDRESS_LIMIT:
        raise AgentError(f"{name} has more than {ADDRESS_LIMIT} addresses.")
    try:
        normalised = tuple(dict.fromkeys(address_rules.normalise(address) for address in written))
    except AddressError as refused:
        raise AgentError(f"{name}: {refused}.") from None
    return Entry(name, team, normalised)


def _save(store, entry: Entry, **how) -> Saved:
    try:
        return rows.save_agent(store, entry.name, entry.team, list(entry.addresses), **how)
    except AddressOwned as owned:
        raise AgentError(f"{owned.address} already belongs to {owned.owner}; remove it there first.") from None
    except NameTaken as taken:
        raise AgentError(f"There is already an agent called {taken.name}.") from None


def add_agent(store, name, team, addresses) -> dict:
    """Add a new agent; refused when the name is taken or an address belongs to someone else."""
    return _save(store, checked(name, team, addresses), new_only=True).agent


def edit_agent(store, was: str, name, team, addresses) -> Saved:
    """Change an agent's name, team or addresses (their addresses become exactly these)."""
    if rows.agent(store, was) is None:
        raise AgentError(f"There is no agent called {was}.")
    return _save(store, checked(name, team, addresses), was=was)


def put_agent(store, name, team, addresses) -> Saved:
    """Add the agent, or bring the one of this name up to date (how an import and the demo save)."""
    return _save(store, checked(name, team, addresses))


def remove_agent(store, name: str | None) -> None:
    """Take an agent and their addresses out of the directory."""
    if not rows.remove_agent(store, _name(name)):
        raise AgentError(f"There is no agent called {name}.")


# --- importing a CSV file ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImportLine:
    """What one line of an imported file did: "added", "updated", "unchanged" or "refused", and why."""

    line: int
    outcome: str
    name: str
    message: str

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"


def _line(store, number: int, cells: list[str]) -> ImportLine:
    name = (cells[0] if cells else "").strip()
    if len(cells) != len(HEADER):
        return ImportLine(number, "refused", name, f"has {len(cells)} columns, not 3: name, team, addresses "
                                                   "(separate several addresses with ; or |)")
    try:
        saved = put_agent(store, *cells)
    except AgentError as refused:
        return ImportLine(number, "refused", name, str(refused))
    agent = saved.agent
    return ImportLine(number, saved.outcome, agent["name"],
                      f"{agent['team'] or 'no team'}: {', '.join(agent['addresses'])}")


def import_csv(store, text: str) -> list[ImportLine]:
    """Add or update one agent per line of CSV text (name, team, addresses); a header line is allowed.

    Each line is stored on its own, so a refused line stores nothing and costs no other line.
    """
    report = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
                continue
            if reader.line_num == 1 and tuple(cell.strip().lower() for cell in cells) == HEADER:
                continue
            report.append(_line(store, reader.line_num, cells))
    except csv.Error as unreadable:
        report.append(ImportLine(reader.line_num, "refused", "", f"cannot be read as CSV ({unreadable}); "
                                                                  "this line and the rest were not imported"))
    return report


def read_upload(data: bytes) -> str:
    """An uploaded file's text (UTF-8); AgentError when it is not text."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise AgentError("The file is not UTF-8 text; save it as CSV (UTF-8) and import it again.") from None


def fill(store, agents: Iterable[tuple[str, str, Iterable[str]]]) -> list[Saved]:
    """Put each (name, team, addresses) in the directory: how the demo names its simulated agents."""
    return [put_agent(store, name, team, list(found)) for name, team, found in agents]
