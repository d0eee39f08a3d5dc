"""Binding Revocation Indications sent by the LMA and their acknowledgements (RFC 5846).

The tracker numbers each BRI (no two outstanding share a sequence number, §5.1),
retransmits it until a Binding Revocation Acknowledgement with the same sequence number
comes back from the same MAG (§6.2.2), waiting InitMINDelayBRIs and doubling the wait up to
MAX_BRACK_TIMEOUT (§6.3), and gives up after BRIMaxRetriesNumber retransmissions (the three
of §11, from the `timers` settings). Either way it hands the finished `Revocation` to its
`on_done`, or to the LMA's default, which removes the bindings.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address

from nf.core.binding_cache import BindingCacheEntry
from nf.wire import BindingRevocationAck, BindingRevocationIndication, Option, RevocationTrigger



@dataclass(eq=False)
class Revocation:
    """One BRI exchange with one MAG; `status` is the BRA's, None until (or unless) it comes."""

    mag: IPv6Address
    trigger: int
    sequence: int
    global_: bool
    bindings: list[BindingCacheEntry]
    message: BindingRevocationIndication
    retransmissions: int = 0
    status: int | None = None
    done: bool = False
    timed_out: bool = False
    revoked: int = 0  # bindings removed when it finished
    reason: str = "revoked"  # binding-deleted reason for the bindings it removes
    on_done: Callable[[Revocation], None] | None = None  # instead of the tracker's finish
    _timer: object = None
    _waiters: list[asyncio.Future] = field(default_factory=list)

    async def wait(self) -> Revocation:
        """Return once the BRA arrived or the retransmissions ran out."""
        if not self.done:
            future = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            await future
        return self

    def _finish(self) -> None:
        self.done = True
        for future in self._waiters:
            if not future.done():
                future.set_result(self)
        self._waiters.clear()


class RevocationTracker:
    def __init__(self, ctx, finish: Callable[[Revocation], None]) -> None:
        self._ctx = ctx
        self._finish = finish
        self._pending: dict[tuple[IPv6Address, int], Revocation] = {}
        self._next_sequence = 0
        self.timeouts = 0
        self.retransmissions = 0

    def pending(self) -> list[Revocation]:
        return list(self._pending.values())

    def send(self, mag: IPv6Address, trigger: int, bindings: list[BindingCacheEntry],
             options: tuple[Option, ...], *, global_: bool = False, reason: str = "revoked",
             on_done: Callable[[Revocation], None] | None = None) -> Revocation:
        """Send a BRI (P flag set: these are proxy bindings, §8.1) and track it.

        §6.1.1: a global BRI carries a Global Revocation Trigger (128 and above), a per-node
        one a Per-MN trigger (below 128); ValueError otherwise."""
        if global_ != (trigger >= RevocationTrigger.PER_PEER_POLICY):
            kind = "global" if global_ else "per-node"
            raise ValueError(f"revocation trigger {trigger} is not a {kind} trigger (RFC 5846 section 5.1)")
        sequence = self._next_sequence
        while (mag, sequence) in self._pending:  # §5.1: no collision among outstanding BRIs
            sequence = (sequence + 1) & 0xFFFF
        self._next_sequence = (sequence + 1) & 0xFFFF
        message = BindingRevocationIndication(trigger=trigger, sequence=sequence, options=options,
                                              proxy=True, global_=global_)
        revocation = Revocation(mag, trigger, sequence, global_, bindings, message, reason=reason, on_done=on_done)
        self._pending[(mag, sequence)] = revocation
        self._transmit(revocation, self._ctx.timers.clock())
        return revocation

    def on_ack(self, ack: BindingRevocationAck, src: IPv6Address) -> Revocation | None:
        """Match a BRA to its BRI; None when nothing is outstanding for it."""
        revocation = self._pending.pop((src, ack.sequence), None)
        if revocation is None:
            return None
        self._ctx.timers.cancel(revocation._timer)
        revocation.status = ack.status
        self._complete(revocation)
        return revocation

    def cancel(self, revocation: Revocation) -> None:
        """Stop tracking `revocation` without finishing it (what it was for happened anyway)."""
        if self._pending.pop((revocation.mag, revocation.sequence), None) is revocation:
            self._ctx.timers.cancel(revocation._timer)
            revocation._finish()

    def close(self) -> None:
        for revocation in self._pending.values():
            self._ctx.timers.cancel(revocation._timer)
            revocation._finish()
        self._pending.clear()

    def _transmit(self, revocation: Revocation, sent_at: float) -> None:
        """Send (again) and wait InitMINDelayBRIs, doubled at each retransmission up to
        MAX_BRACK_TIMEOUT (§6.3)."""
        self._ctx.send(revocation.message, revocation.mag, None)
        timers = self._ctx.settings.timers
        delay = min(timers.init_min_delay_bris * (2 ** revocation.retransmissions), timers.max_brack_timeout)
        revocation._timer = self._ctx.timers.schedule(sent_at + delay, self._on_timeout, revocation)

    def _on_timeout(self, revocation: Revocation) -> None:
        if revocation.done:
            return
        if revocation.retransmissions < self._ctx.settings.timers.bri_max_retries:
            revocation.retransmissions += 1
            self.retransmissions += 1
            self._transmit(revocation, revocation._timer.deadline)  # paced from the schedule, not a late wake-up
            return
        self._pending.pop((revocation.mag, revocation.sequence), None)
        revocation.timed_out = True
        self.timeouts += 1
        self._complete(revocation)

    def _complete(self, revocation: Revocation) -> None:
        try:
            (revocation.on_done or self._finish)(revocation)
        finally:
            revocation._finish()
