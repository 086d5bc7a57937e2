"""Changed keys sorted by what they name: conferences, participants, queues, queued calls, recordings.

The store reports each change as a key (``conference:<id>``, ``participant:<conference_id>:<call_control_id>``,
``queue:<name>``, ``queue_call:<queue>:<call_control_id>``, ``recording:<id>``); the live catalogue
(console.live.catalogue) reads them through `split_keys` to know which atoms of which pages to draw again.
"""

from __future__ import annotations


def split_keys(keys: set[str]) -> dict[str, set]:
    """Sort change keys by entity; queued-call keys are split using the queue keys beside them."""
    found: dict[str, set] = {"conference": set(), "participant": set(), "queue": set(),
                             "queue_call": set(), "recording": set()}
    queue_call_rests = []
    for key in keys:
        kind, _, rest = key.partition(":")
        if kind == "participant":
            conference_id, _, call_control_id = rest.partition(":")
            found["participant"].add((conference_id, call_control_id))
        elif kind == "queue_call":
            queue_call_rests.append(rest)
        elif kind in found:
            found[kind].add(rest)
    # Queue names may contain ':' and so may call_control_ids; the store always reports the queue
    # key alongside, so the longest queue name that prefixes the rest is the right split.
    for rest in queue_call_rests:
        names = [name for name in found["queue"] if rest.startswith(name + ":")]
        if names:
            name = max(names, key=len)
            found["queue_call"].add((name, rest[len(name) + 1:]))
        else:
            name, _, call_control_id = rest.partition(":")
            found["queue"].add(name)
            found["queue_call"].add((name, call_control_id))
    return found
