"""One timer service for every binding, retransmission and heartbeat timer.

A million bindings each with a lifetime timer must not mean a million asyncio handles: the
service keeps a binary heap of deadlines and holds at most one asyncio handle, armed for
the earliest one. Cancelling only marks the timer (O(1)); cancelled timers are dropped when
they reach the top of the heap, and the heap is rebuilt when they outnumber live ones, so
memory stays proportional to live timers.

Time comes from an injected `clock`, so tests drive a fake clock and call `run_due()`
instead of sleeping. Without a loop the service never arms itself: the caller drives it.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_COMPACT_MIN = 1024  # below this many cancelled timers a rebuild costs more than it saves


def refresh_delay(lifetime: float, advance: float) -> float:
    """Seconds after a registration granting `lifetime` that its MAG refreshes it: `advance`
    seconds before it expires, or at half the lifetime when that is shorter than twice the
    advance (timers/refresh-advance). The MAG schedules its refresh so, and the LMA expects
    it so."""
    return lifetime - advance if lifetime > 2 * advance else lifetime / 2


class Timer:
    """A scheduled call; `cancel()` it or pass it to `TimerService.cancel`."""

    __slots__ = ("deadline", "_order", "callback", "args", "cancelled", "_service")

    def __init__(self, deadline: float, order: int, callback: Callable[..., Any], args: tuple[Any, ...],
                 service: TimerService) -> None:
        self.deadline = deadline
        self._order = order  # ties on the deadline fire in scheduling order
        self.callback = callback
        self.args = args
        self.cancelled = False
        self._service = service

    def __lt__(self, other: Timer) -> bool:
        return (self.deadline, self._order) < (other.deadline, other._order)

    def cancel(self) -> None:
        self._service.cancel(self)

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "pending"
        return f"<Timer {getattr(self.callback, '__qualname__', self.callback)} at {self.deadline:.3f} {state}>"


class TimerService:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.clock = clock
        self._loop = loop
        self._heap: list[Timer] = []
        self._order = itertools.count()
        self._live = 0
        self._armed: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None

    def __len__(self) -> int:
        """Timers scheduled and neither fired nor cancelled."""
        return self._live

    def schedule(self, deadline: float, callback: Callable[..., Any], *args: Any) -> Timer:
        """Call `callback(*args)` once the clock reaches `deadline` (clock seconds)."""
        timer = Timer(deadline, next(self._order), callback, args, self)
        heapq.heappush(self._heap, timer)
        self._live += 1
        if self._armed_for is None or deadline < self._armed_for:
            self._arm()
        return timer

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return self.schedule(self.clock() + delay, callback, *args)

    def cancel(self, timer: Timer | None) -> None:
        """Cancel a pending timer; cancelling twice, None, or a fired timer does nothing."""
        if timer is None or timer.cancelled or timer._service is not self:
            return
        timer.cancelled = True
        timer.args = ()  # let go of what the callback would have used
        self._live -= 1
        cancelled = len(self._heap) - self._live
        if cancelled > _COMPACT_MIN and cancelled > self._live:
            self._heap = [t for t in self._heap if not t.cancelled]
            heapq.heapify(self._heap)

    def next_deadline(self) -> float | None:
        self._drop_cancelled_top()
        return self._heap[0].deadline if self._heap else None

    def run_due(self) -> int:
        """Fire every timer whose deadline has passed, earliest first; return how many fired.

        A callback that raises is logged and does not stop the others. Timers a callback
        schedules for a time already past fire in the same call.
        """
        fired = 0
        heap = self._heap
        while True:
            self._drop_cancelled_top()
            heap = self._heap
            if not heap or heap[0].deadline > self.clock():
                break
            timer = heapq.heappop(heap)
            timer.cancelled = True  # fired: a later cancel() is a no-op
            self._live -= 1
            fired += 1
            try:
                timer.callback(*timer.args)
            except Exception:
                log.exception("timer callback %r failed", timer.callback)
        self._arm()
        return fired

    def close(self) -> None:
        """Drop every timer and the asyncio handle."""
        if self._armed is not None:
            self._armed.cancel()
        self._armed = None
        self._armed_for = None
        for timer in self._heap:
            timer.cancelled = True
        self._heap.clear()
        self._live = 0

    def _drop_cancelled_top(self) -> None:
        heap = self._heap
        while heap and heap[0].cancelled:
            heapq.heappop(heap)

    def _arm(self) -> None:
        """Keep one asyncio handle, armed for the earliest live deadline."""
        if self._loop is None:
            return
        deadline = self.next_deadline()
        if deadline == self._armed_for:
            return
        if self._armed is not None:
            self._armed.cancel()
            self._armed = None
        self._armed_for = deadline
        if deadline is not None:
            self._armed = self._loop.call_later(max(0.0, deadline - self.clock()), self._on_wakeup)

    def _on_wakeup(self) -> None:
        self._armed = None
        self._armed_for = None
        self.run_due()
