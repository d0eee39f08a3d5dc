"""The location-management store: where each mobile node is anchored and served.

In DMM (RFC 8885) a mobile node's current anchor (the serving MAAR) holds its newest prefix,
and each previous anchor keeps the prefixes it allocated while the node was there. Anchors
consult this store to find a node's previous MAARs on attachment. One record per mobile
node, keyed by MN-Identifier.

The interface is async throughout because the runtime is one asyncio loop and the etcd
backend is blocking HTTP: its calls run in a worker thread so a slow etcd never stalls
signalling. The embedded backends answer inline.
"""
from __future__ import annotations

import abc
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network
from typing import Any

log = logging.getLogger(__name__)


class LocationStoreError(Exception):
    """The store could not do what was asked (unreachable, closed, bad argument)."""


class CorruptRecord(LocationStoreError):
    """A stored record could not be decoded."""


@dataclass(frozen=True, slots=True)
class AnchoredPrefixes:
    """Prefixes a (previous) anchor allocated and keeps reachable."""

    anchor: IPv6Address
    prefixes: tuple[IPv6Network, ...]


@dataclass(frozen=True, slots=True)
class Location:
    mn_identifier: str
    anchor: IPv6Address  # current anchor: the serving MAAR in DMM, the LMA in PMIPv6
    prefixes: tuple[IPv6Network, ...] = ()  # prefixes the current anchor allocated
    serving: IPv6Address | None = None  # access gateway serving the node, when not the anchor
    previous: tuple[AnchoredPrefixes, ...] = ()  # previous anchors, oldest first
    updated: float = field(default_factory=time.time)  # wall-clock seconds

    def __post_init__(self) -> None:
        if not self.mn_identifier:
            raise LocationStoreError("a location needs a non-empty MN-Identifier")

    def to_json(self) -> str:
        return json.dumps({
            "mn": self.mn_identifier,
            "anchor": str(self.anchor),
            "prefixes": [str(p) for p in self.prefixes],
            "serving": str(self.serving) if self.serving is not None else None,
            "previous": [{"anchor": str(p.anchor), "prefixes": [str(x) for x in p.prefixes]} for p in self.previous],
            "updated": self.updated,
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Location:
        try:
            raw: dict[str, Any] = json.loads(text)
            return cls(
                mn_identifier=raw["mn"],
                anchor=IPv6Address(raw["anchor"]),
                prefixes=tuple(IPv6Network(p) for p in raw["prefixes"]),
                serving=IPv6Address(raw["serving"]) if raw.get("serving") else None,
                previous=tuple(AnchoredPrefixes(IPv6Address(p["anchor"]), tuple(IPv6Network(x) for x in p["prefixes"]))
                               for p in raw.get("previous", ())),
                updated=float(raw["updated"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptRecord(f"undecodable location record: {exc!r}") from None


@dataclass(frozen=True, slots=True)
class WatchEvent:
    kind: str  # "put" or "delete"
    mn_identifier: str
    location: Location | None  # the new record for "put", None for "delete"


WatchCallback = Callable[[WatchEvent], None]


class LocationStore(abc.ABC):
    """put / get / delete / list by anchor / watch. Records may carry a time to live, after
    which the store forgets them (a crashed anchor's records age out)."""

    name: str = "abstract"

    def __init__(self) -> None:
        self._watchers: dict[int, WatchCallback] = {}
        self._next_watch = 0

    @abc.abstractmethod
    async def put(self, location: Location, ttl: int | None = None) -> None:
        """Store (replace) the record of `location.mn_identifier`; `ttl` in whole seconds."""

    @abc.abstractmethod
    async def get(self, mn_identifier: str) -> Location | None: ...

    @abc.abstractmethod
    async def delete(self, mn_identifier: str) -> bool:
        """Forget a mobile node; False if there was no record."""

    @abc.abstractmethod
    async def list(self, anchor: IPv6Address | None = None) -> list[Location]:
        """All records, or those whose current anchor is `anchor`, by MN-Identifier."""

    async def watch(self, callback: WatchCallback) -> Callable[[], None]:
        """Call `callback` on the loop for each change; returns an unsubscribe function.

        The embedded backends report this process's own writes (and expiries they notice);
        etcd reports every node's writes and lease expiries.
        """
        token = self._next_watch
        self._next_watch += 1
        self._watchers[token] = callback

        def unsubscribe() -> None:
            self._watchers.pop(token, None)
        return unsubscribe

    async def close(self) -> None:
        """Release connections; further calls raise LocationStoreError."""

    def _notify(self, event: WatchEvent) -> None:
        for callback in list(self._watchers.values()):
            try:
                callback(event)
            except Exception:
                log.exception("location watch callback failed on %s %s", event.kind, event.mn_identifier)


def check_ttl(ttl: int | None) -> None:
    if ttl is not None and (not isinstance(ttl, int) or ttl <= 0):
        raise LocationStoreError(f"ttl must be a positive number of seconds, got {ttl!r}")
