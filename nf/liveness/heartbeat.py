"""RFC 5847 heartbeats: path failure detection and peer restart detection.

The monitor asks every peer that has bindings with this node (RFC 5847 §3: no requests to
a peer without, unless `heartbeat/require-bindings` is false) for a Heartbeat Response every
`interval` seconds. A request still unanswered when the next one is due counts as missed;
when the misses exceed `missing-heartbeats-allowed` the path is down (§3.1), and the next
response brings it up again. A Binding Error of status 2 in answer to a request means the
peer has no heartbeats: none is sent to it again (§3). Requests we send carry no option; our
responses carry the Restart Counter option (§3.4), and a change of the value a peer's
responses carry means the peer lost its state (§3.2).

Fast probing (`heartbeat/fast-probe`, a local extension for RFC 7429 GAP6-2) uses the same
Heartbeat messages, only faster: when enabled, every peer is asked every fast-probe interval
and declared down after `detect-multiplier` misses (reaching it, as BFD's multiplier does). Reusing the standard message means any
RFC 5847 peer answers the probes, with no second protocol to deploy or to open in firewalls.

Only responses change a path's state: a request from the peer shows that one direction
works, not that our messages reach it.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Any

from nf import wire
from nf.liveness.peer import Liveness, OutstandingRequest, PeerLiveness, Timing, rtt_microseconds
from nf.roles.base import RoleContext
from nf.snapshot import PeerState

log = logging.getLogger(__name__)

SEQUENCE_MODULO = 1 << 32  # the Sequence Number field is 32 bits wide

PathListener = Callable[[IPv6Address, Liveness], None]
RestartListener = Callable[[IPv6Address, int, int], None]  # (peer, previous counter, new counter)


class LivenessError(ValueError):
    """Input the monitor cannot act on: not an IPv6 address, a non-positive probe timeout."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    address: IPv6Address
    sequence: int
    rtt_us: int | None  # None: no response within the timeout

    @property
    def answered(self) -> bool:
        return self.rtt_us is not None


@dataclass(slots=True)
class HeartbeatTotals:
    """Node-wide heartbeat outcomes (the YANG `statistics/heartbeat` container, beside the
    request and response counts of `Statistics.messages`)."""

    timeouts: int = 0
    paths_down: int = 0
    peer_restarts: int = 0


@dataclass(slots=True)
class _PendingProbe:
    address: IPv6Address
    sent_at: float
    future: asyncio.Future


def timing_for(settings: Any, address: IPv6Address) -> Timing:
    """The heartbeat timing towards `address`: fast probing, else the peer's own, else the node's."""
    hb = settings.heartbeat
    if hb.fast_probe_enabled:
        return Timing(hb.fast_probe_interval, hb.fast_probe_detect_multiplier, exceeds=False)
    peer = settings.peers.get(address)
    interval = (peer and peer.heartbeat_interval) or hb.interval
    allowed = (peer and peer.missing_heartbeats_allowed) or hb.missing_heartbeats_allowed
    return Timing(float(interval), allowed)


def configured_peers(settings: Any) -> dict[IPv6Address, str | None]:
    """Addresses monitored by configuration, with their names: every peer, plus a MAG's LMA."""
    peers = {address: p.name for address, p in settings.peers.items()}
    if settings.mag is not None:
        peers.setdefault(settings.mag.lma_address, None)
    return peers


