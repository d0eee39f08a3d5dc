"""The local mobility anchor (RFC 5213 section 5) with binding revocation (RFC 5846).

A Proxy Binding Update is checked in the order of RFC 5213 section 5.3.1, each failure
answered with its own status (section 8.9):

1. P flag clear: a plain Mobile IPv6 Binding Update. This node is no home agent, so it
   answers 131 (home registration not supported, RFC 6275 section 6.1.8).
2. Sender not a configured MAG (peer, lma/allowed-mag or a policy's allowed-mag): 154.
3. No Mobile Node Identifier option (NAI subtype): 160.
4. No policy profile, unless accept-unknown-mobile-nodes with a default pool: 153; a
   profile that does not list this MAG: 154; an access technology it does not allow: 129.
5. Missing Home Network Prefix: 158; Handoff Indicator: 161 (a value outside RFC 5213's
   1..5: 128); Access Technology Type: 162.
6. Timestamp-based approach (section 5.5): no Timestamp option, or one outside
   TimestampValidityWindow of our clock: 156 with our time in the PBA; not above the
   last accepted one: 157. Sequence-number approach: RFC 6275 window, 135.
7. Prefixes: a named prefix the mobile node may not use: 155; a binding whose prefix
   set differs from the named one: 159; no prefix left to assign: 130.

The binding cache holds one mobility session per (MN-Identifier, link-layer identifier),
so a Proxy Binding Update for an interface already bound updates that session whatever
its Handoff Indicator says (a MAG that lost its state re-attaches the same session).
"""
from __future__ import annotations

import logging
from socket import AF_INET6, inet_ntop
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Callable

from nf.core.binding_cache import BindingCache, BindingCacheEntry, BindingState
from nf.core.policy import MobileNodePolicy, PolicyStore
from nf.core.prefix_pool import PoolExhausted, PrefixPool, PrefixPoolError, PrefixPools
from nf.dataplane.base import BindingSpec, DataPlaneError, Route, RouteKind
from nf.roles.base import BindingForwarding, RoleContext
from nf.roles.lma_pbu import PbuRequest, build_pba, timestamp_value
from nf.roles.lma_revocation import Revocation, RevocationTracker
from nf.settings import Settings
from nf.wire import (
    LIFETIME_UNIT_SECONDS,
    BindingAckStatus,
    BindingRevocationAck,
    HandoffIndicator,
    HomeNetworkPrefixOption,
    Message,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    Option,
    ProxyBindingUpdate,
    RevocationTrigger,
    TimestampOption,
)

log = logging.getLogger(__name__)

Status = BindingAckStatus
_RFC5213_HANDOFF_INDICATORS = frozenset(range(1, 6))  # section 8.4


class UnknownMobileNode(LookupError):
    """No binding matches the mobile node (and link-layer identifier) given."""


class _Rejected(Exception):
    """Ends the processing of one PBU with a rejecting PBA."""

    def __init__(self, status: int, *, timestamp: TimestampOption | None = None, sequence: int | None = None):
        super().__init__(status)
        self.status = status
        self.timestamp = timestamp
        self.sequence = sequence


@dataclass(slots=True)
class _ParkedUpdate:
    """A PBU with HI=4 from a new MAG, held for MaxDelayBeforeNewBCEAssign (RFC 5213 §5.4.1.2)."""

    pbu: ProxyBindingUpdate
    request: PbuRequest
    mag: IPv6Address
    port: int
    policy: MobileNodePolicy
    timer: object = None


@dataclass(slots=True)
class LmaSession:
    """The LMA's own state of one binding, kept in `BindingCacheEntry.role_data`."""

    key: str  # data-plane spec key, fixed for the life of the session
    dynamic_prefixes: tuple[IPv6Network, ...] = ()  # taken from a pool, released on delete
    link_local_address: IPv6Address | None = None
    handoff_count: int = 0
    updates_accepted: int = 0
    updates_rejected: int = 0
    last_rejection_wall: float | None = None
    last_rejection_status: int | None = None
    timer: object = None  # lifetime expiry, or the MinDelayBeforeBCEDelete delete
    parked: _ParkedUpdate | None = None


@dataclass(slots=True)
class LmaCounters:
    """Counters of the YANG `statistics` container that `Statistics` does not hold."""

    pbu_accepted: int = 0
    pbu_rejected: int = 0
    initial_registrations: int = 0
    lifetime_extensions_no_handoff: int = 0
    lifetime_extensions_after_handoff: int = 0
    deregistrations: int = 0
    bindings_expired: int = 0
    bri_retransmissions: int = 0
    bri_timeouts: int = 0


