"""The MAG's Binding Update List (RFC 5213 section 6.1).

One entry per (MN-Identifier, link-layer identifier) attached to this MAG: what was sent to
the LMA, what it granted, and where the retransmission of an unanswered Proxy Binding
Update stands.
"""
from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Any


class BulState(enum.Enum):
    """Values are the YANG `bul-state` enum names."""

    REGISTERING = "registering"
    REGISTERED = "registered"
    REFRESHING = "refreshing"
    DEREGISTERING = "deregistering"
    FAILED = "failed"


@dataclass(slots=True, eq=False)
class BindingUpdateListEntry:
    mn_identifier: str
    link_layer_id: bytes | None
    lma_address: IPv6Address
    access_technology_type: int
    handoff_indicator: int
    home_network_prefixes: tuple[IPv6Network, ...] = ()  # empty until the PBA assigns them
    sequence_sent: int = 0
    lifetime_requested: int = 0
    lifetime_granted: int = 0  # seconds, from the last accepted PBA
    state: BulState = BulState.REGISTERING
    retransmissions: int = 0
    next_retransmission: float | None = None  # monotonic; None when nothing is outstanding
    registered_at: float | None = None  # monotonic time of the last accepted PBA
    expires_at: float | None = None  # monotonic
    role_data: Any = None

    def mark_accepted(self, lifetime: int, now: float) -> None:
        """Record an accepted PBA: lifetime granted, retransmission stopped."""
        self.lifetime_granted = lifetime
        self.state = BulState.REGISTERED
        self.retransmissions = 0
        self.next_retransmission = None
        self.registered_at = now
        self.expires_at = now + lifetime


class BindingUpdateList:
    """BUL entries by (MN-Identifier, link-layer identifier) and by HNP."""

    __slots__ = ("_entries", "_by_prefix")

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bytes | None], BindingUpdateListEntry] = {}
        self._by_prefix: dict[IPv6Network, BindingUpdateListEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[BindingUpdateListEntry]:
        return iter(list(self._entries.values()))

    def get(self, mn_identifier: str, link_layer_id: bytes | None) -> BindingUpdateListEntry | None:
        return self._entries.get((mn_identifier, link_layer_id))

    def by_prefix(self, prefix: IPv6Network) -> BindingUpdateListEntry | None:
        return self._by_prefix.get(prefix)

    def by_lma(self, lma_address: IPv6Address) -> list[BindingUpdateListEntry]:
        return [entry for entry in self._entries.values() if entry.lma_address == lma_address]

    def put(self, entry: BindingUpdateListEntry) -> BindingUpdateListEntry:
        """Insert or replace the entry for the entry's (MN-Identifier, link-layer id)."""
        old = self._entries.get((entry.mn_identifier, entry.link_layer_id))
        if old is not None:
            self._drop_prefixes(old)
        self._entries[(entry.mn_identifier, entry.link_layer_id)] = entry
        for prefix in entry.home_network_prefixes:
            self._by_prefix[prefix] = entry
        return entry

    def set_prefixes(self, entry: BindingUpdateListEntry, prefixes: tuple[IPv6Network, ...]) -> None:
        """Record the prefixes the LMA assigned, keeping the prefix index in step."""
        self._drop_prefixes(entry)
        entry.home_network_prefixes = prefixes
        for prefix in prefixes:
            self._by_prefix[prefix] = entry

    def remove(self, mn_identifier: str, link_layer_id: bytes | None) -> BindingUpdateListEntry | None:
        entry = self._entries.pop((mn_identifier, link_layer_id), None)
        if entry is not None:
            self._drop_prefixes(entry)
        return entry

    def _drop_prefixes(self, entry: BindingUpdateListEntry) -> None:
        for prefix in entry.home_network_prefixes:
            if self._by_prefix.get(prefix) is entry:
                del self._by_prefix[prefix]
