"""Builds and removes the lab: namespaces, veth links, addresses and plain routes.

Each mobile node has one veth to each MAG; the link to the serving MAG is up, the other
down, so a handover (`attach`) makes the MAG side see real carrier up/down events. Mobility
routes (tunnels, rules) are not set here: the data plane installs them. The addressing
plan is in docs/dataplane.md.

With `standby_lma` the lab has a second anchor, `lma2`, linked to both MAGs (their interface
`core2`) and to the CN. The CN reaches the home network prefixes through either anchor: a
route through each, the active LMA's with the lower metric, and the kernel ignoring a route
whose link has lost its carrier (`ignore_routes_with_linkdown`), so the CN's choice follows
the active anchor's links. A lab has no routing protocol; in a deployment the anchors
announce the prefixes instead (docs/lab.md).
"""
from __future__ import annotations

import subprocess
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Interface, IPv6Network

DEFAULT_PREFIX = "dmm-"
GATEWAY_LINK_LOCAL = IPv6Address("fe80::1")  # the MAG's address on every access link
ACCESS_INDEX_BASE = 100  # interface indices of the access veths (see Topology.up)
CORE_MTU = 1600  # room for SRv6's 64 octets (outer header + one-segment SRH) over 1500-octet access links

SYSCTLS = (  # before links exist, so "default" reaches every new interface
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv6.conf.all.seg6_enabled=1",
    "net.ipv6.conf.default.seg6_enabled=1",
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    "net.ipv6.conf.all.keep_addr_on_down=1",
)
MN_SYSCTLS = (  # a mobile node is a host: it takes Router Advertisements (SLAAC) and announces its
    "net.ipv6.conf.all.forwarding=0",  # addresses when a link comes up
    "net.ipv6.conf.default.accept_ra=1",
    "net.ipv6.conf.default.autoconf=1",
    "net.ipv6.conf.default.ndisc_notify=1",
    # Solicit at once when a link comes up (RFC 4861 6.3.7 lets a host skip the random
    # delay it has already had): the MAG attaches the node on that solicitation.
    "net.ipv6.conf.default.router_solicitation_delay=0",
    "net.ipv6.conf.all.keep_addr_on_down=0",  # as on any host: a link that goes down loses its addresses
)


class LabError(Exception):
    """A lab command failed; the message holds the command and its error output."""


@dataclass(frozen=True)
class Host:
    name: str  # lma, mag1, mag2, mn1, mn2, cn; lma2 in a lab with a standby LMA
    role: str
    namespace: str
    addresses: dict[str, list[IPv6Interface]] = field(default_factory=dict)  # interface -> addresses