class LmaRole:
    name = "lma"
    handles = frozenset({ProxyBindingUpdate, BindingRevocationAck})

    def __init__(self, ctx: RoleContext) -> None:
        self.ctx = ctx
        self.cache = BindingCache()
        self.counters = LmaCounters()
        self.pools = PrefixPools()
        self.policies = PolicyStore()
        self._authorized_mags: set[IPv6Address] = set()
        self._mag_texts: dict[IPv6Address, str] = {}  # the text events carry, by MAG; bounded likewise
        self._delete_binding = self._delete  # one bound method for every lifetime timer, not one each
        self.prepare_reconfigure(ctx.settings)()
        self.revocations = RevocationTracker(ctx, self._on_revocation_done)

    def prepare_reconfigure(self, settings: Settings) -> Callable[[], None]:
        """The prepare phase of a commit: build the pools, policy store and authorised MAGs
        of `settings` beside the running ones and return the step that swaps them in.

        Raises ValueError, changing nothing, when the change would strand bindings: a pool
        that has prefixes assigned can be neither removed nor reshaped.
        """
        pools = PrefixPools()
        wanted = {p.name: p for p in settings.pools}
        for current in self.pools:
            if current.used and (current.name not in wanted or
                                 (wanted[current.name].prefix, wanted[current.name].assign_length)
                                 != (current.prefix, current.assign_length)):
                raise ValueError(f"prefix pool {current.name} has {current.used} prefixes assigned "
                                 "and cannot be removed or changed while they are in use")
        for p in settings.pools:
            current = self.pools.get(p.name) if p.name in self.pools else None
            same = current is not None and (current.prefix, current.assign_length) == (p.prefix, p.assign_length)
            try:
                pools.add(current if same else PrefixPool(p.name, p.prefix, p.assign_length))
            except PrefixPoolError as e:  # overlapping pools: refuse the commit, change nothing
                raise ValueError(str(e)) from None
        policies = PolicyStore.of(_core_policy(p) for p in settings.policies.values())
        static = [(prefix, pools.pool_of(prefix)) for policy in policies for prefix in policy.static_prefixes]
        for prefix, pool in static:
            owner = self.cache.by_prefix(prefix)
            if owner is not None and policies.owner_of_static_prefix(prefix) != owner.mn_identifier:
                raise ValueError(f"static prefix {prefix} is bound to {owner.mn_identifier}")
        lma = settings.lma
        authorized = set(settings.peers) | set(lma.allowed_mags if lma else ())
        for policy in policies:
            authorized |= policy.allowed_mags or set()

        def apply() -> None:
            self.pools, self.policies, self._authorized_mags = pools, policies, authorized
            self._mag_texts = {mag: t for mag, t in self._mag_texts.items() if mag in authorized}
            self._anchor_text = address_text(settings.node.address)
            for prefix, pool in static:  # a pool never hands out a static prefix
                if pool is not None and not pool.is_allocated(prefix):
                    pool.reserve(prefix)
        return apply

    # ----- Role -----------------------------------------------------------------------
    async def start(self) -> None:
        """Nothing to start: bindings are created by the first PBU."""

    async def stop(self) -> None:
        """Drop pending timers; bindings and forwarding stay (a restart reconciles them)."""
        self.revocations.close()
        for entry in self.cache:
            session = self._session(entry)
            self.ctx.timers.cancel(session.timer)
            if session.parked is not None:
                self.ctx.timers.cancel(session.parked.timer)

    def on_message(self, message: Message, src: IPv6Address, src_port: int, dst: IPv6Address) -> None:
        if isinstance(message, ProxyBindingUpdate):
            self._on_pbu(message, src, src_port)
        elif isinstance(message, BindingRevocationAck):
            self._on_bra(message, src)

    # ----- look-ups (RPCs; the snapshot reads the cache itself, nf/snapshot.py) -------------
    def bindings(self) -> list[BindingCacheEntry]:
        return list(self.cache)

    def binding(self, mn_identifier: str, link_layer_id: bytes | None = None) -> BindingCacheEntry | None:
        return self.cache.get(mn_identifier, link_layer_id)

    def bindings_of(self, mn_identifier: str) -> list[BindingCacheEntry]:
        return self.cache.by_mn(mn_identifier)

    def binding_for_prefix(self, prefix: IPv6Network) -> BindingCacheEntry | None:
        return self.cache.by_prefix(IPv6Network(prefix))

    def session(self, entry: BindingCacheEntry) -> LmaSession:
        return self._session(entry)

    def forwarding(self, mn_identifier: str | None = None) -> list[BindingForwarding]:
        """What each binding (of one mobile node, or all) has in the data plane: its downlink
        routes into the tunnel to its MAG."""
        entries = self.cache.by_mn(mn_identifier) if mn_identifier is not None else self.cache
        tunnels = self.ctx.tunnels
        return [BindingForwarding(self._session(e).key, e.mn_identifier, e.link_layer_id, e.home_network_prefixes,
                                  e.proxy_coa, tunnels.to(e.proxy_coa)) for e in entries]

    def forwarding_for_prefix(self, prefix: IPv6Network) -> BindingForwarding | None:
        entry = self.cache.by_prefix(prefix)
        if entry is None:
            return None
        return BindingForwarding(self._session(entry).key, entry.mn_identifier, entry.link_layer_id,
                                 entry.home_network_prefixes, entry.proxy_coa, self.ctx.tunnels.to(entry.proxy_coa))

    # ----- Proxy Binding Update ---------------------------------------------------------
    def _on_pbu(self, pbu: ProxyBindingUpdate, src: IPv6Address, port: int) -> None:
        self.ctx.stats.pbu_received += 1
        request = PbuRequest.of(pbu)
        entry: BindingCacheEntry | None = None
        try:
            policy = self._admit(pbu, request, src)
            entry = self._find_binding(request, src)
            self._check_freshness(pbu, request, entry, src)
            if pbu.lifetime == 0:
                self._deregister(pbu, request, entry, policy, src, port)
            else:
                self._register(pbu, request, entry, policy, src, port)
        except _Rejected as rejection:
            self.counters.pbu_rejected += 1
            if entry is not None and entry in self.cache:
                session = self._session(entry)
                session.updates_rejected += 1
                session.last_rejection_wall = self.ctx.clock.wall()
                session.last_rejection_status = rejection.status
            pba = build_pba(pbu, request, rejection.status, sequence=rejection.sequence,
                            timestamp=rejection.timestamp)
            self._send_pba(pba, src, port)

    def _admit(self, pbu: ProxyBindingUpdate, request: PbuRequest, src: IPv6Address) -> MobileNodePolicy:
        """Steps 1 to 5 of the module docstring; returns the mobile node's policy."""
        if not pbu.proxy:
            raise _Rejected(Status.HOME_REGISTRATION_NOT_SUPPORTED)
        if src not in self._authorized_mags:
            raise _Rejected(Status.MAG_NOT_AUTHORIZED_FOR_PROXY_REG)
        if request.mn_identifier is None:
            raise _Rejected(Status.MISSING_MN_IDENTIFIER_OPTION)
        policy = self._policy_for(request.mn_identifier)
        if policy is None:
            raise _Rejected(Status.NOT_LMA_FOR_THIS_MOBILE_NODE)
        if not policy.allows_mag(src):
            raise _Rejected(Status.MAG_NOT_AUTHORIZED_FOR_PROXY_REG)
        if not request.prefixes:
            raise _Rejected(Status.MISSING_HOME_NETWORK_PREFIX_OPTION)
        if request.handoff_indicator is None:
            raise _Rejected(Status.MISSING_HANDOFF_INDICATOR_OPTION)
        if request.handoff_indicator not in _RFC5213_HANDOFF_INDICATORS:  # 0 reserved; 6 is RFC 7864's
            raise _Rejected(Status.REASON_UNSPECIFIED)
        if request.access_technology_type is None:
            raise _Rejected(Status.MISSING_ACCESS_TECH_TYPE_OPTION)
        if not policy.allows_access_technology(request.access_technology_type):
            raise _Rejected(Status.ADMINISTRATIVELY_PROHIBITED)
        return policy

    def _policy_for(self, mn_identifier: str) -> MobileNodePolicy | None:
        policy = self.policies.lookup(mn_identifier)
        lma = self.ctx.settings.lma
        if policy is None and lma is not None and lma.accept_unknown_mobile_nodes and lma.default_pool:
            policy = MobileNodePolicy(mn_identifier, pool=lma.default_pool)
        return policy

    def _find_binding(self, request: PbuRequest, src: IPv6Address) -> BindingCacheEntry | None:
        """The session this PBU is about (RFC 5213 section 5.4.1), or None for a new one."""
        for prefix in request.explicit_prefixes:
            holder = self.cache.by_prefix(prefix)
            if holder is not None and holder.mn_identifier == request.mn_identifier:
                return holder
        entry = self.cache.get(request.mn_identifier, request.link_layer_id)
        if entry is not None:
            return entry
        if request.handoff_indicator == HandoffIndicator.HANDOFF_BETWEEN_INTERFACES:
            others = self.cache.by_mn(request.mn_identifier)
            return others[0] if others else None
        if request.handoff_indicator == HandoffIndicator.HANDOFF_STATE_UNKNOWN:
            # Perhaps the session of another MAG moving here: _register waits to find out.
            others = self.cache.by_mn(request.mn_identifier)
            return next((e for e in others if e.proxy_coa != src and e.state is BindingState.ACTIVE), None)
        return None

    def _check_freshness(self, pbu: ProxyBindingUpdate, request: PbuRequest,
                         entry: BindingCacheEntry | None, src: IPv6Address) -> None:
        """Step 6: RFC 5213 section 5.5 timestamps, or the RFC 6275 sequence window.

        A previous MAG's de-registration is not ordered against the new MAG's registration
        (the two MAGs number independently): it is accepted without changing anything."""
        timers = self.ctx.settings.timers
        if entry is not None and pbu.lifetime == 0 and entry.proxy_coa != src:
            entry = None
        if not timers.timestamp_based_approach_in_use:
            if entry is not None and not _sequence_newer(pbu.sequence, entry.sequence):
                raise _Rejected(Status.SEQUENCE_NUMBER_OUT_OF_WINDOW, sequence=entry.sequence)
            return
        now = self.ctx.clock.wall()
        stamp = request.timestamp
        if stamp is None or (not timers.mobile_node_generated_timestamp_in_use
                             and abs(stamp.to_time() - now) > timers.timestamp_validity_window):
            raise _Rejected(Status.TIMESTAMP_MISMATCH, timestamp=TimestampOption.from_time(now))
        if entry is not None and entry.timestamp is not None and timestamp_value(stamp) <= entry.timestamp:
            raise _Rejected(Status.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED)

    def _check_prefixes(self, request: PbuRequest, entry: BindingCacheEntry | None,
                        policy: MobileNodePolicy) -> None:
        """Step 7 for prefixes the MAG names."""
        named = request.explicit_prefixes
        for prefix in named:
            holder = self.cache.by_prefix(prefix)
            if holder is not None and holder.mn_identifier != request.mn_identifier:
                raise _Rejected(Status.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX)
        if entry is not None:
            if named and named != frozenset(entry.home_network_prefixes):
                raise _Rejected(Status.BCE_PBU_PREFIX_SET_DO_NOT_MATCH)
            return
        for prefix in named:
            if prefix not in policy.static_prefixes and not self._pool_prefix_free(prefix, policy):
                raise _Rejected(Status.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX)

    def _pool_prefix_free(self, prefix: IPv6Network, policy: MobileNodePolicy) -> bool:
        pool = self._pool_of_policy(policy)
        return pool is not None and pool.contains(prefix) and not pool.is_allocated(prefix)

    # ----- registration -----------------------------------------------------------------
    def _register(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry | None,
                  policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        self._check_prefixes(request, entry, policy)
        if entry is None:
            self._create(pbu, request, policy, src, port)
            return
        session = self._session(entry)
        if session.parked is not None and session.parked.mag == src:
            session.parked.pbu, session.parked.request = pbu, request  # a retransmission while we wait
            return
        if entry.proxy_coa == src:
            self._refresh(pbu, request, entry, policy, src, port)
        elif self._must_wait_for_deregistration(request, entry):
            self._park(pbu, request, entry, policy, src, port)
        else:
            self._hand_over(pbu, request, entry, policy, src, port)

    def _must_wait_for_deregistration(self, request: PbuRequest, entry: BindingCacheEntry) -> bool:
        """RFC 5213 sections 5.4.1.2/5.4.1.3: HI=4, no prefix named, the session active at
        another MAG: wait for that MAG's de-registration before deciding."""
        return (request.handoff_indicator == HandoffIndicator.HANDOFF_STATE_UNKNOWN
                and request.requests_new_prefix and entry.state is BindingState.ACTIVE
                and self.ctx.settings.timers.max_delay_before_new_bce_assign > 0)

    def _create(self, pbu: ProxyBindingUpdate, request: PbuRequest, policy: MobileNodePolicy,
                src: IPv6Address, port: int) -> None:
        prefixes, dynamic = self._assign_prefixes(request, policy)
        key = _spec_key(request.mn_identifier, request.link_layer_id)
        tunnel = self._install(key, prefixes, src, request.mn_identifier, release=dynamic)
        lifetime = self._grant(pbu.lifetime, policy)
        clock = self.ctx.clock
        entry = BindingCacheEntry(
            mn_identifier=request.mn_identifier, link_layer_id=request.link_layer_id,
            home_network_prefixes=prefixes, proxy_coa=src,
            access_technology_type=request.access_technology_type,
            handoff_indicator=request.handoff_indicator, sequence=pbu.sequence, lifetime=lifetime,
            created_monotonic=clock.monotonic(), created_wall=clock.wall(),
            timestamp=_stamp(request), tunnel_id=tunnel,
            role_data=LmaSession(key, dynamic, request.link_local_address, updates_accepted=1))
        self.cache.add(entry)
        self._arm_expiry(entry)
        self.counters.initial_registrations += 1
        self.ctx.stats.bindings_created += 1
        self.ctx.events.publish("binding-created", **{
            "mn-identifier": entry.mn_identifier, "link-layer-id": _ll_text(entry.link_layer_id),
            "home-network-prefix": _prefixes_text(prefixes), "proxy-coa": self._mag_text(src),
            "lma-address": self._anchor_text, "access-technology-type": entry.access_technology_type,
            "handoff-indicator": entry.handoff_indicator, "lifetime": lifetime, "tunnel": tunnel})
        self._accept(pbu, request, entry, src, port)

    def _refresh(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry,
                 policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        """A re-registration from the serving MAG; it also cancels a pending de-registration."""
        lifetime = self._grant(pbu.lifetime, policy)
        self._record_update(pbu, request, entry, lifetime)
        self.counters.lifetime_extensions_no_handoff += 1
        self.ctx.stats.bindings_refreshed += 1
        self._publish_updated(entry, None)
        self._accept(pbu, request, entry, src, port)

    def _hand_over(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry,
                   policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        """The session moves to the MAG `src`: data plane first, then the cache."""
        session = self._session(entry)
        previous = entry.proxy_coa
        tunnel = self._install(session.key, entry.home_network_prefixes, src, entry.mn_identifier)
        lifetime = self._grant(pbu.lifetime, policy)
        changes = {"proxy_coa": src, "tunnel_id": tunnel}
        if request.link_layer_id != entry.link_layer_id:  # HI=2: the session moved to another interface
            changes["link_layer_id"] = request.link_layer_id
        self.cache.update(entry, **changes)
        if request.link_local_address is not None:
            session.link_local_address = request.link_local_address
        self._record_update(pbu, request, entry, lifetime)
        session.handoff_count += 1
        self.counters.lifetime_extensions_after_handoff += 1
        self.ctx.stats.handovers += 1
        self._publish_updated(entry, previous)
        self._accept(pbu, request, entry, src, port)

    def _publish_updated(self, entry: BindingCacheEntry, previous: IPv6Address | None) -> None:
        data = {**_binding_key(entry), "home-network-prefix": _prefixes_text(entry.home_network_prefixes),
                "proxy-coa": self._mag_text(entry.proxy_coa), "handoff": previous is not None,
                "handoff-indicator": entry.handoff_indicator, "lifetime": entry.lifetime}
        if previous is not None:
            data["previous-proxy-coa"] = address_text(previous)
        self.ctx.events.publish("binding-updated", **data)

    def _record_update(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry,
                       lifetime: int) -> None:
        clock = self.ctx.clock
        entry.refresh(lifetime, clock.monotonic(), clock.wall())
        self.cache.update(entry, state=BindingState.ACTIVE)
        entry.sequence = pbu.sequence
        entry.timestamp = _stamp(request)
        entry.handoff_indicator = request.handoff_indicator
        entry.access_technology_type = request.access_technology_type
        self._session(entry).updates_accepted += 1
        self._arm_expiry(entry)

    def _accept(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry,
                src: IPv6Address, port: int) -> None:
        self.counters.pbu_accepted += 1
        pba = build_pba(pbu, request, Status.ACCEPTED, lifetime=entry.lifetime,
                        prefixes=entry.home_network_prefixes,
                        link_local_address=self._session(entry).link_local_address)
        self._send_pba(pba, src, port)

    def _send_pba(self, pba, dst: IPv6Address, port: int) -> None:
        self.ctx.stats.pba_sent_by_status[pba.status] += 1
        self.ctx.send(pba, dst, port or None)

    # ----- HI=4: waiting for the previous MAG (MaxDelayBeforeNewBCEAssign) ----------------
    def _park(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry,
              policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        parked = _ParkedUpdate(pbu, request, src, port, policy)
        parked.timer = self.ctx.timers.call_later(
            self.ctx.settings.timers.max_delay_before_new_bce_assign, self._on_wait_over, entry)
        self._session(entry).parked = parked
        self.cache.update(entry, state=BindingState.HANDOFF_PENDING)

    def _on_wait_over(self, entry: BindingCacheEntry) -> None:
        """No de-registration came: a new session, unless it would be this very one."""
        parked = self._unpark(entry)
        if parked is None:
            return
        request = parked.request
        if _spec_key(request.mn_identifier, request.link_layer_id) != self._session(entry).key:
            self._run_parked(parked, None)
        else:
            self._run_parked(parked, entry)

    def _unpark(self, entry: BindingCacheEntry) -> _ParkedUpdate | None:
        if entry not in self.cache:
            return None
        session = self._session(entry)
        parked, session.parked = session.parked, None
        if parked is not None:
            self.ctx.timers.cancel(parked.timer)
            if entry.state is BindingState.HANDOFF_PENDING:
                self.cache.update(entry, state=BindingState.ACTIVE)
        return parked

    def _run_parked(self, parked: _ParkedUpdate, entry: BindingCacheEntry | None) -> None:
        try:
            if entry is None:
                self._create(parked.pbu, parked.request, parked.policy, parked.mag, parked.port)
            else:
                self._hand_over(parked.pbu, parked.request, entry, parked.policy, parked.mag, parked.port)
        except _Rejected as rejection:
            self.counters.pbu_rejected += 1
            self._send_pba(build_pba(parked.pbu, parked.request, rejection.status), parked.mag, parked.port)

    # ----- de-registration (RFC 5213 section 5.3.5) ---------------------------------------
    def _deregister(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry | None,
                    policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        """Accepted whatever the cache holds; only the serving MAG's changes anything."""
        prefixes = None
        if entry is not None and entry.proxy_coa == src:
            self._check_prefixes(request, entry, policy)
            prefixes = entry.home_network_prefixes
            entry.sequence = pbu.sequence
            entry.timestamp = _stamp(request)
            self.counters.deregistrations += 1
            parked = self._unpark(entry)
            if parked is not None:  # the previous MAG let go: the parked PBU is a handoff
                self._run_parked(parked, entry)
            else:
                self._schedule_delete(entry)
        self.counters.pbu_accepted += 1
        self._send_pba(build_pba(pbu, request, Status.ACCEPTED, lifetime=0, prefixes=prefixes), src, port)

    def _schedule_delete(self, entry: BindingCacheEntry) -> None:
        """Keep the entry MinDelayBeforeBCEDelete so a new MAG's PBU can still take it over."""
        session = self._session(entry)
        self.ctx.timers.cancel(session.timer)
        self.cache.update(entry, state=BindingState.DEREGISTRATION_PENDING)
        session.timer = self.ctx.timers.call_later(self.ctx.settings.timers.min_delay_before_bce_delete,
                                                   self._delete, entry, "deregistered")

    # ----- lifetime ----------------------------------------------------------------------
    def _grant(self, requested: int, policy: MobileNodePolicy) -> int:
        timers = self.ctx.settings.timers
        cap = policy.lifetime if policy.lifetime is not None else timers.default_lifetime
        granted = min(requested, cap, timers.max_binding_lifetime)
        # The Lifetime field counts 4-second units (RFC 6275 section 6.1.8): never grant more.
        return max(LIFETIME_UNIT_SECONDS, granted - granted % LIFETIME_UNIT_SECONDS)

    def _arm_expiry(self, entry: BindingCacheEntry) -> None:
        session = self._session(entry)
        self.ctx.timers.cancel(session.timer)
        session.timer = self.ctx.timers.schedule(entry.expires_at, self._delete_binding, entry, "expired")

    def _delete(self, entry: BindingCacheEntry, reason: str, trigger: int | None = None) -> None:
        """Remove a binding: data plane, cache, dynamic prefixes, then one event."""
        if entry not in self.cache:
            return
        session = self._session(entry)
        self.ctx.timers.cancel(session.timer)
        if session.parked is not None:
            self.ctx.timers.cancel(session.parked.timer)
            session.parked = None
        try:
            self.ctx.dataplane.remove(session.key)
        except DataPlaneError as error:  # the forwarding audit repairs what stays behind
            log.error("binding %s: data plane removal failed: %s", session.key, error)
            self.ctx.events.publish("data-path-failure", tunnel=entry.tunnel_id, peer=str(entry.proxy_coa),
                                    **{"mn-identifier": entry.mn_identifier, "reason": str(error)})
        self.cache.remove(entry)
        self._release(session.dynamic_prefixes)
        self.ctx.stats.bindings_deleted += 1
        if reason == "expired":
            self.counters.bindings_expired += 1
        data = {**_binding_key(entry), "home-network-prefix": _prefixes_text(entry.home_network_prefixes),
                "proxy-coa": address_text(entry.proxy_coa), "reason": reason}
        if trigger is not None:
            data["revocation-trigger"] = int(trigger)
        self.ctx.events.publish("binding-deleted", **data)

    # ----- prefixes and data plane --------------------------------------------------------
    def _assign_prefixes(self, request: PbuRequest, policy: MobileNodePolicy,
                         ) -> tuple[tuple[IPv6Network, ...], tuple[IPv6Network, ...]]:
        """(all prefixes, those taken from a pool) for a new session (RFC 5213 section 5.3.2)."""
        if request.explicit_prefixes:
            named = [p for p in dict.fromkeys(request.prefixes) if p in request.explicit_prefixes]
            dynamic = tuple(p for p in named if p not in policy.static_prefixes)
            for prefix in dynamic:  # checked free by _check_prefixes
                self._pool_of_policy(policy).reserve(prefix)
            return tuple(named), dynamic
        if policy.static_prefixes:
            static = tuple(p for p in policy.static_prefixes if self.cache.by_prefix(p) is None)
            if static:
                return static, ()
        pool = self._pool_of_policy(policy)
        if pool is None:
            raise _Rejected(Status.INSUFFICIENT_RESOURCES)
        taken: list[IPv6Network] = []
        try:
            for _ in request.prefixes:  # one prefix per all-zero HNP option
                taken.append(pool.allocate())
        except PoolExhausted:
            self._release(taken)
            self.ctx.events.publish("pool-exhausted", pool=pool.name, size=pool.size,
                                    **{"mn-identifier": request.mn_identifier})
            raise _Rejected(Status.INSUFFICIENT_RESOURCES) from None
        prefixes = tuple(taken)
        return prefixes, prefixes

    def _pool_of_policy(self, policy: MobileNodePolicy) -> PrefixPool | None:
        lma = self.ctx.settings.lma
        name = policy.pool or (lma.default_pool if lma else None)
        return self.pools.get(name) if name and name in self.pools else None

    def _release(self, prefixes) -> None:
        for prefix in prefixes:
            pool = self.pools.pool_of(prefix)
            try:
                if pool is not None:
                    pool.release(prefix)
            except PrefixPoolError as error:
                log.error("cannot release %s: %s", prefix, error)

    def _install(self, key: str, prefixes: tuple[IPv6Network, ...], mag: IPv6Address, mn_identifier: str,
                 release: tuple[IPv6Network, ...] = ()) -> str:
        """Route each prefix into the tunnel to `mag` before the PBA goes out; on failure
        nothing changed (the backend's contract), `release` goes back and the PBU gets 130."""
        spec = self._spec(key, prefixes, mag)
        try:
            self.ctx.dataplane.apply(spec)
        except DataPlaneError as error:
            self._release(release)
            log.error("binding %s: data plane refused the tunnel to %s: %s", key, mag, error)
            self.ctx.events.publish("data-path-failure", tunnel=spec.tunnel.name, peer=str(mag),
                                    **{"mn-identifier": mn_identifier, "reason": str(error)})
            raise _Rejected(Status.INSUFFICIENT_RESOURCES) from None
        return spec.tunnel.name

    def _spec(self, key: str, prefixes: tuple[IPv6Network, ...], mag: IPv6Address) -> BindingSpec:
        tunnel = self.ctx.tunnels.to(mag)
        return BindingSpec(key, tunnel, tuple(Route(RouteKind.DOWNLINK, p, tunnel=tunnel.name) for p in prefixes))

    def _mag_text(self, mag: IPv6Address) -> str:
        text = self._mag_texts.get(mag)
        if text is None:
            text = self._mag_texts[mag] = address_text(mag)
        return text

    # ----- revocation (RFC 5846) ----------------------------------------------------------
    def revoke(self, mn_identifier: str, trigger: int = RevocationTrigger.ADMINISTRATIVE_REASON,
               link_layer_id: bytes | None = None) -> int:
        """Start revoking the mobile node's bindings (all, or one interface's); returns how
        many. Raises UnknownMobileNode when it has none."""
        return len(self.begin_revocation(mn_identifier, trigger, link_layer_id))

    async def revoke_and_wait(self, mn_identifier: str, trigger: int = RevocationTrigger.ADMINISTRATIVE_REASON,
                              link_layer_id: bytes | None = None) -> tuple[int | None, int]:
        """Revoke and wait for the outcome: (the MAG's BRA status, None if it never
        answered; bindings removed) — the output of the revoke-binding RPC."""
        revocations = self.begin_revocation(mn_identifier, trigger, link_layer_id)
        for revocation in revocations:
            await revocation.wait()
        statuses = [r.status for r in revocations if r.status is not None]
        return (max(statuses) if statuses else None), sum(r.revoked for r in revocations)

    def begin_revocation(self, mn_identifier: str, trigger: int = RevocationTrigger.ADMINISTRATIVE_REASON,
                         link_layer_id: bytes | None = None) -> list[Revocation]:
        """Send a BRI for each binding of the mobile node (or of one interface) to its MAG;
        each binding goes when its BRA arrives or the retransmissions run out."""
        entries = self.cache.by_mn(mn_identifier)
        if link_layer_id is not None:
            entries = [e for e in entries if e.link_layer_id == link_layer_id]
        if not entries:
            raise UnknownMobileNode(f"no binding for {mn_identifier!r}")
        revocations = []
        for entry in entries:
            options: list[Option] = [MobileNodeIdentifierOption(entry.mn_identifier)]
            options += [HomeNetworkPrefixOption(p) for p in entry.home_network_prefixes]
            if entry.link_layer_id is not None:
                options.append(MobileNodeLinkLayerIdentifierOption(entry.link_layer_id))
            self.cache.update(entry, state=BindingState.REVOCATION_PENDING)
            revocations.append(self.revocations.send(entry.proxy_coa, trigger, [entry], tuple(options)))
        return revocations

    def revoke_all(self, mag: IPv6Address, trigger: int = RevocationTrigger.PER_PEER_POLICY,
                   *, reason: str = "revoked") -> Revocation | None:
        """One BRI with the G (global) flag for every binding served by `mag`; None if none."""
        entries = list(self.cache.by_mag(mag))
        if not entries:
            return None
        for entry in entries:
            self.cache.update(entry, state=BindingState.REVOCATION_PENDING)
        return self.revocations.send(mag, trigger, entries, (), global_=True, reason=reason)

    def on_peer_restart(self, mag: IPv6Address, policy: str | None = None) -> int:
        """Apply `policy` (fault-policy/on-peer-restart by default) to a MAG that restarted;
        returns the bindings served by `mag`.

        revoke-bindings revokes them all; re-register and alarm-only keep them (the
        restarted MAG re-registers its mobile nodes, RFC 5847 section 3.2)."""
        count = self.cache.count_by_mag(mag)
        if (policy or self.ctx.settings.fault_policy.on_peer_restart) == "revoke-bindings":
            self.revoke_all(mag, RevocationTrigger.PER_PEER_POLICY, reason="peer-restart")
        return count

    def _on_bra(self, ack: BindingRevocationAck, src: IPv6Address) -> None:
        self.ctx.stats.bra_received_by_status[ack.status] += 1
        if self.revocations.on_ack(ack, src) is None:
            self.ctx.stats.drops_by_reason["unexpected-bra"] += 1

    def _on_revocation_done(self, revocation: Revocation) -> None:
        """Remove what was revoked, whether the MAG answered or not (RFC 5846 section 8)."""
        self.counters.bri_timeouts = self.revocations.timeouts
        self.counters.bri_retransmissions = self.revocations.retransmissions
        reason = revocation.reason
        for entry in revocation.bindings:
            if entry in self.cache and entry.proxy_coa == revocation.mag:
                self._delete(entry, reason, revocation.trigger if reason == "revoked" else None)
                revocation.revoked += 1

    @staticmethod
    def _session(entry: BindingCacheEntry) -> LmaSession:
        return entry.role_data


def _spec_key(mn_identifier: str, link_layer_id: bytes | None) -> str:
    return f"lma/{mn_identifier}/{_ll_text(link_layer_id)}"


def _ll_text(link_layer_id: bytes | None) -> str:
    return link_layer_id.hex(":") if link_layer_id else ""


def address_text(address: IPv6Address) -> str:
    """`str(address)`, several times faster: the C library's RFC 5952 text, except where it
    writes an embedded IPv4 address in dotted form and `ipaddress` does not."""
    text = inet_ntop(AF_INET6, int(address).to_bytes(16, "big"))
    return str(address) if "." in text or address.scope_id else text


def _prefixes_text(prefixes: tuple[IPv6Network, ...]) -> list[str]:
    return [f"{address_text(p.network_address)}/{p.prefixlen}" for p in prefixes]


def _binding_key(entry: BindingCacheEntry) -> dict[str, str]:
    return {"mn-identifier": entry.mn_identifier, "link-layer-id": _ll_text(entry.link_layer_id)}


def _stamp(request: PbuRequest) -> int | None:
    return timestamp_value(request.timestamp) if request.timestamp is not None else None


def _sequence_newer(sequence: int, last: int) -> bool:
    """RFC 6275 section 9.5.1: newer when ahead by less than half the 16-bit space."""
    return 0 < (sequence - last) % 0x10000 < 0x8000


def _core_policy(policy) -> MobileNodePolicy:
    """A configured profile (nf.settings) as the policy store holds it; empty sets mean any."""
    return MobileNodePolicy(
        mn_identifier=policy.mn_identifier, lma_address=policy.anchor,
        allowed_mags=policy.allowed_mags or None, static_prefixes=policy.home_network_prefixes,
        pool=policy.pool, lifetime=policy.lifetime,
        allowed_access_technologies=policy.access_technologies or None)
