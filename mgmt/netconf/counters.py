"""Counters of what the server answered, for the metrics endpoint.

RFC 6022 monitoring counts RPCs per session; metrics want them by operation and error-tag,
the number of commits applied to running, and the reads ended by their time limit or by
their client going (mgmt.netconf.budget). Operation names come from a bounded set
(the server's operations and the model's RPCs; anything else counts as ``other``), so
they can be metric labels.
"""
from __future__ import annotations

import threading
from collections import Counter
from typing import Optional

OTHER = "other"          # a request naming an operation the server does not know
MALFORMED = "malformed"  # a message that was not one well-formed <rpc>


class RpcCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rpcs: Counter[tuple[str, Optional[str]]] = Counter()
        self._commits = 0
        self.over_time_limit = 0  # reads ended after request-time-limit
        self.abandoned = 0  # reads whose client went before the reply

    def rpc_answered(self, operation: str, error_tag: Optional[str]) -> None:
        """One reply sent; ``error_tag`` is the first rpc-error's tag, None for success."""
        with self._lock:
            self._rpcs[(operation, error_tag)] += 1

    def read_over_time_limit(self) -> None:
        with self._lock:
            self.over_time_limit += 1

    def read_abandoned(self) -> None:
        with self._lock:
            self.abandoned += 1

    def commit_applied(self) -> None:
        with self._lock:
            self._commits += 1

    def rpcs(self) -> dict[tuple[str, Optional[str]], int]:
        with self._lock:
            return dict(self._rpcs)

    def commits(self) -> int:
        with self._lock:
            return self._commits
