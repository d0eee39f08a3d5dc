"""One typed snapshot of the runtime's state per read, for NETCONF and the exporter alike.

A reader names the sections it needs in a `SnapshotRequest` — with, for a keyed list, the
keys its entries must have — and `Runtime.snapshot(request)` takes exactly those on the
runtime's loop in one call: every section is of the same instant, and nothing the reader
did not ask for is copied. The values are frozen (or detached copies), so the reader maps
them in its own thread: NETCONF to the YANG tree (mgmt/operational.py), the exporter to
metric families (exporters/collector.py). Nothing here knows YANG or Prometheus.

Sizes: the binding cache section copies one tuple per binding it selects (a key goes
straight to the cache's indexes); every other section is bounded by configuration (pools,
peers, tunnels), and `bindings` holds counts the cache and the binding update list keep as
entries change, so a scrape does not grow with the bindings. The event history, up to a
million events kept on disk, is not copied: its section holds the history's counters and
the newest sequence number of that instant, and the reader takes the events from the store
in its own thread, up to that number.

Adding a section is one edit here: a frozen dataclass for its values, a `_take_…(runtime,
keys)` function, and a field of `Snapshot` declared as `section(_take_…)`.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from ipaddress import IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Any, NamedTuple

from nf import VERSION
from nf.core.binding_cache import BindingState
from nf.core.stats import MessageCounters

_UNUSED = MessageCounters()

if TYPE_CHECKING:
    from nf.alarms.alarm_list import Alarm
    from nf.alarms.inventory import AlarmType
    from nf.core.events import EventBus
    from nf.history import HistoryStatus
    from nf.core.stats import Statistics
    from nf.liveness.bfd import BfdCounters, BfdSessionState
    from nf.liveness.forwarding import AuditState
    from nf.liveness.heartbeat import HeartbeatTotals
    from nf.roles.lma import LmaCounters
    from nf.roles.mag import MagCounters
    from nf.runtime import Runtime
    from nf.transport.base import TransportCounters


# ----- keys -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EntryKey:
    """Selects a mobile node's entries in the binding cache or the binding update list:
    every interface of the node, or (`any_interface` false) the one whose link-layer
    identifier is `link_layer_id` (None: the entry without one)."""

    mn_identifier: str
    link_layer_id: bytes | None = None
    any_interface: bool = True

    @classmethod
    def interface(cls, mn_identifier: str, link_layer_id: bytes | None) -> EntryKey:
        return cls(mn_identifier, link_layer_id, any_interface=False)


# ----- sections -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NodeState:
    name: str
    address: IPv6Address
    roles: tuple[str, ...]  # configured roles running here, sorted (nf.roles.registry names)
    software_version: str
    restart_counter: int
    start_wall: float
    now_wall: float  # when the snapshot was taken

    @property
    def uptime(self) -> float:
        return self.now_wall - self.start_wall


@dataclass(frozen=True, slots=True)
class MagState:
    """The access gateway's own state."""

    active_lma_address: IPv6Address  # where new sessions register (the standby after a failover)


@dataclass(frozen=True, slots=True)
class BindingCounts:
    """Entries per state (state names as in YANG) of the binding cache (LMA) and of the
    binding update list (MAG); None where the node has not that role."""

    cache: Mapping[str, int] | None = None
    cache_peak: int | None = None
    cache_max: int | None = None  # the capacity ceiling, lma/max-bindings
    update_list: Mapping[str, int] | None = None

    @property
    def cache_utilization(self) -> float | None:
        """Bindings held as a share of the ceiling (1.0: full)."""
        if self.cache is None or not self.cache_max:
            return None
        return sum(self.cache.values()) / self.cache_max


class BindingRow(NamedTuple):
    """One binding cache entry's fields at the snapshot's instant (a tuple: a million of
    them are copied in about a second on the loop, far faster than dataclasses)."""

    mn_identifier: str
    link_layer_id: bytes | None
    home_network_prefixes: tuple
    proxy_coa: Any
    access_technology_type: int
    handoff_indicator: int
    sequence: int
    lifetime: int
    expires_at: float  # monotonic
    state: str
    created_wall: float
    last_refresh_wall: float
    tunnel_id: str | None


@dataclass(frozen=True, slots=True)
class BindingCacheState:
    lma_address: IPv6Address
    now_monotonic: float  # the clock `BindingRow.expires_at` is on, read with the rows
    refresh_advance: float  # timers/refresh-advance, for each row's expected refresh
    rows: Sequence[BindingRow]


