"""Giving the access interface the MAG's fixed addresses (RFC 5213 sections 6.8 and 6.9.3).

Every MAG of the domain uses the same link-local and link-layer address on every access
link, so a mobile node that moves sees the same default router. The kernel only sends from
addresses it holds, so the fixed link-local address is added as a permanent address with
`nodad` (every MAG holds it by design; duplicate address detection would only fail or delay
it) rather than sent through IPV6_FREEBIND, which would leave neighbour solicitations for it
unanswered. The fixed link-layer address becomes the interface's MAC address, so the
kernel's neighbour advertisements agree with the Source Link-Layer Address option of our
advertisements. What was changed is undone by `restore()`.
"""
from __future__ import annotations

import socket
from ipaddress import IPv6Address

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from .errors import InterfaceUnavailable

IFA_F_NODAD = 0x02
IFA_F_PERMANENT = 0x80
RT_SCOPE_LINK = 253


class AccessInterfaceSetup:
    def __init__(self, interface: str) -> None:
        self.interface = interface
        self._added_address: IPv6Address | None = None
        self._original_mac: str | None = None

    def prepare(self, link_local: IPv6Address | None, link_layer: bytes | None) -> None:
        """Hold `link_local` and use `link_layer` on the interface (each only when given)."""
        if link_local is not None and not link_local.is_link_local:
            raise InterfaceUnavailable(f"{link_local} is not a link-local address (fe80::/10)")
        with IPRoute() as ipr:
            index = self._index(ipr)
            if link_layer is not None:
                self._use_mac(ipr, index, link_layer)
            if link_local is not None and link_local not in self._addresses(ipr, index):
                try:
                    ipr.addr("add", index=index, address=str(link_local), prefixlen=64, family=socket.AF_INET6,
                             flags=IFA_F_NODAD | IFA_F_PERMANENT, scope=RT_SCOPE_LINK)
                except NetlinkError as e:
                    raise InterfaceUnavailable(f"cannot add {link_local} to {self.interface}: {e}") from None
                self._added_address = link_local

    def link_local_addresses(self) -> list[IPv6Address]:
        with IPRoute() as ipr:
            return [a for a in self._addresses(ipr, self._index(ipr)) if a.is_link_local]

    def mac(self) -> bytes | None:
        """The interface's link-layer address; None where the link has none (all zeroes)."""
        with IPRoute() as ipr:
            text = ipr.get_links(self._index(ipr))[0].get_attr("IFLA_ADDRESS") or ""
        mac = bytes.fromhex(text.replace(":", ""))
        return mac if any(mac) else None

    def restore(self) -> None:
        """Take back the address and MAC `prepare` set; a vanished interface needs nothing."""
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=self.interface)
            if not found:
                return
            index = found[0]
            if self._added_address is not None:
                try:
                    ipr.addr("del", index=index, address=str(self._added_address), prefixlen=64,
                             family=socket.AF_INET6)
                except NetlinkError:
                    pass  # already gone
                self._added_address = None
            if self._original_mac is not None:
                ipr.link("set", index=index, address=self._original_mac)
                self._original_mac = None

    def _index(self, ipr: IPRoute) -> int:
        found = ipr.link_lookup(ifname=self.interface)
        if not found:
            raise InterfaceUnavailable(f"access interface {self.interface!r} does not exist")
        return found[0]

    def _use_mac(self, ipr: IPRoute, index: int, link_layer: bytes) -> None:
        current = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
        wanted = link_layer.hex(":")
        if current == wanted:
            return
        try:
            ipr.link("set", index=index, address=wanted)
        except NetlinkError as e:
            raise InterfaceUnavailable(f"cannot set {self.interface} link-layer address {wanted}: {e}") from None
        self._original_mac = current

    @staticmethod
    def _addresses(ipr: IPRoute, index: int) -> list[IPv6Address]:
        return [IPv6Address(a.get_attr("IFA_ADDRESS")) for a in ipr.get_addr(family=socket.AF_INET6, index=index)]
