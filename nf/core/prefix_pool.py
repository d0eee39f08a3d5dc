"""Prefix pools: home network prefixes handed out to mobile nodes (RFC 5213 section 5.2).

A pool carves a configured prefix (say a /48) into prefixes of `assign_length` (say /64).
Allocation is O(1) amortised and never enumerates the space: released prefixes go on a
free list and are reused first, otherwise a cursor walks forward over prefixes never handed
out, skipping any reserved for static assignment. Counts are Python ints, so a /32 carved
into /128s reports its 2**96 free prefixes exactly.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from ipaddress import IPv6Network


class PrefixPoolError(Exception):
    """A pool was misconfigured or misused."""


class PoolExhausted(PrefixPoolError):
    """No prefix is left to allocate (RFC 5213: answer with status 130, insufficient resources)."""


class PrefixNotInPool(PrefixPoolError, ValueError):
    """The prefix is not one of this pool's assignable prefixes."""


class PrefixInUse(PrefixPoolError):
    """The prefix is already allocated or reserved."""


class PrefixPool:
    def __init__(self, name: str, prefix: IPv6Network, assign_length: int = 64) -> None:
        prefix = IPv6Network(prefix)
        if not prefix.prefixlen <= assign_length <= 128:
            raise PrefixPoolError(
                f"pool {name!r}: assign length /{assign_length} must be between /{prefix.prefixlen} and /128")
        self.name = name
        self.prefix = prefix
        self.assign_length = assign_length
        self.size = 1 << (assign_length - prefix.prefixlen)
        self._shift = 128 - assign_length
        self._base = int(prefix.network_address) >> self._shift
        self._cursor = 0  # index of the first prefix never handed out by the cursor
        self._free: deque[int] = deque()  # released indexes below the cursor
        self._in_use: set[int] = set()  # allocated or reserved
        self._high_water = 0
        self.on_change: Callable[[PrefixPool], None] | None = None  # after each change of `used`

    @property
    def used(self) -> int:
        return len(self._in_use)

    @property
    def free(self) -> int:
        return self.size - len(self._in_use)

    @property
    def high_water(self) -> int:
        """The largest number of prefixes in use at once."""
        return self._high_water

    def allocate(self) -> IPv6Network:
        while self._free:
            index = self._free.popleft()
            if index not in self._in_use:  # a released prefix may have been reserved since
                return self._take(index)
        while self._cursor < self.size:
            index = self._cursor
            self._cursor += 1
            if index not in self._in_use:  # skip prefixes reserved ahead of the cursor
                return self._take(index)
        raise PoolExhausted(f"pool {self.name!r} ({self.prefix}) has no free /{self.assign_length} left")

    def reserve(self, prefix: IPv6Network) -> None:
        """Take a specific prefix (a static HNP from the policy store) out of the pool."""
        index = self._index_of(prefix)
        if index in self._in_use:
            raise PrefixInUse(f"prefix {prefix} of pool {self.name!r} is already in use")
        self._take(index)

    def release(self, prefix: IPv6Network) -> None:
        """Return a prefix; releasing a prefix that is not in use is an error."""
        index = self._index_of(prefix)
        if index not in self._in_use:
            raise PrefixNotInPool(f"prefix {prefix} of pool {self.name!r} is not in use")
        self._in_use.remove(index)
        if index < self._cursor:
            self._free.append(index)
        if self.on_change is not None:
            self.on_change(self)

    def is_allocated(self, prefix: IPv6Network) -> bool:
        try:
            return self._index_of(prefix) in self._in_use
        except PrefixNotInPool:
            return False

    def contains(self, prefix: IPv6Network) -> bool:
        """True when `prefix` is one of this pool's assignable prefixes."""
        try:
            self._index_of(prefix)
        except PrefixNotInPool:
            return False
        return True

    def allocated(self) -> Iterator[IPv6Network]:
        for index in sorted(self._in_use):
            yield self._prefix_at(index)

    def _take(self, index: int) -> IPv6Network:
        self._in_use.add(index)
        self._high_water = max(self._high_water, len(self._in_use))
        if self.on_change is not None:
            self.on_change(self)
        return self._prefix_at(index)

    def _prefix_at(self, index: int) -> IPv6Network:
        return IPv6Network(((self._base + index) << self._shift, self.assign_length))

    def _index_of(self, prefix: IPv6Network) -> int:
        try:
            prefix = IPv6Network(prefix)
        except ValueError as exc:
            raise PrefixNotInPool(f"pool {self.name!r}: {exc}") from None
        if prefix.prefixlen != self.assign_length or not prefix.subnet_of(self.prefix):
            raise PrefixNotInPool(
                f"{prefix} is not a /{self.assign_length} of pool {self.name!r} ({self.prefix})")
        return (int(prefix.network_address) >> self._shift) - self._base


class PrefixPools:
    """The configured pools by name."""

    def __init__(self) -> None:
        self._pools: dict[str, PrefixPool] = {}

    def add(self, pool: PrefixPool) -> PrefixPool:
        if pool.name in self._pools:
            raise PrefixPoolError(f"pool {pool.name!r} already exists")
        for other in self._pools.values():
            if other.prefix.overlaps(pool.prefix):
                raise PrefixPoolError(f"pool {pool.name!r} ({pool.prefix}) overlaps pool {other.name!r} ({other.prefix})")
        self._pools[pool.name] = pool
        return pool

    def remove(self, name: str) -> PrefixPool:
        try:
            return self._pools.pop(name)
        except KeyError:
            raise PrefixPoolError(f"no pool named {name!r}") from None

    def get(self, name: str) -> PrefixPool:
        try:
            return self._pools[name]
        except KeyError:
            raise PrefixPoolError(f"no pool named {name!r}") from None

    def pool_of(self, prefix: IPv6Network) -> PrefixPool | None:
        """The pool that `prefix` belongs to, if any."""
        for pool in self._pools.values():
            if pool.contains(prefix):
                return pool
        return None

    def __iter__(self) -> Iterator[PrefixPool]:
        return iter(list(self._pools.values()))

    def __len__(self) -> int:
        return len(self._pools)

    def __contains__(self, name: object) -> bool:
        return name in self._pools
