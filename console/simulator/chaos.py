"""Chaos knobs: how badly the simulator behaves on purpose, for reliability tests.

Webhook knobs are rates in [0, 1] read by the delivery worker; REST faults are a queue of
"the next N requests answer 429 / 500 / time out" consumed by the REST app.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

REST_FAULTS = ("429", "500", "timeout")
RATE_KNOBS = ("drop", "duplicate", "reorder")


@dataclass
class Chaos:
    """Mutable, thread-safe fault settings shared by the REST app and the webhook delivery."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay_ms: int = 0
    timeout_seconds: float = 30.0
    _rest_faults: deque = field(default_factory=deque, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, **knobs) -> None:
        """Set any of drop, duplicate, reorder, delay_ms, timeout_seconds; ValueError on bad values."""
        checked = {}
        for name, value in knobs.items():
            if name in RATE_KNOBS:
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
                checked[name] = rate
            elif name == "delay_ms":
                delay = int(value)
                if not 0 <= delay <= 60_000:
                    raise ValueError(f"delay_ms must be between 0 and 60000, got {value!r}")
                checked[name] = delay
            elif name == "timeout_seconds":
                seconds = float(value)
                if not 0.0 < seconds <= 300.0:
                    raise ValueError(f"timeout_seconds must be in (0, 300], got {value!r}")
                checked[name] = seconds
            else:
                raise ValueError(f"unknown chaos knob {name!r}")
        with self._lock:
            for name, value in checked.items():
                setattr(self, name, value)

    def fail_next(self, kind: str, count: int = 1) -> None:
        """Make the next `count` REST requests answer with `kind` (429, 500 or timeout)."""
        if kind not in REST_FAULTS:
            raise ValueError(f"fault must be one of {', '.join(REST_FAULTS)}, got {kind!r}")
        if not 0 <= int(count) <= 10_000:
            raise ValueError("count must be between 0 and 10000")
        with self._lock:
            self._rest_faults.extend([kind] * int(count))

    def take_rest_fault(self) -> str | None:
        """Pop the fault the current REST request must suffer, if any."""
        with self._lock:
            return self._rest_faults.popleft() if self._rest_faults else None

    def clear(self) -> None:
        """Back to a well-behaved Telnyx."""
        with self._lock:
            self.drop = self.duplicate = self.reorder = 0.0
            self.delay_ms = 0
            self._rest_faults.clear()

    def as_dict(self) -> dict:
        """The current settings, for the debug route."""
        with self._lock:
            return {
                "drop": self.drop,
                "duplicate": self.duplicate,
                "reorder": self.reorder,
                "delay_ms": self.delay_ms,
                "timeout_seconds": self.timeout_seconds,
                "pending_rest_faults": list(self._rest_faults),
            }
