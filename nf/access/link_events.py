"""Carrier changes of access interfaces, from the kernel's RTM_NEWLINK / RTM_DELLINK
notifications (netlink group RTMGRP_LINK, read through pyroute2 on the asyncio loop).

A point-to-point access link whose carrier drops means the mobile node left it; carrier back
means a node is there again. Only changes are reported: the kernel repeats RTM_NEWLINK for
many reasons (MTU, statistics, address changes) that say nothing about the link.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import RTMGRP_LINK

log = logging.getLogger(__name__)

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000

LinkEventHandler = Callable[[str, bool], None]  # (interface, up)


def carrier_up(message) -> bool:
    """Administratively up with a carrier (IFLA_CARRIER where the kernel sends it)."""
    flags = message["flags"]
    carrier = message.get_attr("IFLA_CARRIER")
    has_carrier = bool(carrier) if carrier is not None else bool(flags & IFF_LOWER_UP)
    return bool(flags & IFF_UP) and has_carrier


class CarrierMonitor:
    """Watches `interfaces` and calls `on_change(interface, up)` on the loop at each change."""

    def __init__(self, interfaces: Iterable[str], on_change: LinkEventHandler,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.interfaces = frozenset(interfaces)
        self.on_change = on_change
        self.loop = loop
        self.state: dict[str, bool] = {}
        self._ipr: IPRoute | None = None

    def start(self) -> None:
        ipr = IPRoute()
        ipr.bind(groups=RTMGRP_LINK)
        for message in ipr.get_links():  # the state before any change is reported
            name = message.get_attr("IFLA_IFNAME")
            if name in self.interfaces:
                self.state[name] = carrier_up(message)
        self._ipr = ipr
        self.loop.add_reader(ipr.fileno(), self._read)

    def stop(self) -> None:
        if self._ipr is not None:
            self.loop.remove_reader(self._ipr.fileno())
            self._ipr.close()
            self._ipr = None

    def _read(self) -> None:
        assert self._ipr is not None
        try:
            messages = self._ipr.get()
        except Exception as e:  # a netlink hiccup (e.g. ENOBUFS) must not stop the loop
            log.warning("link monitor: netlink read failed: %s", e)
            return
        for message in messages:
            name = message.get_attr("IFLA_IFNAME")
            if name not in self.interfaces:
                continue
            up = message["event"] == "RTM_NEWLINK" and carrier_up(message)
            if self.state.get(name) != up:
                self.state[name] = up
                self._report(name, up)

    def _report(self, interface: str, up: bool) -> None:
        try:
            self.on_change(interface, up)
        except Exception:  # the subscriber's failure is its own; the monitor keeps watching
            log.exception("link event handler failed for %s", interface)
