"""The console as the benchmark runs it: gunicorn's gthread worker on 127.0.0.1, no reconciler.

Readers sign in as a single sign-on proxy would: the `X-Forwarded-User` header (live.READER_HEADERS),
believed only from 127.0.0.1.

Run as `python -m console.bench.server --port P --database PATH --public-key B64 --threads N`;
the benchmark starts it as a subprocess and stops it by PID. `--clock-file F` gives it the day
phase's simulated clock (day_clock.py) instead of the real one.
"""

from __future__ import annotations

import argparse

from console.bench import day_clock
from console.web.server import GunicornServer

# The render process is a fresh interpreter that imports this module (the server's main module)
# before any of the console's: it takes the day phase's clock here, as the server did in main().
day_clock.install_from_environment()


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="console.bench.server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--threads", type=int, default=160)
    parser.add_argument("--tick-ms", type=int, default=100)
    parser.add_argument("--render-process", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--clock-file", help="the day phase's simulated clock (see console.bench.day_clock)")
    args = parser.parse_args(argv)
    if args.clock_file:
        day_clock.install(args.clock_file)  # before the worker loads the console's modules

    def factory():
        # Loaded in the worker, after gunicorn forks it, so the arbiter holds none of the app's modules
        # (as `supervisor-console serve` does; the bench measures the console's RSS).
        from console.web.app import create_app

        return create_app({
            "CONSOLE_DATABASE": args.database,
            "TELNYX_PUBLIC_KEY": args.public_key,
            "TELNYX_BASE_URL": "http://127.0.0.1:9/v2",
            "CONSOLE_SECRET_KEY": "bench-only-secret",
            "CONSOLE_HUB_TICK_MS": args.tick_ms,
            "CONSOLE_RENDER_PROCESS": args.render_process,
            # The benchmark's readers sign in the way a single sign-on proxy on this machine would.
            "CONSOLE_TRUSTED_HEADER_AUTH": True,
            "CONSOLE_TRUSTED_PROXIES": "127.0.0.1",
        })

    GunicornServer(factory, bind=f"127.0.0.1:{args.port}", threads=args.threads).run()


if __name__ == "__main__":
    main()
