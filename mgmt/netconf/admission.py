"""Who may hold what on the NETCONF port: connection and session limits, and the delay after a
failed login (docs/security.md, "Management plane").

A connection is *pending* from its TCP accept until its first NETCONF session has exchanged
hellos; it must get there within ``login_timeout`` or it is closed. Pending connections are
limited globally and per source address, so idle or slow connections can hold at most those
slots and never the port; NETCONF sessions (SSH channels) are limited globally and per source
too. Whatever is refused is refused at once (the TCP connection closed, or the channel open
answered SSH_OPEN_RESOURCE_SHORTAGE, RFC 4254 §5.1) and counted.

Each failed login waits before it is answered: ``initial`` for the first failure from a source
address, doubling with each further one up to ``maximum``. A source is forgotten
``FORGET_AFTER`` seconds after its last failure; the table keeps at most ``MAX_SOURCES``
addresses (the least recently failed go first), so a flood of addresses costs bounded memory.
"""
from __future__ import annotations

import ipaddress
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional

FORGET_AFTER = 900.0  # seconds without a failure after which a source starts again from `initial`
MAX_SOURCES = 10_000  # source addresses whose failures are remembered

# why a connection or a session was refused: bounded, so they can be metric labels
PENDING_LIMIT = "pending-limit"
PENDING_PER_SOURCE_LIMIT = "pending-per-source-limit"
SESSION_LIMIT = "session-limit"
SESSION_PER_SOURCE_LIMIT = "session-per-source-limit"
REFUSALS = (PENDING_LIMIT, PENDING_PER_SOURCE_LIMIT, SESSION_LIMIT, SESSION_PER_SOURCE_LIMIT)


@dataclass(frozen=True)
class Limits:
    """The model's management/netconf limits (dmm-nf.yang), in seconds."""

    max_sessions: int = 64
    max_sessions_per_source: int = 16
    max_pending: int = 32
    max_pending_per_source: int = 8
    login_timeout: float = 30.0
    failed_login_delay: float = 1.0
    failed_login_delay_max: float = 30.0
    request_time_limit: Optional[float] = 60.0  # None: reads unbounded (benchmarks' baseline)


def source_of(address: str) -> str:
    """The address a peer is known by: an IPv4-mapped IPv6 address as IPv4, compressed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


class FailedLogins:
    """Failures per source address and the delay the next answer waits (module doc)."""

    def __init__(self, initial: float, maximum: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.initial = initial
        self.maximum = maximum
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # source -> (count, last)

    def failed(self, source: str) -> tuple[int, float]:
        """Record a failure from ``source``: (failures from it so far, seconds to wait)."""
        now = self._clock()
        with self._lock:
            count, last = self._failures.pop(source, (0, now))
            if now - last > FORGET_AFTER:
                count = 0
            count += 1
            self._failures[source] = (count, now)
            while len(self._failures) > MAX_SOURCES:
                self._failures.popitem(last=False)
        return count, self.delay(count)

    def delay(self, count: int) -> float:
        """The wait after the ``count``-th failure: initial, doubled each time, at most maximum."""
        if count <= 0 or self.initial <= 0:
            return 0.0
        return min(self.maximum, self.initial * 2 ** min(count - 1, 32))

    def sources(self) -> int:
        with self._lock:
            return len(self._failures)


class Admission:
    """The counts behind the limits, and what was refused or failed; thread-safe."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.failed_logins = FailedLogins(limits.failed_login_delay, limits.failed_login_delay_max, clock)
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._sessions: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._login_failures = 0
        self._login_timeouts = 0

    # ---------------------------------------------------------------- connections
    def admit_connection(self, source: str) -> Optional[str]:
        """Take a pending slot for a new connection from ``source``; the refusal reason when
        none is free (counted), None when admitted."""
        return self._admit(self._pending, source, self.limits.max_pending, self.limits.max_pending_per_source,
                           PENDING_LIMIT, PENDING_PER_SOURCE_LIMIT)

    def release_pending(self, source: str) -> None:
        """A pending connection logged in and opened its session, or went."""
        self._release(self._pending, source)

    # ---------------------------------------------------------------- sessions
    def admit_session(self, source: str) -> Optional[str]:
        """Take a session slot for a channel from ``source``; the refusal reason or None."""
        return self._admit(self._sessions, source, self.limits.max_sessions, self.limits.max_sessions_per_source,
                           SESSION_LIMIT, SESSION_PER_SOURCE_LIMIT)

    def release_session(self, source: str) -> None:
        self._release(self._sessions, source)

    def _admit(self, held: Counter[str], source: str, limit: int, per_source: int,
               over_limit: str, over_per_source: str) -> Optional[str]:
        with self._lock:
            if sum(held.values()) >= limit:
                reason = over_limit
            elif held[source] >= per_source:
                reason = over_per_source
            else:
                held[source] += 1
                return None
            self._refused[reason] += 1
            return reason

    def _release(self, held: Counter[str], source: str) -> None:
        with self._lock:
            held[source] -= 1
            if held[source] <= 0:
                del held[source]

    # ---------------------------------------------------------------- logins
    def login_failed(self, source: str) -> tuple[int, float]:
        """Count a failed login; (failures from this source, seconds to wait before answering)."""
        with self._lock:
            self._login_failures += 1
        return self.failed_logins.failed(source)

    def login_timed_out(self) -> None:
        with self._lock:
            self._login_timeouts += 1

    # ---------------------------------------------------------------- reading
    def snapshot(self) -> "AdmissionCounters":
        with self._lock:
            return AdmissionCounters(
                pending=sum(self._pending.values()), sessions=sum(self._sessions.values()),
                refused={reason: self._refused[reason] for reason in REFUSALS},
                login_failures=self._login_failures, login_timeouts=self._login_timeouts)


@dataclass(frozen=True)
class AdmissionCounters:
    pending: int
    sessions: int
    refused: dict[str, int]
    login_failures: int
    login_timeouts: int
