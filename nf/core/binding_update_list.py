"""The MAG's Binding Update List (RFC 5213 section 6.1).

One entry per (MN-Identifier, link-layer identifier) attached to this MAG: what was sent to
the LMA, what it granted, and where the retransmission of an unanswered Proxy Binding
Update stands. The list is indexed by that pair, by MN-Identifier and by home network
prefix, and counts its entries per state as they change, so a read of one mobile node or of
the counts never walks the list.
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
    """One attached interface of a mobile node. `state` is counted by the list: change it
    through `BindingUpdateList.set_state` / `mark_accepted` once the entry is listed."""

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


_HOLDING_A_BINDING = frozenset({BulState.REGISTERED, BulState.REFRESHING})  # the LMA has its entry


class BindingUpdateList:
    """BUL entries by (MN-Identifier, link-layer identifier) and by HNP."""

    __slots__ = ("_entries", "_by_mn", "_by_prefix", "_by_state")

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bytes | None], BindingUpdateListEntry] = {}
        self._by_mn: dict[str, dict[bytes | None, BindingUpdateListEntry]] = {}
        self._by_prefix: dict[IPv6Network, BindingUpdateListEntry] = {}
        self._by_state: dict[BulState, int] = dict.fromkeys(BulState, 0)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[BindingUpdateListEntry]:
        return iter(list(self._entries.values()))

    def get(self, mn_identifier: str, link_layer_id: bytes | None) -> BindingUpdateListEntry | None:
        return self._entries.get((mn_identifier, link_layer_id))

    def by_mn(self, mn_identifier: str) -> list[BindingUpdateListEntry]:
        """The entries of one mobile node (one per attached interface)."""
        return list(self._by_mn.get(mn_identifier, {}).values())

    def count_by_state(self) -> dict[BulState, int]:
        """Entries per state, every state included."""
        return dict(self._by_state)

    def by_prefix(self, prefix: IPv6Network) -> BindingUpdateListEntry | None:
        return self._by_prefix.get(prefix)

    def any_registered_with(self, lma_address: IPv6Address) -> bool:
        """Whether an entry registered (or refreshing) with `lma_address` exists; stops at the first."""
        return any(e.lma_address == lma_address and e.state in _HOLDING_A_BINDING for e in self._entries.values())

    def by_lma(self, lma_address: IPv6Address) -> list[BindingUpdateListEntry]:
        return [entry for entry in self._entries.values() if entry.lma_address == lma_address]

    def put(self, entry: BindingUpdateListEntry) -> BindingUpdateListEntry:
        """Insert or replace the entry for the entry's (MN-Identifier, link-layer id)."""
        old = self._entries.get((entry.mn_identifier, entry.link_layer_id))
        if old is not None:
            self._drop_prefixes(old)
            self._by_state[old.state] -= 1
        self._entries[(entry.mn_identifier, entry.link_layer_id)] = entry
        self._by_mn.setdefault(entry.mn_identifier, {})[entry.link_layer_id] = entry
        self._by_state[entry.state] += 1
        for prefix in entry.home_network_prefixes:
            self._by_prefix[prefix] = entry
        return entry

    def set_state(self, entry: BindingUpdateListEntry, state: BulState) -> None:
        """Move a listed entry to `state`, keeping the counts in step."""
        self._by_state[entry.state] -= 1
        entry.state = state
        self._by_state[state] += 1

    def mark_accepted(self, entry: BindingUpdateListEntry, lifetime: int, now: float) -> None:
        """Record an accepted PBA: lifetime granted, retransmission stopped."""
        entry.lifetime_granted = lifetime
        self.set_state(entry, BulState.REGISTERED)
        entry.retransmissions = 0
        entry.next_retransmission = None
        entry.registered_at = now
        entry.expires_at = now + lifetime

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
            self._by_state[entry.state] -= 1
            interfaces = self._by_mn[mn_identifier]
            del interfaces[link_layer_id]
            if not interfaces:
                del self._by_mn[mn_identifier]
        return entry

    def _drop_prefixes(self, entry: BindingUpdateListEntry) -> None:
        for prefix in entry.home_network_prefixes:
            if self._by_prefix.get(prefix) is entry:
                del self._by_prefix[prefix]
