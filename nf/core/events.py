"""The event bus: one event per state change, fanned out to subscribers, with a bounded
history (the YANG `event-history`).

Subscribers run synchronously on the runtime's loop, in subscription order. A subscriber
that raises is logged and the others still run: a broken notification stream must not
stop the exporter or the binding logic.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

log = logging.getLogger(__name__)

Subscriber = Callable[["Event"], None]


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # the YANG notification name: binding-created, peer-path-down, ...
    time: float  # wall-clock seconds
    data: Mapping[str, Any] = field(default_factory=dict)


class EventBus:
    def __init__(self, max_entries: int = 1000, max_age: float | None = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        _check_retention(max_entries, max_age)
        self._clock = clock
        self._history: deque[Event] = deque(maxlen=max_entries)
        self._max_age = max_age
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
        history = self._history
        history.append(event)
        if self._max_age is not None and history and history[0].time < now - self._max_age:
            self._expire(now)
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
        self._expire(self._clock())
        return [e for e in self._history if since is None or e.time >= since]

    def configure(self, max_entries: int, max_age: float | None) -> None:
        """Change retention (from config); shrinking drops the oldest events."""
        _check_retention(max_entries, max_age)
        self._history = deque(self._history, maxlen=max_entries)
        self._max_age = max_age
        self._expire(self._clock())

    def __iter__(self) -> Iterator[Event]:
        return iter(self.history())

    def _expire(self, now: float) -> None:
        if self._max_age is None:
            return
        oldest_kept = now - self._max_age
        while self._history and self._history[0].time < oldest_kept:
            self._history.popleft()


def _check_retention(max_entries: int, max_age: float | None) -> None:
    if max_entries < 0:
        raise ValueError(f"event history max entries must not be negative, got {max_entries}")
    if max_age is not None and max_age < 0:
        raise ValueError(f"event history max age must not be negative, got {max_age}")
