"""What every Mobility Header transport shares: the handler type, counters and limits.

A transport carries Mobility Header bytes and nothing else: it never looks inside them.
The receiver hands the protocol layer the destination address the datagram was sent to,
because the Mobility Header checksum covers an IPv6 pseudo-header built from both addresses
(RFC 6275 section 6.1.1).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields
from ipaddress import IPv6Address
from typing import Callable, Protocol

PMIP6_CNTL_PORT = 5436  # IANA service name pmip6-cntl, UDP
MH_PROTOCOL = 135  # IPv6 Next Header value of the Mobility Header (RFC 6275 section 6.1.1)
# The Header Len field is 8 bits counting 8-octet units beyond the first 8 octets, so no
# Mobility Header can be longer than (255 + 1) * 8 octets.
MAX_MH_LENGTH = 2048
# Datagrams read per readiness event before yielding to the loop: draining the socket in
# one go saves a selector round per datagram at high rates, and the cap keeps timers fair.
RECEIVE_BATCH = 256

DatagramHandler = Callable[[bytes, IPv6Address, int, IPv6Address], None]
"""Called with (data, source address, source port, destination address); port 0 on raw IPv6."""


class TransportError(Exception):
    """A transport cannot be built or started as configured (bad address, kind, privilege)."""


@dataclass
class TransportCounters:
    datagrams_in: int = 0
    bytes_in: int = 0
    datagrams_out: int = 0
    bytes_out: int = 0
    send_errors: int = 0
    receive_errors: int = 0
    oversize_dropped: int = 0
    handler_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class MhTransport(Protocol):
    """The interface the roles use, whichever socket carries the messages."""

    counters: TransportCounters

    async def start(self) -> None: ...

    def close(self) -> None: ...

    def send(self, data: bytes, dst: IPv6Address, port: int = PMIP6_CNTL_PORT,
             src: IPv6Address | None = None) -> bool: ...

    @property
    def local_address(self) -> IPv6Address: ...

    @property
    def local_port(self) -> int: ...


class ThrottledLog:
    """Logs a recurring fault at most once per interval so a flood cannot stall the loop."""

    def __init__(self, logger: logging.Logger, interval: float = 1.0) -> None:
        self._logger = logger
        self._interval = interval
        self._last = float("-inf")
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            self._suppressed += 1
            return
        if self._suppressed:
            message += " (%d similar suppressed)"
            args = (*args, self._suppressed)
        self._logger.warning(message, *args)
        self._last = now
        self._suppressed = 0


class AddressCache:
    """Maps socket-level addresses to IPv6Address objects without re-parsing each datagram.

    Building an IPv6Address costs microseconds; a server answering a few peers sees the same
    handful of addresses over and over. The cache is cleared when it grows past its bound, so
    a flood of spoofed sources costs memory only up to that bound.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._by_key: dict[object, IPv6Address] = {}

    def from_text(self, text: str, scope_id: int = 0) -> IPv6Address:
        key = (text, scope_id)
        found = self._by_key.get(key)
        if found is None:
            found = IPv6Address(f"{text}%{scope_id}" if scope_id else text)
            self._remember(key, found)
        return found

    def from_packed(self, packed: bytes) -> IPv6Address:
        found = self._by_key.get(packed)
        if found is None:
            found = IPv6Address(packed)
            self._remember(packed, found)
        return found

    def _remember(self, key: object, address: IPv6Address) -> None:
        if len(self._by_key) >= self._limit:
            self._by_key.clear()
        self._by_key[key] = address
