"""What the heartbeat monitor knows about one peer: timing, liveness and restart history.

The monitor turns it into the snapshot's `PeerState` (nf/snapshot.py). Times are
wall-clock seconds (`None` until the event happened); the RTT is in microseconds, measured
on the monotonic clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv6Address

from nf.core.timers import Timer

MAX_RTT_US = 0xFFFFFFFF  # the YANG leaf is a uint32


class Liveness(str, Enum):
    UNKNOWN = "unknown"  # no response yet
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Timing:
    """How often a peer is asked, and how many unanswered requests make its path down."""

    interval: float  # seconds between two requests
    missing_allowed: int
    # RFC 5847 §3.1: down when the missed count *exceeds* MISSING_HEARTBEATS_ALLOWED; fast
    # probing, like BFD's detect multiplier, is down when it *reaches* its multiplier.
    exceeds: bool = True

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError(f"heartbeat interval must be positive, got {self.interval}")
        if self.missing_allowed < 1:
            raise ValueError(f"missing heartbeats allowed must be at least 1, got {self.missing_allowed}")

    @property
    def misses_for_down(self) -> int:
        """Consecutive unanswered requests that take the path down."""
        return self.missing_allowed + 1 if self.exceeds else self.missing_allowed


@dataclass(slots=True)
class OutstandingRequest:
    sequence: int
    sent_at: float  # monotonic seconds


@dataclass(slots=True)
class PeerLiveness:
    address: IPv6Address
    timing: Timing
    name: str | None = None
    configured: bool = False  # from the configuration (else added at run time)
    state: Liveness = Liveness.UNKNOWN
    outstanding: OutstandingRequest | None = None  # the periodic request awaiting its response
    missed: int = 0  # consecutive periodic requests without a response
    last_sent: float | None = None
    last_received: float | None = None
    rtt_us: int | None = None
    restart_counter: int | None = None
    restart_count: int = 0
    last_restart: float | None = None
    last_up: float | None = None
    last_down: float | None = None
    down_count: int = 0
    down_since: float | None = None  # monotonic seconds, while down
    timer: Timer | None = None
    asked_early: bool = False
    supported: bool = True  # RFC 5847 §3: False once it answered a request with Binding Error 2  # check_now() already sent its one off-cadence request


def rtt_microseconds(sent_at: float, received_at: float) -> int:
    return min(MAX_RTT_US, max(0, round((received_at - sent_at) * 1_000_000)))