@dataclass(frozen=True, slots=True)
class BulEntryState:
    """One binding update list entry (the YANG `binding-update-list/entry` leaves)."""

    mn_identifier: str
    link_layer_id: bytes | None
    interface: str
    lma_address: IPv6Address
    proxy_coa: IPv6Address
    home_network_prefixes: tuple[IPv6Network, ...]
    mag_link_local_address: IPv6Address | None
    access_technology_type: int
    handoff_indicator: int
    sequence_number: int
    lifetime_requested: int
    lifetime_granted: int
    remaining_lifetime: int  # seconds
    time_to_refresh: int | None  # seconds until the refresh is sent; None while none is scheduled
    time_sent: float | None  # wall clock
    accepted: bool
    accepted_time: float | None
    last_status: int | None
    retransmissions: int
    state: str
    tunnel: str | None


@dataclass(frozen=True, slots=True)
class PoolState:
    name: str
    prefix: IPv6Network
    assign_length: int
    size: int
    used: int
    free: int
    high_water: int


@dataclass(frozen=True, slots=True)
class TunnelState:
    name: str
    local: IPv6Address | None
    remote: IPv6Address | None
    packets_in: int | None = None  # None: the backend keeps no counters for this tunnel
    bytes_in: int | None = None
    packets_out: int | None = None
    bytes_out: int | None = None


@dataclass(frozen=True, slots=True)
class PeerState:
    """One peer: its liveness (RFC 5847) when the heartbeat monitor watches it, and its
    message counters (`nf.core.stats`, copies; kinds not exchanged yet are absent). Times
    are wall clock."""

    address: IPv6Address
    name: str | None = None
    liveness: str | None = None  # "unknown" | "up" | "down"; None: not monitored
    last_heartbeat_sent: float | None = None
    last_heartbeat_received: float | None = None
    rtt_us: int | None = None
    missed_heartbeats: int = 0
    heartbeat_timeouts: int = 0
    restart_counter: int | None = None
    restart_count: int = 0
    last_restart: float | None = None
    last_up: float | None = None
    last_down: float | None = None
    down_count: int = 0
    heartbeat_supported: bool = True  # RFC 5847 §3: False after a Binding Error, status 2
    messages: Mapping[str, MessageCounters] = field(default_factory=dict)
    refusals: Mapping[str, int] = field(default_factory=dict)  # by reason (nf/core/peer_security.py)

    @property
    def last_change(self) -> float:
        """When the path last went up or down (0 if never)."""
        return max(self.last_up or 0.0, self.last_down or 0.0)

    def count(self, kind: str, what: str) -> int:
        """`what` ("received", "sent", "dropped", "send_failures") of messages of `kind`."""
        counters = self.messages.get(kind)
        return getattr(counters, what) if counters is not None else 0

    @property
    def heartbeats_sent(self) -> int:
        """Heartbeat messages sent to the peer: requests and responses (the YANG leaf)."""
        return self.count("heartbeat-request", "sent") + self.count("heartbeat-response", "sent")

    @property
    def heartbeats_received(self) -> int:
        return self.count("heartbeat-request", "received") + self.count("heartbeat-response", "received")


@dataclass(frozen=True, slots=True)
class AlarmsState:
    """The RFC 8632 alarm list (detached copies of its alarms) and the alarm types the
    node's roles can raise (the inventory)."""

    alarms: tuple[Alarm, ...]
    last_changed: int  # milliseconds, wall clock
    inventory: tuple[AlarmType, ...]


@dataclass(frozen=True, slots=True)
class Counters:
    """Every counter of the node, as detached copies: the shared `Statistics`, the RFC 5847
    totals, the transport's, and the counters only the LMA or the MAG role keeps."""

    statistics: Statistics
    heartbeat: HeartbeatTotals | None
    transport: TransportCounters | None
    lma: LmaCounters | None
    mag: MagCounters | None


@dataclass(frozen=True, slots=True)
class DataPathState:
    """The forwarding path's liveness (nf/liveness/data_path.py): BFD sessions by peer, the
    engine's counters, the forwarding audit's state, the path probes' counters."""

    bfd_sessions: Mapping[IPv6Address, BfdSessionState]
    bfd_modes: Mapping[IPv6Address, str]  # "tunnel" | "direct", by peer
    bfd_counters: BfdCounters
    audit: AuditState
    probe_counters: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class EventHistoryState:
    """The event history at the snapshot's instant. `status` has its counters and its last
    sequence number; the events stay in `events`, whose `query` a reader calls in its own
    thread with `before_sequence` above that number. `sequences` are the entries a filter
    named (None: every one, (): none)."""

    status: HistoryStatus
    sequences: tuple[int, ...] | None
    events: EventBus


