"""The runtime: one asyncio loop that owns all mutable state of the network function.

It turns datagrams into typed messages (counting and answering bad ones), dispatches them to
the roles, answers Heartbeats with the Restart Counter (RFC 5847), serves the management
plane's reads and RPCs on the loop (`call`), and applies configuration changes. Nothing else
mutates state, so no locks are needed and every snapshot is consistent.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import time
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any, Callable, TypeVar

from nf import wire
from nf.alarms import AlarmList, AlarmRules, AlarmType, inventory
from nf.core.peer_security import PBU_REFUSAL_STATUS, PeerSecurity
from nf.liveness.data_path import DataPathService
from nf.liveness.faults import FaultDispatcher
from nf.liveness.heartbeat import HeartbeatMonitor
from nf.liveness.restart_counter import next_restart_counter
from nf.liveness.session_peers import SessionPeers
from nf.roles.base import Clock, Role, RoleContext, SystemClock
from nf.roles.lma import LmaRole
from nf.roles.mag import MagRole
from nf.roles.registry import role_classes
from nf.settings import Settings
from nf.snapshot import Snapshot, SnapshotRequest, take
from nf.transport import open_transport
from nf.transport.base import PMIP6_CNTL_PORT, ThrottledLog

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class ReconfigureError(Exception):
    """A committed configuration the running node cannot take; `path` names the YANG node."""

    def __init__(self, message: str, path: str = "/dmm-nf:dmm-nf") -> None:
        super().__init__(message)
        self.path = path


# Sections whose change would pull the ground from under live sessions or sockets; they are
# taken at start only (edit startup, then restart the node).
RESTART_SECTIONS = {
    "node": "node", "transport": "transport", "dataplane": "dataplane",
    "location_management": "location-management", "management": "management", "mag": "mag",
}


class Runtime:
    """Builds the services from `Settings`, runs them on the current loop."""

    def __init__(self, settings: Settings, state_dir: Path, *, dataplane=None, clock: Clock | None = None,
                 bind_address: IPv6Address | None = None) -> None:
        from nf.core.events import EventBus
        from nf.core.stats import Statistics

        self.settings = settings
        self.state_dir = state_dir
        self.clock = clock or SystemClock()
        self.stats = Statistics()
        self.events = EventBus(history=_open_history(settings, state_dir))
        damaged = self.events.store.file
        if damaged.set_aside is not None:  # the new history starts by saying where the old one went
            self.events.publish("event-history-reset", reason=damaged.set_aside_reason,
                                **{"set-aside": str(damaged.set_aside)})
        # RFC 8632 alarm list, raised and cleared from the events by the table in nf/alarms/rules.py
        self.alarms = AlarmList(self.events, time.time, settings.alarm_control)
        self._alarm_rules = AlarmRules(self.events, self.alarms)
        self.dataplane = dataplane if dataplane is not None else _make_dataplane(settings)
        self.restart_counter = next_restart_counter(state_dir)
        self.start_wall = time.time()
        self.roles: dict[str, Role] = {}  # the configured roles by name (nf.roles.registry), built at start
        self.liveness: HeartbeatMonitor | None = None  # RFC 5847 heartbeats, a service of every node
        self.data_path: DataPathService | None = None  # the forwarding path: audit, BFD, path probes
        self.faults: FaultDispatcher | None = None
        self._handlers: dict[type, Role] = {}  # message class -> the role it is dispatched to
        self._bind_address = bind_address
        self.access_links = None  # nf.access.attachments.AccessLinks of a MAG on the Linux data plane
        self._transport = None
        self._timers = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._peer_ports: dict[IPv6Address, int] = {}  # learned only from authorised messages
        self._drop_log = ThrottledLog(log, interval=5.0)
        self._refusal_log = ThrottledLog(log, interval=5.0)
        # RFC 5213 §4: only configured peers are heard; keyed ones authenticated (RFC 4285)
        self.security = PeerSecurity(self.clock.wall)
        self.security.configure(settings.peers)
        self._authorised: frozenset[IPv6Address] = frozenset()
        self._refusal_answers = _TokenBucket(REFUSAL_ANSWERS_PER_SECOND)
        # RFC 6275 §6.1.9 names no offending message: a Binding Error (status 2) is taken to
        # answer the last request this node sent its source (RFC 5847 §3, RFC 7077 §5.2).
        self._last_request: dict[IPv6Address, str] = {}
        self._binding_errors = _TokenBucket(BINDING_ERRORS_PER_SECOND)
        self._session_peers = SessionPeers(state_dir)
        self._previous_session_peers = self._session_peers.load()  # the last run's (RFC 5847 §3.2)
        self._session_peers_timer = None
        self.ready = False

    # ----- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        from nf.core.timers import TimerService

        self._loop = asyncio.get_running_loop()
        self._timers = TimerService(clock=self.clock.monotonic, loop=self._loop)
        address = self._bind_address or self.settings.transport.listen_address or self.settings.node.address
        self._transport = open_transport(self.settings.transport.type, address, self._on_datagram,
                                         port=self.settings.transport.udp_port)
        await self._transport.start()
        ctx = RoleContext(settings=self.settings, stats=self.stats, events=self.events, timers=self._timers,
                          dataplane=self.dataplane, clock=self.clock, restart_counter=self.restart_counter,
                          send=self.send)
        self._role_context = ctx
        for role_cls in role_classes(self.settings.node.roles):
            role = role_cls(ctx)
            self.roles[role.name] = role
            for message_type in role.handles:
                self._handlers[message_type] = role
        self._name_peers()
        self._start_liveness(ctx)
        self._reconcile_dataplane()
        for role in self.roles.values():
            await role.start()
        await self.liveness.start()
        self._announce_restart()
        self.data_path = DataPathService(ctx, self.forwarding_of, self.bindings_via, self.forwarding_for_prefix)
        await self.data_path.start()
        self._start_access_links()
        self.ready = True
        log.info("%s started: roles %s, restart counter %d, signalling on %s port %d", self.settings.node.name,
                 ",".join(sorted(self.roles)), self.restart_counter, self._transport.local_address,
                 self._transport.local_port)

    # ----- typed accessors ---------------------------------------------------------------
    @property
    def lma(self) -> LmaRole | None:
        """The anchor role, when this node is configured as an LMA."""
        return self._role(LmaRole)

    @property
    def mag(self) -> MagRole | None:
        """The access gateway role, when this node is configured as a MAG."""
        return self._role(MagRole)

    def forwarding_of(self, mn_identifier: str | None = None) -> list:
        """What the bindings of every role (of one mobile node, or all) have in the data plane
        (nf.roles.base.BindingForwarding), for the audit and the path probes."""
        return [f for role in (self.lma, self.mag) if role is not None for f in role.forwarding(mn_identifier)]

    def forwarding_for_prefix(self, prefix):
        """The binding (nf.roles.base.BindingForwarding) that holds exactly `prefix`, if any."""
        for role in (self.lma, self.mag):
            found = role.forwarding_for_prefix(prefix) if role is not None else None
            if found is not None:
                return found
        return None

    def bindings_via(self, peer: IPv6Address) -> int:
        """Bindings served through the tunnel to `peer`."""
        lma, mag = self.lma, self.mag
        return ((lma.cache.count_by_mag(peer) if lma is not None else 0) +
                (len(mag.bul.by_lma(peer)) if mag is not None else 0))

    def _role(self, cls: type[R]) -> R | None:
        role = self.roles.get(cls.name)
        return role if isinstance(role, cls) else None

    # ----- the MAG's access links ------------------------------------------------------
    def _start_access_links(self) -> None:
        """A MAG on the Linux data plane runs its access links itself: Router Solicitations
        attach mobile nodes, carrier loss detaches them, advertisements carry their prefixes
        (nf/access/attachments.py). The data plane, which the MAG role calls, sends through them."""
        mag = self.mag
        use = getattr(self.dataplane, "use_access_links", None)
        if mag is None or use is None:
            return
        from nf.access.attachments import AccessLinks
        from nf.access.identity import MobileNodeIdentities

        interfaces = [a.name for a in self.settings.mag.access_interfaces] or \
            [name for name in (self.settings.dataplane.access_interface,) if name]
        identities = MobileNodeIdentities.from_policy_store(self.settings.policies)
        links = AccessLinks(interfaces, self.settings.mag, mag, identities, self._loop)
        links.start()
        self.access_links = links
        use(links)
        log.info("access links %s: %d mobile node(s) known by link-layer address", ",".join(interfaces) or "none",
                 len(identities.configured))

    def _stop_access_links(self) -> None:
        if self.access_links is not None:
            self.dataplane.use_access_links(None)
            self.access_links.close()
            self.access_links = None

    def _reconcile_dataplane(self) -> None:
        """Bindings live in memory only, so a starting node has none: whatever forwarding it
        owns in the kernel was left by an earlier process and is stale. Removing it now (only
        what carries our ownership marks) means no route outlives its binding; peers learn of
        the restart from our Restart Counter and register again (RFC 5847)."""
        report = self.dataplane.reconcile(())
        if report.removed:
            log.info("removed %d stale forwarding entries left by an earlier process", len(report.removed))

    def _start_liveness(self, ctx: RoleContext) -> None:
        """The RFC 5847 monitor answers and sends Heartbeats whatever the roles; a peer's
        restart reaches the roles that react to one."""
        monitor = HeartbeatMonitor(ctx)
        monitor.has_sessions = self._has_sessions
        self.liveness = monitor
        self.faults = FaultDispatcher(self)  # peer restarts and path failures, as fault-policy says
        self.events.subscribe(lambda event: self._watch_registered_peer(monitor, event), {"binding-created"})
        self.events.subscribe(lambda _event: self._note_session_peers(), {"binding-created", "binding-deleted"})

    def _has_sessions(self, peer: IPv6Address) -> bool:
        """Whether `peer` has bindings with this node, in any role (RFC 5847 §3)."""
        return any(role.has_bindings_with(peer) for role in (self.lma, self.mag) if role is not None)

    def _announce_restart(self) -> None:
        """RFC 5847 §3.2: the peers of the last run's sessions hear of this restart at once."""
        if self._previous_session_peers:
            sent = self.liveness.announce_restart(sorted(self._previous_session_peers))
            log.info("restart counter %d announced to %d peer(s) of the last run's sessions", self.restart_counter,
                     sent)

    def _note_session_peers(self) -> None:
        """Record the peers with sessions, at most once a second (a burst of registrations
        makes one write)."""
        if self._session_peers_timer is None and self._timers is not None:
            self._session_peers_timer = self._timers.call_later(SESSION_PEERS_RECORD_DELAY, self._record_session_peers)

    def _record_session_peers(self) -> None:
        self._session_peers_timer = None
        peers = {peer for role in (self.lma, self.mag) if role is not None for peer in role.session_peers()}
        self._session_peers.record(peers)

    def _watch_registered_peer(self, monitor, event) -> None:
        """A registration proves a peer is there: monitor it (an LMA learns its MAGs this way)
        and learn its path state now rather than at the next Heartbeat interval. A new peer is
        asked at once by add_peer itself; a known one of unknown state by check_now."""
        if self.lma is not None:
            peer = event.data.get("proxy-coa")
        elif self.settings.mag is not None:
            peer = self.settings.mag.lma_address
        else:
            return
        if peer:
            address = peer if isinstance(peer, IPv6Address) else _peer_address(peer)
            if not monitor.add_peer(address):
                monitor.check_now(address)

    async def stop(self) -> None:
        self.ready = False
        if self._timers is not None:
            self._timers.cancel(self._session_peers_timer)
            self._record_session_peers()
        for role in self.roles.values():
            await role.stop()
        if self.liveness is not None:
            await self.liveness.stop()
        if self.data_path is not None:
            await self.data_path.stop()
        if self.faults is not None:
            self.faults.close()
        self._stop_access_links()
        if self._timers is not None:
            self._timers.close()
        if self._transport is not None:
            self._transport.close()
        self.events.close()  # the last events reach the state directory

    @property
    def transport(self):
        return self._transport

    # ----- signalling -----------------------------------------------------------------
    def send(self, message: wire.Message, dst: IPv6Address, port: int | None = None) -> bool:
        """Encode and send one message.

        Over UDP the destination port is the one the peer last sent from, else its configured
        `udp-port`, else 5436; raw IPv6 has no ports.
        """
        transport = self._transport
        src = transport.local_address
        if port is None:
            port = self._peer_ports.get(dst) or self._configured_peer_port(dst)
        kind, code = _kind_and_code(message)
        if kind in _REQUESTS:
            self._last_request[dst] = kind
        try:
            data = self.security.encode(message, src, dst)  # authenticated to a keyed peer
        except wire.WireError as e:  # a field out of range, or more than a Mobility Header holds
            self._drop_log.warning("cannot send %s to %s: %s", type(message).__name__, dst, e)
            self.stats.send_failed(kind, dst, "encode-error")
            return False
        if transport.send(data, dst, port):
            self.stats.sent(kind, dst, code)
            return True
        self.stats.send_failed(kind, dst, "socket-error")  # the transport logs why
        return False

    def _configured_peer_port(self, peer: IPv6Address) -> int:
        if self.settings.transport.type != "udp":
            return 0
        configured = self.settings.peers.get(peer)
        return configured.udp_port if configured else PMIP6_CNTL_PORT

    def _on_datagram(self, data: bytes, src: IPv6Address, src_port: int, dst: IPv6Address) -> None:
        """One datagram: from a configured peer only (RFC 5213 §4), decoded, authenticated
        when the peer is keyed (RFC 4285), and only then learned from (its UDP source port)
        and handed to the role."""
        if src not in self._authorised:
            self._refuse(_claimed_kind(data), src, "unknown-peer")  # the kind its header names, for the log
            return
        try:
            message = wire.decode(data, src, dst)
        except wire.UnknownMessageType as e:
            self._count_and_log_drop(e, data, src)
            # RFC 6275 §9.2: an unrecognised MH Type is answered by a Binding Error, status 2;
            # §9.3.3: never to a source that is not unicast, and rate limited as ICMPv6 is.
            if src.is_multicast or src.is_unspecified:
                self.stats.drops_by_reason["binding-error-not-unicast"] += 1
            elif not self._binding_errors.take(self.clock.monotonic()):
                self.stats.drops_by_reason["binding-error-rate-limited"] += 1
            else:
                self.send(wire.BindingError(status=wire.BindingErrorStatus.UNRECOGNIZED_MH_TYPE), src,
                          src_port or None)
            return
        except wire.WireError as e:
            self._count_and_log_drop(e, data, src)
            return
        kind, code = _kind_and_code(message)
        refusal = self.security.refusal(message, data, src, dst)
        if refusal is not None:
            self._refuse(kind, src, refusal)
            status = PBU_REFUSAL_STATUS.get(refusal) if isinstance(message, wire.ProxyBindingUpdate) else None
            if status is not None and self.lma is not None and self._refusal_answers.take(self.clock.monotonic()):
                self.lma.refuse(message, src, src_port, status)  # RFC 4285 §5.1.1, §6
            return
        self.stats.received(kind, src, code)
        if src_port:
            self._peer_ports[src] = src_port
        if isinstance(message, wire.Heartbeat):
            self.liveness.on_message(message, src, src_port, dst)
            return
        if isinstance(message, wire.BindingError):
            self._on_binding_error(message, src)
            return
        role = self._handlers.get(type(message))
        if role is None:
            self.stats.dropped(kind, src, "unexpected-message")
            self._drop_log.warning("dropped %s from %s: no role here handles it", type(message).__name__, src)
            return
        try:
            role.on_message(message, src, src_port, dst)
        except Exception:  # the loop must outlive any bug in one message's handling
            self.stats.dropped(kind, src, "internal-error")
            log.exception("error handling %s from %s", type(message).__name__, src)

    def _on_binding_error(self, error: wire.BindingError, src: IPv6Address) -> None:
        """A Binding Error of status 2 says the peer does not know the message type of the
        request it answers: no more Heartbeats go to it (RFC 5847 §3). Anything else is
        counted and dropped."""
        request = self._last_request.get(src) if error.status == wire.BindingErrorStatus.UNRECOGNIZED_MH_TYPE else None
        if request == "heartbeat-request":
            self.liveness.unsupported(src)
        else:
            self.stats.dropped("binding-error", src, "binding-error-unmatched")
            self._drop_log.warning("Binding Error status %d from %s answers no request of ours", error.status, src)

    def _refuse(self, kind: str | None, src: IPv6Address, reason: str) -> None:
        """A datagram refused before anything is taken from it: counted by reason (and per
        peer when `src` is a counted one), logged at most once in five seconds."""
        self.stats.refused(src, reason)
        self._refusal_log.warning("refused %s from %s: %s", kind or "a message", src, reason)

    def _count_and_log_drop(self, error: wire.WireError, data: bytes, src: IPv6Address) -> None:
        """A datagram that did not decode: counted by reason, and by the kind its MH Type
        field names (when it names one and the header is there to read)."""
        self.stats.malformed(_claimed_kind(data), src, error.reason)
        self._drop_log.warning("dropped a message from %s: %s (%s)", src, error, error.reason)

    def _name_peers(self) -> None:
        """The addresses counted as peers (nf/core/stats.py) and the only ones heard (RFC 5213
        §4): configured peers, a MAG's LMA and standby LMA, an LMA's authorised MAGs — a set
        the configuration bounds, whoever sends to us."""
        settings = self.settings
        peers = set(settings.peers)
        if settings.mag is not None:
            peers |= {a for a in (settings.mag.lma_address, settings.mag.standby_lma_address) if a is not None}
        if self.lma is not None:
            peers |= self.lma.authorized_mags
        self.stats.counted_peers = self._authorised = frozenset(peers)

    # ----- management plane -----------------------------------------------------------
    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0) -> T:
        """Run `fn(*args)` on the runtime's loop from another thread and return its result.

        NETCONF sessions and the metrics endpoint run in their own threads; every read or
        change of state goes through here so it happens between two messages, never during one.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("runtime not started")

        async def run() -> T:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"runtime did not answer within {timeout} s") from None

    def snapshot(self, request: SnapshotRequest, timeout: float = 10.0) -> Snapshot:
        """The sections `request` names, taken on the loop in one call (nf/snapshot.py): the
        one way NETCONF and the exporter read state. From the loop itself, use `take`."""
        return self.call(take, self, request, timeout=timeout)

    def alarm_inventory(self) -> list[AlarmType]:
        """The alarm types this node's roles can raise (roles change only with a restart)."""
        return inventory(self.settings.node.roles)

    def reconfigure(self, new: Settings) -> None:
        """Apply a committed configuration in phases, FRR-northbound style: validate (what
        may change at run time), prepare (every part builds its new state; any refusal aborts
        with nothing changed), apply (swap in; cannot fail)."""
        old = self.settings
        for attr, yang_name in RESTART_SECTIONS.items():
            if getattr(old, attr) != getattr(new, attr):
                raise ReconfigureError(f"{yang_name} cannot change on a running node; edit the startup "
                                       "datastore and restart it", f"/dmm-nf:dmm-nf/{yang_name}")
        try:
            steps = [role.prepare_reconfigure(new) for role in self.roles.values()]
            steps.append(self.liveness.prepare_reconfigure(new))
            steps.append(self.data_path.prepare_reconfigure(new))
        except ValueError as e:
            raise ReconfigureError(str(e)) from None
        self.settings = new
        self._role_context.settings = new
        self.security.configure(new.peers)
        history = new.event_history
        self.events.configure(history.max_entries, history.max_age, history.flush_interval)
        self.alarms.configure(new.alarm_control)
        for step in steps:
            step()
        self._name_peers()
        log.info("configuration applied")


