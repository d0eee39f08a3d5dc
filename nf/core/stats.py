"""The node's counters: one `Statistics` object, owned by the runtime, read by NETCONF and
the exporter through the snapshot.

It covers the objects of RFC 6475 (PMIPV6-MIB) and RFC 4295 (MOBILEIPV6-MIB) that apply,
and the per-peer protocol counters of vendors' PMIPv6 operational models:

* Mobility Header messages by kind (`MESSAGE_KINDS`), for the node and for each peer:
  received, sent, received but dropped, and sends that failed, with the status (PBA, BRA,
  Binding Error, Update Notification Ack) or revocation trigger (BRI) of those received and
  sent. The runtime counts every message it decodes and every one it sends, in one place
  (`Runtime._on_datagram`, `Runtime.send`); a role that drops a message it was given says
  so with `dropped()`. Per-peer counters exist only for the addresses in `counted_peers`,
  which the runtime sets — configured peers, a MAG's LMA, an LMA's authorised MAGs — so
  their number is bounded by configuration, whatever sends to us.
* Messages dropped, by reason (a codec error's `reason`, or the role's), and sends that
  failed, by reason (`encode-error`, `socket-error`).
* Binding life cycle, heartbeat timeouts per peer, and the discontinuity time.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, fields
from ipaddress import IPv6Address

# Message kinds, the YANG `message-type` names. Heartbeat requests and responses are
# separate kinds: RFC 5847 counts them apart, and they travel in opposite directions.
MESSAGE_KINDS = ("pbu", "pba", "bri", "bra", "heartbeat-request", "heartbeat-response", "binding-error",
                 "update-notification", "update-notification-ack")


@dataclass(slots=True)
class MessageCounters:
    """One kind of message, for the node or for one peer."""

    received: int = 0
    sent: int = 0
    dropped: int = 0  # received and decoded, then dropped without being acted on
    malformed: int = 0  # its header named this kind, but it did not decode (not in received)
    send_failures: int = 0  # could not be encoded or handed to the socket
    received_by_code: Counter[int] = field(default_factory=Counter)  # status or trigger of those received
    sent_by_code: Counter[int] = field(default_factory=Counter)

    def copy(self) -> MessageCounters:
        return MessageCounters(self.received, self.sent, self.dropped, self.malformed, self.send_failures,
                               Counter(self.received_by_code), Counter(self.sent_by_code))


def _by_kind() -> dict[str, MessageCounters]:
    return {kind: MessageCounters() for kind in MESSAGE_KINDS}


@dataclass(slots=True)
class Statistics:
    # Mobility Header messages by kind: the node's, and each named peer's (see the module docstring)
    messages: dict[str, MessageCounters] = field(default_factory=_by_kind)
    peer_messages: dict[IPv6Address, dict[str, MessageCounters]] = field(default_factory=dict)
    counted_peers: frozenset[IPv6Address] = frozenset()  # the addresses that get per-peer counters
    pbu_retransmitted: int = 0  # MAG: retransmissions (RFC 6275 §11.8), also counted in pbu sent
    # Binding life cycle
    bindings_created: int = 0
    bindings_refreshed: int = 0
    bindings_deleted: int = 0
    handovers: int = 0
    # Heartbeat (RFC 5847): requests left unanswered, keyed by peer address text
    heartbeat_timeouts: Counter[str] = field(default_factory=Counter)
    # Messages dropped, keyed by reason (a WireError reason, or the role's)
    drops_by_reason: Counter[str] = field(default_factory=Counter)
    # Messages refused by the signalling security (nf/core/peer_security.py) from each
    # counted peer, by reason; the node's totals are in drops_by_reason
    peer_refusals: dict[IPv6Address, Counter[str]] = field(default_factory=dict)
    # Sends that failed, keyed by reason ("encode-error", "socket-error")
    send_failures_by_reason: Counter[str] = field(default_factory=Counter)
    # Wall-clock time the counters last started from zero (RFC 6475 ...CounterDiscontinuityTime)
    discontinuity_time: float = field(default_factory=time.time)

    # ----- counting ------------------------------------------------------------------------
    def received(self, kind: str, peer: IPv6Address | None, code: int | None = None) -> None:
        """A message of `kind` was decoded, from `peer` (counted per peer if it is counted)."""
        for counters in self._counters(kind, peer):
            counters.received += 1
            if code is not None:
                counters.received_by_code[code] += 1

    def sent(self, kind: str, peer: IPv6Address | None, code: int | None = None) -> None:
        for counters in self._counters(kind, peer):
            counters.sent += 1
            if code is not None:
                counters.sent_by_code[code] += 1

    def send_failed(self, kind: str, peer: IPv6Address | None, reason: str) -> None:
        self.send_failures_by_reason[reason] += 1
        for counters in self._counters(kind, peer):
            counters.send_failures += 1

    def dropped(self, kind: str, peer: IPv6Address | None, reason: str) -> None:
        """A decoded message was dropped for `reason`, not acted on."""
        self.drops_by_reason[reason] += 1
        for counters in self._counters(kind, peer):
            counters.dropped += 1

    def refused(self, peer: IPv6Address | None, reason: str) -> None:
        """A message from `peer` was refused before
        anything was taken from it: an unknown source, or a keyed peer's message that did
        not authenticate or was replayed."""
        self.drops_by_reason[reason] += 1  # not in the kind's counters: it was never received
        if peer in self.counted_peers:
            refusals = self.peer_refusals.get(peer)
            if refusals is None:
                refusals = self.peer_refusals[peer] = Counter()
            refusals[reason] += 1

    def malformed(self, kind: str | None, peer: IPv6Address | None, reason: str) -> None:
        """A datagram did not decode; `kind` is the one its header names, None if it names none."""
        self.drops_by_reason[reason] += 1
        if kind is not None:
            for counters in self._counters(kind, peer):
                counters.malformed += 1

    def _counters(self, kind: str, peer: IPv6Address | None) -> tuple[MessageCounters, ...]:
        node = self.messages[kind]
        if peer not in self.counted_peers:
            return (node,)
        per_peer = self.peer_messages.get(peer)
        if per_peer is None:
            per_peer = self.peer_messages[peer] = _by_kind()
        return node, per_peer[kind]

    # ----- the RFC 6475 / RFC 4295 views -------------------------------------------------------
    @property
    def pbu_sent(self) -> int:
        return self.messages["pbu"].sent

    @property
    def pbu_received(self) -> int:
        return self.messages["pbu"].received

    @property
    def pba_sent_by_status(self) -> Counter[int]:
        return self.messages["pba"].sent_by_code

    @property
    def pba_received_by_status(self) -> Counter[int]:
        return self.messages["pba"].received_by_code

    @property
    def bri_sent_by_trigger(self) -> Counter[int]:
        return self.messages["bri"].sent_by_code

    @property
    def bri_received_by_trigger(self) -> Counter[int]:
        return self.messages["bri"].received_by_code

    @property
    def bra_sent_by_status(self) -> Counter[int]:
        return self.messages["bra"].sent_by_code

    @property
    def bra_received_by_status(self) -> Counter[int]:
        return self.messages["bra"].received_by_code

    @property
    def binding_errors_sent(self) -> int:
        return self.messages["binding-error"].sent

    @property
    def pba_sent(self) -> int:
        return self.messages["pba"].sent

    @property
    def pba_received(self) -> int:
        return self.messages["pba"].received

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

    # ----- copies and reset -------------------------------------------------------------------
    def copy(self) -> Statistics:
        """A detached copy (every counter copied too), safe to hand to another thread."""
        values = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "messages":
                value = {kind: c.copy() for kind, c in value.items()}
            elif f.name == "peer_messages":
                value = {peer: {kind: c.copy() for kind, c in kinds.items()} for peer, kinds in value.items()}
            elif f.name == "peer_refusals":
                value = {peer: Counter(reasons) for peer, reasons in value.items()}
            elif isinstance(value, Counter):
                value = Counter(value)
            values[f.name] = value
        return Statistics(**values)

    def reset(self, now: float | None = None) -> None:
        """Zero every counter and record the discontinuity."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (Counter, dict)):
                value.clear()
            elif isinstance(value, int):
                setattr(self, f.name, 0)
        self.messages.update(_by_kind())
        self.discontinuity_time = time.time() if now is None else now
