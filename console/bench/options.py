"""What a benchmark run does: sizes, rates and durations, from the `bench` subcommand's options."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field


@dataclass
class BenchOptions:
    """What to run: sizes, rates and durations (the defaults are the full benchmark)."""

    subscribers: int = 100
    rates: list[int] = field(default_factory=lambda: [200, 500, 1000])
    duration: float = 10.0
    max_duration: float = 10.0
    baseline_duration: float = 5.0
    conferences: int = 40
    queues: int = 10
    # Telnyx delivers webhooks from many senders at once; eight connections capped the offered rate
    # by their round trips rather than by the console.
    threads: int = 16
    seed: int = 7
    render_process: bool = True
    # Subscribers offer permessage-deflate as browsers do; off shows what compressing frames costs.
    deflate: bool = True
    ingest: bool = True
    pages: bool = False
    page_sizes: tuple[int, int, int, int] = (500, 8, 50, 100)
    # The attack phase: slow-header connections, live sockets of which some never read, webhooks meanwhile.
    attack: bool = True
    attack_sizes: tuple[int, int, int] = (200, 300, 100)
    attack_rate: int = 100
    attack_duration: float = 15.0
    # The large-state phase: live conferences, participants in each, queues; then flat out.
    large_state: bool = True
    large_sizes: tuple[int, int, int] = (3000, 4, 20)
    # The day phase (day.py): a whole day of queue calls through one console, instead of the phases above.
    day: bool = False
    calls: int = 11500  # about 150,000 webhooks (14 an answered call, 5 an abandoned one)
    day_subscribers: int = 20
    day_rate: float | None = None  # webhooks offered per second; None: flat out
    # The instances phase (instances.py): N consoles on one Redis against the embedded one; 0 skips it.
    instances: int = 0


def quick(options: BenchOptions) -> BenchOptions:
    """Shrink a run so it takes well under a minute."""
    options.subscribers = min(options.subscribers, 20)
    options.rates = [100, 200]
    options.duration = options.max_duration = 3.0
    options.baseline_duration = 2.0
    options.conferences = min(options.conferences, 12)
    options.queues = min(options.queues, 4)
    options.page_sizes = (100, 8, 10, 100)
    options.attack_sizes = (20, 30, 10)
    options.attack_duration = 4.0
    options.large_sizes = (300, 4, 4)
    options.calls = min(options.calls, 1000)
    return options


def options_from(args) -> BenchOptions:
    """BenchOptions from the command line: --quick first, then whatever was given explicitly."""
    options = BenchOptions(ingest=not args.pages_only, pages=args.pages or args.pages_only,
                           attack=args.attack and not args.pages_only,
                           large_state=args.large_state and not args.pages_only)
    if args.quick:
        quick(options)
    for name in ("subscribers", "conferences", "queues", "threads", "baseline_duration"):
        if getattr(args, name) is not None:
            setattr(options, name, getattr(args, name))
    if args.duration is not None:
        options.duration = options.max_duration = args.duration
    if args.day:
        options.day, options.ingest, options.attack, options.large_state = True, False, False, False
    if args.calls is not None:
        if args.calls < 1:
            raise SystemExit(f"--calls takes a whole number of calls, at least 1, got {args.calls}")
        options.calls = args.calls
    if args.subscribers is not None:
        options.day_subscribers = args.subscribers
    if args.day_rate is not None:
        if args.day_rate <= 0:
            raise SystemExit(f"--day-rate takes webhooks per second above 0, got {args.day_rate}")
        options.day_rate = args.day_rate
    if getattr(args, "instances", None) is not None:
        if args.instances < 2:
            raise SystemExit(f"--instances takes 2 or more consoles (the embedded one is the baseline), "
                             f"got {args.instances}")
        options.instances, options.ingest, options.attack, options.large_state = args.instances, False, False, False
    options.render_process = args.render_process
    options.deflate = args.deflate
    if args.rates:
        options.rates = [int(rate) for rate in args.rates.split(",") if rate.strip()]
    if args.page_sizes:
        options.page_sizes = _sizes(args.page_sizes, 4, "--page-sizes")
    if args.attack_sizes:
        options.attack_sizes = _sizes(args.attack_sizes, 3, "--attack-sizes")
        if options.attack_sizes[2] > options.attack_sizes[1]:
            raise SystemExit("--attack-sizes: the sockets that never read are some of the sockets, not more")
    if args.large_sizes:
        options.large_sizes = _sizes(args.large_sizes, 3, "--large-sizes")
        if min(options.large_sizes[:2]) < 1:
            raise SystemExit("--large-sizes: at least one conference of one participant")
    return options


def _sizes(text: str, count: int, flag: str) -> tuple[int, ...]:
    """`count` whole numbers, comma separated, or a clear exit naming the flag."""
    try:
        sizes = tuple(int(n) for n in text.split(","))
    except ValueError:
        sizes = ()
    if len(sizes) != count or min(sizes) < 0:
        raise SystemExit(f"{flag} takes {count} whole numbers separated by commas, got {text!r}")
    return sizes


def add_arguments(parser) -> None:
    """The `bench` subcommand's options (unset ones take the full run's, or --quick's, values)."""
    parser.add_argument("--quick", action="store_true", help="a small run that takes well under a minute")
    parser.add_argument("--subscribers", type=int, help="WebSocket subscribers (default 100)")
    parser.add_argument("--rates", help="fixed webhook rates per second, comma separated (default 200,500,1000)")
    parser.add_argument("--duration", type=float, help="seconds per phase (default 10)")
    parser.add_argument("--baseline-duration", type=float, help="seconds of /healthz baseline (default 5)")
    parser.add_argument("--conferences", type=int, help="conferences live at once (default 40)")
    parser.add_argument("--queues", type=int, help="queues (default 10)")
    parser.add_argument("--threads", type=int, help="poster connections (default 16)")
    parser.add_argument("--render-process", action=argparse.BooleanOptionalAction, default=True,
                        help="run the console with CONSOLE_RENDER_PROCESS (default: yes)")
    parser.add_argument("--deflate", action=argparse.BooleanOptionalAction, default=True,
                        help="subscribers offer permessage-deflate, as browsers do (default: yes)")
    parser.add_argument("--pages", action="store_true", help="also time pages at a large state")
    parser.add_argument("--pages-only", action="store_true", help="only time pages at a large state")
    parser.add_argument("--page-sizes", help="conferences,participants,queues,queued calls (default 500,8,50,100)")
    parser.add_argument("--attack", action=argparse.BooleanOptionalAction, default=True,
                        help="hold slow-header connections and live sockets while webhooks arrive (default: yes)")
    parser.add_argument("--attack-sizes",
                        help="slow-header connections,live sockets,of which never read (default 200,300,100)")
    parser.add_argument("--large-state", action=argparse.BooleanOptionalAction, default=True,
                        help="also run flat out against a large live state, in a console of its own (default: yes)")
    parser.add_argument("--large-sizes", help="live conferences,participants each,queues (default 3000,4,20)")
    parser.add_argument("--day", action="store_true",
                        help="play a whole day of queue calls through one console instead of the other phases "
                             "(with --subscribers live pages, default 20, and a wallboard)")
    parser.add_argument("--calls", type=int, help="calls in the day (default 11500, about 150,000 webhooks)")
    parser.add_argument("--day-rate", type=float, help="webhooks per second the day is posted at (default: flat out)")
    parser.add_argument("--instances", type=int,
                        help="run N consoles on one Redis (posted round robin, timed across instances) against the "
                             "embedded single console, instead of the default phases (--pages and --day still add "
                             "theirs); the fixed rate is the first of --rates")
    parser.add_argument("--out", help="write the figures as JSON here")
