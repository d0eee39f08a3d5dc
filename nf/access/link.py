"""One access link of the MAG on Linux: per-mobile-node Router Advertisements, answers to
Router Solicitations, and the link's carrier events (RFC 5213 sections 6.7, 6.8, 6.9.3).

`AccessLink` is a component the Linux data plane or the runtime owns, one per access
interface. The MAG role hands it what to advertise (`advertise(ra)` after an accepted PBA,
`withdraw(key)` when the session ends); the link reports what it sees: a solicitation from a
node it advertises nothing to (`on_solicitation(interface, link_layer_address)`, so the
runtime can attach that node) and carrier changes (`on_link_event(interface, up)`, so the
runtime can detach the node of a point-to-point link that went down).
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

from nf.roles.mag_forwarding import RouterAdvertisement
from nf.settings import MagSettings

from . import ra as advertising
from .errors import AccessLinkError, NdpDecodeError
from .icmp_socket import IcmpSocket
from .interface import AccessInterfaceSetup
from .link_events import CarrierMonitor
from .ndp import RouterAdvertisementMessage, decode_solicitation

log = logging.getLogger(__name__)

ALL_NODES = IPv6Address("ff02::1")

SolicitationHandler = Callable[[str, "bytes | None"], None]  # (interface, link-layer address)
LinkEventHandler = Callable[[str, bool], None]  # (interface, up)


@dataclass(slots=True, eq=False)
class _Advertised:
    ra: RouterAdvertisement
    link_layer_address: bytes | None  # the mobile node's, when known
    sent: int = 0
    timer: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class AccessLink:
    def __init__(self, interface: str, settings: MagSettings, loop: asyncio.AbstractEventLoop, *,
                 on_solicitation: SolicitationHandler | None = None,
                 on_link_event: LinkEventHandler | None = None,
                 timers: advertising.AdvertisingTimers = advertising.AdvertisingTimers(),
                 point_to_point: bool = True) -> None:
        self.interface = interface
        self.settings = settings
        self.loop = loop
        self.on_solicitation = on_solicitation
        self.on_link_event = on_link_event
        self.timers = timers
        self.point_to_point = point_to_point
        self.counters: Counter[str] = Counter()  # sent, solicited, withdrawn, send-failed, rs-*
        self.neighbors: dict[bytes, IPv6Address] = {}  # link-layer -> link-local, learnt from solicitations
        self._advertised: dict[str, _Advertised] = {}
        self._setup = AccessInterfaceSetup(interface)
        self._socket: IcmpSocket | None = None
        self._monitor: CarrierMonitor | None = None
        self._link_layer: bytes | None = None  # what the Source Link-Layer Address option carries
        self._link_locals: list[IPv6Address] = []

    # ----- life cycle --------------------------------------------------------------------
    def start(self) -> None:
        """Set up the interface, open the socket and the carrier monitor (needs root).

        Runs in the caller's network namespace: every socket stays in the namespace it was
        opened in."""
        fixed_ll = self.settings.fixed_link_local_address
        self._setup.prepare(fixed_ll if fixed_ll is not None and not fixed_ll.is_unspecified else None,
                            self._fixed_link_layer())
        try:
            self._link_locals = self._setup.link_local_addresses()
            self._link_layer = self._fixed_link_layer() or self._setup.mac()
            self._socket = IcmpSocket(self.interface)
            self.loop.add_reader(self._socket.fileno(), self._on_readable)
            self._monitor = CarrierMonitor([self.interface], self._on_carrier, self.loop)
            self._monitor.start()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        """Stop advertising (withdrawing what is still advertised) and undo the interface set-up."""
        for key in list(self._advertised):
            self.withdraw(key)
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        if self._socket is not None:
            self.loop.remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None
        self._setup.restore()

    # ----- what the MAG asks ---------------------------------------------------------------
    def advertise(self, ra: RouterAdvertisement, link_layer_address: bytes | None = None) -> None:
        """Advertise `ra` now and periodically until withdrawn; replaces the one of the same key.

        `link_layer_address` is the mobile node's when known: its advertisements then go
        unicast to the link-local address it solicited from."""
        advertising.check(ra, self.interface)
        if self._socket is None:
            raise AccessLinkError(f"access link {self.interface} is not started")
        self._source(ra)  # refuse now, not at the first transmission, when there is none
        old = self._advertised.pop(ra.key, None)
        if old is not None:
            old.cancel()
        entry = _Advertised(ra, link_layer_address)
        self._advertised[ra.key] = entry
        self._send_periodic(entry)

    def withdraw(self, key: str) -> bool:
        """Send `key`'s prefixes with lifetimes 0 and stop advertising them; False if unknown."""
        entry = self._advertised.pop(key, None)
        if entry is None:
            return False
        entry.cancel()
        unicast = self._unicast_destination(entry)
        # Router lifetime 0 only where it cannot take the default router from another node.
        lifetime = 0 if unicast is not None or not self._advertised else entry.ra.router_lifetime
        self._send(entry, advertising.message(entry.ra, self._link_layer, withdrawn=True, router_lifetime=lifetime),
                   unicast or ALL_NODES)
        self.counters["withdrawn"] += 1
        return True

    def advertised(self) -> dict[str, RouterAdvertisement]:
        return {key: entry.ra for key, entry in self._advertised.items()}

    # ----- sending -------------------------------------------------------------------------
    def _send_periodic(self, entry: _Advertised) -> None:
        entry.timer = None
        self._send(entry, advertising.message(entry.ra, self._link_layer),
                   self._unicast_destination(entry) or ALL_NODES)
        entry.sent += 1
        entry.timer = self.loop.call_later(self.timers.next_interval(entry.sent), self._send_periodic, entry)

    def _send(self, entry: _Advertised, message: RouterAdvertisementMessage, destination: IPv6Address) -> None:
        assert self._socket is not None  # advertise() refuses before start(); close() withdraws first
        try:
            self._socket.send(message.encode(), self._source(entry.ra), destination)
            self.counters["sent"] += 1
        except OSError as e:  # the link may be down this instant; the next period retries
            self.counters["send-failed"] += 1
            log.warning("cannot send a Router Advertisement on %s to %s: %s", self.interface, destination, e)

    def _source(self, ra: RouterAdvertisement) -> IPv6Address:
        return advertising.source_address(ra, self.settings.fixed_link_local_address, self._link_locals)

    def _unicast_destination(self, entry: _Advertised) -> IPv6Address | None:
        if entry.link_layer_address is None:
            return None
        return self.neighbors.get(entry.link_layer_address)

    def _fixed_link_layer(self) -> bytes | None:
        lla = self.settings.fixed_link_layer_address
        return lla if lla and any(lla) else None  # all zeroes: the technology has none (RFC 5213 9.3)

    # ----- what the link says --------------------------------------------------------------
    def _on_readable(self) -> None:
        assert self._socket is not None
        while (received := self._socket.receive()) is not None:
            try:
                solicitation = decode_solicitation(received.data, received.source, received.hop_limit)
            except NdpDecodeError as e:
                self.counters[f"rs-invalid/{e.reason}"] += 1
                continue
            self.counters["rs-received"] += 1
            self._on_solicitation(received.source, solicitation.source_link_layer_address)

    def _on_solicitation(self, source: IPv6Address, link_layer: bytes | None) -> None:
        if link_layer is not None and not source.is_unspecified:
            self.neighbors[link_layer] = source
        answering = [e for e in self._advertised.values()
                     if link_layer is not None and e.link_layer_address == link_layer]
        if not answering and self.point_to_point:  # the one node of the link is the one we advertise to
            answering = [e for e in self._advertised.values() if e.link_layer_address is None]
        if not answering:
            self.counters["rs-unknown-node"] += 1
            if self.on_solicitation is not None:
                self._call(self.on_solicitation, self.interface, link_layer)
            return
        destination = ALL_NODES if source.is_unspecified else source
        delay = random.uniform(0, self.timers.max_response_delay)  # RFC 4861 6.2.6
        for entry in answering:
            self.loop.call_later(delay, self._answer, entry, destination)

    def _answer(self, entry: _Advertised, destination: IPv6Address) -> None:
        if self._advertised.get(entry.ra.key) is not entry:
            return  # withdrawn or replaced meanwhile
        self._send(entry, advertising.message(entry.ra, self._link_layer), destination)
        self.counters["solicited"] += 1

    def _on_carrier(self, interface: str, up: bool) -> None:
        if not up:
            self.neighbors.clear()  # whoever was there has left
        if self.on_link_event is not None:
            self._call(self.on_link_event, interface, up)

    @staticmethod
    def _call(handler: Callable[..., None], *args: object) -> None:
        try:
            handler(*args)
        except Exception:  # a subscriber's failure must not stop the link
            log.exception("access link handler %r failed", handler)

