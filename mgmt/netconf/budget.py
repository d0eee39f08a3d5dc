"""The time a read may take, and whether its client is still there.

Every read (``<get>``, ``<get-config>``, ``<get-data>``) runs under a ``RequestBudget``: its
steps check it between them and, in the loops that walk a tree, every ``TICK`` nodes; an
XPath evaluation in a worker process (mgmt.netconf.xpath_worker) is watched while it runs.
Past ``request-time-limit`` the read ends with ``operation-failed``; when the client has gone
it ends without a reply. Either way the tree built for it is freed and the session (if its
client is still there) and the server go on.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

from mgmt.netconf.errors import RpcError

TICK = 1024  # nodes walked between two checks: a check costs ~100 ns, a node ~1 us


class RequestAbandoned(Exception):
    """The client went before the reply: nothing is sent."""


class OverTimeLimit(RpcError):
    def __init__(self, limit: float) -> None:
        self.limit = limit
        super().__init__("operation-failed",
                         f"the request was ended after its time limit of {limit:g} s "
                         "(management/netconf/request-time-limit): select less, with a narrower filter")


class RequestBudget:
    """The deadline of one request and a test for its client's presence."""

    def __init__(self, limit: float, client_gone: Callable[[], bool] = lambda: False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.client_gone = client_gone
        self._clock = clock
        self.started = clock()
        self.deadline = self.started + limit
        self._ticks = 0

    def remaining(self) -> float:
        return self.deadline - self._clock()

    def elapsed(self) -> float:
        return self._clock() - self.started

    def check(self) -> None:
        """RequestAbandoned when the client went; OverTimeLimit when the time is up."""
        if self.client_gone():
            raise RequestAbandoned()
        if self._clock() >= self.deadline:
            raise OverTimeLimit(self.limit)

    def tick(self) -> None:
        """One node walked: ``check()`` every TICK of them."""
        self._ticks += 1
        if self._ticks >= TICK:
            self._ticks = 0
            self.check()


def check(budget: Optional[RequestBudget]) -> None:
    if budget is not None:
        budget.check()
