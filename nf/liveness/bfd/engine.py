"""The BFD engine: the session table, the sockets and one timer per session on the loop.

Received datagrams go through ``packet.decode`` (the session-independent checks of RFC
5880 §6.8.6), then are demultiplexed: by Your Discriminator when it is non-zero, else by
the (source, destination) address pair (RFC 5883 §4.1), after discarding a zero Your
Discriminator on a packet whose state is not Down or AdminDown (§6.8.6). The session's
minimum hop limit is checked next, before any authentication work (RFC 5881 §5 allows
that order), then the session applies the rest of §6.8.6. Nothing a datagram contains
makes the engine raise: every discard is counted under a reason of ``DROP_REASONS``.

Each session has one timer handle on the loop, set for ``BfdSession.wakeup()``; a received
packet only moves the session's deadlines, and the handle is replaced only when the
session needs waking earlier than planned (a Poll to answer, a shorter interval). Before a
Detection Time is declared expired the receive socket is read, so packets that arrived
while this process was not running still count.
"""
from __future__ import annotations

import asyncio
import logging
import random
import secrets
import socket
import sys
import time
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Callable, Hashable, Iterable

from .errors import BfdError, BfdSessionError, BfdSpecError
from .packet import BfdDecodeError, BfdState, Diagnostic, decode
from .session import BfdSession
from .snapshot import DROP_REASONS, BfdCounters, BfdSessionState, BfdStateChange
from .sockets import open_receiver, open_sender
from .spec import MULTIHOP_PORT, BfdSessionSpec

log = logging.getLogger(__name__)

RECEIVE_BATCH = 256  # datagrams read per readiness event, then the loop runs timers
_MAX_DATAGRAM = 1500
_ANCILLARY_SPACE = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4)  # in6_pktinfo + hop limit
_IPV6, _PKTINFO, _HOPLIMIT = socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, socket.IPV6_HOPLIMIT
_NOT_DOWN = (BfdState.INIT, BfdState.UP)

Listener = Callable[[BfdStateChange], None]


@dataclass
class _Counters:
    packets_in: int = 0
    packets_out: int = 0
    send_errors: int = 0
    receive_errors: int = 0
    drops: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))


class _Entry:
    """A session with what the engine keeps beside it: socket, address, timer."""

    __slots__ = ("session", "sock", "source_port", "sockaddr", "pair", "timer", "timer_at")

    def __init__(self, session: BfdSession) -> None:
        self.session = session
        self.sock: socket.socket | None = None
        self.source_port = 0
        spec = session.spec
        self.sockaddr = (str(spec.remote_address), spec.remote_port, 0, 0)
        self.pair = spec.remote_address.packed + spec.local_address.packed
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0


