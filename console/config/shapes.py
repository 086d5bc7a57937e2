"""The settings whose text has a shape (queue targets, alert thresholds, proxy networks, group roles,
the Redis URL), parsed into the small values the queues, access and cluster rooms read.

Part of the config room: it imports nothing of the console.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

ROLES = ("viewer", "supervisor", "admin")  # lowest first: a role may do all that the ones before it may
ALERT_METRICS = ("longest_wait", "depth", "service_level")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ServiceTarget:
    """Answer within `seconds` for `goal` percent of calls, shown as "80/20"."""

    seconds: int = 20
    goal: int = 80

    @property
    def label(self) -> str:
        return f"{self.goal}/{self.seconds}"


@dataclass(frozen=True)
class Threshold:
    """Warning and critical limits for one alert metric."""

    warning: float
    critical: float


def parse_queue_targets(text: str) -> dict[str, ServiceTarget]:
    """Read "Sales=90/30,Support=80/20" (goal %/seconds per queue); raise ValueError on nonsense."""
    targets: dict[str, ServiceTarget] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, value = item.rpartition("=")
        goal, slash, seconds = value.partition("/")
        if not equals or not name.strip() or not slash:
            raise ValueError(f"expected queue=goal/seconds, got {item!r}")
        target = ServiceTarget(int(seconds), int(goal))
        if target.seconds <= 0 or not 0 < target.goal <= 100:
            raise ValueError(f"target out of range in {item!r}")
        targets[name.strip()] = target
    return targets


def parse_thresholds(text: str) -> dict[str, dict[str, Threshold]]:
    """Read the CONSOLE_ALERT_THRESHOLDS text; raise ValueError naming what is wrong."""
    table: dict[str, dict[str, Threshold]] = {}
    for group in filter(None, (part.strip() for part in text.split(";"))):
        queue, colon, items = group.rpartition(":")
        if not colon or not queue.strip():
            raise ValueError(f"expected queue:metric=warning/critical, got {group!r}")
        limits = table.setdefault(queue.strip(), {})
        for item in filter(None, (part.strip() for part in items.split(","))):
            metric, equals, value = item.partition("=")
            warning, slash, critical = value.partition("/")
            if not equals or not slash or metric.strip() not in ALERT_METRICS:
                raise ValueError(f"expected one of {', '.join(ALERT_METRICS)} as metric=warning/critical, got {item!r}")
            limits[metric.strip()] = Threshold(float(warning), float(critical))
    return table


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """Proxy addresses or CIDR networks, comma or space separated; ValueError names a bad one."""
    networks = []
    for part in (text or "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def parse_group_roles(text: str | None) -> dict[str, str]:
    """`group=role` pairs, comma separated, into a dict; ValueError says which pair is wrong."""
    mapping = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        group, equals, role = pair.partition("=")
        if not equals or not group.strip() or role.strip() not in ROLES:
            raise ValueError(f"expected group=role with a role from {', '.join(ROLES)}, got {pair.strip()!r}")
        mapping[group.strip()] = role.strip()
    return mapping


def parse_redis_url(text: str) -> str:
    """A URL redis-py can open (redis://, rediss:// or unix://), checked here so a typo is named at start."""
    url = text.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.password:  # never echo a password into a log
        text = url.replace(f":{parts.password}@", ":***@", 1)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"expected redis://host:port/db, rediss://... or unix:///path, got {text!r}")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is asked for
    except ValueError:
        raise ValueError(f"the port is not a number from 0 to 65535, got {text!r}") from None
    if parts.scheme == "unix" and not parts.path:
        raise ValueError(f"a unix:// URL needs the socket's path, got {text!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"no host, got {text!r}")
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        raise ValueError(f"the database must be a number (e.g. /0), got {text!r}")
    return url
