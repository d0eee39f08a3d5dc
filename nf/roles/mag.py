"""The Mobile Access Gateway (RFC 5213 section 6).

On a mobile node's attach the MAG creates a Binding Update List entry and registers the node
with its LMA by a Proxy Binding Update; an accepting Proxy Binding Acknowledgement sets up the
uplink tunnel, delivery on the access link and the Router Advertisement, and schedules the
refresh. Unanswered updates are retransmitted with exponential back-off (RFC 6275 section
11.8). A detach de-registers (lifetime 0); a Binding Revocation Indication from the LMA
(RFC 5846) removes sessions; an LMA restart (RFC 5847) makes the MAG register them again.
A failed anchor's sessions can move to the standby anchor (`fail_over`), and an operator can
move a node's sessions to another anchor (`relocate`: failback after a failover).
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from typing import Any, Callable, ClassVar

from nf.core.binding_update_list import BindingUpdateList, BindingUpdateListEntry, BulState
from nf.core.timers import Timer, refresh_delay
from nf.dataplane.base import DataPlaneError
from nf.roles.base import BindingForwarding, RoleContext
from nf.roles.mag_forwarding import RouterAdvertisement, router_advertisement, session_key, session_spec
from nf.roles.mag_pbu import PbuContent, build_pbu, wire_lifetime
from nf.settings import AccessInterface
from nf.snapshot import BulEntryState
from nf.wire import (
    AccessTechnologyType,
    AccessTechnologyTypeOption,
    BindingAckStatus,
    BindingRevocationAck,
    BindingRevocationIndication,
    BindingRevocationStatus,
    EncodeError,
    HandoffIndicator,
    HandoffIndicatorOption,
    HomeNetworkPrefixOption,
    LinkLocalAddressOption,
    Message,
    MobileNodeIdentifierOption,
    MobileNodeLinkLayerIdentifierOption,
    ProxyBindingAck,
    RevocationTrigger,
    TimestampOption,
)

log = logging.getLogger(__name__)

INITIAL_BINDACK_TIMEOUT = 1.0  # RFC 6275 §12: first wait for updates after the first registration
MAX_UPDATE_RATE = 3  # RFC 6275 §11.8, §12: at most this many updates a second (per mobility session here)
RTT_SAMPLES_KEPT = 1024
# Seconds a relocation's new anchor has to accept before the sessions go back to the previous
# anchor, which still holds them: a few retransmissions, not a registration's whole back-off,
# as the node keeps its service meanwhile.
RELOCATION_TIMEOUT = 5.0
_ALL_ZERO = IPv6Address("::")

# RFC 5213 §6.9.1.2: register again once after 157 (#8: reassert the node's presence), 155 (#10:
# asking for an assignment, ALL_ZERO, instead of the refused prefixes) and 135 (RFC 6275 §11.7.3:
# the LMA's last accepted sequence number). Any other rejection ends the node's service.
_REVOCATION_TRIGGERS = frozenset(int(t) for t in RevocationTrigger)  # RFC 5846 §5.1
_HANDOVER_TRIGGERS = frozenset({RevocationTrigger.INTER_MAG_HANDOVER_SAME_ACCESS_TYPE,
                                RevocationTrigger.INTER_MAG_HANDOVER_DIFFERENT_ACCESS_TYPE,
                                RevocationTrigger.INTER_MAG_HANDOVER_UNKNOWN})
_RETRY_ONCE = frozenset({BindingAckStatus.TIMESTAMP_LOWER_THAN_PREV_ACCEPTED,
                         BindingAckStatus.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX,
                         BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW})


class MagError(ValueError):
    """An attach or detach request the MAG cannot act on; the message says why."""


@dataclass(slots=True)
class MagCounters:
    """MAG counters the shared `Statistics` has no field for (YANG statistics leaf names)."""

    pba_timeouts: int = 0
    pba_rejected_by_status: Counter[int] = field(default_factory=Counter)
    pba_rtt_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=RTT_SAMPLES_KEPT))

    def copy(self) -> MagCounters:
        """A detached copy, safe to hand to another thread."""
        return MagCounters(self.pba_timeouts, Counter(self.pba_rejected_by_status),
                           deque(self.pba_rtt_seconds, maxlen=RTT_SAMPLES_KEPT))


@dataclass(slots=True, eq=False)
class _Session:
    """The MAG's working state of one BUL entry (kept in `entry.role_data`)."""

    interface: str
    link_local_address: IPv6Address | None  # ours on the access link, sent in the Link-local Address option
    last_sent_wall: float | None = None
    sent_at: float | None = None  # monotonic time of the outstanding update's first transmission
    timeout: float = 0.0  # current retransmission wait
    retransmit_timer: Timer | None = None
    refresh_timer: Timer | None = None
    expiry_timer: Timer | None = None
    retried: bool = False  # the one retry after 157/155/135 is spent
    ever_accepted: bool = False
    installed: bool = False
    last_status: int | None = None
    accepted_wall: float | None = None
    advertisement: RouterAdvertisement | None = None
    advertise: bool = True  # False for a node that is on no link (the self-test's)
    recent_sends: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_UPDATE_RATE))  # monotonic
    refused: str | None = None  # why the entry waits for an administrative action (state failed)
    relocating_from: IPv6Address | None = None  # the anchor a relocation under way leaves
    relocation_timer: Timer | None = None

    def cancel_timers(self) -> None:
        """Stop every timer; a relocation under way ends with them."""
        for timer in (self.retransmit_timer, self.refresh_timer, self.expiry_timer, self.relocation_timer):
            if timer is not None:
                timer.cancel()
        self.retransmit_timer = self.refresh_timer = self.expiry_timer = self.relocation_timer = None
        self.relocating_from = None