# ----- taking each section (on the runtime's loop) -------------------------------------------
Keys = tuple | None  # a section's keys from the request; None: every entry


def _take_node(runtime: Runtime, keys: Keys) -> NodeState:
    settings = runtime.settings
    return NodeState(name=settings.node.name, address=settings.node.address, roles=tuple(sorted(runtime.roles)),
                     software_version=VERSION, restart_counter=runtime.restart_counter,
                     start_wall=runtime.start_wall, now_wall=time.time())


def _take_mag(runtime: Runtime, keys: Keys) -> MagState | None:
    mag = runtime.mag
    return MagState(mag.active_lma_address) if mag is not None else None


def _take_bindings(runtime: Runtime, keys: Keys) -> BindingCounts | None:
    lma, mag = runtime.lma, runtime.mag
    if lma is None and mag is None:
        return None
    cache = update_list = peak = ceiling = None
    if lma is not None:
        counted = lma.cache.count_by_state()
        cache = {state.value: counted.get(state, 0) for state in BindingState}
        peak, ceiling = lma.cache.peak, lma.max_bindings
    if mag is not None:
        update_list = {state.value: n for state, n in mag.bul.count_by_state().items()}
    return BindingCounts(cache=cache, cache_peak=peak, cache_max=ceiling, update_list=update_list)


def _take_binding_cache(runtime: Runtime, keys: Keys) -> BindingCacheState | None:
    lma = runtime.lma
    if lma is None:
        return None
    settings = runtime.settings
    return BindingCacheState(lma_address=settings.node.address, now_monotonic=runtime.clock.monotonic(),
                             refresh_advance=settings.timers.refresh_advance,
                             rows=binding_rows(_select(lma.cache, keys)))


def _take_binding_update_list(runtime: Runtime, keys: Keys) -> tuple[BulEntryState, ...] | None:
    mag = runtime.mag
    if mag is None:
        return None
    return tuple(mag.entry_state(e) for e in _select(mag.bul, keys))


def _take_pools(runtime: Runtime, keys: Keys) -> tuple[PoolState, ...] | None:
    lma = runtime.lma
    if lma is None:
        return None
    return tuple(PoolState(p.name, p.prefix, p.assign_length, p.size, p.used, p.free, p.high_water)
                 for p in lma.pools)


def _take_tunnels(runtime: Runtime, keys: Keys) -> tuple[TunnelState, ...]:
    dataplane = runtime.dataplane
    counters = dataplane.counters()
    rows = []
    for name, tunnel in dataplane.tunnels.items():
        c = counters.get(name)
        rows.append(TunnelState(name, getattr(tunnel, "local", None), getattr(tunnel, "remote", None),
                                *((c.packets_in, c.bytes_in, c.packets_out, c.bytes_out) if c else ())))
    return tuple(rows)


def _take_peers(runtime: Runtime, keys: Keys) -> tuple[PeerState, ...]:
    """The monitored peers, and the counted ones that exchanged messages but are not monitored
    (an authorised MAG whose registrations were all refused), by address."""
    monitor, stats = runtime.liveness, runtime.stats
    monitored = monitor.peers() if monitor is not None else ()
    addresses = sorted(set(monitored) | set(stats.peer_messages) | set(stats.peer_refusals)) if keys is None \
        else dict.fromkeys(keys)
    states = []
    for address in addresses:
        state = monitor.peer_state(address) if monitor is not None else None
        counters = stats.peer_messages.get(address)
        refusals = dict(stats.peer_refusals.get(address, {}))
        if state is None and counters is None and not refusals:
            continue
        messages = {kind: c.copy() for kind, c in (counters or {}).items() if c != _UNUSED}
        states.append(replace(state, messages=messages, refusals=refusals) if state is not None
                      else PeerState(address, messages=messages, refusals=refusals))
    return tuple(states)


def _take_counters(runtime: Runtime, keys: Keys) -> Counters:
    lma, mag, monitor, transport = runtime.lma, runtime.mag, runtime.liveness, runtime.transport
    return Counters(
        statistics=runtime.stats.copy(),
        heartbeat=replace(monitor.totals) if monitor is not None else None,
        transport=replace(transport.counters) if transport is not None else None,
        lma=replace(lma.counters) if lma is not None else None,
        mag=mag.counters.copy() if mag is not None else None,
    )


