"""What a reader asks of the event history, and what it gets back.

Times are compared in whole microseconds, the precision the history keeps and prints, so an
event read back with its printed time as `since` or `until` is found again.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nf.core.events import Event

# The data leaves that may name the other node an event concerns: a path's peer, the MAG of a
# binding at an LMA (proxy-coa, previous-proxy-coa on a handover), the LMA of a binding at a MAG.
PEER_FIELDS = ("peer", "proxy-coa", "previous-proxy-coa", "lma-address")
MN_FIELD = "mn-identifier"


def peer_fields(roles) -> tuple[str, ...]:
    """The fields naming a peer on a node of these roles: at an LMA proxy-coa is the MAG and
    lma-address the node itself, at a MAG the other way round."""
    fields = ["peer"]
    if "lma" in roles:
        fields += ["proxy-coa", "previous-proxy-coa"]
    if "mag" in roles:
        fields.append("lma-address")
    return tuple(fields)
DEFAULT_LIMIT = 1000


def micros(seconds: float) -> int:
    """Wall-clock seconds as whole microseconds."""
    return round(seconds * 1_000_000)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the history keeps it: numbered in the order it was recorded."""
    sequence: int
    time: float  # wall-clock seconds, microsecond precision
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class EventQuery:
    """Events matching every given criterion. `limit` None means all (internal reads only:
    the NETCONF operation always carries a bound)."""
    since: float | None = None  # inclusive
    until: float | None = None  # inclusive
    kinds: frozenset[str] = frozenset()
    mn_identifier: str | None = None
    peer: IPv6Address | None = None
    peer_fields: tuple[str, ...] = PEER_FIELDS  # which data leaves `peer` is looked for in
    after_sequence: int | None = None  # exclusive: to page on from the last one read
    before_sequence: int | None = None  # exclusive
    limit: int | None = DEFAULT_LIMIT
    newest_first: bool = False
    _since_us: int | None = field(init=False, repr=False, compare=False)
    _until_us: int | None = field(init=False, repr=False, compare=False)
    _peer_text: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        object.__setattr__(self, "kinds", frozenset(self.kinds))
        object.__setattr__(self, "_since_us", micros(self.since) if self.since is not None else None)
        object.__setattr__(self, "_until_us", micros(self.until) if self.until is not None else None)
        # addresses are stored as RFC 5952 text, which is what str() of an IPv6Address gives
        object.__setattr__(self, "_peer_text", str(self.peer) if self.peer is not None else None)

    @property
    def since_us(self) -> int | None:
        return self._since_us

    @property
    def until_us(self) -> int | None:
        return self._until_us

    def matches(self, sequence: int, time_us: int, kind: str, data: Mapping[str, Any]) -> bool:
        if self.after_sequence is not None and sequence <= self.after_sequence:
            return False
        if self.before_sequence is not None and sequence >= self.before_sequence:
            return False
        if self._since_us is not None and time_us < self._since_us:
            return False
        if self._until_us is not None and time_us > self._until_us:
            return False
        if self.kinds and kind not in self.kinds:
            return False
        if self.mn_identifier is not None and data.get(MN_FIELD) != self.mn_identifier:
            return False
        if self._peer_text is not None and not any(str(data.get(f)) == self._peer_text for f in self.peer_fields
                                                   if data.get(f) is not None):
            return False
        return True


@dataclass(frozen=True)
class EventPage:
    """The events a query found, in the order asked; `more` when others matched beyond the limit."""
    events: list[StoredEvent]
    more: bool = False


@dataclass(frozen=True)
class HistoryStatus:
    """Counters of a history since the process started."""
    recorded: int  # events given a sequence number
    dropped: int  # events lost before they reached the store: pending queue full, or a failed write
    write_failures: int
    pending: int  # recorded, not yet written
    last_sequence: int  # of the newest event recorded (0: none yet)


class EventHistory(Protocol):
    """A bounded history of events, kept by the EventBus: in memory (tests, simulations) or
    durable (nf.history.durable, the running node's)."""

    def record(self, event: Event, data: dict[str, Any] | None = None) -> None:
        """Keep `event` (called by the bus, on the runtime's loop, for every published event);
        `data`, when given, is a plain dict of its data that nothing changes afterwards."""

    def events(self, since: float | None = None) -> list[Event]:
        """Every retained event (at or after `since`), oldest first."""

    def query(self, query: EventQuery) -> EventPage:
        """Retained events matching `query`; every event recorded before the call is seen."""

    def configure(self, max_entries: int, max_age: float | None, flush_interval: float | None = None) -> None:
        """New bounds; lower ones take effect at once."""

    def status(self) -> HistoryStatus: ...

    def close(self) -> None:
        """Write what is pending and release the store."""


def check_retention(max_entries: int, max_age: float | None) -> None:
    if max_entries < 0:
        raise ValueError(f"event history max entries must not be negative, got {max_entries}")
    if max_age is not None and max_age < 0:
        raise ValueError(f"event history max age must not be negative, got {max_age}")
