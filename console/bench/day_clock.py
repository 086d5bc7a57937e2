"""The simulated day's clock, shared by the day's poster (who moves it) and the console it measures (who reads it).

A day compressed into minutes only behaves like a day if the console's "now" is the day's: the
KPI period starts at the simulated midnight, a caller's wait is measured against the simulated
moment, the wallboard's last hour is the simulated one. The console reads "now" from
`datetime.now` in many places, so the benchmark's server process (and only it, only when asked
with `--clock-file`) replaces `datetime.datetime` by `DayDatetime` before the console's modules
are loaded. `DayDatetime.now()` reads the simulated moment from an 8-byte file mapped into memory,
which the poster sets to the moment of each webhook as it sends it. `time.time()` is left alone,
so webhook signatures, timeouts, ticks and pings keep the real clock. The console's render
process is a fresh interpreter started from the server: it finds the clock file's path in the
environment and installs the same clock as it starts (see console.bench.server).

Instances of the real datetime still pass `isinstance(value, datetime)` after the swap (the
metaclass below), since stdlib functions keep returning the real type.
"""

from __future__ import annotations

import datetime as _datetime_module
import mmap
import os
import struct
import time

_REAL = _datetime_module.datetime
ENVIRONMENT = "CONSOLE_BENCH_DAY_CLOCK"  # the clock file's path, for processes the server starts
_FORMAT = "<d"  # seconds since the epoch, one aligned 8-byte double
SIZE = struct.calcsize(_FORMAT)


def create(path: str, seconds: float) -> None:
    """Make the clock file, set to `seconds` (epoch)."""
    with open(path, "wb") as out:
        out.write(struct.pack(_FORMAT, seconds))


class ClockFile:
    """The clock file mapped into memory: read (the console) or set (the poster)."""

    def __init__(self, path: str, writable: bool = False):
        self._file = open(path, "r+b" if writable else "rb")  # noqa: SIM115  closed by close()
        self._map = mmap.mmap(self._file.fileno(), SIZE, access=mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ)
        self._highest = struct.unpack_from(_FORMAT, self._map, 0)[0]

    def seconds(self) -> float:
        """The simulated moment, seconds since the epoch (the real clock while the file says 0)."""
        value = struct.unpack_from(_FORMAT, self._map, 0)[0]
        return value if value > 0 else time.time()

    def advance(self, seconds: float) -> None:
        """Move the clock forward to `seconds` (never back: webhooks sent together may be a little out of order)."""
        if seconds > self._highest:
            self._highest = seconds
            struct.pack_into(_FORMAT, self._map, 0, seconds)

    def close(self) -> None:
        self._map.close()
        self._file.close()


class _AnyDatetime(type):
    """Metaclass: a real datetime is an instance of DayDatetime too, so isinstance checks keep working."""

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, _REAL)

    def __subclasscheck__(cls, subclass) -> bool:
        return issubclass(subclass, _REAL)


class DayDatetime(_REAL, metaclass=_AnyDatetime):
    """datetime whose now() is the simulated day's (see the module's docstring)."""

    _clock: ClockFile | None = None

    @classmethod
    def now(cls, tz=None):
        if cls._clock is None:
            return super().now(tz)
        return cls.fromtimestamp(cls._clock.seconds(), tz)

    @classmethod
    def utcnow(cls):
        return cls.now(_datetime_module.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls):
        return cls.now()


def install(path: str) -> None:
    """Make `datetime.datetime` the simulated day's in this process and whatever it forks from now on.

    Call it before the console's modules are imported: a module that has already taken the real
    class by name keeps it.
    """
    if not os.path.exists(path):
        raise SystemExit(f"--clock-file: no clock file at {path!r}")
    if DayDatetime._clock is None:
        DayDatetime._clock = ClockFile(path)
    _datetime_module.datetime = DayDatetime
    os.environ[ENVIRONMENT] = path


def install_from_environment() -> None:
    """Install the clock named in the environment, if any (a process started by a server that has it)."""
    path = os.environ.get(ENVIRONMENT)
    if path:
        install(path)