class MagRole:
    name: ClassVar[str] = "mag"
    handles: ClassVar[frozenset[type]] = frozenset({ProxyBindingAck, BindingRevocationIndication})

    def __init__(self, ctx: RoleContext) -> None:
        if ctx.settings.mag is None:
            raise MagError("the MAG role needs a 'mag' configuration (lma-address)")
        self.ctx = ctx
        self.bul = BindingUpdateList()
        self.counters = MagCounters()
        # RFC 5213 §6.9.1.1 #6: with the Timestamp option, one counter of this MAG; with the
        # sequence-number scheme, one per mobile node (RFC 6275 §9.5.1, per session at the LMA).
        self._sequence: dict[str | None, int] = {}  # last sequence number sent: None = the MAG's counter
        self._outstanding: dict[tuple[str, int], BindingUpdateListEntry] = {}  # (MN-Identifier, sequence)
        self._failed_over = False  # sessions went to the standby anchor and none has come back yet

    # ----- life cycle --------------------------------------------------------------------
    @property
    def settings(self):
        """The committed configuration (the runtime swaps it in on a commit)."""
        return self.ctx.settings

    def prepare_reconfigure(self, settings) -> Callable[[], None]:
        """Timers, RA parameters and fault policy are read when used, so a commit needs no
        preparation; the LMA address cannot change under live sessions (the runtime refuses it)."""
        return lambda: None

    async def start(self) -> None:
        """Nothing to start: sessions begin with an attach."""

    async def stop(self) -> None:
        for entry in self.bul:
            _session(entry).cancel_timers()

    # ----- link events -------------------------------------------------------------------
    def attach(self, mn_identifier: str, link_layer_id: bytes | str | None = None,
               access_technology_type: int | None = None, interface: str | None = None,
               handoff_indicator: int | None = None, *, advertise: bool = True) -> BindingUpdateListEntry:
        """A mobile node attached on an access link: register it with the LMA.

        The Handoff Indicator is the caller's when it knows (3 for a handoff from another MAG,
        4 when it cannot tell, RFC 5213 section 6.9.1.1); otherwise 1, a new attachment. An
        attach of a node already registered on the same interface only refreshes it.
        `advertise` False sends no Router Advertisement for it (a node that is on no link:
        the self-test's, whose advertisement would reach the real nodes of the link).
        """
        _check_nai(mn_identifier)
        ll = parse_link_layer_id(link_layer_id)
        access = self._access_interface(interface)
        att = access.access_technology_type if access_technology_type is None else access_technology_type
        if not isinstance(att, int) or not 1 <= att <= 255:
            raise MagError(f"access technology type must be 1..255, got {att!r}")
        hi = HandoffIndicator.ATTACHMENT_OVER_NEW_INTERFACE if handoff_indicator is None else handoff_indicator
        if hi not in (1, 2, 3, 4):
            raise MagError(f"handoff indicator of an attach must be 1..4 (RFC 5213 section 8.4), got {hi!r}")

        entry = self.bul.get(mn_identifier, ll)
        if entry is not None and entry.state in (BulState.REGISTERED, BulState.REFRESHING):
            self._refresh(entry)
            return entry
        if entry is not None:  # registering, de-registering, or refused (an attach is the administrative action)
            self._forget(entry)
        entry = BindingUpdateListEntry(
            mn_identifier=mn_identifier, link_layer_id=ll, lma_address=self.active_lma_address,
            access_technology_type=int(att), handoff_indicator=int(hi),
            lifetime_requested=wire_lifetime(self.settings.timers.requested_lifetime),
            role_data=_Session(interface=access.name, link_local_address=self._link_local(access),
                               advertise=advertise),
        )
        self.bul.put(entry)
        self._send_update(entry, entry.lifetime_requested, self.settings.timers.initial_bindack_timeout_first_reg)
        return entry

    def detach(self, mn_identifier: str, link_layer_id: bytes | str | None = None) -> BindingUpdateListEntry:
        """The mobile node left the access link: stop forwarding and de-register (lifetime 0)."""
        ll = parse_link_layer_id(link_layer_id)
        entry = self.bul.get(mn_identifier, ll)
        if entry is None:
            raise MagError(f"mobile node {mn_identifier!r} is not attached here")
        self._deregister(entry)
        return entry

    def _deregister(self, entry: BindingUpdateListEntry) -> None:
        """RFC 5213 §6.9.1.4: one PBU with lifetime 0, the assigned prefixes and HI=4; the
        entry goes at its accepting PBA or after INITIAL_BINDACK_TIMEOUT, whichever first."""
        session = _session(entry)
        session.cancel_timers()
        self._settle(entry)
        self._uninstall(entry)
        if not entry.home_network_prefixes or entry.state is BulState.FAILED:  # nothing the LMA holds
            self._delete(entry, "deregistered")
            return
        self.bul.set_state(entry, BulState.DEREGISTERING)
        entry.handoff_indicator = HandoffIndicator.HANDOFF_STATE_UNKNOWN
        self._send_update(entry, 0, INITIAL_BINDACK_TIMEOUT)

    # ----- messages from the LMA ---------------------------------------------------------
    def on_message(self, message: Message, src: IPv6Address, src_port: int, dst: IPv6Address) -> None:
        if isinstance(message, ProxyBindingAck):
            self._on_pba(message, src)
        elif isinstance(message, BindingRevocationIndication):
            self._on_bri(message, src, src_port)

    def _on_pba(self, pba: ProxyBindingAck, src: IPv6Address) -> None:
        """RFC 5213 §6.9.1.2."""
        entry = self._match(pba, src)
        if entry is None:  # #5: matches no PBU sent recently
            self.ctx.stats.dropped("pba", src, "pba-unmatched")
            return
        if self._echo_differs(pba, entry):  # #6: ignored, and no more PBUs until an operator acts
            self.ctx.stats.dropped("pba", src, "pba-options-differ")
            log.warning("LMA %s answered %s with other option values than it was sent; not registering it again "
                        "until an operator attaches it", entry.lma_address, entry.mn_identifier)
            self._refuse(entry, pba.status, "pba-options-differ")
            return
        session = _session(entry)
        session.last_status = pba.status
        if session.relocating_from is not None and entry.state is not BulState.DEREGISTERING:
            if pba.status >= 128:  # the new anchor refused: back to the previous one, which holds the session
                self._abandon_relocation(entry, f"refused with status {pba.status}")
                return
            log.info("%s relocated from LMA %s to %s", entry.mn_identifier, session.relocating_from, src)
            session.relocation_timer.cancel()
            session.relocating_from = session.relocation_timer = None
            if src == self.settings.mag.lma_address and self._failed_over:  # the failback has begun
                self._failed_over = False
                log.warning("LMA %s accepts again: new sessions register with it", src)
        if entry.state is BulState.DEREGISTERING:
            if pba.status == BindingAckStatus.ACCEPTED:  # §6.9.1.4: accepted, or INITIAL_BINDACK_TIMEOUT
                session.cancel_timers()
                self._settle(entry)
                self._delete(entry, "deregistered")
        elif pba.status < 128:
            self._accept(entry, pba)
        elif pba.status == BindingAckStatus.PROXY_REG_NOT_ENABLED:  # #7: not again until an operator acts
            self._refuse(entry, pba.status, "proxy-registration-not-enabled")
        elif pba.status in _RETRY_ONCE and not session.retried:
            self._retry(entry, pba)
        else:
            self._reject(entry, pba)

    def _match(self, pba: ProxyBindingAck, src: IPv6Address) -> BindingUpdateListEntry | None:
        """The entry with an update outstanding that this PBA answers (RFC 5213 §6.9.1.2 #5):
        by MN-Identifier and Sequence Number, which RFC 5213 §5.5 #5 has the LMA copy."""
        mn = _first(pba.options, MobileNodeIdentifierOption)
        if mn is None:
            return None
        entry = self._outstanding.get((mn.nai, pba.sequence))
        if entry is None and pba.status == BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW:
            # A 135 carries the LMA's last accepted sequence number, not ours (RFC 6275 §9.5.1, §11.7.1).
            ll_option = _first(pba.options, MobileNodeLinkLayerIdentifierOption)
            entry = self.bul.get(mn.nai, ll_option.identifier if ll_option else None)
            if entry is not None and (mn.nai, entry.sequence_sent) not in self._outstanding:
                entry = None
        if entry is None or entry.lma_address != src:
            return None
        return entry

    @staticmethod
    def _echo_differs(pba: ProxyBindingAck, entry: BindingUpdateListEntry) -> bool:
        """RFC 5213 §6.9.1.2 #6: the LMA echoes HI, ATT and the link-layer identifier as sent."""
        hi = _first(pba.options, HandoffIndicatorOption)
        att = _first(pba.options, AccessTechnologyTypeOption)
        ll = _first(pba.options, MobileNodeLinkLayerIdentifierOption)
        return ((hi is not None and hi.value != entry.handoff_indicator)
                or (att is not None and att.value != entry.access_technology_type)
                or (ll is not None and ll.identifier != (entry.link_layer_id or b"")))

    def _accept(self, entry: BindingUpdateListEntry, pba: ProxyBindingAck) -> None:
        prefixes = tuple(o.prefix for o in pba.options if isinstance(o, HomeNetworkPrefixOption))
        if not prefixes or any(p.prefixlen == 0 for p in prefixes):
            # RFC 5213 6.9.1.2: no service without one
            self.ctx.stats.dropped("pba", entry.lma_address, "pba-without-home-network-prefix")
            return
        if pba.lifetime == 0:  # accepted with nothing granted: the binding ends here
            _session(entry).cancel_timers()
            self._uninstall(entry)
            self._delete(entry, "expired")
            return
        session = _session(entry)
        now = self.ctx.clock.monotonic()
        self._settle(entry)
        if entry.retransmissions == 0 and session.sent_at is not None:
            self.counters.pba_rtt_seconds.append(now - session.sent_at)  # Karn: retransmitted ones are ambiguous
        lma_link_local = _first(pba.options, LinkLocalAddressOption)
        if session.link_local_address is None and lma_link_local is not None \
                and not lma_link_local.address.is_unspecified:
            session.link_local_address = lma_link_local.address
        self.bul.set_prefixes(entry, prefixes)
        try:
            self._install(entry)
        except DataPlaneError as e:
            log.error("cannot install forwarding for %s: %s; de-registering it", entry.mn_identifier, e)
            self._drop("dataplane-error")
            self._deregister(entry)
            return
        first = not session.ever_accepted
        self.bul.mark_accepted(entry, pba.lifetime, now)
        session.ever_accepted = True
        session.retried = False
        session.accepted_wall = self.ctx.clock.wall()
        self._schedule_refresh(entry)
        stats = self.ctx.stats
        if first:
            stats.bindings_created += 1
            if entry.handoff_indicator in (HandoffIndicator.HANDOFF_BETWEEN_INTERFACES,
                                           HandoffIndicator.HANDOFF_BETWEEN_MAGS_SAME_INTERFACE):
                stats.handovers += 1
            self.ctx.events.publish("binding-created", **self._event_data(entry), **{
                "lma-address": str(entry.lma_address), "access-technology-type": entry.access_technology_type,
                "handoff-indicator": entry.handoff_indicator, "lifetime": pba.lifetime,
                "tunnel": self._spec(entry).tunnel.name})
        else:
            stats.bindings_refreshed += 1
            self.ctx.events.publish("binding-updated", **self._event_data(entry), **{
                "lma-address": str(entry.lma_address), "handoff": False,
                "handoff-indicator": entry.handoff_indicator, "lifetime": pba.lifetime})

    def _retry(self, entry: BindingUpdateListEntry, pba: ProxyBindingAck) -> None:
        """One more registration after a 157 (a fresh timestamp), a 155 (asking the LMA to
        assign, with one ALL_ZERO prefix) or a 135 (the sequence number resynchronised from
        the PBA), as RFC 5213 §6.9.1.2 #8 and #10 and RFC 6275 §11.7.3 have it."""
        session = _session(entry)
        session.retried = True
        self._settle(entry)
        if pba.status == BindingAckStatus.SEQUENCE_NUMBER_OUT_OF_WINDOW:
            self._sequence[entry.mn_identifier] = pba.sequence
        elif pba.status == BindingAckStatus.NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX and entry.home_network_prefixes:
            self._uninstall(entry)  # the refused prefixes are not the node's any more
            self.bul.set_prefixes(entry, ())
        first = not session.ever_accepted
        timeout = self.settings.timers.initial_bindack_timeout_first_reg if first else INITIAL_BINDACK_TIMEOUT
        self._send_update(entry, entry.lifetime_requested, timeout)

    def _reject(self, entry: BindingUpdateListEntry, pba: ProxyBindingAck) -> None:
        """RFC 5213 §6.9.1.2 #11: a rejected node gets no mobility service and no further updates."""
        status = pba.status
        if status == BindingAckStatus.TIMESTAMP_MISMATCH:
            # #9: register again only once the clocks are synchronised to the domain's time
            # source; the LMA's clock is never adopted. Its time in the PBA tells how far off.
            lma_time = _first(pba.options, TimestampOption)
            skew = f"; the LMA's clock is {lma_time.to_time() - self.ctx.clock.wall():+.3f} s from ours" \
                if lma_time is not None else ""
            log.warning("LMA %s rejected %s with 156 (timestamp mismatch)%s: synchronise the clocks of the "
                        "domain", entry.lma_address, entry.mn_identifier, skew)
        else:
            log.warning("LMA %s rejected %s with status %d", entry.lma_address, entry.mn_identifier, status)
        self.counters.pba_rejected_by_status[status] += 1
        _session(entry).cancel_timers()
        self._settle(entry)
        self._uninstall(entry)
        self._delete(entry, "rejected")

    def _refuse(self, entry: BindingUpdateListEntry, status: int, reason: str) -> None:
        """Deny service and keep the entry, state failed, so nothing registers the node again
        until an operator acts (mn-attach, mn-detach), as RFC 5213 §6.9.1.2 #6 and #7 ask."""
        self.counters.pba_rejected_by_status[status] += 1
        session = _session(entry)
        session.cancel_timers()
        self._settle(entry)
        self._uninstall(entry)
        session.refused = reason
        was_registered = session.ever_accepted
        self.bul.set_state(entry, BulState.FAILED)
        entry.next_retransmission = None
        if was_registered:
            self.ctx.stats.bindings_deleted += 1
        self.ctx.events.publish("binding-deleted", **self._event_data(entry), reason="rejected")

    def _on_bri(self, bri: BindingRevocationIndication, src: IPv6Address, src_port: int) -> None:
        """RFC 5846 §9.1: remove the sessions the BRI names and answer with a BRA that copies
        its Sequence Number and its P, V and G flags (§6.1.2)."""
        if src != self.settings.mag.lma_address and src != self.settings.mag.standby_lma_address:
            self.ctx.stats.dropped("bri", src, "bri-from-unknown-peer")  # §6.2: not the peer our bindings are with
            return
        status, revoked = self._revocation_requested(bri, src)
        for entry in revoked:
            _session(entry).cancel_timers()
            self._settle(entry)
            self._uninstall(entry)
            self._delete(entry, "revoked", **{"revocation-trigger": bri.trigger})
        mn = _first(bri.options, MobileNodeIdentifierOption)
        reply = BindingRevocationAck(status=status, sequence=bri.sequence, proxy=bri.proxy,
                                     ipv4_home_address_only=bri.ipv4_home_address_only, global_=bri.global_,
                                     options=(mn,) if mn is not None and not bri.global_ else ())
        self.ctx.send(reply, src, src_port or None)

    def _revocation_requested(self, bri: BindingRevocationIndication,
                              lma: IPv6Address) -> tuple[int, list[BindingUpdateListEntry]]:
        """(BRA status, the sessions to remove) for a BRI from our LMA (RFC 5846 §6.2.1, §9.1)."""
        trigger = bri.trigger
        mn = _first(bri.options, MobileNodeIdentifierOption)
        anchored = [e for e in self.bul if e.lma_address == lma]
        if trigger not in _REVOCATION_TRIGGERS:  # §6.2.1: SHOULD reject
            return BindingRevocationStatus.REVOCATION_TRIGGER_NOT_SUPPORTED, []
        if bri.global_ != (trigger >= RevocationTrigger.PER_PEER_POLICY):  # §6.2.1: SHOULD reject
            return BindingRevocationStatus.REVOCATION_FUNCTION_NOT_SUPPORTED, []
        if not bri.proxy or bri.ipv4_home_address_only:
            # A MAG holds proxy bindings only, and no IPv4 home address (RFC 5844) here: the
            # binding a P=0 or a V=1 BRI names does not exist (V=1 must not touch IPv6, §9.1).
            return BindingRevocationStatus.BINDING_DOES_NOT_EXIST, []
        if trigger == RevocationTrigger.PER_PEER_POLICY:  # §9.1: P set and no options
            if bri.options:
                return BindingRevocationStatus.REVOCATION_FUNCTION_NOT_SUPPORTED, []
            revoked = anchored
        elif trigger == RevocationTrigger.REVOKING_MOBILITY_NODE_LOCAL_POLICY:  # §8.1, §9.1: a realm
            realm = mn.nai.partition("@")[2] if mn is not None else ""
            if not realm:
                return BindingRevocationStatus.REVOKED_MOBILE_NODES_IDENTITY_REQUIRED, []
            revoked = [e for e in anchored if e.mn_identifier.partition("@")[2] == realm]
        elif mn is None:  # §5.1: MUST be present with the P bit
            return BindingRevocationStatus.REVOKED_MOBILE_NODES_IDENTITY_REQUIRED, []
        else:
            prefixes = {o.prefix for o in bri.options if isinstance(o, HomeNetworkPrefixOption)}
            revoked = [e for e in anchored if e.mn_identifier == mn.nai
                       and (not prefixes or prefixes & set(e.home_network_prefixes))]
            if trigger in _HANDOVER_TRIGGERS and any(self._still_attached(e) for e in revoked):
                # §9.1: the node is here: "Revocation failed - MN is attached".
                return BindingRevocationStatus.REVOCATION_FAILED_MN_IS_ATTACHED, []
        if not revoked:
            return BindingRevocationStatus.BINDING_DOES_NOT_EXIST, []
        return BindingRevocationStatus.SUCCESS, revoked

    @staticmethod
    def _still_attached(entry: BindingUpdateListEntry) -> bool:
        """Whether the node of `entry` is on our access link. The MAG de-registers a node the
        moment it learns it left (carrier loss, mn-detach), so an entry not de-registering is
        a node still here (RFC 5846 §9.1)."""
        return entry.state in (BulState.REGISTERING, BulState.REGISTERED, BulState.REFRESHING)

    @property
    def active_lma_address(self) -> IPv6Address:
        """The anchor new sessions register with: mag/lma-address, or after a failover from it
        mag/standby-lma-address, until an operator relocates a node back to mag/lma-address
        (failback is not automatic, docs/liveness.md)."""
        mag = self.settings.mag
        return mag.standby_lma_address if self._failed_over and mag.standby_lma_address else mag.lma_address

    # ----- faults of an anchor (the runtime's fault dispatcher decides, nf/liveness/faults.py) -----
    def anchored_at(self, lma: IPv6Address) -> list[BindingUpdateListEntry]:
        """The sessions registered (or registering) with `lma`, not those leaving."""
        return [e for e in self.bul if e.lma_address == lma and e.state is not BulState.DEREGISTERING]

    def on_lma_restart(self, lma: IPv6Address | None = None, policy: str | None = None) -> int:
        """The LMA's Restart Counter changed: it lost its bindings (RFC 5847 §3.2). Apply
        `policy` (fault-policy/on-peer-restart by default; re-register, as RFC 5847
        recommends); returns the sessions acted on."""
        lma = lma if lma is not None else self.settings.mag.lma_address
        policy = policy or self.settings.fault_policy.on_peer_restart
        if policy == "re-register":
            return self.reregister(lma)
        if policy == "revoke-bindings":
            return self.release(lma, "peer-restart")
        return len(self.anchored_at(lma))

    def reregister(self, lma: IPv6Address) -> int:
        """Send every session anchored at `lma` a fresh Proxy Binding Update."""
        entries = self.anchored_at(lma)
        for entry in entries:
            session = _session(entry)
            session.cancel_timers()
            if session.ever_accepted:  # an initial attach still in flight keeps its own indicator
                entry.handoff_indicator = HandoffIndicator.HANDOFF_STATE_NOT_CHANGED
            self._send_update(entry, entry.lifetime_requested, self.settings.timers.initial_bindack_timeout_first_reg)
        return len(entries)

    def release(self, lma: IPv6Address, reason: str) -> int:
        """End every session anchored at `lma` here (forwarding and advertisement removed),
        without signalling: the anchor is gone or has lost them."""
        entries = self.anchored_at(lma)
        for entry in entries:
            _session(entry).cancel_timers()
            self._uninstall(entry)
            self._delete(entry, reason)
        return len(entries)

    def fail_over(self, failed: IPv6Address, standby: IPv6Address) -> int:
        """Register every session anchored at `failed` with `standby` instead (Handoff
        Indicator 4, handoff state unknown: the node did not move, its anchor changed). The
        forwarding moves to the standby's tunnel when its acknowledgement arrives; until
        then the node's packets still go towards the failed anchor, which loses them anyway."""
        entries = self.anchored_at(failed)
        for entry in entries:
            self._move(entry, standby)
        if failed == self.settings.mag.lma_address and standby == self.settings.mag.standby_lma_address \
                and not self._failed_over:
            self._failed_over = True
            log.warning("new sessions register with the standby LMA %s until nodes are relocated back to %s",
                        standby, failed)
        if entries:
            log.warning("failed over %d session(s) from LMA %s to the standby LMA %s", len(entries), failed, standby)
        return len(entries)

    def has_bindings_with(self, lma: IPv6Address) -> bool:
        """Whether `lma` holds a binding cache entry for one of our nodes (RFC 5847 §3)."""
        return self.bul.any_registered_with(lma)

    def session_peers(self) -> list[IPv6Address]:
        """The anchors this MAG has sessions with (at most the LMA and its standby)."""
        mag = self.settings.mag
        return [a for a in (mag.lma_address, mag.standby_lma_address) if a is not None and self.has_bindings_with(a)]

    def entry_anchor(self, mn_identifier: str) -> IPv6Address | None:
        """The anchor of the node's sessions (None when it has none here or they are leaving)."""
        return next((e.lma_address for e in self.bul.by_mn(mn_identifier) if e.state is not BulState.DEREGISTERING),
                    None)

    def relocate(self, mn_identifier: str, anchor: IPv6Address) -> list[BindingUpdateListEntry]:
        """Register the node's registered sessions with `anchor` instead of their present
        anchor (an operator's failback after a failover, say); returns those that move. As in
        a failover, Handoff Indicator 4, and the forwarding moves when `anchor` accepts; but
        the previous anchor is alive: until then the node's traffic still flows through it,
        and if `anchor` refuses or does not answer within RELOCATION_TIMEOUT the sessions
        register with the previous anchor again. Sessions registering or leaving stay."""
        moving = [e for e in self.bul.by_mn(mn_identifier) if e.lma_address != anchor
                  and e.state in (BulState.REGISTERED, BulState.REFRESHING)]
        for entry in moving:
            previous = entry.lma_address
            self._move(entry, anchor)
            session = _session(entry)
            session.relocating_from = previous
            session.relocation_timer = self.ctx.timers.call_later(
                RELOCATION_TIMEOUT, self._abandon_relocation, entry, f"no answer within {RELOCATION_TIMEOUT:g} s")
        return moving

    async def relocate_and_wait(self, mn_identifier: str, anchor: IPv6Address,
                                timeout: float = 2 * RELOCATION_TIMEOUT) -> tuple[str, IPv6Address | None]:
        """`relocate`, then wait until each moved session is registered again: with `anchor`,
        or, the relocation abandoned, with its previous anchor. Returns relocate-anchor's
        result (relocated, unknown-mobile-node, anchor-unreachable) and the node's anchor
        before."""
        previous = self.entry_anchor(mn_identifier)
        if previous is None:
            return "unknown-mobile-node", None
        waiting: set[bytes | None] = set()
        done = asyncio.get_running_loop().create_future()

        def on_outcome(event) -> None:
            if event.data.get("mn-identifier") == mn_identifier:
                waiting.discard(parse_link_layer_id(event.data.get("link-layer-id")))
                if not waiting and not done.done():
                    done.set_result(None)
        unsubscribe = self.ctx.events.subscribe(on_outcome, {"binding-updated", "binding-deleted"})
        try:
            waiting.update(e.link_layer_id for e in self.relocate(mn_identifier, anchor))
            if waiting:
                await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            unsubscribe()
        now = [e for e in self.bul.by_mn(mn_identifier) if e.state is not BulState.DEREGISTERING]
        if now and all(e.lma_address == anchor and e.state is BulState.REGISTERED for e in now):
            return "relocated", previous
        return "anchor-unreachable", previous

    def _move(self, entry: BindingUpdateListEntry, anchor: IPv6Address) -> None:
        """Register `entry` with `anchor` (Handoff Indicator 4); an update outstanding with the
        previous anchor is abandoned."""
        self._settle(entry)
        _session(entry).cancel_timers()
        entry.lma_address = anchor
        entry.handoff_indicator = HandoffIndicator.HANDOFF_STATE_UNKNOWN
        self._send_update(entry, entry.lifetime_requested, self.settings.timers.initial_bindack_timeout_first_reg)

    def _abandon_relocation(self, entry: BindingUpdateListEntry, why: str) -> None:
        """The relocation's new anchor did not accept. The previous one still holds the session
        and the forwarding never left it: register with it again (a refresh)."""
        session = _session(entry)
        previous = session.relocating_from
        self._settle(entry)
        session.cancel_timers()
        log.warning("relocation of %s to LMA %s abandoned (%s); registering with %s again", entry.mn_identifier,
                    entry.lma_address, why, previous)
        entry.lma_address = previous
        self._refresh(entry)

    # ----- state for the snapshot (nf/snapshot.py) -----------------------------------------
    def entries(self) -> list[BulEntryState]:
        """Every binding update list entry's state."""
        return [self.entry_state(e) for e in self.bul]

    def entry(self, mn_identifier: str, link_layer_id: bytes | str | None = None) -> BulEntryState | None:
        found = self.bul.get(mn_identifier, parse_link_layer_id(link_layer_id))
        return self.entry_state(found) if found is not None else None

    def forwarding(self, mn_identifier: str | None = None) -> list[BindingForwarding]:
        """What each installed session (of one mobile node, or all) has in the data plane:
        uplink rules into the tunnel to its LMA and delivery on its access link."""
        entries = self.bul if mn_identifier is None else self.bul.by_mn(mn_identifier)
        tunnels = self.ctx.tunnels
        return [BindingForwarding(session_key(e.mn_identifier, e.link_layer_id), e.mn_identifier, e.link_layer_id,
                                  e.home_network_prefixes, e.lma_address, tunnels.to(e.lma_address, uplink=True),
                                  _session(e).interface)
                for e in entries if _session(e).installed]

    def forwarding_for_prefix(self, prefix) -> BindingForwarding | None:
        entry = self.bul.by_prefix(prefix)
        if entry is None or not _session(entry).installed:
            return None
        return BindingForwarding(session_key(entry.mn_identifier, entry.link_layer_id), entry.mn_identifier,
                                 entry.link_layer_id, entry.home_network_prefixes, entry.lma_address,
                                 self.ctx.tunnels.to(entry.lma_address, uplink=True), _session(entry).interface)

    def advertisement(self, mn_identifier: str, link_layer_id: bytes | str | None = None) -> RouterAdvertisement | None:
        entry = self.bul.get(mn_identifier, parse_link_layer_id(link_layer_id))
        return _session(entry).advertisement if entry is not None else None

    def entry_state(self, e: BindingUpdateListEntry) -> BulEntryState:
        session = _session(e)
        now = self.ctx.clock.monotonic()
        return BulEntryState(
            mn_identifier=e.mn_identifier, link_layer_id=e.link_layer_id, interface=session.interface,
            lma_address=e.lma_address, proxy_coa=self.settings.node.address,
            home_network_prefixes=e.home_network_prefixes, mag_link_local_address=session.link_local_address,
            access_technology_type=e.access_technology_type, handoff_indicator=e.handoff_indicator,
            sequence_number=e.sequence_sent, lifetime_requested=e.lifetime_requested,
            lifetime_granted=e.lifetime_granted,
            remaining_lifetime=max(0, int(e.expires_at - now)) if e.expires_at is not None else 0,
            time_to_refresh=(max(0, int(session.refresh_timer.deadline - now))
                             if session.refresh_timer is not None and not session.refresh_timer.cancelled else None),
            time_sent=session.last_sent_wall,
            accepted=session.last_status is not None and session.last_status < 128,
            accepted_time=session.accepted_wall, last_status=session.last_status,
            retransmissions=e.retransmissions, state=e.state.value,
            tunnel=self._spec(e).tunnel.name if session.installed else None,
        )

    # ----- sending and retransmission ----------------------------------------------------
    def _send_update(self, entry: BindingUpdateListEntry, lifetime: int, timeout: float) -> None:
        """Send a fresh update (new sequence number) and arm its retransmission, no sooner than
        MAX_UPDATE_RATE allows (RFC 6275 §11.8; RFC 5213 §6.9.4)."""
        session = _session(entry)
        now = self.ctx.clock.monotonic()
        if len(session.recent_sends) == MAX_UPDATE_RATE and now - session.recent_sends[0] < 1.0:
            if session.retransmit_timer is not None:
                session.retransmit_timer.cancel()
            session.retransmit_timer = self.ctx.timers.call_later(
                session.recent_sends[0] + 1.0 - now, self._send_update, entry, lifetime, timeout)
            return
        entry.retransmissions = 0
        session.timeout = timeout
        session.sent_at = now
        self._transmit(entry, lifetime)

    def _transmit(self, entry: BindingUpdateListEntry, lifetime: int) -> None:
        session = _session(entry)
        timers = self.settings.timers
        stamped = timers.timestamp_based_approach_in_use
        counter = None if stamped else entry.mn_identifier
        sequence = (self._sequence.get(counter, 0) + 1) & 0xFFFF
        self._sequence[counter] = sequence
        self._settle(entry)
        entry.sequence_sent = sequence
        self._outstanding[(entry.mn_identifier, sequence)] = entry
        pbu = build_pbu(PbuContent(
            sequence=sequence, lifetime=lifetime, mn_identifier=entry.mn_identifier,
            link_layer_id=entry.link_layer_id, prefixes=entry.home_network_prefixes,
            handoff_indicator=entry.handoff_indicator, access_technology_type=entry.access_technology_type,
            link_local_address=self._link_local_option(session),
            timestamp=self.ctx.clock.wall() if stamped else None,  # §6.9.4 #4: the latest on each retransmission
        ))
        session.last_sent_wall = self.ctx.clock.wall()
        session.recent_sends.append(self.ctx.clock.monotonic())
        self.ctx.send(pbu, entry.lma_address, None)
        session.retransmit_timer = self.ctx.timers.call_later(session.timeout, self._on_retransmit_timer,
                                                               entry, lifetime)
        entry.next_retransmission = self.ctx.clock.monotonic() + session.timeout

    def _link_local_option(self, session: _Session) -> IPv6Address | None:
        """RFC 5213 §6.9.1.1 #9: no Link-local Address option when the domain fixes the MAG's
        link-local address; otherwise the one the session uses, or ALL_ZERO to ask the LMA."""
        fixed = self.settings.mag.fixed_link_local_address
        if fixed is not None and not fixed.is_unspecified:
            return None
        return session.link_local_address or _ALL_ZERO

    def _settle(self, entry: BindingUpdateListEntry) -> None:
        """The outstanding update of `entry` is answered or abandoned: stop matching PBAs to it."""
        if self._outstanding.get((entry.mn_identifier, entry.sequence_sent)) is entry:
            del self._outstanding[(entry.mn_identifier, entry.sequence_sent)]
        session = _session(entry)
        if session.retransmit_timer is not None:
            session.retransmit_timer.cancel()
            session.retransmit_timer = None

    def _on_retransmit_timer(self, entry: BindingUpdateListEntry, lifetime: int) -> None:
        """RFC 6275 §11.8: double the wait per retransmission up to MAX_BINDACK_TIMEOUT, then give
        up. Each retransmission carries a new sequence number and a fresh timestamp (RFC 5213
        §6.9.4 #4). A de-registration is not retransmitted: its entry goes now (§6.9.1.4)."""
        session = _session(entry)
        session.retransmit_timer = None
        if entry.state is BulState.DEREGISTERING:
            self._settle(entry)
            session.cancel_timers()
            self._delete(entry, "deregistered")
            return
        max_timeout = self.settings.timers.max_bindack_timeout
        if session.timeout >= max_timeout:
            self._give_up(entry)
            return
        session.timeout = min(session.timeout * 2, max_timeout)
        entry.retransmissions += 1
        self.ctx.stats.pbu_retransmitted += 1
        self._transmit(entry, lifetime)

    def _give_up(self, entry: BindingUpdateListEntry) -> None:
        log.warning("no answer from LMA %s for %s after %d retransmissions; giving up", entry.lma_address,
                    entry.mn_identifier, entry.retransmissions)
        self.counters.pba_timeouts += 1
        session = _session(entry)
        session.cancel_timers()
        self._settle(entry)
        self._uninstall(entry)
        if entry.state is not BulState.DEREGISTERING:  # a node that left needs no alarm
            self.ctx.events.publish("registration-failed", peer=str(entry.lma_address),
                                    retransmissions=entry.retransmissions,
                                    **{"mn-identifier": entry.mn_identifier})
        self._delete(entry, "deregistered" if entry.state is BulState.DEREGISTERING else "path-down")

    # ----- refresh and expiry ------------------------------------------------------------
    def _schedule_refresh(self, entry: BindingUpdateListEntry) -> None:
        session = _session(entry)
        lifetime = entry.lifetime_granted
        delay = refresh_delay(lifetime, self.settings.timers.refresh_advance)
        for timer in (session.refresh_timer, session.expiry_timer):
            if timer is not None:
                timer.cancel()
        session.refresh_timer = self.ctx.timers.call_later(delay, self._refresh, entry)
        session.expiry_timer = self.ctx.timers.call_later(lifetime, self._expire, entry)

    def _refresh(self, entry: BindingUpdateListEntry) -> None:
        """Re-registration: the assigned prefixes, Handoff Indicator 5 (RFC 5213 §6.9.1.3)."""
        session = _session(entry)
        session.refresh_timer = None
        self._settle(entry)
        self.bul.set_state(entry, BulState.REFRESHING)
        entry.handoff_indicator = HandoffIndicator.HANDOFF_STATE_NOT_CHANGED
        self._send_update(entry, entry.lifetime_requested, INITIAL_BINDACK_TIMEOUT)

    def _expire(self, entry: BindingUpdateListEntry) -> None:
        session = _session(entry)
        session.expiry_timer = None
        session.cancel_timers()
        self._uninstall(entry)
        self._delete(entry, "expired")

    # ----- data plane and access link ----------------------------------------------------
    def _spec(self, entry: BindingUpdateListEntry):
        session = _session(entry)
        return session_spec(self.ctx.tunnels, session_key(entry.mn_identifier, entry.link_layer_id),
                            entry.lma_address, session.interface, entry.home_network_prefixes)

    def _install(self, entry: BindingUpdateListEntry) -> None:
        session = _session(entry)
        spec = self._spec(entry)
        self.ctx.dataplane.apply(spec)
        session.installed = True
        if not session.advertise:
            return
        ra = router_advertisement(self.settings.mag.router_advertisement, spec.key, session.interface,
                                  session.link_local_address, entry.home_network_prefixes)
        session.advertisement = ra
        advertise = getattr(self.ctx.dataplane, "advertise", None)  # access-link layer, where the backend has one
        if advertise is not None:
            advertise(ra)

    def _uninstall(self, entry: BindingUpdateListEntry) -> None:
        session = _session(entry)
        key = session_key(entry.mn_identifier, entry.link_layer_id)
        if session.advertisement is not None:
            withdraw = getattr(self.ctx.dataplane, "withdraw_advertisement", None)
            if withdraw is not None:
                withdraw(key)
            session.advertisement = None
        if session.installed:
            try:
                self.ctx.dataplane.remove(key)
            except DataPlaneError as e:  # an audit reconciles what is left behind
                log.error("cannot remove forwarding of %s: %s", entry.mn_identifier, e)
                self._drop("dataplane-error")
            session.installed = False

    # ----- bookkeeping -------------------------------------------------------------------
    def _delete(self, entry: BindingUpdateListEntry, reason: str, **extra: Any) -> None:
        self.bul.remove(entry.mn_identifier, entry.link_layer_id)
        self.ctx.stats.bindings_deleted += 1
        self.ctx.events.publish("binding-deleted", **self._event_data(entry), reason=reason, **extra)

    def _forget(self, entry: BindingUpdateListEntry) -> None:
        session = _session(entry)
        session.cancel_timers()
        self._settle(entry)
        self._uninstall(entry)
        self.bul.remove(entry.mn_identifier, entry.link_layer_id)

    def _event_data(self, entry: BindingUpdateListEntry) -> dict[str, Any]:
        return {
            "mn-identifier": entry.mn_identifier,
            "link-layer-id": format_link_layer_id(entry.link_layer_id),
            "home-network-prefix": [str(p) for p in entry.home_network_prefixes],
            "proxy-coa": str(self.settings.node.address),
        }

    def _drop(self, reason: str) -> None:
        self.ctx.stats.drops_by_reason[reason] += 1

    def _access_interface(self, name: str | None) -> AccessInterface:
        mag = self.settings.mag
        if name is None:
            if mag.access_interfaces:
                return mag.access_interfaces[0]
            if self.settings.dataplane.access_interface:
                return AccessInterface(self.settings.dataplane.access_interface, AccessTechnologyType.IEEE_802_3, None)
            raise MagError("no access interface is configured (mag/access-interface)")
        for access in mag.access_interfaces:
            if access.name == name:
                return access
        if not mag.access_interfaces and name == self.settings.dataplane.access_interface:
            return AccessInterface(name, AccessTechnologyType.IEEE_802_3, None)
        raise MagError(f"{name!r} is not a configured access interface")

    def _link_local(self, access: AccessInterface) -> IPv6Address | None:
        """RFC 5213 6.8: the fixed MAG link-local address when the domain uses one."""
        fixed = self.settings.mag.fixed_link_local_address
        if fixed is not None and not fixed.is_unspecified:
            return fixed
        return access.link_local_address


