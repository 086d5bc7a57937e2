"""Slowing down password guessing at the login form: growing waits, then a lockout, per account and per address.

Failures are counted per account name (trimmed, case folded) and, separately, per client address
(the address the console already believes: the peer, or X-Forwarded-For from CONSOLE_TRUSTED_PROXIES;
an IPv6 client counts by its /64, which one machine usually holds whole). After
``CONSOLE_LOGIN_FREE_FAILURES`` failures an account must wait before each next try, starting at
``CONSOLE_LOGIN_FIRST_DELAY_SECONDS`` and doubling; at ``CONSOLE_LOGIN_LOCKOUT_FAILURES`` it is
locked for ``CONSOLE_LOGIN_LOCKOUT_SECONDS``, and each failure after the lockout locks it again.
An address follows the same steps with its own, larger thresholds (a whole office may share one).
Failures are forgotten after ``CONSOLE_LOGIN_FAILURE_WINDOW_SECONDS`` without one, and a right
password forgets its account's. A try during a wait is answered at once, without checking the
password, so guessing then gains nothing; nothing sleeps. Counters live in the state room's
``login_failures`` table, so every instance of the console shares them. Single sign-on by trusted
header never comes to the login form, so none of this touches it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask, current_app, g, request

from console.config import ConfigError
from console.ingest.bus import get_bus
from console.state import login_failures
from console.state.login_failures import ACCOUNT, ADDRESS, Count
from console.state.store import AUDIT_EVENT
from console.telnyx.events import console_event, format_timestamp

log = logging.getLogger("console.throttle")

EXTENSION = "console.login_throttle"
LOCKOUT_ACTION = "auth.lockout"
KEY_LENGTH = 128
_WHO = {ACCOUNT: "for this account", ADDRESS: "from your network address"}
_LOCKED = {ACCOUNT: ", so it is locked for now", ADDRESS: ", so sign-ins from it are locked for now"}
_AUDITED = {ACCOUNT: "for the account", ADDRESS: "from the address"}


def account_key(name: str | None) -> str | None:
    """The name a sign-in was tried under, as counted: trimmed and case folded (None when empty)."""
    text = (name or "").strip().casefold()[:KEY_LENGTH]
    return text or None


def address_key(address: str | None) -> str:
    """The client address as counted: IPv4 as is (also inside IPv6), IPv6 by its /64 network."""
    try:
        parsed = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return (address or "unknown")[:KEY_LENGTH]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def how_long(seconds: float) -> str:
    """A wait in words, rounded up: "2 seconds", "1 minute", "15 minutes", "2 hours"."""
    whole = max(1, math.ceil(seconds))
    if whole < 90:
        amount, unit = whole, "second"
    elif whole < 2 * 3600:
        amount, unit = math.ceil(whole / 60), "minute"
    else:
        amount, unit = math.ceil(whole / 3600), "hour"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


@dataclass(frozen=True)
class Limits:
    """When a counter of one kind starts waiting, and when it is locked."""

    free_failures: int
    lockout_failures: int


@dataclass(frozen=True)
class Wait:
    """A wait in force: whose counter, how many seconds are left, and whether it is a lockout."""

    kind: str
    seconds: float
    failures: int
    locked: bool

    @property
    def retry_after(self) -> int:
        """Whole seconds for the Retry-After header (at least one)."""
        return max(1, math.ceil(self.seconds))

    @property
    def words(self) -> str:
        """What the person at the login form reads."""
        locked = _LOCKED[self.kind] if self.locked else ""
        return f"Too many failed sign-ins {_WHO[self.kind]}{locked}. Try again in {how_long(self.seconds)}."


@dataclass
class Attempt:
    """One try at the login form: refused by a wait in force, or counted and let through to the password check."""

    name: str
    address: str
    waiting: Wait | None = None
    counted: list[Count] = field(default_factory=list)


class LoginThrottle:
    """The counters' policy over the state room's table, with a clock tests can move."""

    def __init__(self, store, *, account: Limits, address: Limits, first_delay: float, lockout_seconds: float,
                 window: float, clock: Callable[[], float] = time.time):
        for kind, limits in ((ACCOUNT, account), (ADDRESS, address)):
            if limits.free_failures < 0 or limits.lockout_failures <= limits.free_failures:
                raise ConfigError(f"the {kind} lockout must come after its free failures: {limits.free_failures} "
                                  f"free, locked at {limits.lockout_failures}")
        if first_delay <= 0 or lockout_seconds <= 0 or window <= 0:
            raise ConfigError("the first delay, the lockout and the failure window must each be more than 0 seconds")
        self.store = store
        self.limits = {ACCOUNT: account, ADDRESS: address}
        self.first_delay = float(first_delay)
        self.lockout_seconds = float(lockout_seconds)
        self.window = float(window)
        self.clock = clock

    def is_lockout(self, kind: str, failures: int) -> bool:
        """Whether this many failures lock a counter of this kind."""
        return failures >= self.limits[kind].lockout_failures

    def wait_after(self, kind: str, failures: int) -> float:
        """Seconds a counter must wait once it holds `failures`: none, then doubling, then the lockout."""
        limits = self.limits[kind]
        if self.is_lockout(kind, failures):
            return self.lockout_seconds
        if failures <= limits.free_failures:
            return 0.0
        return min(self.first_delay * 2 ** (failures - limits.free_failures - 1), self.lockout_seconds)

    def _wait(self, count: Count, now: float) -> Wait:
        return Wait(count.kind, count.blocked_until - now, count.failures, self.is_lockout(count.kind, count.failures))

    def attempt(self, name: str | None, address: str | None) -> Attempt:
        """Refuse a try during a wait, else count it as a failure until its password proves right."""
        keys = [(ADDRESS, address_key(address))]
        account = account_key(name)
        if account is not None:
            keys.insert(0, (ACCOUNT, account))
        now = self.clock()
        waiting, counted = login_failures.count_attempt(self.store, keys, now, window=self.window,
                                                        wait_after=self.wait_after)
        tried = Attempt((name or "").strip()[:64], keys[-1][1], counted=counted)
        if waiting is not None:
            tried.waiting = self._wait(waiting, now)
        return tried

    def failed(self, attempt: Attempt) -> Wait | None:
        """The password was wrong: the longest wait it started, with each lockout it started audited."""
        now = self.clock()
        longest = None
        for count in attempt.counted:
            if count.blocked_until <= now:
                continue
            wait = self._wait(count, now)
            if wait.locked:
                _audit_lockout(attempt, wait)
            if longest is None or wait.seconds > longest.seconds:
                longest = wait
        return longest

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget the account's failures and take this try off the address's."""
        login_failures.forgive(self.store, attempt.counted)


