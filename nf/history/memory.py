"""The event history in memory: for tests, simulations and harnesses without a state directory.

Same bounds and the same query semantics as the durable history (nf.history.durable), which
a running node uses; nothing survives the process.
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from nf.history.query import EventPage, EventQuery, HistoryStatus, StoredEvent, check_retention, micros

if TYPE_CHECKING:
    from nf.core.events import Event


class MemoryHistory:
    def __init__(self, max_entries: int = 1000, max_age: float | None = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        check_retention(max_entries, max_age)
        self._clock = clock
        self._entries: deque[tuple[int, Event]] = deque(maxlen=max_entries)
        self._max_age = max_age
        self._next_sequence = 1

    def record(self, event: Event, data: dict | None = None) -> None:
        sequence = self._next_sequence
        self._next_sequence = sequence + 1
        entries = self._entries
        entries.append((sequence, event))
        if self._max_age is not None and entries and entries[0][1].time < event.time - self._max_age:
            self._expire(event.time)

    def events(self, since: float | None = None) -> list[Event]:
        self._expire(self._clock())
        return [e for _, e in self._entries if since is None or e.time >= since]

    def query(self, query: EventQuery) -> EventPage:
        self._expire(self._clock())
        entries = reversed(self._entries) if query.newest_first else iter(self._entries)
        found: list[StoredEvent] = []
        for sequence, event in entries:
            if not query.matches(sequence, micros(event.time), event.kind, event.data):
                continue
            if query.limit is not None and len(found) == query.limit:
                return EventPage(found, more=True)
            found.append(StoredEvent(sequence, event.time, event.kind, event.data))
        return EventPage(found)

    def configure(self, max_entries: int, max_age: float | None, flush_interval: float | None = None) -> None:
        """Shrinking drops the oldest events; `flush_interval` means nothing in memory."""
        check_retention(max_entries, max_age)
        self._entries = deque(self._entries, maxlen=max_entries)
        self._max_age = max_age
        self._expire(self._clock())

    def status(self) -> HistoryStatus:
        return HistoryStatus(recorded=self._next_sequence - 1, dropped=0, write_failures=0, pending=0,
                             last_sequence=self._next_sequence - 1)

    def close(self) -> None:
        pass

    def _expire(self, now: float) -> None:
        if self._max_age is None:
            return
        oldest_kept = now - self._max_age
        entries = self._entries
        while entries and entries[0][1].time < oldest_kept:
            entries.popleft()
