"""The binding cache of RFC 5213 section 5.1, indexed for every lookup the roles make.

One `BindingCacheEntry` per (MN-Identifier, link-layer identifier): RFC 5213 section
5.4.1 finds the entry of a Proxy Binding Update by the MN-Identifier and the link-layer
identifier (or by the home network prefixes when the identifier is absent). The cache
keeps four indexes consistent through add, update and remove:

* (mn_identifier, link_layer_id) -> entry
* mn_identifier -> entries of that mobile node (one per attached interface)
* home network prefix -> entry
* proxy care-of address (the MAG) -> entries served through that MAG

Sized for a million resident bindings: entries use __slots__, repeated values (the MAG
address, tunnel names) are interned so a million entries share a handful of objects.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Any


class BindingState(enum.Enum):
    """Life cycle of an entry; values are the YANG `binding-state` enum names."""

    ACTIVE = "active"
    DEREGISTRATION_PENDING = "deregistration-pending"  # MinDelayBeforeBCEDelete, RFC 5213 §5.3.5
    HANDOFF_PENDING = "handoff-pending"  # MaxDelayBeforeNewBCEAssign, RFC 5213 §5.4.1.2
    REVOCATION_PENDING = "revocation-pending"  # BRI sent, BRA awaited, RFC 5846
    KEPT_BY_PREVIOUS_ANCHOR = "kept-by-previous-anchor"  # DMM: MN moved, prefix still anchored here


class BindingCacheError(Exception):
    """A change that would break the cache's indexes."""


class DuplicateBinding(BindingCacheError):
    """An entry for this (MN-Identifier, link-layer identifier) already exists."""


class PrefixInUse(BindingCacheError):
    """A home network prefix is already bound to another entry."""


class UnknownBinding(BindingCacheError, KeyError):
    """The entry is not in this cache."""


@dataclass(slots=True, eq=False)
class BindingCacheEntry:
    """One binding. Identity-hashed so it can live in the per-MAG sets.

    Index fields (mn_identifier, link_layer_id, home_network_prefixes, proxy_coa) and the
    counted `state` must be changed through `BindingCache.update`, never assigned directly
    on a cached entry.
    """

    mn_identifier: str
    link_layer_id: bytes | None
    home_network_prefixes: tuple[IPv6Network, ...]
    proxy_coa: IPv6Address
    access_technology_type: int
    handoff_indicator: int
    sequence: int
    lifetime: int  # seconds granted
    created_monotonic: float
    created_wall: float
    timestamp: int | None = None  # RFC 5213 §8.8 64-bit value of the last accepted PBU
    last_refresh_monotonic: float = 0.0
    last_refresh_wall: float = 0.0
    expires_at: float = 0.0  # monotonic
    state: BindingState = BindingState.ACTIVE
    tunnel_id: str | None = None
    role_data: Any = None  # the role's own per-binding state (e.g. a pending timer handle)

    def __post_init__(self) -> None:
        if not self.last_refresh_monotonic:
            self.last_refresh_monotonic = self.created_monotonic
        if not self.last_refresh_wall:
            self.last_refresh_wall = self.created_wall
        if not self.expires_at:
            self.expires_at = self.created_monotonic + self.lifetime

    def remaining(self, now_monotonic: float) -> float:
        """Seconds of lifetime left at `now_monotonic` (never negative)."""
        return max(0.0, self.expires_at - now_monotonic)

    def refresh(self, lifetime: int, now_monotonic: float, now_wall: float) -> None:
        """Record an accepted re-registration granting `lifetime` seconds."""
        self.lifetime = lifetime
        self.last_refresh_monotonic = now_monotonic
        self.last_refresh_wall = now_wall
        self.expires_at = now_monotonic + lifetime


_INDEXED_FIELDS = frozenset({"mn_identifier", "link_layer_id", "home_network_prefixes", "proxy_coa"})


