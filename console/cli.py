"""The `supervisor-console` command: demo, serve, simulate, init-db, user, agent."""

from __future__ import annotations

import argparse
import atexit
import getpass
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from console.bench.options import add_arguments as bench_arguments
from console.config import ConfigError, load_settings


def _fail(message: str) -> int:
    """Print a refusal the way a deploying engineer wants to read it, and return the exit code."""
    print(f"supervisor-console: {message}", file=sys.stderr)
    return 2


def _wait_for_signal() -> None:
    """Block the main thread until SIGINT or SIGTERM."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the console under gunicorn (gthread) against real Telnyx."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc))
    if not settings["TELNYX_PUBLIC_KEY"]:
        return _fail(
            "TELNYX_PUBLIC_KEY is not set. The console never accepts unverified webhooks: copy the "
            "public key from Mission Control (Account Settings > Keys & Credentials > Public Key) "
            "into TELNYX_PUBLIC_KEY and start again."
        )
    if not settings["CONSOLE_SECRET_KEY"]:
        return _fail("CONSOLE_SECRET_KEY is not set. Set it to a long random string (it signs session cookies).")
    if settings["CONSOLE_REDIS_URL"]:
        from console.cluster.mode import (
            check_redis,  # the distributed mode only: it loads redis
        )

        if (problem := check_redis(settings)) is not None:
            return _fail(problem)
    # Loaded here so each command loads only what it runs: serve loads gunicorn.
    from console.web.server import GunicornServer

    def factory():
        # Loaded in the worker, after gunicorn forks it, so the arbiter never holds the app's modules.
        from console.ingest.reconcile import start_reconciler
        from console.queues.alerts import get_watcher
        from console.queues.retention import get_retention
        from console.web.app import create_app

        app = create_app()
        start_reconciler(app)
        get_watcher(app).start()
        get_retention(app).start()
        return app

    GunicornServer(factory, bind=f"{args.host}:{args.port}", threads=args.threads).run()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Simulator, traffic and console wired together on this machine: no Telnyx account needed."""
    if args.instances > 1:
        return _demo_instances(args)
    # Loaded here so each command loads only what it runs: demo loads the simulator and the app.
    from console.agents.directory import fill
    from console.ingest.reconcile import start_reconciler
    from console.queues.alerts import get_watcher
    from console.queues.retention import get_retention
    from console.simulator import Simulator
    from console.web.app import create_app
    from console.web.server import BackgroundServer

    workdir = Path(tempfile.mkdtemp(prefix="supervisor-console-demo-"))
    database = args.database or str(workdir / "demo.db")
    simulator = Simulator(seed=args.seed, speed=args.speed, traffic=True)
    simulator_url = simulator.start(host="127.0.0.1", port=args.simulator_port)
    app = create_app(
        {
            "TELNYX_API_KEY": simulator.api_key,
            "TELNYX_PUBLIC_KEY": simulator.public_key,
            "TELNYX_BASE_URL": simulator_url,
            "TELNYX_CONNECTION_ID": simulator.world.connection_id,
            "TELNYX_CALLER_ID": "+13125550100",
            "CONSOLE_DATABASE": database,
            "CONSOLE_DEMO": True,
            "CONSOLE_RECONCILE_INTERVAL": 10.0,
        }
    )
    # The simulated agents are in the directory from the start: each one's team is the queue they serve first.
    fill(app.extensions["console.store"],
         ((agent.name, agent.queues[0], [agent.address]) for agent in simulator.traffic.agents))
    console = BackgroundServer(app, host=args.host, port=args.port).start()
    simulator.delivery.set_url(f"{console.url}/webhooks/telnyx")
    reconciler = start_reconciler(app)
    watcher = get_watcher(app)
    watcher.start()
    retention = get_retention(app).start()
    print(f"Simulated Telnyx API: {simulator_url}", flush=True)
    print(f"Supervisor console (demo): {console.url}/", flush=True)
    print("Open the console URL in a browser. Ctrl-C stops everything.", flush=True)
    try:
        _wait_for_signal()
    finally:
        app.extensions["console.hub"].stop()
        watcher.stop()
        retention.stop()
        reconciler.stop()
        simulator.stop()
        console.stop()
    return 0


