"""Netlink operations the Linux data plane needs, over pyroute2, each marked as ours.

Every route carries the configured route `protocol`; every rule carries the configured
priority and the same protocol number. Listing and deleting filter on those marks, so the
function never touches a route or rule it did not create.
"""
from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network

from pyroute2 import IPRoute, NetNS
from pyroute2.netlink.exceptions import NetlinkError

from .base import DataPlaneError, SpecConflict

MAIN_TABLE = 254
LOCAL_TABLE = 255
SCRATCH_TABLE = 4242
RTM_F_FIB_MATCH = 0x2000  # a table nothing else uses, for the start-up encapsulation probe


@dataclass(frozen=True, slots=True)
class KernelRoute:
    """One IPv6 route we install: via SRv6 encapsulation (`segment`), an SRv6 End.DT6
    decapsulation (`decap_table`), or straight out of `device`; of route type `type`
    (`local` delivers to this node, `unreachable` drops with an ICMPv6 error)."""

    table: int
    prefix: IPv6Network
    device: str
    segment: IPv6Address | None = None
    decap_table: int | None = None
    type: str = "unicast"

    @property
    def key(self) -> tuple[str, int, IPv6Network]:
        return ("route", self.table, self.prefix)


@dataclass(frozen=True, slots=True)
class KernelRule:
    """`ip -6 rule from SOURCE [to DESTINATION] [iif DEVICE] lookup TABLE` at our priority;
    an empty `iif` matches every packet, the ones this node sends included."""

    source: IPv6Network
    iif: str
    table: int
    destination: IPv6Network | None = None

    @property
    def key(self) -> tuple[str, IPv6Network, IPv6Network | None, str, int]:
        return ("rule", self.source, self.destination, self.iif, self.table)


@dataclass(frozen=True, slots=True)
class KernelTunnelLink:
    """An ip6ip6 tunnel interface (kernels with ip6_tunnel)."""

    name: str
    local: IPv6Address
    remote: IPv6Address

    @property
    def key(self) -> tuple[str, str]:
        return ("link", self.name)


KernelObject = KernelRoute | KernelRule | KernelTunnelLink


@dataclass(frozen=True, slots=True)
class FibResult:
    """What a kernel route lookup answered (`ip -6 route get fibmatch`): the matched route."""

    prefix: IPv6Network
    table: int
    protocol: int
    type: str
    device: str | None
    segments: tuple[IPv6Address, ...]  # seg6 encapsulation, empty for none
    gateway: IPv6Address | None

    def describe(self) -> str:
        words = [self.type] if self.type != "unicast" else []
        words.append(str(self.prefix))
        if self.segments:
            words.append("encap seg6 segs " + ",".join(str(s) for s in self.segments))
        if self.gateway is not None:
            words.append(f"via {self.gateway}")
        if self.device:
            words.append(f"dev {self.device}")
        words.append(f"table {self.table} proto {self.protocol}")
        return " ".join(words)


