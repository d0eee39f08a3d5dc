"""What the engine is asked to run: one session's specification, validated on creation."""
from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Hashable

from .auth import BfdAuthentication
from .errors import BfdSpecError
from .packet import MAX_INTERVAL_US

MULTIHOP_PORT = 4784  # RFC 5883 §5
DEFAULT_INTERVAL = 0.3  # FRR bfdd's default receive and transmit interval (300 ms × 3)
DEFAULT_MULTIPLIER = 3
FAST_INTERVAL = 0.05  # the fast profile, 50 ms × 3
# FRR bfdd's default `minimum-ttl` for multihop peers: accepts a packet that crossed at most
# one router (sent with 255, RFC 5881 §4-5 as RFC 5883 §5 carries over). RFC 5883 sets no
# receive check, since a multihop path cannot keep 255; see docs/bfd.md.
DEFAULT_MINIMUM_TTL = 254
# The shortest interval accepted: an asyncio loop times its callbacks to about a
# millisecond, and 10 ms × 3 is already far below what the deployment needs.
MIN_INTERVAL = 0.01
MAX_INTERVAL = MAX_INTERVAL_US / 1e6


@dataclass(frozen=True)
class BfdSessionSpec:
    """One BFD session: its key, address pair, timers (seconds) and options.

    ``key`` is any hashable the caller names the session by (a tunnel, a peer).
    ``desired_min_tx`` and ``required_min_rx`` are bfd.DesiredMinTxInterval and
    bfd.RequiredMinRxInterval of RFC 5880 §6.8.1 while the session is Up; ``remote_port``
    is where our packets go (4784, RFC 5883 §5); ``minimum_ttl`` the lowest hop limit a
    received packet may have.
    """

    key: Hashable
    local_address: IPv6Address
    remote_address: IPv6Address
    desired_min_tx: float = DEFAULT_INTERVAL
    required_min_rx: float = DEFAULT_INTERVAL
    detect_multiplier: int = DEFAULT_MULTIPLIER
    remote_port: int = MULTIHOP_PORT
    minimum_ttl: int = DEFAULT_MINIMUM_TTL
    authentication: BfdAuthentication | None = None

    def __post_init__(self) -> None:
        try:
            hash(self.key)
        except TypeError:
            raise BfdSpecError("key", f"must be hashable: {self.key!r}") from None
        for name in ("local_address", "remote_address"):
            object.__setattr__(self, name, _address(name, getattr(self, name)))
        for name in ("desired_min_tx", "required_min_rx"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not MIN_INTERVAL <= value <= MAX_INTERVAL):
                raise BfdSpecError(name, f"must be {MIN_INTERVAL}-{MAX_INTERVAL:.0f} s: {value!r}")
            object.__setattr__(self, name, float(value))
        _integer("detect_multiplier", self.detect_multiplier, 1, 255)
        _integer("remote_port", self.remote_port, 1, 0xFFFF)
        _integer("minimum_ttl", self.minimum_ttl, 1, 255)
        if self.authentication is not None and not isinstance(self.authentication,
                                                              BfdAuthentication):
            raise BfdSpecError("authentication", "must be a BfdAuthentication or None")

    @property
    def desired_min_tx_us(self) -> int:
        return round(self.desired_min_tx * 1e6)

    @property
    def required_min_rx_us(self) -> int:
        return round(self.required_min_rx * 1e6)


def _address(name: str, value: object) -> IPv6Address:
    try:
        address = IPv6Address(value)
    except (ValueError, TypeError):
        raise BfdSpecError(name, f"not an IPv6 address: {value!r}") from None
    if address.is_unspecified or address.is_multicast:
        raise BfdSpecError(name, f"must be a unicast address: {address}")
    return address


def _integer(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BfdSpecError(name, f"must be an integer {low}-{high}: {value!r}")
