"""supervisor-console: a live web console for call-center supervisors on Telnyx Call Control.

The package's rooms (telnyx, state, ingest, access, queues, supervision, live, web) are described
in their own ``__init__`` docstrings and in the README's map.
"""

from __future__ import annotations

__all__ = ["create_app"]
__version__ = "0.1.0"


def create_app(config=None):
    """Build a console app (see console.web.app.create_app)."""
    # Imported here, not at the top, so that importing one room (the simulator importing the wire
    # room, a test importing the state room) does not load Flask, every blueprint and the app.
    from console.web.app import create_app as build

    return build(config)