class BindingCache:
    """All bindings of one anchor, with O(1) lookup by each index."""

    __slots__ = ("_by_mn", "_by_prefix", "_by_mag", "_interned", "_count", "_peak", "_by_state")

    def __init__(self) -> None:
        # mn_identifier -> its entry, or a list of its entries when it has several interfaces.
        # Nearly every MN has one entry, so a per-MN container would double the memory; the
        # (MN, link-layer id) lookup scans the few interfaces of one MN.
        self._by_mn: dict[str, BindingCacheEntry | list[BindingCacheEntry]] = {}
        self._by_prefix: dict[IPv6Network, BindingCacheEntry] = {}
        self._by_mag: dict[IPv6Address, set[BindingCacheEntry]] = {}
        self._interned: dict[object, object] = {}
        self._count = 0
        self._peak = 0
        # Entries per state, kept as entries come, go and change state: a metrics scrape reads
        # it on the signalling loop and must not walk a million entries.
        self._by_state: dict[BindingState, int] = {}

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[BindingCacheEntry]:
        for held in self._by_mn.values():
            if isinstance(held, list):
                yield from held
            else:
                yield held

    def __contains__(self, entry: object) -> bool:
        if not isinstance(entry, BindingCacheEntry):
            return False
        return self.get(entry.mn_identifier, entry.link_layer_id) is entry

    @property
    def peak(self) -> int:
        """The largest number of entries held at once since creation."""
        return self._peak

    def get(self, mn_identifier: str, link_layer_id: bytes | None) -> BindingCacheEntry | None:
        held = self._by_mn.get(mn_identifier)
        if held is None:
            return None
        if isinstance(held, list):
            for entry in held:
                if entry.link_layer_id == link_layer_id:
                    return entry
            return None
        return held if held.link_layer_id == link_layer_id else None

    def by_mn(self, mn_identifier: str) -> list[BindingCacheEntry]:
        """Every entry of one mobile node (one per attached interface)."""
        held = self._by_mn.get(mn_identifier)
        if held is None:
            return []
        return list(held) if isinstance(held, list) else [held]

    def by_prefix(self, prefix: IPv6Network) -> BindingCacheEntry | None:
        return self._by_prefix.get(prefix)

    def by_mag(self, proxy_coa: IPv6Address) -> frozenset[BindingCacheEntry]:
        """The entries whose proxy care-of address is `proxy_coa`."""
        return frozenset(self._by_mag.get(proxy_coa, ()))

    def count_by_mag(self, proxy_coa: IPv6Address) -> int:
        return len(self._by_mag.get(proxy_coa, ()))

    def mags(self) -> list[IPv6Address]:
        """The MAGs that serve at least one entry."""
        return list(self._by_mag)

    def count_by_state(self) -> dict[BindingState, int]:
        return {state: n for state, n in self._by_state.items() if n}

    # -- changing --------------------------------------------------------------------------
    def intern(self, value: Any) -> Any:
        """One shared object per distinct value (MAG addresses, tunnel names)."""
        return self._interned.setdefault(value, value)

    def add(self, entry: BindingCacheEntry) -> BindingCacheEntry:
        """Insert a new entry; raises without changing anything if it would clash."""
        if self.get(entry.mn_identifier, entry.link_layer_id) is not None:
            raise DuplicateBinding(
                f"binding for {entry.mn_identifier!r} link-layer id {_ll_text(entry.link_layer_id)} exists")
        self._check_prefixes_free(entry.home_network_prefixes, entry)
        entry.proxy_coa = self.intern(entry.proxy_coa)
        if entry.tunnel_id is not None:
            entry.tunnel_id = self.intern(entry.tunnel_id)
        self._index(entry)
        self._count += 1
        self._peak = max(self._peak, self._count)
        return entry

    def update(self, entry: BindingCacheEntry, **changes: Any) -> BindingCacheEntry:
        """Change fields of a cached entry, moving it between indexes as needed.

        Used for a handover (new proxy_coa), a changed prefix set or any plain field. Checks
        every clash first so a rejected update leaves the cache as it was.
        """
        if entry not in self:
            raise UnknownBinding(f"binding for {entry.mn_identifier!r} is not cached")
        unknown = [name for name in changes if name not in BindingCacheEntry.__slots__]
        if unknown:
            raise AttributeError(f"BindingCacheEntry has no field {unknown[0]!r}")
        if not _INDEXED_FIELDS.intersection(changes):
            self._count_state(entry, -1)
            for name, value in changes.items():
                setattr(entry, name, value)
            self._count_state(entry, +1)
            return entry
        new_mn = changes.get("mn_identifier", entry.mn_identifier)
        new_ll = changes.get("link_layer_id", entry.link_layer_id)
        existing = self.get(new_mn, new_ll)
        if existing is not None and existing is not entry:
            raise DuplicateBinding(f"binding for {new_mn!r} link-layer id {_ll_text(new_ll)} exists")
        if "home_network_prefixes" in changes:
            self._check_prefixes_free(changes["home_network_prefixes"], entry)
        self._unindex(entry)
        for name, value in changes.items():
            setattr(entry, name, value)
        entry.proxy_coa = self.intern(entry.proxy_coa)
        if entry.tunnel_id is not None:
            entry.tunnel_id = self.intern(entry.tunnel_id)
        self._index(entry)
        return entry

    def remove(self, entry: BindingCacheEntry) -> None:
        if entry not in self:
            raise UnknownBinding(f"binding for {entry.mn_identifier!r} is not cached")
        self._unindex(entry)
        self._count -= 1

    def clear(self) -> None:
        self._by_mn.clear()
        self._by_prefix.clear()
        self._by_mag.clear()
        self._by_state.clear()
        self._count = 0

    # -- index bookkeeping -----------------------------------------------------------------
    def _check_prefixes_free(self, prefixes: Iterable[IPv6Network], owner: BindingCacheEntry) -> None:
        for prefix in prefixes:
            holder = self._by_prefix.get(prefix)
            if holder is not None and holder is not owner:
                raise PrefixInUse(f"prefix {prefix} is bound to {holder.mn_identifier!r}")

    def _index(self, entry: BindingCacheEntry) -> None:
        held = self._by_mn.get(entry.mn_identifier)
        if held is None:
            self._by_mn[entry.mn_identifier] = entry
        elif isinstance(held, list):
            held.append(entry)
        else:
            self._by_mn[entry.mn_identifier] = [held, entry]
        for prefix in entry.home_network_prefixes:
            self._by_prefix[prefix] = entry
        self._by_mag.setdefault(entry.proxy_coa, set()).add(entry)
        self._count_state(entry, +1)

    def _count_state(self, entry: BindingCacheEntry, delta: int) -> None:
        self._by_state[entry.state] = self._by_state.get(entry.state, 0) + delta

    def _unindex(self, entry: BindingCacheEntry) -> None:
        self._count_state(entry, -1)
        held = self._by_mn[entry.mn_identifier]
        if isinstance(held, list):
            held.remove(entry)
            if len(held) == 1:
                self._by_mn[entry.mn_identifier] = held[0]
        else:
            del self._by_mn[entry.mn_identifier]
        for prefix in entry.home_network_prefixes:
            if self._by_prefix.get(prefix) is entry:
                del self._by_prefix[prefix]
        per_mag = self._by_mag[entry.proxy_coa]
        per_mag.discard(entry)
        if not per_mag:
            del self._by_mag[entry.proxy_coa]


def _ll_text(link_layer_id: bytes | None) -> str:
    return link_layer_id.hex(":") if link_layer_id else "(none)"