# The kinds a Binding Error can answer (requests that expect an answer from the peer).
_REQUESTS = frozenset({"heartbeat-request", "update-notification", "bri"})
BINDING_ERRORS_PER_SECOND = 10  # RFC 6275 §9.3.3: rate limited "in the same manner as ICMPv6"
REFUSAL_ANSWERS_PER_SECOND = 10  # PBAs answering PBUs that did not authenticate (RFC 4285 §5.1.1)
SESSION_PEERS_RECORD_DELAY = 1.0  # seconds


class _TokenBucket:
    """At most `rate` a second, with bursts of as many (RFC 4443 §2.4 (f))."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = float(rate)
        self._last = None

    def take(self, now: float) -> bool:
        if self._last is not None:
            self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


# Message class -> (kind, the field holding its status or trigger); nf.core.stats.MESSAGE_KINDS
_KINDS: dict[type, tuple[str, str | None]] = {
    wire.ProxyBindingUpdate: ("pbu", None),
    wire.ProxyBindingAck: ("pba", "status"),
    wire.BindingRevocationIndication: ("bri", "trigger"),
    wire.BindingRevocationAck: ("bra", "status"),
    wire.BindingError: ("binding-error", "status"),
    wire.UpdateNotification: ("update-notification", None),
    wire.UpdateNotificationAck: ("update-notification-ack", "status"),
}


def _kind_and_code(message: wire.Message) -> tuple[str, int | None]:
    if isinstance(message, wire.Heartbeat):
        return ("heartbeat-response" if message.response else "heartbeat-request"), None
    kind, field = _KINDS[type(message)]
    return kind, getattr(message, field) if field is not None else None


# MH Type (octet 2 of the Mobility Header) -> kind, for datagrams that do not decode; Heartbeat
# and Binding Revocation are told apart by octet 7 (R flag) and octet 6 (B.R. Type).
_CLAIMED = {int(wire.MhType.BINDING_UPDATE): "pbu", int(wire.MhType.BINDING_ACK): "pba",
            int(wire.MhType.BINDING_ERROR): "binding-error",
            int(wire.MhType.UPDATE_NOTIFICATION): "update-notification",
            int(wire.MhType.UPDATE_NOTIFICATION_ACK): "update-notification-ack"}


def _claimed_kind(data: bytes) -> str | None:
    if len(data) < 3:
        return None
    mh_type = data[2]
    if mh_type == wire.MhType.HEARTBEAT:
        return None if len(data) < 8 else ("heartbeat-response" if data[7] & 0x01 else "heartbeat-request")
    if mh_type == wire.MhType.BINDING_REVOCATION:
        return None if len(data) < 7 else {1: "bri", 2: "bra"}.get(data[6])
    return _CLAIMED.get(mh_type)


# The text of a registering peer, parsed once: a node has a bounded set of peers and each of
# them registers again and again.
_peer_address = functools.lru_cache(maxsize=1024)(IPv6Address)


def _open_history(settings: Settings, state_dir: Path):
    """The durable event history in the state directory; raises HistoryFileError when the
    file cannot be used (a damaged one is set aside, see nf/history/sqlite.py)."""
    from nf.history import DurableHistory
    from nf.history.sqlite import FILE_NAME

    config = settings.event_history
    return DurableHistory(state_dir / FILE_NAME, config.max_entries, config.max_age, config.flush_interval)


def _make_dataplane(settings: Settings):
    if settings.dataplane.backend == "linux":
        from nf.dataplane.linux import LinuxDataPlane

        return LinuxDataPlane.from_settings(settings)
    from nf.dataplane.memory import MemoryDataPlane

    return MemoryDataPlane()