# (host, interface, peer host, peer interface, host address, peer address)
_CORE_LINKS = (
    ("lma", "to-mag1", "mag1", "core", "2001:db8:10:1::1/64", "2001:db8:10:1::2/64"),
    ("lma", "to-mag2", "mag2", "core", "2001:db8:10:2::1/64", "2001:db8:10:2::2/64"),
    ("lma", "to-cn", "cn", "to-lma", "2001:db8:20::1/64", "2001:db8:20::2/64"),
)
STANDBY_LMA = "lma2"  # the standby anchor of a lab brought up with `standby_lma`
_STANDBY_CORE_LINKS = (
    ("lma2", "to-mag1", "mag1", "core2", "2001:db8:11:1::1/64", "2001:db8:11:1::2/64"),
    ("lma2", "to-mag2", "mag2", "core2", "2001:db8:11:2::1/64", "2001:db8:11:2::2/64"),
    ("lma2", "to-cn", "cn", "to-lma2", "2001:db8:21::1/64", "2001:db8:21::2/64"),
)
_ROLES = {"lma": "lma", STANDBY_LMA: "lma", "mag1": "mag", "mag2": "mag", "mn1": "mn", "mn2": "mn", "cn": "cn"}
FUNCTION_HOSTS = ("lma", "mag1", "mag2")  # those that run a dmm-nf process (without a standby LMA)
ALL_FUNCTION_HOSTS = ("lma", STANDBY_LMA, "mag1", "mag2")  # with one; the standby starts before the MAGs
MAGS = ("mag1", "mag2")
NODE_ADDRESS = {  # on lo; the LMA's is also its End.DT6 SID, each MAG's its own
    "lma": IPv6Address("2001:db8:ff::1"),
    STANDBY_LMA: IPv6Address("2001:db8:ff::2"),
    "mag1": IPv6Address("2001:db8:ff::11"),
    "mag2": IPv6Address("2001:db8:ff::12"),
}
# Data-path probe addresses (docs/liveness.md): like home network prefixes, routed only through the
# tunnels, never on the core links.
PROBE_ADDRESS = {
    "lma": IPv6Address("2001:db8:fe::1"),
    STANDBY_LMA: IPv6Address("2001:db8:fe::2"),
    "mag1": IPv6Address("2001:db8:fe::11"),
    "mag2": IPv6Address("2001:db8:fe::12"),
}
HOME_PREFIX = {"mn1": IPv6Network("2001:db8:100:1::/64"), "mn2": IPv6Network("2001:db8:100:2::/64")}
CN_ADDRESS = IPv6Address("2001:db8:20::2")
# With a standby LMA: how the CN routes the home network prefixes (every HOME_PREFIX and the
# self-test prefixes lie inside), through each anchor's link, the active one preferred.
HOME_AGGREGATE = IPv6Network("2001:db8:100::/48")
CN_ROUTE_METRIC = {"lma": 100, STANDBY_LMA: 200}
CN_STANDBY_SYSCTLS = (  # a route whose link has no carrier is not used (the next metric is)
    "net.ipv6.conf.all.ignore_routes_with_linkdown=1",
    "net.ipv6.conf.default.ignore_routes_with_linkdown=1",
)


MN_LINK_LAYER = {"mn1": "02:00:00:00:01:01", "mn2": "02:00:00:00:02:01"}  # on both of its links, like one NIC


def mn_address(mn: str) -> IPv6Address:
    """The address a static lab (`Topology(slaac=False)`) sets on the mobile node itself."""
    return HOME_PREFIX[mn][0x100]


def slaac_address(mn: str) -> IPv6Address:
    """The address the mobile node's kernel forms by SLAAC from its home network prefix and
    its MAC (modified EUI-64, RFC 4291 appendix A: universal/local bit inverted, ff:fe inserted)."""
    mac = bytes.fromhex(MN_LINK_LAYER[mn].replace(":", ""))
    iid = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:]
    return HOME_PREFIX[mn][int.from_bytes(iid, "big")]


def management_network(prefix: str) -> IPv6Network:
    """The host-side management prefix of a lab: fd00:dd::/64 for the default lab, a
    distinct /64 per other prefix so that several labs can coexist on one host."""
    subnet = 0 if prefix == DEFAULT_PREFIX else zlib.crc32(prefix.encode()) % 0xFFFF + 1
    return IPv6Network(f"fd00:dd:0:{subnet:x}::/64")


MANAGEMENT_HOST_ID = {"host": 1, "lma": 2, STANDBY_LMA: 3, "mag1": 0x11, "mag2": 0x12}  # interface ids in the management /64