def _take_data_path(runtime: Runtime, keys: Keys) -> DataPathState | None:
    data_path = runtime.data_path
    if data_path is None:
        return None
    bfd = data_path.bfd
    sessions = {peer.peer: state for peer in bfd.peers() if (state := bfd.session(peer.peer)) is not None}
    prober = data_path.prober
    return DataPathState(bfd_sessions=sessions, bfd_modes={p.peer: p.mode for p in bfd.peers()},
                         bfd_counters=bfd.engine.counters(), audit=data_path.auditor.state.copy(),
                         probe_counters=dict(prober.counters) if prober is not None else {})


def _take_alarms(runtime: Runtime, keys: Keys) -> AlarmsState:
    alarms = runtime.alarms
    return AlarmsState(tuple(alarm.detached() for alarm in alarms.alarms()), alarms.last_changed,
                       tuple(runtime.alarm_inventory()))


def _take_events(runtime: Runtime, keys: Keys) -> EventHistoryState:
    return EventHistoryState(runtime.events.store.status(), keys, runtime.events)


Taker = Callable[["Runtime", Keys], Any]


def section(take: Taker) -> Any:
    """A `Snapshot` field: None unless requested; `take` fills it on the runtime's loop."""
    return field(default=None, metadata={"take": take})


# ----- the snapshot ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Snapshot:
    """The sections a `SnapshotRequest` named, all of one instant. A section is None when it
    was not requested or the node has no such state (no binding cache without the LMA role)."""

    node: NodeState | None = section(_take_node)
    mag: MagState | None = section(_take_mag)
    bindings: BindingCounts | None = section(_take_bindings)
    binding_cache: BindingCacheState | None = section(_take_binding_cache)  # keys: EntryKey
    binding_update_list: tuple[BulEntryState, ...] | None = section(_take_binding_update_list)  # keys: EntryKey
    pools: tuple[PoolState, ...] | None = section(_take_pools)
    tunnels: tuple[TunnelState, ...] | None = section(_take_tunnels)
    peers: tuple[PeerState, ...] | None = section(_take_peers)  # keys: IPv6Address
    counters: Counters | None = section(_take_counters)
    data_path: DataPathState | None = section(_take_data_path)
    alarms: AlarmsState | None = section(_take_alarms)
    events: EventHistoryState | None = section(_take_events)  # keys: sequence numbers


SECTIONS: frozenset[str] = frozenset(f.name for f in fields(Snapshot))


@dataclass(frozen=True)
class SnapshotRequest:
    """Which sections to take, and for keyed sections the keys their entries must have
    (a section absent from `keys` is taken whole; an empty tuple selects no entry)."""

    sections: frozenset[str]
    keys: Mapping[str, tuple] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = (set(self.sections) | set(self.keys)) - SECTIONS
        if unknown:
            raise ValueError(f"no snapshot section {sorted(unknown)[0]!r}; sections are {sorted(SECTIONS)}")

    @classmethod
    def of(cls, *sections: str, **keys: tuple) -> SnapshotRequest:
        return cls(frozenset(sections) | frozenset(keys), keys)


def take(runtime: Runtime, request: SnapshotRequest) -> Snapshot:
    """The requested sections of `runtime`; call on its loop (`Runtime.snapshot` does)."""
    return Snapshot(**{f.name: f.metadata["take"](runtime, request.keys.get(f.name))
                       for f in fields(Snapshot) if f.name in request.sections})


# ----- helpers --------------------------------------------------------------------------------
def binding_rows(entries: Iterable) -> list[BindingRow]:
    """Copy binding cache entries' fields (runtime loop)."""
    return [BindingRow(e.mn_identifier, e.link_layer_id, e.home_network_prefixes, e.proxy_coa,
                       e.access_technology_type, e.handoff_indicator, e.sequence, e.lifetime, e.expires_at,
                       e.state.value, e.created_wall, e.last_refresh_wall, e.tunnel_id)
            for e in entries]


def _select(index, keys: Keys) -> Iterable:
    """The entries of a binding cache or binding update list that `keys` (EntryKeys) select,
    through the index's lookups; the index itself (every entry) when keys is None."""
    if keys is None:
        return index
    found: dict[int, Any] = {}
    for key in keys:
        if key.any_interface:
            candidates = index.by_mn(key.mn_identifier)
        else:
            entry = index.get(key.mn_identifier, key.link_layer_id)
            candidates = [entry] if entry is not None else []
        for entry in candidates:
            found.setdefault(id(entry), entry)
    return list(found.values())