class HeartbeatMonitor:
    """Sends, answers and tracks Heartbeat messages: a service of every node (`Runtime.liveness`),
    whatever its roles; the runtime hands it every wire.Heartbeat."""

    def __init__(self, ctx: RoleContext, first_sequence: int | None = None) -> None:
        """`first_sequence` defaults to a random value, so responses to requests sent before a
        restart of ours do not match the new requests."""
        self._ctx = ctx
        self._settings = ctx.settings
        self._peers: dict[IPv6Address, PeerLiveness] = {}
        self._periodic: dict[int, IPv6Address] = {}  # sequence -> peer, for outstanding requests
        self._probes: dict[int, _PendingProbe] = {}
        self._next_sequence = random.randrange(SEQUENCE_MODULO) if first_sequence is None else first_sequence
        self._running = False
        self.totals = HeartbeatTotals()
        self.path_listeners: list[PathListener] = []
        self.restart_listeners: list[RestartListener] = []
        # Whether a peer has bindings with this node (RFC 5847 §3); the runtime sets it from the
        # roles. None: every peer is asked.
        self.has_sessions: Callable[[IPv6Address], bool] | None = None

    # ----- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._running = True
        for address, name in configured_peers(self._settings).items():
            self._add(address, name=name, configured=True)

    async def stop(self) -> None:
        self._running = False
        for peer in self._peers.values():
            self._ctx.timers.cancel(peer.timer)
            peer.timer = None
        for sequence in list(self._probes):
            self._finish_probe(sequence, None)

    def prepare_reconfigure(self, settings: Any) -> Callable[[], None]:
        """Nothing can fail here: the commit's apply step is `reconfigure`."""
        return lambda: self.reconfigure(settings)

    def reconfigure(self, settings: Any) -> None:
        """Follow a committed configuration: new peers, removed peers, new timing."""
        self._settings = settings
        wanted = configured_peers(settings)
        for address, peer in list(self._peers.items()):
            if peer.configured and address not in wanted:
                self._remove(address)
        for address, name in wanted.items():
            peer = self._peers.get(address)
            if peer is None:
                self._add(address, name=name, configured=True)
                continue
            peer.name, peer.configured = name, True
            timing = timing_for(settings, address)
            if timing != peer.timing:
                peer.timing = timing
                self._schedule(peer, self._ctx.clock.monotonic() + timing.interval)

    # ----- peers added at run time ------------------------------------------------------
    def add_peer(self, address: IPv6Address) -> bool:
        """Start monitoring `address` (e.g. a MAG the LMA learnt from a registration).

        Returns False if it is monitored already.
        """
        address = _address(address)
        if address in self._peers:
            return False
        self._add(address, name=None, configured=False)
        return True

    def check_now(self, address: IPv6Address) -> bool:
        """Ask a peer whose path state is still unknown at once, off the cadence.

        A MAG that registers proves it is there; waiting a whole interval (60 s by default)
        to learn its path state would leave operators looking at `unknown`. Returns whether a
        request was sent.
        """
        peer = self._peers.get(_address(address))
        if peer is None or peer.state is not Liveness.UNKNOWN or peer.asked_early or not self._running \
                or not peer.supported or not self._may_ask(peer.address):
            return False
        peer.asked_early = True  # once: a peer that never answers must not draw one per registration
        if peer.outstanding is not None:  # sent before the peer was there; not a miss yet
            self._periodic.pop(peer.outstanding.sequence, None)
        sequence = self._send_request(peer)
        peer.outstanding = OutstandingRequest(sequence, self._ctx.clock.monotonic())
        self._periodic[sequence] = peer.address
        return True

    def remove_peer(self, address: IPv6Address) -> bool:
        """Stop monitoring a peer added by `add_peer`; configured peers stay (returns False)."""
        address = _address(address)
        peer = self._peers.get(address)
        if peer is None or peer.configured:
            return False
        self._remove(address)
        return True

    def peers(self) -> Iterable[IPv6Address]:
        return self._peers.keys()

    # ----- messages ---------------------------------------------------------------------
    def on_message(self, message: wire.Message, src: IPv6Address, src_port: int, dst: IPv6Address) -> None:
        if not isinstance(message, wire.Heartbeat):
            return
        now = self._ctx.clock.monotonic()
        peer = self._peers.get(src)
        if peer is not None:
            peer.last_received = self._ctx.clock.wall()
            counter = _restart_counter(message) if message.response else None  # §3.4: valid in responses only
            if counter is not None:
                self._check_restart(peer, counter)
        if message.response:
            if not message.unsolicited:
                self._on_response(message.sequence, src, now)
        else:
            self._answer(message, src, src_port)

    def unsupported(self, address: IPv6Address) -> None:
        """`address` answered a Heartbeat Request with a Binding Error, status 2 (RFC 5847 §3):
        it MUST NOT be sent heartbeats again. Its path state stays what it was."""
        peer = self._peers.get(address)
        if peer is None or not peer.supported:
            return
        peer.supported = False
        if peer.outstanding is not None:
            self._periodic.pop(peer.outstanding.sequence, None)
            peer.outstanding = None
        self._ctx.timers.cancel(peer.timer)
        peer.timer = None
        log.warning("peer %s does not support heartbeats (Binding Error, status 2): no more heartbeats to it",
                    address)

    def announce_restart(self, addresses: Iterable[IPv6Address]) -> int:
        """RFC 5847 §3.2: after a restart that lost our sessions, an unsolicited Heartbeat
        Response (U=1) with the new Restart Counter to each peer we had sessions with, so it
        learns of the restart at once. Returns how many were sent."""
        response = wire.Heartbeat(sequence=self._take_sequence(), response=True, unsolicited=True,
                                  options=(wire.RestartCounterOption(self._ctx.restart_counter),))
        return sum(bool(self._ctx.send(response, address, None)) for address in addresses)

    def _answer(self, request: wire.Heartbeat, src: IPv6Address, src_port: int) -> None:
        # RFC 5847 §3: answer every request, bindings or not; the response echoes the
        # request's sequence number and carries our Restart Counter (§3.2, §3.4).
        reply = wire.Heartbeat(sequence=request.sequence, response=True,
                               options=(wire.RestartCounterOption(self._ctx.restart_counter),))
        self._ctx.send(reply, src, src_port or None)

    def _on_response(self, sequence: int, src: IPv6Address, now: float) -> None:
        probe = self._probes.get(sequence)
        if probe is not None and probe.address == src:
            rtt = rtt_microseconds(probe.sent_at, now)
            self._finish_probe(sequence, rtt)
            self._answered(src, rtt)
            return
        if self._periodic.get(sequence) != src:
            return  # late (already counted as missed) or not ours
        del self._periodic[sequence]
        peer = self._peers[src]
        self._answered(src, rtt_microseconds(peer.outstanding.sent_at, now))

    def _answered(self, address: IPv6Address, rtt: int) -> None:
        """A response from `address` matched one of our requests: the path works."""
        peer = self._peers.get(address)
        if peer is None:
            return
        if peer.outstanding is not None:
            self._periodic.pop(peer.outstanding.sequence, None)
            peer.outstanding = None
        peer.rtt_us = rtt
        peer.missed = 0
        if peer.state is not Liveness.UP:
            self._path_up(peer)

    # ----- periodic requests ------------------------------------------------------------
    def _add(self, address: IPv6Address, *, name: str | None, configured: bool) -> None:
        peer = PeerLiveness(address=address, timing=timing_for(self._settings, address), name=name,
                            configured=configured)
        self._peers[address] = peer
        if self._running:
            self._schedule(peer, self._ctx.clock.monotonic())  # ask at once: learn the state early

    def _remove(self, address: IPv6Address) -> None:
        peer = self._peers.pop(address)
        self._ctx.timers.cancel(peer.timer)
        if peer.outstanding is not None:
            self._periodic.pop(peer.outstanding.sequence, None)

    def _schedule(self, peer: PeerLiveness, deadline: float) -> None:
        self._ctx.timers.cancel(peer.timer)
        peer.timer = self._ctx.timers.schedule(deadline, self._tick, peer.address, deadline)

    def _tick(self, address: IPv6Address, deadline: float) -> None:
        peer = self._peers.get(address)
        if peer is None or not self._running or not peer.supported:
            return
        if not self._may_ask(address):  # RFC 5847 §3: SHOULD NOT without a binding
            if peer.outstanding is not None:  # asked while it had some: not a miss now
                self._periodic.pop(peer.outstanding.sequence, None)
                peer.outstanding = None
            self._schedule(peer, deadline + peer.timing.interval)
            return
        if peer.outstanding is not None:
            self._missed(peer)
        # A request that could not be sent still counts: if sending keeps failing, the path is down.
        sequence = self._send_request(peer)
        peer.outstanding = OutstandingRequest(sequence, self._ctx.clock.monotonic())
        self._periodic[sequence] = address
        # Keep the cadence from the deadline, not from when the timer happened to fire.
        self._schedule(peer, deadline + peer.timing.interval)

    def _missed(self, peer: PeerLiveness) -> None:
        self._periodic.pop(peer.outstanding.sequence, None)
        peer.outstanding = None
        peer.missed += 1
        self.totals.timeouts += 1
        self._ctx.stats.heartbeat_timeouts[str(peer.address)] += 1
        if peer.missed >= peer.timing.misses_for_down and peer.state is not Liveness.DOWN:
            self._path_down(peer)

    def _may_ask(self, address: IPv6Address) -> bool:
        if not self._settings.heartbeat.require_bindings or self.has_sessions is None:
            return True
        return self.has_sessions(address)

    def _send_request(self, peer: PeerLiveness) -> int:
        sequence = self._take_sequence()
        peer.last_sent = self._ctx.clock.wall()
        self._ctx.send(wire.Heartbeat(sequence=sequence), peer.address, None)
        return sequence

    def _take_sequence(self) -> int:
        sequence = self._next_sequence
        self._next_sequence = (sequence + 1) % SEQUENCE_MODULO
        return sequence

    # ----- state changes ----------------------------------------------------------------
    def _path_down(self, peer: PeerLiveness) -> None:
        peer.state = Liveness.DOWN
        peer.last_down = self._ctx.clock.wall()
        peer.down_since = self._ctx.clock.monotonic()
        peer.down_count += 1
        self.totals.paths_down += 1
        log.warning("path to %s is down: %d heartbeats unanswered", peer.address, peer.missed)
        self._ctx.events.publish("peer-path-down", **_without_none({
            "peer": str(peer.address), "name": peer.name, "missed-heartbeats": peer.missed,
            "last-heartbeat-received": peer.last_received, "action": self._settings.fault_policy.on_path_down,
        }))
        self._notify(self.path_listeners, peer.address, Liveness.DOWN)

    def _path_up(self, peer: PeerLiveness) -> None:
        down_duration = None
        if peer.down_since is not None:
            down_duration = int(self._ctx.clock.monotonic() - peer.down_since)
        peer.state = Liveness.UP
        peer.last_up = self._ctx.clock.wall()
        peer.down_since = None
        log.info("path to %s is up (rtt %d us)", peer.address, peer.rtt_us)
        self._ctx.events.publish("peer-path-up", **_without_none({
            "peer": str(peer.address), "name": peer.name, "down-duration": down_duration, "rtt": peer.rtt_us,
        }))
        self._notify(self.path_listeners, peer.address, Liveness.UP)

    def _check_restart(self, peer: PeerLiveness, counter: int) -> None:
        previous = peer.restart_counter
        peer.restart_counter = counter
        if previous is None or previous == counter:
            return  # the first value seen is the reference, not a restart
        peer.restart_count += 1
        peer.last_restart = self._ctx.clock.wall()
        self.totals.peer_restarts += 1
        log.warning("peer %s restarted: restart counter %d -> %d", peer.address, previous, counter)
        self._ctx.events.publish("peer-restart", **_without_none({
            "peer": str(peer.address), "name": peer.name, "previous-restart-counter": previous,
            "restart-counter": counter, "action": self._settings.fault_policy.on_peer_restart,
        }))
        self._notify(self.restart_listeners, peer.address, previous, counter)

    @staticmethod
    def _notify(listeners: list[Callable[..., None]], *args: Any) -> None:
        for listener in list(listeners):
            try:
                listener(*args)
            except Exception:  # one broken listener must not stop liveness tracking
                log.exception("liveness listener %r failed", listener)

    # ----- probe-path RPC ---------------------------------------------------------------
    async def probe(self, address: IPv6Address | str, timeout: float) -> ProbeResult:
        """Send one Heartbeat Request to `address` and wait up to `timeout` seconds for its response."""
        address = _address(address)
        if not timeout > 0:
            raise LivenessError(f"probe timeout must be positive, got {timeout!r}")
        loop = asyncio.get_running_loop()
        sequence = self._take_sequence()
        future = loop.create_future()
        peer = self._peers.get(address)
        self._probes[sequence] = _PendingProbe(address, self._ctx.clock.monotonic(), future)
        timer = self._ctx.timers.call_later(timeout, self._finish_probe, sequence, None)
        if self._ctx.send(wire.Heartbeat(sequence=sequence), address, None):
            if peer is not None:
                peer.last_sent = self._ctx.clock.wall()
        else:
            self._finish_probe(sequence, None)
        try:
            rtt = await future
        finally:
            self._ctx.timers.cancel(timer)
        return ProbeResult(address, sequence, rtt)

    def _finish_probe(self, sequence: int, rtt: int | None) -> None:
        probe = self._probes.pop(sequence, None)
        if probe is not None and not probe.future.done():
            probe.future.set_result(rtt)

    # ----- state for the snapshot (nf/snapshot.py) -----------------------------------------
    def peer_states(self) -> list[PeerState]:
        """Every monitored peer's state, ordered by address."""
        return [self._state(peer) for _, peer in sorted(self._peers.items())]

    def peer_state(self, address: IPv6Address | str) -> PeerState | None:
        """One peer's state (a keyed lookup for filtered reads), or None if not monitored."""
        peer = self._peers.get(_address(address))
        return self._state(peer) if peer is not None else None

    def _state(self, peer: PeerLiveness) -> PeerState:
        return PeerState(
            address=peer.address, name=peer.name, liveness=peer.state.value,
            last_heartbeat_sent=peer.last_sent, last_heartbeat_received=peer.last_received, rtt_us=peer.rtt_us,
            missed_heartbeats=peer.missed, heartbeat_timeouts=self._ctx.stats.heartbeat_timeouts[str(peer.address)],
            restart_counter=peer.restart_counter, restart_count=peer.restart_count,
            last_restart=peer.last_restart, last_up=peer.last_up, last_down=peer.last_down,
            down_count=peer.down_count, heartbeat_supported=peer.supported)


def _address(value: IPv6Address | str) -> IPv6Address:
    if isinstance(value, IPv6Address):
        return value
    try:
        return IPv6Address(value)
    except ValueError as e:
        raise LivenessError(f"not an IPv6 address: {value!r}") from e


def _restart_counter(message: wire.Heartbeat) -> int | None:
    for option in message.options:
        if isinstance(option, wire.RestartCounterOption):
            return option.counter
    return None


def _without_none(data: Mapping[str, Any]) -> dict[str, Any]:
    """Notification leaves that have no value are left out, not sent empty."""
    return {k: v for k, v in data.items() if v is not None}
