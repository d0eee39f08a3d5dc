"""The event bus: one event per state change, fanned out to subscribers, and kept in the
bus's history (the YANG `event-history`; nf/history: in memory by default, durable in the
state directory for a running node).

The history records every event before the subscribers see it. Subscribers run
synchronously on the runtime's loop, in subscription order. A subscriber that raises is
logged and the others still run: a broken notification stream must not stop the exporter
or the binding logic.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nf.history import EventHistory, EventPage, EventQuery

log = logging.getLogger(__name__)

Subscriber = Callable[["Event"], None]


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # the YANG notification name: binding-created, peer-path-down, ...
    time: float  # wall-clock seconds
    data: Mapping[str, Any] = field(default_factory=dict)


class EventBus:
    def __init__(self, max_entries: int = 1000, max_age: float | None = 3600.0,
                 clock: Callable[[], float] = time.time, *, history: EventHistory | None = None) -> None:
        """Keeps `history`, or else a memory history bounded by `max_entries` and `max_age`."""
        from nf.history import MemoryHistory

        self._clock = clock
        self._history = history if history is not None else MemoryHistory(max_entries, max_age, clock)
        self._subscribers: dict[int, tuple[Subscriber, frozenset[str] | None]] = {}
        # kind -> its subscribers in subscription order; built on first publish of the kind and
        # dropped whenever the subscribers change, so publishing filters nothing per event.
        self._callbacks_by_kind: dict[str, tuple[Subscriber, ...]] = {}
        self._next_id = 0
        self.subscriber_errors = 0

    def subscribe(self, callback: Subscriber, kinds: set[str] | frozenset[str] | None = None) -> Callable[[], None]:
        """Call `callback(event)` for each event (of `kinds`, or all); returns an unsubscribe."""
        token = self._next_id
        self._next_id += 1
        self._subscribers[token] = (callback, frozenset(kinds) if kinds is not None else None)
        self._callbacks_by_kind.clear()

        def unsubscribe() -> None:
            self._subscribers.pop(token, None)
            self._callbacks_by_kind.clear()
        return unsubscribe

    def publish(self, kind: str, **data: Any) -> Event:
        now = self._clock()
        event = Event(kind, now, MappingProxyType(data))
        self._history.record(event, data)  # `data` is the bus's own: no one else holds it
        callbacks = self._callbacks_by_kind.get(kind)
        if callbacks is None:
            callbacks = self._callbacks_by_kind[kind] = tuple(
                callback for callback, kinds in self._subscribers.values() if kinds is None or kind in kinds)
        for callback in callbacks:
            try:
                callback(event)
            except Exception:
                self.subscriber_errors += 1
                log.exception("event subscriber %r failed on %s", callback, kind)
        return event

    def history(self, since: float | None = None) -> list[Event]:
        """Retained events, oldest first (only those at or after `since` if given)."""
        return self._history.events(since)

    def query(self, query: EventQuery) -> EventPage:
        """Retained events matching `query` (any thread for a durable history)."""
        return self._history.query(query)

    @property
    def store(self) -> EventHistory:
        return self._history

    def configure(self, max_entries: int, max_age: float | None, flush_interval: float | None = None) -> None:
        """Change retention (from config); lower bounds drop the oldest events at once."""
        self._history.configure(max_entries, max_age, flush_interval)

    def close(self) -> None:
        """Write what the history still holds pending and release it."""
        self._history.close()

    def __iter__(self) -> Iterator[Event]:
        return iter(self.history())