def _audit_lockout(attempt: Attempt, wait: Wait) -> None:
    """Record a lockout as an audit entry of its own (the failed try that caused it has its own entry too)."""
    log.warning("sign-in locked for %s %r after %d failures, for %d seconds", wait.kind,
                attempt.name if wait.kind == ACCOUNT else attempt.address, wait.failures, wait.retry_after)
    entry = {
        "at": format_timestamp(g.get("request_started") or datetime.now(UTC)),
        "user_name": attempt.name or None,
        "action": LOCKOUT_ACTION,
        "endpoint": request.endpoint,
        "method": request.method,
        "path": request.script_root + request.path,
        "target_user": (attempt.name or None) if wait.kind == ACCOUNT else None,
        "parameters": {"locked": wait.kind, "failures": wait.failures, "seconds": wait.retry_after},
        "result": "locked",
        "status": 429,
        "error": f"{wait.failures} failed sign-ins {_AUDITED[wait.kind]}: locked for {how_long(wait.seconds)}.",
        "client_address": request.remote_addr,
    }
    try:
        get_bus().publish(console_event(AUDIT_EVENT, entry))
    except Exception:  # the lockout itself is in force either way; losing its entry must not hide the page
        log.exception("could not record the audit entry for a sign-in lockout")


def init_app(app: Flask) -> LoginThrottle:
    """Build the app's throttle from its settings over the app's store, once per app."""
    throttle = app.extensions.get(EXTENSION)
    if throttle is None:
        config = app.config
        throttle = app.extensions[EXTENSION] = LoginThrottle(
            app.extensions["console.store"],
            account=Limits(int(config["CONSOLE_LOGIN_FREE_FAILURES"]), int(config["CONSOLE_LOGIN_LOCKOUT_FAILURES"])),
            address=Limits(int(config["CONSOLE_LOGIN_ADDRESS_FREE_FAILURES"]),
                           int(config["CONSOLE_LOGIN_ADDRESS_LOCKOUT_FAILURES"])),
            first_delay=float(config["CONSOLE_LOGIN_FIRST_DELAY_SECONDS"]),
            lockout_seconds=float(config["CONSOLE_LOGIN_LOCKOUT_SECONDS"]),
            window=float(config["CONSOLE_LOGIN_FAILURE_WINDOW_SECONDS"]),
        )
    return throttle


def get_throttle() -> LoginThrottle:
    """The current app's login throttle."""
    return current_app.extensions[EXTENSION]