def _demo_instances(args: argparse.Namespace) -> int:
    """The demo in the distributed mode: Redis, N `serve` instances and a round-robin front (console.cluster.demo)."""
    from console.agents.directory import fill
    from console.cluster import demo as cluster
    from console.cluster.mode import command_store
    from console.simulator import Simulator

    if args.database:
        return _fail("--database is for the one-instance demo: each instance keeps its own file in the work folder")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a SIGTERM while starting still stops what started
    simulator = Simulator(seed=args.seed, speed=args.speed, traffic=True,
                          delivery_session=cluster.one_connection_each())  # so webhooks spread over instances
    demo = None
    try:
        redis_server = cluster.find_redis_server()
        telnyx = {"TELNYX_API_KEY": simulator.api_key, "TELNYX_PUBLIC_KEY": simulator.public_key,
                  "TELNYX_BASE_URL": simulator.start(host="127.0.0.1", port=args.simulator_port),
                  "TELNYX_CONNECTION_ID": simulator.world.connection_id}
        workdir = Path(tempfile.mkdtemp(prefix="supervisor-console-demo-"))
        demo = cluster.start_cluster_demo(telnyx, workdir, args.instances, redis_server, args.host, args.port)
        # The directory is shared: written once through the stream, as `supervisor-console agent` does.
        store, stop_store = command_store(load_settings(overrides={"CONSOLE_REDIS_URL": demo.redis_url}))
        try:
            fill(store, ((agent.name, agent.queues[0], [agent.address]) for agent in simulator.traffic.agents))
        finally:
            stop_store()
        simulator.delivery.set_url(f"{demo.url}/webhooks/telnyx")
        print(f"Simulated Telnyx API: {telnyx['TELNYX_BASE_URL']}", *demo.summary(), sep="\n", flush=True)
        demo.watch(lambda line: print(line, flush=True))
        _wait_for_signal()
    except cluster.DemoError as exc:
        print(f"supervisor-console: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        simulator.stop()
        if demo is not None:
            demo.stop()
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run only the Telnyx simulator, posting signed webhooks to --webhook-url."""
    # Loaded here so each command loads only what it runs: simulate loads the simulator.
    from console.simulator import main_simulate

    main_simulate(
        host=args.host,
        port=args.port,
        webhook_url=args.webhook_url,
        api_key=args.api_key,
        signing_key_b64=args.signing_key,
        seed=args.seed,
        speed=args.speed,
        traffic=not args.no_traffic,
    )
    return 0


def cmd_init_db(args: argparse.Namespace) -> int:
    """Create or migrate the database named by CONSOLE_DATABASE."""
    # Loaded here so each command loads only what it runs: init-db loads the app.
    from console.web.app import create_app

    try:
        app = create_app({"CONSOLE_DATABASE": args.database} if args.database else None)
    except ConfigError as exc:
        return _fail(str(exc))
    print(f"database ready: {app.config['CONSOLE_DATABASE']}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure ingest, live latency and page times (see console/bench/)."""
    # Loaded here so each command loads only what it runs: bench loads the benchmark and the app.
    from console.bench.run import main as bench_main

    if args.figures:
        from console.bench.figures import main as figures_main

        return figures_main(args)
    return bench_main(args)


def _user_store(args: argparse.Namespace):
    """The store named by --database or CONSOLE_DATABASE, migrated; in the distributed mode, the stream's."""
    # Loaded here so each command loads only what it runs: user loads the store, not the app.
    from console.state.store import Store

    settings = load_settings()
    if settings["CONSOLE_REDIS_URL"] and not args.database:
        from console.cluster.mode import (
            command_store,  # users and agents are shared: they go through Redis
        )

        store, stop = command_store(settings)
        atexit.register(stop)
        return store
    store = Store(args.database or settings["CONSOLE_DATABASE"])
    store.migrate()
    return store


def _new_password(args: argparse.Namespace) -> str:
    """The password from the first line of stdin (--password-stdin), or typed twice at a prompt."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_user(args: argparse.Namespace) -> int:
    """Add a user, change their role, disable or enable them, or list everyone."""
    # Loaded here so each command loads only what it runs: user loads the accounts, not the app.
    from console.access import users

    try:
        store = _user_store(args)
        if args.action == "list":
            for user in store.users():
                state = "disabled" if user["disabled"] else "enabled"
                print(f"{user['name']}\t{user['role']}\t{state}\t{user['phone'] or ''}")
            return 0
        if args.action == "add":
            user = users.add_user(store, args.name, args.role, _new_password(args), args.phone)
        elif args.action == "set-role":
            user = users.set_role(store, args.name, args.role)
        elif args.action == "set-password":
            user = users.set_password(store, args.name, _new_password(args))
        else:
            user = users.set_disabled(store, args.name, args.action == "disable")
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    state = "disabled" if user["disabled"] else "enabled"
    print(f"user {user['name']}: {user['role']}, {state}")
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """Add, remove, list or import the agents the console labels on calls."""
    # Loaded here so each command loads only what it runs: agent loads the directory, not the app.
    from console.agents import commands

    try:
        store = _user_store(args)
    except ConfigError as exc:
        return _fail(str(exc))
    if args.action == "add":
        return commands.add(store, args.name, args.team, args.address)
    if args.action == "remove":
        return commands.remove(store, args.name)
    if args.action == "import":
        return commands.import_file(store, args.file)
    return commands.listing(store)


def _speed(text: str) -> float:
    """A positive speed factor."""
    value = float(text)
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError("speed must be between 0 and 1000")
    return value


def _instances(text: str) -> int:
    """How many console instances the demo runs: 1 (the usual demo) or more."""
    value = int(text)
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError("instances must be between 1 and 16")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="supervisor-console", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="console + simulator + live traffic, no Telnyx account")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--simulator-port", type=int, default=0, help="default: a free port")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--speed", type=_speed, default=1.0, help="simulated seconds per real second")
    demo.add_argument("--database", help="default: a fresh file in a temporary folder")
    demo.add_argument("--instances", type=_instances, default=1, metavar="N",
                      help="run N console instances on one Redis behind a round-robin front on --port (needs "
                           "redis-server); kill one and the page carries on through another")
    demo.set_defaults(handler=cmd_demo)

    serve = commands.add_parser("serve", help="serve against Telnyx (gunicorn, gthread)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--threads", type=int, default=32,
                       help="threads for pages and actions (webhooks and live sockets have their own)")
    serve.set_defaults(handler=cmd_serve)

    simulate = commands.add_parser("simulate", help="run only the Telnyx simulator")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8080)
    simulate.add_argument("--webhook-url", help="where signed webhooks are POSTed")
    simulate.add_argument("--api-key", default=os.environ.get("TELNYX_API_KEY", "sim-key"))
    simulate.add_argument("--signing-key", help="base64 32-byte Ed25519 seed; default: a new key")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument("--speed", type=_speed, default=1.0)
    simulate.add_argument("--no-traffic", action="store_true", help="no call-center scenario")
    simulate.set_defaults(handler=cmd_simulate)

    init_db = commands.add_parser("init-db", help="create or migrate the database")
    init_db.add_argument("--database", help="default: CONSOLE_DATABASE")
    init_db.set_defaults(handler=cmd_init_db)

    user = commands.add_parser("user", help="add users, change their role, disable or enable them")
    user_actions = user.add_subparsers(dest="action", required=True)
    add = user_actions.add_parser("add", help="add a user who signs in with a password")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("viewer", "supervisor", "admin"))
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin, not a prompt")
    add.add_argument("--phone", help="E.164 number or SIP address dialled as their supervisor line")
    set_role = user_actions.add_parser("set-role", help="change what a user may do (ends their sessions)")
    set_role.add_argument("name")
    set_role.add_argument("role", choices=("viewer", "supervisor", "admin"))
    set_password = user_actions.add_parser("set-password", help="give a user a new password (ends their sessions)")
    set_password.add_argument("name")
    set_password.add_argument("--password-stdin", action="store_true", help="read the password from stdin, not a prompt")
    for action, says in (("disable", "stop a user signing in (ends their sessions)"), ("enable", "let them in again")):
        user_actions.add_parser(action, help=says).add_argument("name")
    user_actions.add_parser("list", help="everyone who may sign in")
    for parser_of_action in user_actions.choices.values():
        parser_of_action.add_argument("--database", help="default: CONSOLE_DATABASE")
    user.set_defaults(handler=cmd_user)

    agent = commands.add_parser("agent", help="the agent directory: who is an agent, on which addresses")
    agent_actions = agent.add_subparsers(dest="action", required=True)
    agent_add = agent_actions.add_parser("add", help="add an agent with their team and addresses")
    agent_add.add_argument("name")
    agent_add.add_argument("--team", default="")
    agent_add.add_argument("--address", action="append", required=True,
                           help="E.164 number or SIP URI their calls use (repeat for several)")
    agent_actions.add_parser("remove", help="take an agent out of the directory").add_argument("name")
    agent_actions.add_parser("list", help="every agent: name, team, addresses")
    agent_actions.add_parser("import", help="add or update agents from a CSV file: name, team, addresses") \
        .add_argument("file", help="CSV with columns name, team, addresses (several separated by ; or |)")
    for parser_of_action in agent_actions.choices.values():
        parser_of_action.add_argument("--database", help="default: CONSOLE_DATABASE")
    agent.set_defaults(handler=cmd_agent)

    bench = commands.add_parser("bench", help="measure ingest rate, live latency and page times")
    bench_arguments(bench)
    bench.add_argument("--figures", action="store_true",
                       help="only time queue figures and the wallboard as the log grows (see --figure-sizes)")
    bench.add_argument("--figure-sizes", default="10000,100000,1000000",
                       help="event-log sizes for --figures, ascending (default 10000,100000,1000000)")
    bench.add_argument("--figure-rate", type=int, default=100_000,
                       help="events a day in the history --figures seeds (default 100000)")
    bench.set_defaults(handler=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of `python -m console`."""
    args = build_parser().parse_args(argv)
    return args.handler(args)
