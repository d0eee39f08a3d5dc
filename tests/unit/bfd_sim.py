"""Two BfdSession objects joined by a simulated path, on a fake clock (no sockets, no sleeps).

Time only moves when ``run_until`` or ``run_for`` is called; packets take ``delay`` seconds;
either direction can be cut. Every packet sent is kept (time, sender, decoded packet).
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from nf.liveness.bfd.packet import ControlPacket, decode
from nf.liveness.bfd.session import BfdSession
from nf.liveness.bfd.spec import BfdSessionSpec

A_ADDRESS, B_ADDRESS = "2001:db8::a", "2001:db8::b"


def spec(key: str = "a", local: str = A_ADDRESS, remote: str = B_ADDRESS, **timers) -> BfdSessionSpec:
    return BfdSessionSpec(key, local, remote, **timers)


@dataclass
class Sent:
    time: float
    sender: str
    packet: ControlPacket
    raw: bytes


@dataclass
class Link:
    a: BfdSession
    b: BfdSession
    delay: float = 0.001
    now: float = 0.0
    up: dict = field(default_factory=lambda: {"a": True, "b": True})  # by sender
    sent: list[Sent] = field(default_factory=list)
    changes: list[tuple[float, str, int, int, int]] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    _flight: list = field(default_factory=list)
    _seq: int = 0

    @classmethod
    def build(cls, a_spec: BfdSessionSpec | None = None, b_spec: BfdSessionSpec | None = None,
              seed: int = 1, **kwargs) -> "Link":
        rng = random.Random(seed)
        link = cls.__new__(cls)
        a_spec = a_spec or spec("a", A_ADDRESS, B_ADDRESS)
        b_spec = b_spec or spec("b", B_ADDRESS, A_ADDRESS)
        wall = lambda: 1_700_000_000.0 + link.now  # noqa: E731
        a = BfdSession(a_spec, 0xA0A0, 0.0, rng=rng, wall=wall, on_change=link._record)
        b = BfdSession(b_spec, 0xB0B0, 0.0, rng=rng, wall=wall, on_change=link._record)
        cls.__init__(link, a, b, **kwargs)
        return link

    def _record(self, session, old, new) -> None:
        self.changes.append((self.now, session.key, old, new, session.local_diagnostic))

    def name(self, session: BfdSession) -> str:
        return "a" if session is self.a else "b"

    def other(self, session: BfdSession) -> BfdSession:
        return self.b if session is self.a else self.a

    def send(self, session: BfdSession, raw: bytes) -> None:
        sender = self.name(session)
        self.sent.append(Sent(self.now, sender, decode(raw), raw))
        if self.up[sender]:
            self._seq += 1
            heapq.heappush(self._flight, (self.now + self.delay, self._seq, self.other(session), raw))

    def deliver(self, session: BfdSession, raw: bytes) -> None:
        """Hand `raw` to `session` as the engine would, answering at once when asked."""
        packet = decode(raw)
        reason, send_now = session.receive(packet, raw, self.now)
        if reason is not None:
            self.drops.append(reason)
        elif send_now:
            self.send(session, session.transmit(self.now))

    def run_until(self, end: float) -> None:
        while True:
            wake = min(self.a.wakeup(), self.b.wakeup())
            flight = self._flight[0][0] if self._flight else float("inf")
            when = min(wake, flight)
            if when > end:
                self.now = end
                return
            self.now = max(self.now, when)
            if flight <= wake:
                _, _, target, raw = heapq.heappop(self._flight)
                self.deliver(target, raw)
                continue
            for session in (self.a, self.b):
                if session.wakeup() <= self.now:
                    data = session.on_timer(self.now)
                    if data is not None:
                        self.send(session, data)

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def packets_from(self, sender: str, since: float = 0.0) -> list[Sent]:
        return [s for s in self.sent if s.sender == sender and s.time >= since]
