"""The local mobility anchor (RFC 5213 §5) with binding revocation (RFC 5846).

A Proxy Binding Update is checked in the order of RFC 5213 §5.3.1, each failure answered
with its own status (§8.9) and a PBA built as §5.3.6 lists it:

* before the steps: P flag clear, a Mobile IPv6 Binding Update: this node is no home agent,
  131 (RFC 6275 §6.1.8); the D flag of RFC 8885 §4.1 (a MAAR or CMD): this LMA takes no
  part in DMM, 128; an option RFC 5213 §8.1 allows once given twice: 128.
* steps 1-8: sender not a configured MAG (peer, lma/allowed-mag or a policy's allowed-mag):
  154; no Mobile Node Identifier option: 160; an identifier that names no profile (unless
  accept-unknown-mobile-nodes with a default pool): 153; a profile without this MAG: 154.
* step 9, §5.5: with a Timestamp option, one outside TimestampValidityWindow (or equal to
  the accepted one): 156, lower than the accepted one: 157, both with the LMA's own time in
  the PBA; without one, the sequence-number scheme of RFC 6275 §9.5.1: 135.
* steps 10-12: missing Home Network Prefix 158, Handoff Indicator 161 (a value outside
  RFC 5213's 1..5: 128), Access Technology Type 162; a technology the profile does not
  allow: 129.
* step 13: the §5.4.1 lookup (prefixes named by another node 155, a differing prefix set
  159), then a new session (§5.3.2: the cache holding lma/max-bindings entries, or no
  prefix left: 130, §8.9 insufficient resources), a refresh (§5.3.3), a handover
  (§5.3.4) or a de-registration (§5.3.5). A de-registration that matches no session, or
  comes from another MAG than the serving one, is ignored without an answer.

The binding cache holds one mobility session per (MN-Identifier, link-layer identifier):
the YANG list is keyed so, and a MAG that names no link-layer identifier cannot tell two
interfaces of one node apart anyway. When §5.4.1 asks for a new session for an interface
that is already bound (for example HI=1 without a link-layer identifier, from a MAG that
lost its state), the new session replaces the old one (binding-deleted reason
`superseded`) instead of standing beside it.
"""
from __future__ import annotations

import logging
from socket import AF_INET6, inet_ntop
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Callable

from nf.core.binding_cache import BindingCache, BindingCacheEntry, BindingState
from nf.core.policy import MobileNodePolicy, PolicyStore
from nf.core.pool_usage import PoolUsageWatch
from nf.core.prefix_pool import PoolExhausted, PrefixPool, PrefixPoolError, PrefixPools
from nf.dataplane.base import BindingSpec, DataPlaneError, Route, RouteKind
from nf.roles.base import BindingForwarding, RoleContext
from nf.roles.lma_pbu import PbuRequest, build_pba, generated_link_local, timestamp_value
from nf.roles.lma_revocation import Revocation, RevocationTracker
from nf.settings import DEFAULT_MAX_BINDINGS, Settings
from nf.wire import (
    LIFETIME_UNIT_SECONDS,
    BindingAckStatus,
    BindingRevocationAck,
    BindingRevocationIndication,
    BindingRevocationStatus,
    HandoffIndicator,
    HomeNetworkPrefixOption,
    Message,
    MobileNodeIdentifierOption,
    Option,
    ProxyBindingUpdate,
    RevocationTrigger,
    TimestampOption,
)

log = logging.getLogger(__name__)

Status = BindingAckStatus
_RFC5213_HANDOFF_INDICATORS = frozenset(range(1, 6))  # section 8.4
_REVOCATION_TRIGGERS = frozenset(int(t) for t in RevocationTrigger)  # RFC 5846 §5.1


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
    """A PBU with HI=4 from a new MAG, held until the previous MAG answers a BRI (RFC 5846
    §8.1) or for MaxDelayBeforeNewBCEAssign (RFC 5213 §5.4.1.2)."""

    pbu: ProxyBindingUpdate
    request: PbuRequest
    mag: IPv6Address
    port: int
    policy: MobileNodePolicy
    timer: object = None
    revocation: Revocation | None = None


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
    forwarding: bool = True  # its routes are in the data plane (not during a de-registration's wait)


