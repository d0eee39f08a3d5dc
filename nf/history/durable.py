"""The running node's event history: every published event, kept in the state directory.

The bus records each event on the runtime's loop by numbering it and appending it to a
pending queue — no encoding, no I/O, well under a microsecond. A writer thread wakes every
`flush_interval` (or as soon as FLUSH_BATCH events wait, or a reader asks) and writes what
is pending as blocks in one transaction (nf.history.sqlite), dropping at the same time what
the count and age bounds no longer keep.

What a crash can lose: the events recorded since the last write completed, that is those of
the last flush interval (0.5 s by default) and of the write in progress. The pending queue
holds at most PENDING_LIMIT events; beyond that (a disk that stalls for seconds under a
registration storm) new events are dropped and counted rather than growing memory without
bound or slowing signalling down. A failed write drops its batch, counted the same way.

Reads come from any thread: they first have everything recorded so far written, then read
the file with their own connection, so a query never runs on the loop and never misses an
event published before it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from nf.history.query import EventPage, EventQuery, HistoryStatus, check_retention, micros
from nf.history.sqlite import BLOCK_EVENTS, HistoryFile, encode_block, read_page

if TYPE_CHECKING:
    from nf.core.events import Event

log = logging.getLogger(__name__)

DEFAULT_FLUSH_INTERVAL = 0.5  # seconds
FLUSH_BATCH = 32 * BLOCK_EVENTS  # pending events that wake the writer before its interval is up
PENDING_LIMIT = 65536  # pending events at most; the newest beyond are dropped and counted
FLUSH_WAIT = 10.0  # seconds a reader waits for the writer before reading what is stored


class DurableHistory:
    def __init__(self, path: Path, max_entries: int, max_age: float | None,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL, clock: Callable[[], float] = time.time,
                 pending_limit: int = PENDING_LIMIT) -> None:
        """Opens (or creates) the history file at `path` (`events.db` in the state directory)
        and starts the writer. Raises HistoryFileError when the file cannot be used."""
        check_retention(max_entries, max_age)
        path = Path(path)
        self.file = HistoryFile.open(path)
        self.path = path
        self._clock = clock
        self._max_entries = max_entries
        self._max_age = max_age
        self._flush_interval = _check_interval(flush_interval)
        self._pending_limit = pending_limit
        self._pending: deque[tuple[int, Event, dict[str, Any] | None]] = deque()
        self._next_sequence = self.file.last_sequence() + 1
        self._written = self._next_sequence - 1  # every sequence up to this one is written (or lost)
        self._recorded = 0
        self._dropped_full = 0  # counted on the loop
        self._dropped_failed = 0  # counted by the writer: each counter has one thread
        self._write_failures = 0
        self._last_failure_log = 0.0
        self._prune_asked = False
        self._closing = False
        self._done = threading.Condition()
        self._wake = threading.Event()
        self._writer = threading.Thread(target=self._run, name="event-history", daemon=True)
        self._writer.start()

    # ----- the runtime's loop ------------------------------------------------------------
    def record(self, event: Event, data: dict[str, Any] | None = None) -> None:
        if self._max_entries == 0:
            return
        pending = self._pending
        if len(pending) >= self._pending_limit:
            self._dropped_full += 1
            return
        sequence = self._next_sequence
        self._next_sequence = sequence + 1
        self._recorded += 1
        pending.append((sequence, event, data))
        if len(pending) == FLUSH_BATCH:
            self._wake.set()

    def configure(self, max_entries: int, max_age: float | None, flush_interval: float | None = None) -> None:
        """New bounds, applied to reads at once and to the file by the writer right away."""
        check_retention(max_entries, max_age)
        if flush_interval is not None:
            self._flush_interval = _check_interval(flush_interval)
        self._max_entries, self._max_age = max_entries, max_age
        self._prune_asked = True
        self._wake.set()

    # ----- any thread ----------------------------------------------------------------------
    def query(self, query: EventQuery) -> EventPage:
        self.flush()
        floor_sequence, floor_us = self._floors()
        return read_page(self.path, query, floor_sequence, floor_us)

    def events(self, since: float | None = None) -> list[Event]:
        """Every retained event (at or after `since`), oldest first, as the bus published them
        (data as read back from JSON: addresses as text, tuples as lists)."""
        from nf.core.events import Event

        page = self.query(EventQuery(since=since, limit=None))
        return [Event(e.kind, e.time, MappingProxyType(e.data)) for e in page.events]

    def flush(self, timeout: float = FLUSH_WAIT) -> bool:
        """Have every event recorded so far written; False if the writer did not finish in time."""
        target = self._next_sequence - 1
        with self._done:
            if self._written >= target:
                return True
            self._wake.set()
            return self._done.wait_for(lambda: self._written >= target or not self._writer.is_alive(), timeout) \
                and self._written >= target

    def status(self) -> HistoryStatus:
        return HistoryStatus(recorded=self._recorded, dropped=self._dropped_full + self._dropped_failed,
                             write_failures=self._write_failures,
                             pending=len(self._pending), last_sequence=self._next_sequence - 1)

    def close(self) -> None:
        """Write what is pending, stop the writer, close the file."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        self._writer.join(FLUSH_WAIT)
        if not self._writer.is_alive():
            self.file.close()

    # ----- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            self._write_pending()
            if self._closing and not self._pending:
                return

    def _write_pending(self) -> None:
        pending = self._pending
        batch = [pending.popleft() for _ in range(len(pending))]
        if not batch and not self._prune_asked:
            return
        self._prune_asked = False
        floor_sequence, floor_us = self._floors()
        rows = [(sequence, round(event.time * 1_000_000), event.kind, dict(event.data) if data is None else data)
                for sequence, event, data in batch
                if sequence > floor_sequence]  # what the count bound drops at once is not written
        try:
            blocks = [encode_block(rows[i:i + BLOCK_EVENTS]) for i in range(0, len(rows), BLOCK_EVENTS)]
            self.file.append(blocks, batch[-1][0] if batch else 0, floor_sequence, floor_us)
        except Exception as e:  # the writer outlives a full disk or a damaged file; the loss is counted
            self._dropped_failed += len(batch)
            self._write_failures += 1
            now = time.monotonic()
            if now - self._last_failure_log >= 5.0:
                self._last_failure_log = now
                log.error("event history %s: write failed, %d events lost: %s", self.path, len(batch), e)
        finally:
            if batch:
                with self._done:
                    self._written = max(self._written, batch[-1][0])
                    self._done.notify_all()

    def _floors(self) -> tuple[int, int | None]:
        """(highest sequence no longer kept, earliest time in microseconds still kept)."""
        floor_sequence = self._next_sequence - 1 - self._max_entries
        floor_us = micros(self._clock() - self._max_age) if self._max_age is not None else None
        return floor_sequence, floor_us


def _check_interval(seconds: float) -> float:
    if not seconds > 0:
        raise ValueError(f"event history flush interval must be positive, got {seconds}")
    return seconds

