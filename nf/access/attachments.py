"""The MAG's access links wired to its role: link events become attaches and detaches.

`AccessLinks` owns one `AccessLink` per access interface of a MAG on the Linux data plane
and gives the links' observations their RFC 5213 meaning (section 6.9.1.1 attach, 6.9.1.2
detach):

* a Router Solicitation from a node the link advertises nothing to attaches that node, when
  the MAG knows who it is (`MobileNodeIdentities`: a MAC with no identity is ignored);
* carrier loss on a point-to-point access link detaches every node registered on it;
* carrier back changes nothing: the node that arrived is not known until it solicits, which
  a host does as soon as its interface is up (RFC 4861 section 6.3.7).

The runtime builds, starts and closes it; the Linux data plane forwards the MAG role's
`advertise(ra)` / `withdraw_advertisement(key)` to it (`LinuxDataPlane.use_access_links`).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from nf.roles.mag_forwarding import RouterAdvertisement, session_key
from nf.snapshot import BulEntryState
from nf.settings import MagSettings
from nf.snapshot import BulEntryState

from .errors import AccessLinkError
from .identity import MobileNodeIdentities
from .link import AccessLink

log = logging.getLogger(__name__)


class MobilityAccessGateway(Protocol):
    """What the links need of the MAG role (nf.roles.mag.MagRole)."""

    def attach(self, mn_identifier: str, link_layer_id: bytes | str | None = None,
               access_technology_type: int | None = None, interface: str | None = None) -> Any: ...

    def detach(self, mn_identifier: str, link_layer_id: bytes | str | None = None) -> Any: ...

    def entries(self) -> list[BulEntryState]: ...

    def entry(self, mn_identifier: str, link_layer_id: bytes | str | None = None) -> BulEntryState | None: ...


LinkFactory = Callable[..., AccessLink]


class AccessLinks:
    def __init__(self, interfaces: Iterable[str], settings: MagSettings, mag: MobilityAccessGateway,
                 identities: MobileNodeIdentities, loop: asyncio.AbstractEventLoop, *,
                 link_factory: LinkFactory = AccessLink) -> None:
        self.mag = mag
        self.identities = identities
        self.links: dict[str, AccessLink] = {
            name: link_factory(name, settings, loop, on_solicitation=self.on_solicitation,
                               on_link_event=self.on_link_event)
            for name in dict.fromkeys(interfaces)}
        self._link_layer_of: dict[str, bytes] = {}  # session key -> the MAC that attached it

    def start(self) -> None:
        """Start every link; if one cannot start, those already started are closed again."""
        started: list[AccessLink] = []
        try:
            for link in self.links.values():
                link.start()
                started.append(link)
        except Exception:
            for link in started:
                link.close()
            raise

    def close(self) -> None:
        for link in self.links.values():
            link.close()

    # ----- what the MAG role asks (through the data plane) -------------------------------
    def advertise(self, ra: RouterAdvertisement) -> None:
        self._link(ra.interface).advertise(ra, self._link_layer_of.get(ra.key))

    def withdraw(self, key: str) -> bool:
        self._link_layer_of.pop(key, None)
        return any(link.withdraw(key) for link in self.links.values())

    def _link(self, interface: str) -> AccessLink:
        link = self.links.get(interface)
        if link is None:
            raise AccessLinkError(f"{interface!r} is not an access link of this MAG")
        return link

    # ----- what the links see --------------------------------------------------------------
    def on_solicitation(self, interface: str, link_layer_address: bytes | None) -> None:
        mn_identifier = self.identities.identify(link_layer_address)
        if mn_identifier is None:
            log.info("Router Solicitation on %s from %s: no mobile node of ours, not attached", interface,
                     link_layer_address.hex(":") if link_layer_address else "an unnamed link-layer address")
            return
        pending = self.mag.entry(mn_identifier, link_layer_address)
        if pending is not None and pending.state == "registering" and pending.interface == interface:
            return  # a repeated solicitation while its registration is under way
        if pending is not None and pending.state == "failed":
            # RFC 5213 §6.9.1.2 #6, #7: refused by the LMA; only an operator's mn-attach or
            # mn-detach registers it again.
            log.info("Router Solicitation on %s from %s: %s was refused by the LMA (status %s), not registered "
                     "again without an operator", interface, link_layer_address.hex(":"), mn_identifier,
                     pending.last_status)
            return
        self._link_layer_of[session_key(mn_identifier, link_layer_address)] = link_layer_address
        self.mag.attach(mn_identifier, link_layer_id=link_layer_address, interface=interface)

    def on_link_event(self, interface: str, up: bool) -> None:
        if up or not self.links[interface].point_to_point:
            return  # on a shared link one node's departure says nothing of the others
        for entry in self.mag.entries():
            if entry.interface == interface and entry.state != "deregistering":
                self.mag.detach(entry.mn_identifier, entry.link_layer_id)
