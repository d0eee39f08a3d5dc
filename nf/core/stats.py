"""The node's counters: one `Statistics` object, owned by the runtime, read by NETCONF and
the exporter.

It covers the objects of RFC 6475 (PMIPV6-MIB) and RFC 4295 (MOBILEIPV6-MIB) that apply:
Proxy Binding Updates and Acknowledgements by status code, Binding Revocation (RFC 5846)
by trigger and status, heartbeats (RFC 5847) per peer, and drops by reason. Counters keyed
by a code are `collections.Counter`s keyed by the integer code or the reason string.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, fields


@dataclass(slots=True)
class Statistics:
    # Proxy Binding Update / Acknowledgement (RFC 6475 pmip6...PBU/PBA counters)
    pbu_sent: int = 0
    pbu_received: int = 0
    pbu_retransmitted: int = 0
    pba_sent_by_status: Counter[int] = field(default_factory=Counter)
    pba_received_by_status: Counter[int] = field(default_factory=Counter)
    # Binding Revocation (RFC 5846)
    bri_sent_by_trigger: Counter[int] = field(default_factory=Counter)
    bri_received_by_trigger: Counter[int] = field(default_factory=Counter)
    bra_sent_by_status: Counter[int] = field(default_factory=Counter)
    bra_received_by_status: Counter[int] = field(default_factory=Counter)
    # Binding life cycle
    bindings_created: int = 0
    bindings_refreshed: int = 0
    bindings_deleted: int = 0
    handovers: int = 0
    # Heartbeat (RFC 5847), keyed by peer address text
    heartbeats_sent: Counter[str] = field(default_factory=Counter)
    heartbeats_received: Counter[str] = field(default_factory=Counter)
    heartbeat_timeouts: Counter[str] = field(default_factory=Counter)
    # Messages dropped before reaching a role, keyed by reason (e.g. a WireError reason)
    drops_by_reason: Counter[str] = field(default_factory=Counter)
    # Binding Error messages sent (RFC 6275 section 9.2: unrecognised MH Type)
    binding_errors_sent: int = 0
    # Wall-clock time the counters last started from zero (RFC 6475 ...CounterDiscontinuityTime)
    discontinuity_time: float = field(default_factory=time.time)

    @property
    def pba_sent(self) -> int:
        return self.pba_sent_by_status.total()

    @property
    def pba_received(self) -> int:
        return self.pba_received_by_status.total()

    @property
    def pba_accepted_sent(self) -> int:
        """PBAs sent with an accepting status (below 128, RFC 6275 section 6.1.8)."""
        return sum(n for code, n in self.pba_sent_by_status.items() if code < 128)

    @property
    def pba_rejected_sent(self) -> int:
        return sum(n for code, n in self.pba_sent_by_status.items() if code >= 128)

    @property
    def drops(self) -> int:
        return self.drops_by_reason.total()

    def copy(self) -> Statistics:
        """A detached copy (its Counters copied too), safe to hand to another thread."""
        return Statistics(**{f.name: (Counter(value) if isinstance(value := getattr(self, f.name), Counter)
                                      else value) for f in fields(self)})

    def reset(self, now: float | None = None) -> None:
        """Zero every counter and record the discontinuity."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Counter):
                value.clear()
            elif isinstance(value, int):
                setattr(self, f.name, 0)
        self.discontinuity_time = time.time() if now is None else now
