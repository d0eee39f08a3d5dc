"""Location store in memory: a single node without persistence, and tests."""
from __future__ import annotations

import time
from collections.abc import Callable
from ipaddress import IPv6Address

from .base import Location, LocationStore, LocationStoreError, WatchEvent, check_ttl


class MemoryLocationStore(LocationStore):
    name = "memory"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._clock = clock
        self._records: dict[str, tuple[Location, float | None]] = {}  # mn -> (record, expires at)
        self._by_anchor: dict[IPv6Address, set[str]] = {}
        self._closed = False

    async def put(self, location: Location, ttl: int | None = None) -> None:
        self._check_open()
        check_ttl(ttl)
        self._forget(location.mn_identifier)
        expires = self._clock() + ttl if ttl is not None else None
        self._records[location.mn_identifier] = (location, expires)
        self._by_anchor.setdefault(location.anchor, set()).add(location.mn_identifier)
        self._notify(WatchEvent("put", location.mn_identifier, location))

    async def get(self, mn_identifier: str) -> Location | None:
        self._check_open()
        return self._live(mn_identifier)

    async def delete(self, mn_identifier: str) -> bool:
        self._check_open()
        if self._live(mn_identifier) is None:
            return False
        self._forget(mn_identifier)
        self._notify(WatchEvent("delete", mn_identifier, None))
        return True

    async def list(self, anchor: IPv6Address | None = None) -> list[Location]:
        self._check_open()
        names = self._records.keys() if anchor is None else self._by_anchor.get(anchor, set())
        found = [loc for mn in sorted(names) if (loc := self._live(mn)) is not None]
        return found

    async def close(self) -> None:
        self._closed = True

    def _live(self, mn_identifier: str) -> Location | None:
        """The record if it has not expired; an expired one is dropped and reported."""
        held = self._records.get(mn_identifier)
        if held is None:
            return None
        location, expires = held
        if expires is not None and expires <= self._clock():
            self._forget(mn_identifier)
            self._notify(WatchEvent("delete", mn_identifier, None))
            return None
        return location

    def _forget(self, mn_identifier: str) -> None:
        held = self._records.pop(mn_identifier, None)
        if held is None:
            return
        names = self._by_anchor[held[0].anchor]
        names.discard(mn_identifier)
        if not names:
            del self._by_anchor[held[0].anchor]

    def _check_open(self) -> None:
        if self._closed:
            raise LocationStoreError("memory location store is closed")