class Netlink:
    """Routes, rules and tunnel links in one network namespace (the current one by default)."""

    def __init__(self, protocol: int, rule_priority: int, netns: str | None = None) -> None:
        self.protocol = protocol
        self.rule_priority = rule_priority
        self.netns = netns
        try:
            self._ip = NetNS(netns) if netns else IPRoute()
            self._indices: dict[str, int] = {}
        except (OSError, NetlinkError) as error:
            raise DataPlaneError(f"cannot open netlink in namespace {netns!r}: {error}") from error

    def close(self) -> None:
        self._ip.close()

    # -- devices ---------------------------------------------------------------------------
    def link_index(self, name: str) -> int:
        """The interface's index, cached: a netlink round trip per route would halve the
        install rate. A failed install drops the cache, in case the interface was recreated."""
        index = self._indices.get(name)
        if index is None:
            found = self._ip.link_lookup(ifname=name)
            if not found:
                raise DataPlaneError(f"no network interface named {name!r}")
            index = self._indices[name] = found[0]
        return index

    def device_towards(self, address: IPv6Address) -> str:
        """The interface the kernel would send packets for `address` out of."""
        try:
            routes = self._ip.route("get", dst=str(address), family=socket.AF_INET6)
        except NetlinkError as error:
            raise DataPlaneError(f"no route towards {address}: {error}") from error
        index = routes[0].get_attr("RTA_OIF")
        return self._ip.get_links(index)[0].get_attr("IFLA_IFNAME")

    def link_names(self) -> dict[int, str]:
        """Every interface of the namespace: index -> name."""
        return {link["index"]: link.get_attr("IFLA_IFNAME") for link in self._ip.get_links()}

    def lookup(self, destination: IPv6Address, *, source: IPv6Address | None = None,
               iif: str | None = None) -> FibResult | None:
        """The route the kernel would use for a packet to `destination` (from `source`,
        arriving on `iif`, when given): its policy rules and tables consulted as for a real
        packet (RTM_GETROUTE, `ip -6 route get`). None when it has no route."""
        # RTM_F_FIB_MATCH: the matched FIB entry with its own prefix (`ip route get fibmatch`)
        request: dict = {"dst": str(destination), "family": socket.AF_INET6, "flags": RTM_F_FIB_MATCH}
        if source is not None:
            request["src"] = str(source)
        if iif is not None:
            request["iif"] = self.link_index(iif)
        try:
            found = self._ip.route("get", **request)
        except NetlinkError as error:
            if error.code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EACCES, errno.EINVAL):
                return None
            raise DataPlaneError(f"route lookup for {destination}: {error.args[-1]}") from error
        route = found[0]
        encap = route.get_attr("RTA_ENCAP")
        segments: tuple[IPv6Address, ...] = ()
        if encap is not None and route.get_attr("RTA_ENCAP_TYPE") == 5:  # LWTUNNEL_ENCAP_SEG6
            srh = dict(encap["attrs"]).get("SEG6_IPTUNNEL_SRH") or {}
            segments = tuple(IPv6Address(s) for s in srh.get("segs", ()))
        oif = route.get_attr("RTA_OIF")
        gateway = route.get_attr("RTA_GATEWAY")
        dst = route.get_attr("RTA_DST") or "::"
        return FibResult(prefix=IPv6Network(f"{dst}/{route['dst_len']}"),
                         table=route.get_attr("RTA_TABLE") or route["table"], protocol=route["proto"],
                         type={1: "unicast", 2: "local", 6: "blackhole", 7: "unreachable", 8: "prohibit"}.get(
                             route["type"], str(route["type"])),
                         device=self._name_of(oif) if oif else None, segments=segments,
                         gateway=IPv6Address(gateway) if gateway else None)

    def _name_of(self, index: int) -> str:
        links = self._ip.get_links(index)
        return links[0].get_attr("IFLA_IFNAME") if links else f"if{index}"

    def link_stats(self, name: str) -> dict[str, int]:
        links = self._ip.get_links(self.link_index(name))
        stats = links[0].get_attr("IFLA_STATS64") or {}
        return {k: int(stats.get(k, 0)) for k in ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes",
                                                  "rx_errors", "tx_errors")}

    # -- install / remove ------------------------------------------------------------------
    def install(self, obj: KernelObject) -> None:
        """Create `obj`, or replace our own object of the same key; never another's."""
        try:
            if isinstance(obj, KernelRoute):
                self._install_route(obj)
            elif isinstance(obj, KernelRule):
                self._rule("add", obj)
            else:
                self._install_link(obj)
        except NetlinkError as error:
            if isinstance(obj, KernelRule) and error.code == errno.EEXIST:
                return  # the same rule is already there
            self._indices.clear()
            raise DataPlaneError(f"cannot install {describe(obj)}: {error.args[-1]}") from error

    def uninstall(self, obj: KernelObject) -> bool:
        """Delete our object; False when it was not there."""
        try:
            if isinstance(obj, KernelRoute):
                self._ip.route("del", family=socket.AF_INET6, dst=str(obj.prefix), table=obj.table,
                               proto=self.protocol)
            elif isinstance(obj, KernelRule):
                self._rule("del", obj)
            else:
                self._ip.link("del", index=self.link_index(obj.name))
                self._indices.pop(obj.name, None)
        except NetlinkError as error:
            if error.code in (errno.ENOENT, errno.ESRCH):
                return False
            raise DataPlaneError(f"cannot remove {describe(obj)}: {error.args[-1]}") from error
        except DataPlaneError:
            return False  # the tunnel link is already gone
        return True

    def _install_route(self, route: KernelRoute) -> None:
        request = {"family": socket.AF_INET6, "dst": str(route.prefix), "table": route.table,
                   "proto": self.protocol}
        if route.type != "unicast":
            request["type"] = route.type
        if route.type != "unreachable":
            request["oif"] = self.link_index(route.device)
        if route.segment is not None:
            request["encap"] = {"type": "seg6", "mode": "encap", "segs": str(route.segment)}
        elif route.decap_table is not None:
            request["encap"] = {"type": "seg6local", "action": "End.DT6", "table": route.decap_table}
        try:
            self._ip.route("add", **request)
        except NetlinkError as error:
            if error.code != errno.EEXIST:
                raise
            if not self._owns_route(route.table, route.prefix):
                raise SpecConflict(f"{describe(route)}: a route not installed by us holds "
                                   f"{route.prefix} in table {route.table}") from error
            self._ip.route("replace", **request)

    def _owns_route(self, table: int, prefix: IPv6Network) -> bool:
        return any(_route_prefix(r) == prefix for r in self._dump_routes(table))

    def _install_link(self, link: KernelTunnelLink) -> None:
        self._ip.link("add", ifname=link.name, kind="ip6tnl", ip6tnl_mode=socket.IPPROTO_IPV6,
                      ip6tnl_local=str(link.local), ip6tnl_remote=str(link.remote))
        self._ip.link("set", index=self.link_index(link.name), state="up")

    def _rule(self, command: str, rule: KernelRule) -> None:
        request = {"family": socket.AF_INET6, "src": str(rule.source.network_address),
                   "src_len": rule.source.prefixlen, "table": rule.table,
                   "priority": self.rule_priority, "protocol": self.protocol}
        if rule.iif:
            request["iifname"] = rule.iif
        if rule.destination is not None:
            request["dst"] = str(rule.destination.network_address)
            request["dst_len"] = rule.destination.prefixlen
        self._ip.rule(command, **request)

    # -- what we own -----------------------------------------------------------------------
    def owned_routes(self) -> list[tuple[int, IPv6Network]]:
        """(table, prefix) of every IPv6 route carrying our protocol, in any table."""
        return [(r.get_attr("RTA_TABLE"), _route_prefix(r)) for r in self._dump_routes(None)]

    def owned_rules(self) -> list[KernelRule]:
        owned = []
        for rule in self._ip.get_rules(family=socket.AF_INET6):
            if rule.get_attr("FRA_PRIORITY") != self.rule_priority or rule.get_attr("FRA_PROTOCOL") != self.protocol:
                continue
            source = IPv6Network(f"{rule.get_attr('FRA_SRC') or '::'}/{rule['src_len']}")
            destination = (IPv6Network(f"{rule.get_attr('FRA_DST') or '::'}/{rule['dst_len']}")
                           if rule["dst_len"] else None)
            table = rule.get_attr("FRA_TABLE") or rule["table"]
            owned.append(KernelRule(source, rule.get_attr("FRA_IIFNAME") or "", table, destination))
        return owned

    def delete_owned_route(self, table: int, prefix: IPv6Network) -> None:
        self.uninstall(KernelRoute(table, prefix, device=""))

    def _dump_routes(self, table: int | None) -> list:
        query: dict = {"family": socket.AF_INET6, "proto": self.protocol}
        if table is not None:
            query["table"] = table
        return list(self._ip.get_routes(**query))

    # -- capability probes -----------------------------------------------------------------
    def srv6_available(self) -> bool:
        """Whether the kernel takes a seg6 route (tried in a scratch table, then removed)."""
        probe = KernelRoute(SCRATCH_TABLE, IPv6Network("2001:db8:ffff:ffff::/128"), "lo",
                            segment=IPv6Address("2001:db8:ffff:ffff::1"))
        try:
            self._install_route(probe)
        except (NetlinkError, DataPlaneError):
            return False
        self.uninstall(probe)
        return True

    def ip6tnl_available(self) -> bool:
        """Whether an ip6tnl link can be created (tried with a scratch link, then removed)."""
        probe = KernelTunnelLink("dmmprobe6", IPv6Address("::1"), IPv6Address("::2"))
        try:
            self._install_link(probe)
        except (NetlinkError, DataPlaneError):
            return False
        self.uninstall(probe)
        return True


def _route_prefix(route) -> IPv6Network:
    return IPv6Network(f"{route.get_attr('RTA_DST') or '::'}/{route['dst_len']}")


def describe(obj: KernelObject) -> str:
    if isinstance(obj, KernelRoute):
        if obj.type == "unreachable":
            return f"route unreachable {obj.prefix} table {obj.table}"
        via = (f"encap seg6 segs {obj.segment}" if obj.segment else
               f"seg6local End.DT6 table {obj.decap_table}" if obj.decap_table else "")
        kind = "local " if obj.type == "local" else ""
        return f"route {kind}{obj.prefix} {via} dev {obj.device} table {obj.table}".replace("  ", " ")
    if isinstance(obj, KernelRule):
        to = f" to {obj.destination}" if obj.destination is not None else ""
        iif = f" iif {obj.iif}" if obj.iif else ""
        return f"rule from {obj.source}{to}{iif} lookup {obj.table}"
    return f"ip6tnl link {obj.name} {obj.local} -> {obj.remote}"