class BfdEngine:
    """Asynchronous-mode BFD sessions over UDP/IPv6, multihop (RFC 5880, RFC 5883).

    ``clock`` is the monotonic clock in seconds (the loop's timers are set from it), and
    ``wall`` the POSIX clock for the times shown to operators; ``port`` the port received
    on (4784; tests use others) on ``listen_address`` (all addresses when None); ``rng``
    the source of jitter, discriminators and source ports (tests seed one; the default is
    seeded from the system's randomness, since discriminators SHOULD be random, RFC 5880
    §6.8.1); ``nonlocal_source`` lets sessions send from an address that is a local route
    rather than an interface address (a data-path probe address, docs/liveness.md).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, port: int = MULTIHOP_PORT,
                 listen_address: IPv6Address | str | None = None,
                 rng: random.Random | None = None, nonlocal_source: bool = False) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise BfdSpecError("port", f"must be an integer 0-65535: {port!r}")
        if listen_address is not None:
            try:
                listen_address = IPv6Address(listen_address)
            except (ValueError, TypeError):
                raise BfdSpecError("listen_address",
                                   f"not an IPv6 address: {listen_address!r}") from None
        self._clock = clock
        self._wall = wall
        self._port = port
        self._listen_address = listen_address
        self._nonlocal_source = nonlocal_source
        self._rng = rng if rng is not None else random.Random(secrets.randbits(64))
        self._entries: dict[Hashable, _Entry] = {}
        self._by_discriminator: dict[int, _Entry] = {}
        self._by_pair: dict[bytes, _Entry] = {}
        self._ports_in_use: set[int] = set()
        self._receiver: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._counters = _Counters()
        self.listeners: list[Listener] = []

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._receiver is not None

    @property
    def port(self) -> int:
        """The port received on (the kernel's choice when configured as 0)."""
        return self._receiver.getsockname()[1] if self._receiver is not None else self._port

    async def start(self) -> None:
        """Bind the receiver and every session's sender, then start the sessions.
        BfdBindError (naming address and port) when a socket cannot be bound."""
        if self._receiver is not None:
            raise BfdError("BFD engine already started")
        loop = asyncio.get_running_loop()
        receiver = open_receiver(self._listen_address, self._port)
        opened: list[_Entry] = []
        try:
            for entry in self._entries.values():
                self._open(entry)
                opened.append(entry)
        except BfdError:
            for entry in opened:
                self._close(entry)
            receiver.close()
            raise
        self._loop = loop
        self._receiver = receiver
        loop.add_reader(receiver.fileno(), self._on_readable)
        now = self._clock()
        for entry in self._entries.values():
            entry.session.admin_up(now)
            self._schedule(entry)

    async def stop(self) -> None:
        """Every session goes AdminDown with diagnostic 7 and sends one packet saying so
        (RFC 5880 §6.8.16), then the sockets close. Sessions stay in the table."""
        if self._receiver is None:
            return
        now = self._clock()
        for entry in self._entries.values():
            entry.session.admin_down(now)
            self._send(entry, entry.session.transmit(now))
            self._close(entry)
        self._loop.remove_reader(self._receiver.fileno())
        self._receiver.close()
        self._receiver = None
        self._loop = None

    # --- the session table -------------------------------------------------------------------
    def add(self, spec: BfdSessionSpec) -> None:
        """Start a session; while the engine runs its socket is bound at once (BfdBindError
        when it cannot be). BfdSessionError for a key or address pair already used."""
        if not isinstance(spec, BfdSessionSpec):
            raise BfdSpecError("spec", f"must be a BfdSessionSpec: {spec!r}")
        if spec.key in self._entries:
            raise BfdSessionError(f"BFD session {spec.key!r} exists already")
        now = self._clock()
        session = BfdSession(spec, self._new_discriminator(), now, rng=self._rng,
                             wall=self._wall, on_change=self._changed)
        entry = _Entry(session)
        if entry.pair in self._by_pair:
            other = self._by_pair[entry.pair].session.key
            raise BfdSessionError(f"BFD session {other!r} already runs between "
                                  f"{spec.local_address} and {spec.remote_address}")
        if self._receiver is not None:
            self._open(entry)
        self._entries[spec.key] = entry
        self._by_discriminator[session.local_discriminator] = entry
        self._by_pair[entry.pair] = entry
        if self._receiver is not None:
            self._schedule(entry)

    def remove(self, key: Hashable) -> None:
        """End a session: one AdminDown packet (diagnostic 7) to the remote, then its
        socket closes. BfdSessionError for an unknown key."""
        entry = self._entry(key)
        if entry.sock is not None:
            now = self._clock()
            entry.session.admin_down(now)
            self._send(entry, entry.session.transmit(now))
            self._close(entry)
        del self._entries[key]
        del self._by_discriminator[entry.session.local_discriminator]
        del self._by_pair[entry.pair]

    def update(self, spec: BfdSessionSpec) -> None:
        """New timers, multiplier, authentication, remote port or minimum hop limit for an
        existing session; timer changes go through a Poll Sequence (RFC 5880 §6.8.3)."""
        entry = self._entry(spec.key)
        current = entry.session.spec
        for name in ("local_address", "remote_address"):
            if getattr(spec, name) != getattr(current, name):
                raise BfdSpecError(name, "cannot change on a running session; remove it and "
                                         "add a new one")
        entry.session.reconfigure(spec, self._clock())
        entry.sockaddr = (str(spec.remote_address), spec.remote_port, 0, 0)
        if entry.sock is not None:
            self._schedule(entry)

    def admin_down(self, key: Hashable,
                   diagnostic: int = Diagnostic.ADMINISTRATIVELY_DOWN) -> None:
        """Hold a session in AdminDown (RFC 5880 §6.8.16), e.g. with diagnostic 5 (Path
        Down) when something outside BFD knows the path failed; the remote is told now."""
        entry = self._entry(key)
        if not 0 <= diagnostic <= 8:
            raise BfdSpecError("diagnostic", f"must be 0-8: {diagnostic!r}")
        now = self._clock()
        entry.session.admin_down(now, Diagnostic(diagnostic))
        if entry.sock is not None:
            self._send(entry, entry.session.transmit(now))

    def admin_up(self, key: Hashable) -> None:
        """Let an AdminDown session come up again (it goes Down, RFC 5880 §6.8.16)."""
        entry = self._entry(key)
        entry.session.admin_up(self._clock())
        if entry.sock is not None:
            self._send(entry, entry.session.transmit(self._clock()))

    def session(self, key: Hashable) -> BfdSessionState | None:
        entry = self._entries.get(key)
        return _snapshot(entry) if entry is not None else None

    def sessions(self) -> list[BfdSessionState]:
        return [_snapshot(entry) for entry in self._entries.values()]

    def counters(self) -> BfdCounters:
        c = self._counters
        return BfdCounters(packets_in=c.packets_in, packets_out=c.packets_out,
                           send_errors=c.send_errors, receive_errors=c.receive_errors,
                           drops=dict(c.drops))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def keys(self) -> Iterable[Hashable]:
        return self._entries.keys()

    # --- internals ---------------------------------------------------------------------------
    def _entry(self, key: Hashable) -> _Entry:
        try:
            return self._entries[key]
        except (KeyError, TypeError):
            raise BfdSessionError(f"no BFD session {key!r}") from None

    def _new_discriminator(self) -> int:
        while True:  # RFC 5880 §6.8.1: unique, non-zero, random
            value = self._rng.getrandbits(32)
            if value and value not in self._by_discriminator:
                return value

    def _open(self, entry: _Entry) -> None:
        sock = open_sender(entry.session.spec.local_address, self._ports_in_use, self._rng,
                           nonlocal_source=self._nonlocal_source)
        entry.sock = sock
        entry.source_port = sock.getsockname()[1]
        self._ports_in_use.add(entry.source_port)

    def _close(self, entry: _Entry) -> None:
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        if entry.sock is not None:
            entry.sock.close()
            entry.sock = None
            self._ports_in_use.discard(entry.source_port)
            entry.source_port = 0

    def _schedule(self, entry: _Entry) -> None:
        """Set the session's one timer for its next wake-up."""
        when = entry.session.wakeup()
        if entry.timer is not None:
            if entry.timer_at <= when:
                return  # it fires first and then asks the session again
            entry.timer.cancel()
        loop = self._loop
        entry.timer_at = when
        entry.timer = loop.call_at(loop.time() + (when - self._clock()), self._fire, entry)

    def _fire(self, entry: _Entry) -> None:
        entry.timer = None
        now = self._clock()
        if entry.session.detection_due(now):
            # Read what is waiting first: a process that was not scheduled for a while (a
            # loaded host, a stopped process) must not call its peers down for its own delay.
            self._on_readable()
            now = self._clock()
        data = entry.session.on_timer(now)
        if data is not None:
            self._send(entry, data)
        if entry.sock is not None:
            self._schedule(entry)

    def _send(self, entry: _Entry, data: bytes) -> None:
        try:
            entry.sock.sendto(data, entry.sockaddr)
        except OSError as exc:  # e.g. no route: counted, and the session times out
            self._counters.send_errors += 1
            log.debug("BFD send to [%s]:%d failed: %s", *entry.sockaddr[:2], exc)
            return
        self._counters.packets_out += 1

    def _changed(self, session: BfdSession, old: BfdState, new: BfdState) -> None:
        change = BfdStateChange(key=session.key, old_state=old, new_state=new,
                                local_diagnostic=session.local_diagnostic,
                                monotonic=session.last_change, wall=session.last_change_wall)
        if new == BfdState.UP or old == BfdState.UP:
            log.info("BFD session %s %s -> %s (diagnostic %s)", session.key, old.label,
                     new.label, Diagnostic(session.local_diagnostic).label)
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:  # one faulty listener must not stop the others or the engine
                log.exception("BFD state listener %r failed", listener)

    def _on_readable(self) -> None:
        receiver = self._receiver
        if receiver is None:
            return
        recvmsg = receiver.recvmsg
        for _ in range(RECEIVE_BATCH):
            try:
                data, ancillary, _flags, source = recvmsg(_MAX_DATAGRAM, _ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._counters.receive_errors += 1
                log.debug("BFD receive failed: %s", exc)
                return
            self._datagram(data, ancillary, source[0])

    def _datagram(self, data: bytes, ancillary: list, source: str) -> None:
        counters = self._counters
        counters.packets_in += 1
        try:
            packet = decode(data)
        except BfdDecodeError as exc:
            counters.drops[exc.reason] += 1
            return
        hop_limit = -1
        destination = b""
        for level, kind, value in ancillary:
            if level == _IPV6:
                if kind == _HOPLIMIT:
                    hop_limit = int.from_bytes(value[:4], sys.byteorder)
                elif kind == _PKTINFO:
                    destination = value[:16]
        if packet.your_discriminator:
            entry = self._by_discriminator.get(packet.your_discriminator)
            if entry is None:
                counters.drops["unknown-your-discriminator"] += 1
                return
        else:
            if packet.state in _NOT_DOWN:
                counters.drops["your-discriminator-zero-not-down"] += 1
                return
            try:
                pair = socket.inet_pton(socket.AF_INET6, source) + destination
            except OSError:  # a scoped source address: no multihop session uses one
                pair = b""
            entry = self._by_pair.get(pair)
            if entry is None:
                counters.drops["no-session"] += 1
                return
        session = entry.session
        if hop_limit < session.spec.minimum_ttl:
            session.packets_dropped += 1
            counters.drops["hop-limit-below-minimum"] += 1
            return
        now = self._clock()
        reason, send_now = session.receive(packet, data, now)
        if reason is not None:
            counters.drops[reason] += 1
            return
        if entry.sock is None:
            return
        if send_now:
            self._send(entry, session.transmit(now))
        self._schedule(entry)


def _snapshot(entry: _Entry) -> BfdSessionState:
    s = entry.session
    spec = s.spec
    return BfdSessionState(
        key=s.key, local_address=spec.local_address, remote_address=spec.remote_address,
        source_port=entry.source_port, remote_port=spec.remote_port,
        local_state=s.state, remote_state=s.remote_state,
        local_discriminator=s.local_discriminator, remote_discriminator=s.remote_discriminator,
        local_diagnostic=int(s.local_diagnostic), remote_diagnostic=s.remote_diagnostic,
        detect_multiplier=s.detect_multiplier, remote_detect_multiplier=s.remote_detect_multiplier,
        desired_min_tx=spec.desired_min_tx, required_min_rx=spec.required_min_rx,
        advertised_desired_min_tx=s.desired_min_tx_us / 1e6,
        remote_desired_min_tx=s.remote_desired_min_tx_us / 1e6,
        remote_required_min_rx=s.remote_min_rx_us / 1e6,
        negotiated_tx_interval=s.tx_interval_us / 1e6,
        detection_time=s.detection_time_us / 1e6, poll_in_progress=s.poll_in_progress,
        up_count=s.up_count, down_count=s.down_count, last_up=s.last_up,
        last_down=s.last_down, last_state_change=s.last_change_wall,
        packets_sent=s.packets_sent, packets_received=s.packets_received,
        packets_dropped=s.packets_dropped, minimum_ttl=spec.minimum_ttl,
        authentication_type=int(spec.authentication.auth_type) if spec.authentication else 0)
