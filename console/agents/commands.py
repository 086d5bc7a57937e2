"""The bodies of `supervisor-console agent add|remove|list|import`: each prints what it did and returns an exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from console.agents import directory
from console.agents.directory import AgentError
from console.state import agents as rows


def _refuse(message: str, err: TextIO) -> int:
    print(f"supervisor-console: {message}", file=err)
    return 2


def _line(agent: dict) -> str:
    return f"{agent['name']}\t{agent['team'] or '-'}\t{'; '.join(agent['addresses'])}"


def add(store, name: str, team: str | None, addresses: list[str], out: TextIO = sys.stdout,
        err: TextIO = sys.stderr) -> int:
    """Add one agent with their team and addresses."""
    try:
        agent = directory.add_agent(store, name, team, addresses or [])
    except AgentError as refused:
        return _refuse(str(refused), err)
    print(f"added {_line(agent)}", file=out)
    return 0


def remove(store, name: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Take one agent out of the directory."""
    try:
        directory.remove_agent(store, name)
    except AgentError as refused:
        return _refuse(str(refused), err)
    print(f"removed {name}", file=out)
    return 0


def listing(store, out: TextIO = sys.stdout) -> int:
    """Every agent, one per line: name, team, addresses."""
    for agent in rows.agents(store):
        print(_line(agent), file=out)
    return 0


def import_file(store, path: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Import a CSV file (name, team, addresses); print each line's outcome; exit 1 when any line was refused."""
    try:
        text = directory.read_upload(Path(path).read_bytes())
    except OSError as exc:
        return _refuse(f"cannot read {path}: {exc.strerror or exc}", err)
    except AgentError as refused:
        return _refuse(str(refused), err)
    report = directory.import_csv(store, text)
    for line in report:
        print(f"line {line.line}: {line.outcome} {line.name or ''}: {line.message}".replace("  ", " "),
              file=err if line.refused else out)
    counts = {outcome: sum(1 for line in report if line.outcome == outcome)
              for outcome in ("added", "updated", "unchanged", "refused")}
    print(", ".join(f"{count} {outcome}" for outcome, count in counts.items()), file=out)
    return 1 if counts["refused"] else 0