@dataclass(slots=True)
class _Association:
    """What RFC 5213 §5.4.1 makes of a PBU: an update of `entry` (waiting first, for HI=4,
    when `wait`), or a new session (`entry` None) replacing `replaces` if that interface is
    bound already; `status` is a rejection the lookup found (155, 159), answered at step 13."""

    entry: BindingCacheEntry | None = None
    replaces: BindingCacheEntry | None = None
    wait: bool = False
    status: int | None = None


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
    capacity_rejections: int = 0  # refused with 130: the cache held lma/max-bindings entries


class LmaRole:
    name = "lma"
    handles = frozenset({ProxyBindingUpdate, BindingRevocationIndication, BindingRevocationAck})

    def __init__(self, ctx: RoleContext) -> None:
        self.ctx = ctx
        self.cache = BindingCache()
        self.counters = LmaCounters()
        self.pools = PrefixPools()
        self.policies = PolicyStore()
        self._authorized_mags: set[IPv6Address] = set()
        self._mag_texts: dict[IPv6Address, str] = {}  # the text events carry, by MAG; bounded likewise
        self._delete_binding = self._delete  # one bound method for every lifetime timer, not one each
        self._pool_usage = PoolUsageWatch(ctx.events)  # pool-usage-high / -normal
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
            self._pool_usage.watch(pools, {p.name: (p.high_threshold, p.hysteresis) for p in settings.pools})
            self._mag_texts = {mag: t for mag, t in self._mag_texts.items() if mag in authorized}
            self._anchor_text = address_text(settings.node.address)
            for prefix, pool in static:  # a pool never hands out a static prefix
                if pool is not None and not pool.is_allocated(prefix):
                    pool.reserve(prefix)
        return apply

    @property
    def max_bindings(self) -> int:
        """The capacity ceiling (lma/max-bindings), read at each new binding: a commit changes it live."""
        lma = self.ctx.settings.lma
        return lma.max_bindings if lma is not None else DEFAULT_MAX_BINDINGS

    @property
    def authorized_mags(self) -> frozenset[IPv6Address]:
        """The MAGs that may register here (peers, lma/allowed-mag, policies' allowed-mag)."""
        return frozenset(self._authorized_mags)

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
        elif isinstance(message, BindingRevocationIndication):
            self._on_bri(message, src, src_port)

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
        """RFC 5213 §5.3.1, in its order: steps 1-8 (`_admit`), 9 (`_check_freshness`),
        10-12 (`_check_options`), 13 (the §5.4.1 association, then §5.3.2-§5.3.5)."""
        request = PbuRequest.of(pbu)
        association: _Association | None = None
        try:
            policy = self._admit(pbu, request, src)
            association = self._associate(request, pbu, src)
            self._check_freshness(pbu, request, association.entry or association.replaces)
            self._check_options(request, policy)
            if association.status is not None:
                raise _Rejected(association.status)
            if pbu.lifetime == 0:
                self._deregister(pbu, request, association, src, port)
            else:
                self._register(pbu, request, association, policy, src, port)
        except _Rejected as rejection:
            self.counters.pbu_rejected += 1
            entry = association.entry if association is not None else None
            if entry is not None and entry in self.cache:
                session = self._session(entry)
                session.updates_rejected += 1
                session.last_rejection_wall = self.ctx.clock.wall()
                session.last_rejection_status = rejection.status
            pba = build_pba(pbu, request, rejection.status, sequence=rejection.sequence,
                            timestamp=rejection.timestamp)
            self._send_pba(pba, src, port)

    def refuse(self, pbu: ProxyBindingUpdate, src: IPv6Address, port: int, status: int) -> None:
        """Answer a PBU that failed RFC 5213 §5.3.1 step 1, the authentication of §4 (RFC 4285
        §5.1.1: MIPV6-AUTH-FAIL; §6: MIPV6-MESG-ID-REQD, MIPV6-ID-MISMATCH), with a PBA built
        as §5.3.6 lists it; nothing else is taken from the PBU."""
        self.counters.pbu_rejected += 1
        self._send_pba(build_pba(pbu, PbuRequest.of(pbu), status), src, port)

    def _admit(self, pbu: ProxyBindingUpdate, request: PbuRequest, src: IPv6Address) -> MobileNodePolicy:
        """Steps 1-8 of RFC 5213 §5.3.1 (and what comes before them); returns the policy."""
        if not pbu.proxy:  # a Mobile IPv6 Binding Update: this node is no home agent
            raise _Rejected(Status.HOME_REGISTRATION_NOT_SUPPORTED)
        if pbu.dmm:  # RFC 8885 §4.1: from a MAAR or CMD; this LMA does not take part in DMM
            raise _Rejected(Status.REASON_UNSPECIFIED)
        if src not in self._authorized_mags:  # step 1: no trust in an unknown sender
            raise _Rejected(Status.MAG_NOT_AUTHORIZED_FOR_PROXY_REG)
        if request.duplicated:  # step 2: RFC 5213 §8.1 allows these options once
            raise _Rejected(Status.REASON_UNSPECIFIED)
        if request.mn_option is None:  # step 4
            raise _Rejected(Status.MISSING_MN_IDENTIFIER_OPTION)
        policy = self._policy_for(request.mn_identifier) if request.mn_identifier else None
        if policy is None:  # step 7 (step 6 needs the profile this lookup did not find)
            raise _Rejected(Status.NOT_LMA_FOR_THIS_MOBILE_NODE)
        if not policy.allows_mag(src):  # steps 5 and 6
            raise _Rejected(Status.MAG_NOT_AUTHORIZED_FOR_PROXY_REG)
        return policy

    def _check_options(self, request: PbuRequest, policy: MobileNodePolicy) -> None:
        """Steps 10-12 of RFC 5213 §5.3.1, and what the profile allows of them."""
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

    def _policy_for(self, mn_identifier: str) -> MobileNodePolicy | None:
        policy = self.policies.lookup(mn_identifier)
        lma = self.ctx.settings.lma
        if policy is None and lma is not None and lma.accept_unknown_mobile_nodes and lma.default_pool:
            policy = MobileNodePolicy(mn_identifier, pool=lma.default_pool)
        return policy

    def _associate(self, request: PbuRequest, pbu: ProxyBindingUpdate, src: IPv6Address) -> _Association:
        """The Binding Cache entry lookup of RFC 5213 §5.4.1, in its order (§5.4.1.1, then
        §5.4.1.2, then §5.4.1.3). A "new session" whose (MN-Identifier, link-layer
        identifier) is already bound replaces that session: the cache holds one session per
        interface (see the module docstring)."""
        mn, ll, att, hi = (request.mn_identifier, request.link_layer_id, request.access_technology_type,
                           request.handoff_indicator)
        if request.explicit_prefixes:  # §5.4.1.1: the prefixes are the key
            holder = next(filter(None, map(self.cache.by_prefix, request.explicit_prefixes)), None)
            if holder is None:
                return self._new_session(request)
            if holder.mn_identifier != mn:  # #3
                return _Association(status=Status.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX)
            if len(request.prefixes) != len(holder.home_network_prefixes) \
                    or request.explicit_prefixes != frozenset(holder.home_network_prefixes):  # #4
                return _Association(entry=holder, status=Status.BCE_PBU_PREFIX_SET_DO_NOT_MATCH)
            same_att = att == holder.access_technology_type
            if (ll is not None and ll == holder.link_layer_id and same_att) \
                    or hi == HandoffIndicator.HANDOFF_BETWEEN_INTERFACES \
                    or (ll is None and holder.link_layer_id is None and same_att
                        and hi == HandoffIndicator.HANDOFF_BETWEEN_MAGS_SAME_INTERFACE) \
                    or (holder.proxy_coa == src and same_att):  # #5
                return _Association(entry=holder)
            association = self._new_session(request)  # #6
            if association.replaces is not holder:  # its prefixes belong to a session that stays
                association.status = Status.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX
            return association
        others = self.cache.by_mn(mn)
        if ll is not None:  # §5.4.1.2: (MN-Identifier, ATT, link-layer identifier)
            entry = self.cache.get(mn, ll)
            if entry is not None and entry.access_technology_type == att:  # #2
                return _Association(entry=entry)
            if hi == HandoffIndicator.HANDOFF_BETWEEN_INTERFACES and len(others) == 1:  # #3
                return _Association(entry=others[0])
            if hi == HandoffIndicator.HANDOFF_STATE_UNKNOWN and len(others) == 1:  # #4
                return self._unknown_handoff(others[0], request, pbu, src)
            return self._new_session(request)  # #5
        if len(others) == 1:  # §5.4.1.3: the MN-Identifier alone, one and only one entry
            if hi in (HandoffIndicator.HANDOFF_BETWEEN_INTERFACES, HandoffIndicator.HANDOFF_BETWEEN_MAGS_SAME_INTERFACE):
                return _Association(entry=others[0])  # #2
            if hi == HandoffIndicator.HANDOFF_STATE_UNKNOWN:  # #3
                return self._unknown_handoff(others[0], request, pbu, src)
        return self._new_session(request)  # #4

    def _new_session(self, request: PbuRequest) -> _Association:
        return _Association(replaces=self.cache.get(request.mn_identifier, request.link_layer_id))

    def _unknown_handoff(self, entry: BindingCacheEntry, request: PbuRequest, pbu: ProxyBindingUpdate,
                         src: IPv6Address) -> _Association:
        """HI=4 with one and only one session (§5.4.1.2 #4, §5.4.1.3 #3): the LMA SHOULD wait
        for the previous MAG's de-registration, then decide (`lma/unknown-handoff`: ask it
        with a BRI, RFC 5846 §8.1, or wait MaxDelayBeforeNewBCEAssign; or the configurable
        "create a new session without waiting" the sections allow). Nothing to wait for when
        the request comes from the serving MAG itself, when the session is already being let
        go, or when it is a de-registration."""
        if entry.proxy_coa == src or entry.state is not BindingState.ACTIVE or pbu.lifetime == 0:
            return _Association(entry=entry)
        if self.ctx.settings.lma.unknown_handoff == "new-session":
            return self._new_session(request)
        return _Association(entry=entry, wait=True)

    def _check_freshness(self, pbu: ProxyBindingUpdate, request: PbuRequest,
                         entry: BindingCacheEntry | None) -> None:
        """Step 9: RFC 5213 §5.5. With a Timestamp option, the timestamp-based approach;
        without one, the sequence-number-based approach of RFC 6275 §9.5.1 (and no
        Timestamp in the PBA). Ordering is checked against the session the PBU is about."""
        stamp = request.timestamp
        if stamp is None:
            if entry is not None and not _sequence_newer(pbu.sequence, entry.sequence):
                raise _Rejected(Status.SEQUENCE_NUMBER_OUT_OF_WINDOW, sequence=entry.sequence)
            return
        timers = self.ctx.settings.timers
        now = self.ctx.clock.wall()
        if not timers.mobile_node_generated_timestamp_in_use \
                and abs(stamp.to_time() - now) > timers.timestamp_validity_window:  # #6, #9
            raise _Rejected(Status.TIMESTAMP_MISMATCH, timestamp=TimestampOption.from_time(now))
        if entry is not None and entry.timestamp is not None:
            value = timestamp_value(stamp)
            if value < entry.timestamp:  # #8: the LMA's current time in the answer
                raise _Rejected(Status.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED, timestamp=TimestampOption.from_time(now))
            if value == entry.timestamp:  # #6: not greater than the accepted one, so not valid (#9)
                raise _Rejected(Status.TIMESTAMP_MISMATCH, timestamp=TimestampOption.from_time(now))

    def _check_new_prefixes(self, request: PbuRequest, policy: MobileNodePolicy,
                            replaces: BindingCacheEntry | None) -> None:
        """§5.3.2 #3: prefixes named for a new session must be ours and the node's to use."""
        for prefix in request.explicit_prefixes:
            holder = self.cache.by_prefix(prefix)
            if holder is not None and holder is not replaces:
                raise _Rejected(Status.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX)
            if prefix in policy.static_prefixes:
                continue
            pool = self._pool_of_policy(policy)
            held_by_replaced = replaces is not None and prefix in self._session(replaces).dynamic_prefixes
            if pool is None or not pool.contains(prefix) or (pool.is_allocated(prefix) and not held_by_replaced):
                raise _Rejected(Status.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX)

    # ----- registration -----------------------------------------------------------------
    def _register(self, pbu: ProxyBindingUpdate, request: PbuRequest, association: _Association,
                  policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        entry = association.entry
        if entry is None:
            self._check_new_prefixes(request, policy, association.replaces)
            self._create(pbu, request, policy, src, port, replaces=association.replaces)
            return
        session = self._session(entry)
        if session.parked is not None and session.parked.mag == src:
            session.parked.pbu, session.parked.request = pbu, request  # a retransmission while we wait
            return
        if association.wait:
            self._park(pbu, request, entry, policy, src, port)
        elif entry.proxy_coa == src:
            self._refresh(pbu, request, entry, policy, src, port)
        else:
            self._hand_over(pbu, request, entry, policy, src, port)

    def _create(self, pbu: ProxyBindingUpdate, request: PbuRequest, policy: MobileNodePolicy,
                src: IPv6Address, port: int, *, replaces: BindingCacheEntry | None = None) -> None:
        """§5.3.2: a new mobility session. One that replaces the session of the same
        interface removes it first, so the prefixes of its profile are free again."""
        if replaces is not None and replaces in self.cache:
            self._delete(replaces, "superseded")
        if len(self.cache) >= self.max_bindings:  # the capacity ceiling: §5.3.1 / §8.9 status 130
            self.counters.capacity_rejections += 1
            raise _Rejected(Status.INSUFFICIENT_RESOURCES)
        prefixes, dynamic = self._assign_prefixes(request, policy)
        key = _spec_key(request.mn_identifier, request.link_layer_id)
        tunnel = self._install(key, prefixes, src, request.mn_identifier, release=dynamic)
        lifetime = self._grant(pbu.lifetime, policy)
        clock = self.ctx.clock
        link_local = self._link_local_for(request, None)
        entry = BindingCacheEntry(
            mn_identifier=request.mn_identifier, link_layer_id=request.link_layer_id,
            home_network_prefixes=prefixes, proxy_coa=src,
            access_technology_type=request.access_technology_type,
            handoff_indicator=request.handoff_indicator, sequence=pbu.sequence, lifetime=lifetime,
            created_monotonic=clock.monotonic(), created_wall=clock.wall(),
            timestamp=_stamp(request), tunnel_id=tunnel,
            role_data=LmaSession(key, dynamic, link_local, updates_accepted=1))
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

    def _link_local_for(self, request: PbuRequest, entry: BindingCacheEntry | None) -> IPv6Address | None:
        """The MAG's link-local address on the node's access link (RFC 5213 §5.3.6): the one
        the PBU names; for an ALL_ZERO query, the session's, else one generated now."""
        asked = request.link_local_address
        if asked is None:
            return self._session(entry).link_local_address if entry is not None else None
        if not asked.is_unspecified:
            return asked
        if entry is not None and self._session(entry).link_local_address is not None:
            return self._session(entry).link_local_address
        return generated_link_local(request.mn_identifier, request.link_layer_id)

    def _refresh(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry,
                 policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        """§5.3.3: a re-registration from the serving MAG; it also ends a pending
        de-registration (§5.3.5), whose wait had stopped the node's traffic."""
        session = self._session(entry)
        if not session.forwarding:
            tunnel = self._install(session.key, entry.home_network_prefixes, src, entry.mn_identifier)
            session.forwarding = True
            self.cache.update(entry, tunnel_id=tunnel)
        lifetime = self._grant(pbu.lifetime, policy)
        session.link_local_address = self._link_local_for(request, entry)
        self._record_update(pbu, request, entry, lifetime)
        self.counters.lifetime_extensions_no_handoff += 1
        self.ctx.stats.bindings_refreshed += 1
        self._publish_updated(entry, None)
        self._accept(pbu, request, entry, src, port)

    def _hand_over(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry,
                   policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        """§5.3.4: the session moves to the MAG `src`: data plane first, then the cache."""
        session = self._session(entry)
        previous = entry.proxy_coa
        tunnel = self._install(session.key, entry.home_network_prefixes, src, entry.mn_identifier)
        session.forwarding = True
        lifetime = self._grant(pbu.lifetime, policy)
        changes = {"proxy_coa": src, "tunnel_id": tunnel}
        if request.link_layer_id != entry.link_layer_id:  # HI=2: the session moved to another interface
            changes["link_layer_id"] = request.link_layer_id
        self.cache.update(entry, **changes)
        session.link_local_address = self._link_local_for(request, entry)
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
        if entry.state is not BindingState.REVOCATION_PENDING:  # a revocation runs to its end
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
        self.ctx.send(pba, dst, port or None)

    # ----- HI=4: waiting for the previous MAG (MaxDelayBeforeNewBCEAssign) ----------------
    def _park(self, pbu: ProxyBindingUpdate, request: PbuRequest, entry: BindingCacheEntry,
              policy: MobileNodePolicy, src: IPv6Address, port: int) -> None:
        parked = _ParkedUpdate(pbu, request, src, port, policy)
        self._session(entry).parked = parked
        self.cache.update(entry, state=BindingState.HANDOFF_PENDING)
        if self.ctx.settings.lma.unknown_handoff == "revoke-previous":
            # RFC 5846 §8.1: ask the previous MAG instead of waiting for its de-registration.
            parked.revocation = self.revocations.send(
                entry.proxy_coa, RevocationTrigger.INTER_MAG_HANDOVER_UNKNOWN, [entry], _revocation_options(entry),
                on_done=lambda revocation: self._on_handoff_revocation(entry, revocation))
        else:
            parked.timer = self.ctx.timers.call_later(
                self.ctx.settings.timers.max_delay_before_new_bce_assign, self._on_wait_over, entry)

    def _on_handoff_revocation(self, entry: BindingCacheEntry, revocation: Revocation) -> None:
        """RFC 5846 §8.1: a successful BRA is the previous MAG's de-registration (the session
        moves); "MN is attached", another failure or no answer after the retransmissions
        make the parked PBU a new session. "Binding does not exist" says the previous MAG
        holds nothing for the node, which is what a de-registration says too."""
        self._update_revocation_counters()
        parked = self._unpark(entry)
        if parked is None or parked.revocation is not revocation:
            return
        status = revocation.status
        released = status is not None and (status < 128 or status == BindingRevocationStatus.BINDING_DOES_NOT_EXIST)
        self._run_parked(parked, entry if released else None)
    def _on_wait_over(self, entry: BindingCacheEntry) -> None:
        """No de-registration came in MaxDelayBeforeNewBCEAssign: the request is a new
        mobility session (§5.4.1.2 #4, §5.4.1.3 #3); the waiting one stays as it was, unless
        the new one is for the same interface and replaces it."""
        parked = self._unpark(entry)
        if parked is not None:
            self._run_parked(parked, None)

    def _unpark(self, entry: BindingCacheEntry) -> _ParkedUpdate | None:
        if entry not in self.cache:
            return None
        session = self._session(entry)
        parked, session.parked = session.parked, None
        if parked is not None:
            self.ctx.timers.cancel(parked.timer)
            if parked.revocation is not None:
                self.revocations.cancel(parked.revocation)
            if entry.state is BindingState.HANDOFF_PENDING:
                self.cache.update(entry, state=BindingState.ACTIVE)
        return parked

    def _run_parked(self, parked: _ParkedUpdate, entry: BindingCacheEntry | None) -> None:
        """Finish a parked PBU: a handover of `entry`, or (None) a new session."""
        try:
            if entry is None:
                replaces = self.cache.get(parked.request.mn_identifier, parked.request.link_layer_id)
                self._check_new_prefixes(parked.request, parked.policy, replaces)
                self._create(parked.pbu, parked.request, parked.policy, parked.mag, parked.port, replaces=replaces)
            else:
                self._hand_over(parked.pbu, parked.request, entry, parked.policy, parked.mag, parked.port)
        except _Rejected as rejection:
            self.counters.pbu_rejected += 1
            self._send_pba(build_pba(parked.pbu, parked.request, rejection.status), parked.mag, parked.port)

    # ----- de-registration (RFC 5213 section 5.3.5) ---------------------------------------
    def _deregister(self, pbu: ProxyBindingUpdate, request: PbuRequest, association: _Association,
                    src: IPv6Address, port: int) -> None:
        """§5.3.5 for the serving MAG's lifetime-0 PBU. One that matches no session
        (§5.4.1.x: "silently ignored") or comes from another MAG than the Proxy-CoA (§5.3.5
        #1: "MUST ignore") gets no answer; both are counted."""
        entry = association.entry
        if entry is None:
            self.ctx.stats.dropped("pbu", src, "pbu-deregistration-no-session")
            return
        if entry.proxy_coa != src:
            self.ctx.stats.dropped("pbu", src, "pbu-deregistration-not-serving-mag")
            return
        entry.sequence = pbu.sequence
        entry.timestamp = _stamp(request)
        self.counters.deregistrations += 1
        self.counters.pbu_accepted += 1
        self._send_pba(build_pba(pbu, request, Status.ACCEPTED, lifetime=0, prefixes=entry.home_network_prefixes,
                                 link_local_address=self._session(entry).link_local_address), src, port)
        parked = self._unpark(entry)
        if parked is not None:  # the previous MAG let go: the parked PBU is a handoff
            self._run_parked(parked, entry)
        elif entry.state is not BindingState.REVOCATION_PENDING:
            self._schedule_delete(entry)

    def _schedule_delete(self, entry: BindingCacheEntry) -> None:
        """Keep the entry MinDelayBeforeBCEDelete so a new MAG's PBU can still take it over;
        meanwhile the node's traffic is dropped (§5.3.5 #2: SHOULD): its routes go now."""
        session = self._session(entry)
        self.ctx.timers.cancel(session.timer)
        self.cache.update(entry, state=BindingState.DEREGISTRATION_PENDING)
        self._stop_forwarding(entry)
        session.timer = self.ctx.timers.call_later(self.ctx.settings.timers.min_delay_before_bce_delete,
                                                   self._delete, entry, "deregistered")

    def _stop_forwarding(self, entry: BindingCacheEntry) -> None:
        session = self._session(entry)
        if not session.forwarding:
            return
        session.forwarding = False
        try:
            self.ctx.dataplane.remove(session.key)
        except DataPlaneError as error:  # the forwarding audit repairs what stays behind
            log.error("binding %s: data plane removal failed: %s", session.key, error)
            self.ctx.events.publish("data-path-failure", tunnel=entry.tunnel_id, peer=str(entry.proxy_coa),
                                    **{"mn-identifier": entry.mn_identifier, "reason": str(error)})

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
        self._stop_forwarding(entry)
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
        if trigger >= RevocationTrigger.PER_PEER_POLICY:
            raise ValueError(f"revocation trigger {trigger} is a global one; a binding is revoked with a "
                             "per-node trigger (RFC 5846 section 6.1.1)")
        revocations = []
        for entry in entries:
            self.cache.update(entry, state=BindingState.REVOCATION_PENDING)
            revocations.append(self.revocations.send(entry.proxy_coa, trigger, [entry], _revocation_options(entry)))
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
        if self.revocations.on_ack(ack, src) is None:
            self.ctx.stats.dropped("bra", src, "unexpected-bra")

    def has_bindings_with(self, mag: IPv6Address) -> bool:
        """Whether `mag` created a binding cache entry here (RFC 5847 §3)."""
        return self.cache.count_by_mag(mag) > 0

    def session_peers(self) -> list[IPv6Address]:
        """The MAGs this anchor has sessions with."""
        return self.cache.mags()

    def _on_bri(self, bri: BindingRevocationIndication, src: IPv6Address, port: int) -> None:
        """RFC 5846 §8.2: a MAG revokes bindings it serves. Only the MAG serving a binding can
        revoke it (and only a configured MAG is heard at all); the BRA copies P, V, G and the
        sequence number (§6.1.2)."""
        if src not in self._authorized_mags:
            self.ctx.stats.dropped("bri", src, "bri-from-unknown-peer")
            return
        status, revoked = self._revocation_requested(bri, src)
        for entry in revoked:
            self._delete(entry, "revoked", bri.trigger)
        ack = BindingRevocationAck(status=status, sequence=bri.sequence, proxy=bri.proxy,
                                   ipv4_home_address_only=bri.ipv4_home_address_only, global_=bri.global_)
        self.ctx.send(ack, src, port or None)

    def _revocation_requested(self, bri: BindingRevocationIndication,
                              src: IPv6Address) -> tuple[int, list[BindingCacheEntry]]:
        """(BRA status, the bindings to remove) for a BRI from the MAG `src`."""
        mn = next((o for o in bri.options if isinstance(o, MobileNodeIdentifierOption)), None)
        trigger = bri.trigger
        if trigger not in _REVOCATION_TRIGGERS:  # §6.2.1: SHOULD reject
            return BindingRevocationStatus.REVOCATION_TRIGGER_NOT_SUPPORTED, []
        if bri.global_ != (trigger >= RevocationTrigger.PER_PEER_POLICY):  # §6.2.1: SHOULD reject
            return BindingRevocationStatus.REVOCATION_FUNCTION_NOT_SUPPORTED, []
        if not bri.proxy or bri.ipv4_home_address_only:  # this LMA has proxy IPv6 bindings only
            return BindingRevocationStatus.BINDING_DOES_NOT_EXIST, []
        if bri.global_:
            if trigger != RevocationTrigger.PER_PEER_POLICY:  # realm revocation is the LMA's to send
                return BindingRevocationStatus.REVOCATION_FUNCTION_NOT_SUPPORTED, []
            if mn is None or not self.ctx.settings.lma.accept_global_revocation:  # §8.2, §13
                return BindingRevocationStatus.GLOBAL_REVOCATION_NOT_AUTHORIZED, []
            return BindingRevocationStatus.SUCCESS, list(self.cache.by_mag(src))
        if mn is None:
            return BindingRevocationStatus.REVOKED_MOBILE_NODES_IDENTITY_REQUIRED, []
        served = [e for e in self.cache.by_mn(mn.nai) if e.proxy_coa == src]
        prefixes = {o.prefix for o in bri.options if isinstance(o, HomeNetworkPrefixOption)}
        if prefixes:  # §8.2 #2, #3: the bindings those prefixes name
            served = [e for e in served if prefixes & set(e.home_network_prefixes)]
            covered = {p for e in served for p in e.home_network_prefixes}
            if served and not prefixes <= covered:  # §8.2: MAY say some were released already
                return BindingRevocationStatus.PARTIAL_SUCCESS, served
        if not served:
            return BindingRevocationStatus.BINDING_DOES_NOT_EXIST, []
        return BindingRevocationStatus.SUCCESS, served

    def _update_revocation_counters(self) -> None:
        self.counters.bri_timeouts = self.revocations.timeouts
        self.counters.bri_retransmissions = self.revocations.retransmissions

    def _on_revocation_done(self, revocation: Revocation) -> None:
        """Remove what was revoked, whether the MAG answered or not (RFC 5846 §6.2.2, §6.3)."""
        self._update_revocation_counters()
        if revocation.timed_out:  # RFC 5846 §6.3: no BRA after BRIMaxRetriesNumber retransmissions
            named = revocation.bindings[0].mn_identifier if not revocation.global_ and revocation.bindings else None
            self.ctx.events.publish("revocation-failed", peer=address_text(revocation.mag), trigger=revocation.trigger,
                                    retransmissions=revocation.retransmissions,
                                    **({"mn-identifier": named} if named else {}))
        reason = revocation.reason
        for entry in revocation.bindings:
            if entry in self.cache and entry.proxy_coa == revocation.mag:
                self._delete(entry, reason, revocation.trigger if reason == "revoked" else None)
                revocation.revoked += 1

    @staticmethod
    def _session(entry: BindingCacheEntry) -> LmaSession:
        return entry.role_data


def _revocation_options(entry: BindingCacheEntry) -> tuple[Option, ...]:
    """RFC 5846 §8.1: the MN-Identifier, and an HNP option for each registered prefix (which
    tells this binding from the node's others)."""
    return (MobileNodeIdentifierOption(entry.mn_identifier),
            *(HomeNetworkPrefixOption(p) for p in entry.home_network_prefixes))


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