def _session(entry: BindingUpdateListEntry) -> _Session:
    return entry.role_data


def _first(options: Iterable[Any], kind: type) -> Any:
    return next((o for o in options if isinstance(o, kind)), None)


def _check_nai(mn_identifier: object) -> None:
    if not isinstance(mn_identifier, str) or not mn_identifier:
        raise MagError(f"MN-Identifier must be a non-empty NAI, got {mn_identifier!r}")
    try:
        body = MobileNodeIdentifierOption(mn_identifier).body()
    except EncodeError as e:
        raise MagError(f"MN-Identifier {mn_identifier!r}: {e}") from None
    if len(body) > 255:
        raise MagError("MN-Identifier is longer than a mobility option can carry (254 octets)")


def parse_link_layer_id(value: bytes | str | None) -> bytes | None:
    """Bytes, or text like '02:00:00:00:00:01' / '020000000001'; empty means none."""
    if value is None or value == b"" or value == "":
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return bytes.fromhex(value.replace(":", "").replace("-", ""))
        except ValueError:
            raise MagError(f"link-layer identifier {value!r} is not hexadecimal octets") from None
    raise MagError(f"link-layer identifier must be bytes or hex text, got {type(value).__name__}")


def format_link_layer_id(value: bytes | None) -> str:
    return value.hex(":") if value else ""
