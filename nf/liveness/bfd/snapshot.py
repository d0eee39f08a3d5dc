"""What the engine tells about itself: frozen snapshots, state changes and counters."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Hashable, Mapping

from .packet import BfdState

# Every reason a received datagram is dropped for (the stable keys of BfdCounters.drops).
DROP_REASONS = (
    "bad-version",                       # RFC 5880 §6.8.6, in its order from here
    "bad-length",
    "detect-multiplier-zero",
    "multipoint",
    "my-discriminator-zero",
    "unknown-your-discriminator",
    "your-discriminator-zero-not-down",
    "no-session",                        # Your Discriminator 0 and no session for the pair
    "hop-limit-below-minimum",           # the session's minimum_ttl (docs/bfd.md)
    "authentication-mismatch",           # A bit, type, key id or length not as configured
    "authentication-failure",            # hash or sequence number wrong (§6.7.4)
)


@dataclass(frozen=True, slots=True)
class BfdStateChange:
    """One change of a session's state, as handed to the engine's listeners."""

    key: Hashable
    old_state: BfdState
    new_state: BfdState
    local_diagnostic: int
    monotonic: float
    wall: float


@dataclass(frozen=True, slots=True)
class BfdSessionState:
    """One session as it is now. Intervals and times in seconds; wall-clock times are
    POSIX seconds (None until the event first happens)."""

    key: Hashable
    local_address: IPv6Address
    remote_address: IPv6Address
    source_port: int  # 0 while the engine is stopped
    remote_port: int
    local_state: BfdState
    remote_state: BfdState  # as last reported by the remote (RFC 5880 §6.8.1)
    local_discriminator: int
    remote_discriminator: int
    local_diagnostic: int
    remote_diagnostic: int
    detect_multiplier: int
    remote_detect_multiplier: int
    desired_min_tx: float  # configured, used while Up
    required_min_rx: float
    advertised_desired_min_tx: float  # what our packets carry now (>= 1 s unless Up)
    remote_desired_min_tx: float
    remote_required_min_rx: float
    negotiated_tx_interval: float  # 0 when the remote asked for no periodic packets
    detection_time: float  # 0 until a packet has been received
    poll_in_progress: bool
    up_count: int
    down_count: int  # changes from Up to Down or AdminDown
    last_up: float | None
    last_down: float | None
    last_state_change: float
    packets_sent: int
    packets_received: int
    packets_dropped: int
    minimum_ttl: int
    authentication_type: int  # 0 when none (RFC 5880 §4.1 Auth Type)


@dataclass(frozen=True, slots=True)
class BfdCounters:
    """Engine-wide counters; ``drops`` has every key of DROP_REASONS."""

    packets_in: int
    packets_out: int
    send_errors: int
    receive_errors: int
    drops: Mapping[str, int]

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())
