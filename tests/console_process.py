"""A console in a process of its own, for the crash tests: `python -m tests.console_process --port P`.

Settings come from the environment (CONSOLE_DATABASE, TELNYX_PUBLIC_KEY, ...), as for `serve`.
It serves until SIGTERM or SIGINT; the crash tests end it with SIGKILL instead.
"""

from __future__ import annotations

import argparse
import signal
import threading

from console import create_app
from console.web.server import BackgroundServer


def main(argv: list[str] | None = None) -> None:
    """Serve one console app on 127.0.0.1:port until told to stop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = BackgroundServer(create_app(), "127.0.0.1", args.port).start()
    print(f"serving on {server.url}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