class Topology:
    def __init__(self, prefix: str = DEFAULT_PREFIX, management: bool = False, slaac: bool = False,
                 standby_lma: bool = False) -> None:
        """`management`: also join the function namespaces to a bridge in the host
        namespace, so NETCONF and metrics are reachable from the host. `slaac`: mobile nodes
        take address and default route from their MAG's Router Advertisements (the running
        lab); otherwise both are set on the node at each attach (data-plane tests, no MAG
        process). `standby_lma`: add the standby anchor `lma2` and its links."""
        if not prefix or "/" in prefix or len(prefix) > 20:
            raise ValueError(f"bad namespace prefix {prefix!r}")
        self.prefix = prefix
        self.management = management
        self.slaac = slaac
        self.standby_lma = standby_lma
        self.roles = {host: role for host, role in _ROLES.items() if standby_lma or host != STANDBY_LMA}
        self.function_hosts = ALL_FUNCTION_HOSTS if standby_lma else FUNCTION_HOSTS
        self.anchors = ("lma", STANDBY_LMA) if standby_lma else ("lma",)
        self.core_links = _CORE_LINKS + (_STANDBY_CORE_LINKS if standby_lma else ())
        self.management_network = management_network(prefix)
        tag = f"dm{zlib.crc32(prefix.encode()) & 0xFFFFF:05x}"  # host-side names: at most 15 octets
        self.bridge = f"{tag}-br"
        # every function host a lab of this prefix may have, so that `down` finds them all
        self._host_side = {host: f"{tag}-{host}" for host in ALL_FUNCTION_HOSTS}

    def ns(self, host: str) -> str:
        return self.prefix + host

    def exists(self, host: str) -> bool:
        """Whether `host`'s namespace is there (a lab brought up with a standby LMA has `lma2`'s)."""
        return self.ns(host) in self._namespaces()

    def management_address(self, host: str = "host") -> IPv6Address:
        """Where `host` (or the host namespace itself, "host") is reached on the management bridge."""
        return self.management_network[MANAGEMENT_HOST_ID[host]]

    # -- life cycle ------------------------------------------------------------------------
    def up(self, initial: dict[str, str] | None = None) -> None:
        """Create what is missing; `initial` maps mobile nodes to their serving MAG
        (a node with none gets mn1 on mag1, mn2 on mag2). Running it again changes nothing."""
        existing = set(self._namespaces())
        for host, role in self.roles.items():
            if self.ns(host) not in existing:
                _run("ip", "netns", "add", self.ns(host))
                for setting in SYSCTLS + (MN_SYSCTLS if role == "mn" else ()) + (
                        CN_STANDBY_SYSCTLS if role == "cn" and self.standby_lma else ()):
                    self.exec(host, "sysctl", "-qw", setting)
            self._ip(host, "link", "set", "lo", "up")
        for host, ifname, peer, peer_ifname, address, peer_address in self.core_links:
            self._veth(host, ifname, peer, peer_ifname)
            if peer.startswith("mag"):
                self._ip(host, "link", "set", ifname, "mtu", str(CORE_MTU))
                self._ip(peer, "link", "set", peer_ifname, "mtu", str(CORE_MTU))
            self._ip(host, "addr", "replace", address, "dev", ifname)
            self._ip(peer, "addr", "replace", peer_address, "dev", peer_ifname)
        for host in self.function_hosts:
            self._ip(host, "addr", "replace", f"{NODE_ADDRESS[host]}/128", "dev", "lo")
        self.routes_up()
        for n, (mn, mag) in enumerate((mn, mag) for mn in HOME_PREFIX for mag in MAGS):
            # Distinct interface indices on the two ends: the kernel takes a veth whose index
            # equals its peer's for a device without a lower link and delays its carrier-up
            # event by up to a second (linkwatch), which would hold back the node's solicitation.
            self._veth(mn, f"to-{mag}", mag, f"acc-{mn}", up=False,
                       indices=(ACCESS_INDEX_BASE + n, ACCESS_INDEX_BASE + 20 + n))
            self._ip(mn, "link", "set", f"to-{mag}", "address", MN_LINK_LAYER[mn])
            self._ip(mag, "addr", "replace", f"{GATEWAY_LINK_LOCAL}/64", "dev", f"acc-{mn}")
            self._ip(mag, "link", "set", f"acc-{mn}", "up")
        if self.management:
            self._management_up()
        for mn, mag in {"mn1": "mag1", "mn2": "mag2"}.items():  # a node already served stays where it is
            if self.serving_mag(mn) is None:
                self.attach(mn, mag)
        for mn, mag in (initial or {}).items():
            if self.serving_mag(mn) != mag:
                self.attach(mn, mag)

    def routes_up(self) -> None:
        """The lab's plain routes (node addresses over the core links, the CN's way to the
        home network prefixes). `up` sets them; after a link was set down (which flushes the
        routes through it) this puts them back."""
        for host, _ifname, peer, _peer_ifname, address, peer_address in self.core_links:
            if peer in MAGS:
                self._ip(peer, "-6", "route", "replace", str(NODE_ADDRESS[host]), "via", _host_part(address))
                self._ip(host, "-6", "route", "replace", str(NODE_ADDRESS[peer]), "via", _host_part(peer_address))
        self._ip("cn", "-6", "route", "replace", "default", "via", "2001:db8:20::1")
        if self.standby_lma:
            for host, _ifname, peer, _peer_ifname, address, peer_address in self.core_links:
                if peer == "cn":
                    self._ip("cn", "-6", "route", "replace", str(HOME_AGGREGATE), "via", _host_part(address),
                             "metric", str(CN_ROUTE_METRIC[host]))
            # the CN's address is on its link to the LMA; the standby reaches it over its own link
            self._ip(STANDBY_LMA, "-6", "route", "replace", "2001:db8:20::/64", "via", "2001:db8:21::2")

    def isolate(self, host: str) -> list[str]:
        """Cut `host` off: its core links go down at its end, so each neighbour sees its carrier
        go, as when the host fails or its lines are cut (its management link stays). Linux
        flushes the routes through a link set down; `reconnect` puts the lab's back. Returns
        the links cut."""
        links = [ifname for owner, ifname, *_ in self.core_links if owner == host]
        if not links:
            raise LabError(f"{host} has no core links to cut; hosts with some: "
                           f"{', '.join(sorted({owner for owner, *_ in self.core_links}))}")
        self._batch(host, [f"link set {ifname} down" for ifname in links])
        return links

    def reconnect(self, host: str, links: Iterable[str] | None = None) -> None:
        """Undo `isolate`, for `links` or all of `host`'s core links: up again, and the lab's
        routes back (not those a function installs: its forwarding audit with repair puts
        those back)."""
        own = [ifname for owner, ifname, *_ in self.core_links if owner == host]
        wanted = own if links is None else list(links)
        unknown = [ifname for ifname in wanted if ifname not in own]
        if unknown:
            raise LabError(f"{host} has no core link {', '.join(unknown)}; its core links: {', '.join(own)}")
        self._batch(host, [f"link set {ifname} up" for ifname in wanted])
        self.routes_up()

    def down(self) -> list[str]:
        """Delete every namespace bearing our prefix (their links go with them) and the
        management bridge, if there is one."""
        for name in self.links_in_host():  # before the namespaces: their removal is asynchronous
            _run("ip", "link", "del", name, check=False)
        removed = []
        for namespace in self._namespaces():
            _run("ip", "netns", "del", namespace)
            removed.append(namespace)
        return removed

    def processes(self) -> dict[int, str]:
        """Processes running inside the lab's namespaces: pid -> namespace."""
        found = {}
        for namespace in self._namespaces():
            for pid in _run("ip", "netns", "pids", namespace, check=False).stdout.split():
                found[int(pid)] = namespace
        return found

    def links_in_host(self) -> list[str]:
        """The lab's links present in the host namespace (the bridge and its ports)."""
        wanted = {self.bridge, *self._host_side.values()}
        out = _run("ip", "-o", "link", "show").stdout
        present = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
        return [name for name in present if name in wanted]

    def _management_up(self) -> None:
        if _run("ip", "link", "show", self.bridge, check=False).returncode != 0:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "replace", f"{self.management_address()}/64", "dev", self.bridge, "nodad")
        _run("ip", "link", "set", self.bridge, "up")
        for host in self.function_hosts:
            host_side = self._host_side[host]
            if _run("ip", "link", "show", host_side, check=False).returncode != 0:
                _run("ip", "link", "add", host_side, "type", "veth", "peer", "name", "mgmt", "netns", self.ns(host))
            _run("ip", "link", "set", host_side, "master", self.bridge, "up")
            self._ip(host, "addr", "replace", f"{self.management_address(host)}/64", "dev", "mgmt", "nodad")
            self._ip(host, "link", "set", "mgmt", "up")

    def attach(self, mn: str, mag: str) -> None:
        """Make `mag` serve `mn`: its link to the other MAG goes down, this one comes up.
        A static lab also sets the home address and the default route through the new MAG;
        in a SLAAC lab the new MAG's Router Advertisement gives both."""
        if mn not in HOME_PREFIX or mag not in MAGS:
            raise LabError(f"no such mobile node or MAG: {mn}, {mag}")
        commands = []
        for other in MAGS:
            if other != mag:
                commands += [f"link set to-{other} down", f"addr flush dev to-{other} scope global"]
        ifname = f"to-{mag}"
        if self.slaac:
            # Down first when it is up: a host solicits a router when its link comes up
            # (RFC 4861 section 6.3.7), and the MAG attaches the node on that solicitation.
            commands += [f"link set {ifname} down", f"link set {ifname} up"]
        else:
            # Address first: at link up the node then announces it (ndisc_notify), as a host
            # does after DAD, and the new MAG learns it before its first downlink packet.
            commands += [f"addr replace {mn_address(mn)}/64 dev {ifname} nodad", f"link set {ifname} up",
                         f"route replace default via {GATEWAY_LINK_LOCAL} dev {ifname}"]
        self._batch(mn, commands)  # one process: the link change is what a handover measures

    def serving_mag(self, mn: str) -> str | None:
        for mag in MAGS:
            out = self._ip(mn, "-o", "link", "show", f"to-{mag}")
            if ",UP" in out or "<UP" in out:
                return mag
        return None

    # -- inspection ------------------------------------------------------------------------
    def status(self) -> list[Host]:
        present = set(self._namespaces())
        hosts = []
        for host, role in _ROLES.items():  # whatever this prefix's lab has, the standby LMA included
            if self.ns(host) not in present:
                continue
            addresses: dict[str, list[IPv6Interface]] = {}
            for line in self._ip(host, "-6", "-o", "addr", "show", "scope", "global").splitlines():
                parts = line.split()
                addresses.setdefault(parts[1], []).append(IPv6Interface(parts[3]))
            hosts.append(Host(host, role, self.ns(host), addresses))
        return hosts

    def exec(self, host: str, *command: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return _run("ip", "netns", "exec", self.ns(host), *command, check=check, timeout=timeout)

    # -- internals -------------------------------------------------------------------------
    def _namespaces(self) -> list[str]:
        out = _run("ip", "netns", "list").stdout
        return [line.split()[0] for line in out.splitlines() if line.startswith(self.prefix)]

    def _veth(self, host: str, ifname: str, peer: str, peer_ifname: str, up: bool = True,
              indices: tuple[int, int] | None = None) -> None:
        if _run("ip", "-n", self.ns(host), "link", "show", ifname, check=False).returncode != 0:
            index, peer_index = (("index", str(i)) for i in indices) if indices else ((), ())
            _run("ip", "-n", self.ns(host), "link", "add", ifname, *index, "type", "veth",
                 "peer", "name", peer_ifname, "netns", self.ns(peer), *peer_index)
            if up:
                self._ip(host, "link", "set", ifname, "up")
                self._ip(peer, "link", "set", peer_ifname, "up")

    def _batch(self, host: str, commands: list[str]) -> None:
        result = subprocess.run(["ip", "-6", "-n", self.ns(host), "-batch", "-"], input="\n".join(commands) + "\n",
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise LabError(f"ip -n {self.ns(host)} -batch: {result.stderr.strip()}")

    def _ip(self, host: str, *args: str) -> str:
        return _run("ip", "-n", self.ns(host), *args).stdout


def _host_part(interface: str) -> str:
    """"2001:db8:10:1::1/64" -> "2001:db8:10:1::1"."""
    return str(IPv6Interface(interface).ip)


def _run(*command: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(command)}: {result.stderr.strip()}")
    return result
