"""The Linux kernel data plane: each binding becomes routes and rules installed over netlink.

What one binding spec installs (see docs/dataplane.md):

* DOWNLINK (LMA): `HNP encap seg6 mode encap segs <peer SID> dev <core>` in the main table;
* UPLINK (MAG): `ip -6 rule from HNP iif <access> lookup <table>`, and in that table the
  tunnel's default route `::/0 encap seg6 mode encap segs <peer SID> dev <core>`;
* ACCESS (MAG): `HNP dev <access>` in the main table;
* the tunnel's own SID, when it is not simply the node's address: `seg6local End.DT6`;
* data-path probes (docs/liveness.md): our probe address as `local P dev lo table local`
  (PROBE_LOCAL); at the access end `ip -6 rule from OURS to PEER lookup <table>` into the
  tunnel (PROBE_UPLINK), `ip -6 rule from PEER lookup <probe-table>` with
  `local ::/0 dev lo table <probe-table>` (PROBE_DELIVERY: the anchor's per-mobile-node probes,
  addressed into a home network prefix, are delivered here), and `unreachable PEER`
  (UNREACHABLE: no way to the peer's probe address outside the tunnel).

A MAG's Router Advertisements go out through the access links the runtime lends with
`use_access_links` (nf/access/attachments.py); without them `advertise` does nothing.

Kernel objects shared by several bindings (a tunnel's default route, its SID) are counted
and go with their last user. A spec is installed all-or-nothing: on a failure the objects
already changed are put back and `DataPlaneError` is raised.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from collections.abc import Iterable
from ipaddress import IPv6Network
from typing import TYPE_CHECKING, Protocol

from .audit import compare
from .base import (
    AuditJob,
    AuditReport,
    BindingSpec,
    DataPlane,
    DataPlaneError,
    Encapsulation,
    Mismatch,
    MismatchKind,
    ReconcileReport,
    RouteKind,
    SpecConflict,
    Tunnel,
    TunnelCounters,
)
from .kernel_dump import KernelReader
from .netlink import (
    LOCAL_TABLE,
    MAIN_TABLE,
    KernelObject,
    KernelRoute,
    KernelRule,
    KernelTunnelLink,
    Netlink,
    describe,
)

if TYPE_CHECKING:
    from nf.roles.mag_forwarding import RouterAdvertisement

log = logging.getLogger(__name__)

DEFAULT_ROUTE = IPv6Network("::/0")
_UPLINKS = frozenset({RouteKind.UPLINK, RouteKind.PROBE_UPLINK})
_LOOKUPS_PER_AUDIT = 64  # missing routes explained by a kernel lookup (unowned or not), per audit


class AccessLinksLike(Protocol):
    def advertise(self, ra: RouterAdvertisement) -> None: ...

    def withdraw(self, key: str) -> bool: ...


class EncapsulationUnavailable(DataPlaneError):
    """The kernel cannot carry the configured encapsulation."""


class LinuxDataPlane(DataPlane):
    def __init__(self, *, core_interface: str | None = None, route_table: int = 100, rule_priority: int = 1000,
                 route_protocol: int = 201, encapsulation: Encapsulation = Encapsulation.SRV6,
                 probe_table: int = 4200, netns: str | None = None) -> None:
        self.route_table = route_table
        self.probe_table = probe_table
        self.netns = netns
        self.core_interface = core_interface
        self._netlink = Netlink(route_protocol, rule_priority, netns)
        self._specs: dict[str, BindingSpec] = {}
        self._objects: dict[tuple, KernelObject] = {}
        self._users: Counter[tuple] = Counter()
        self._access_links: AccessLinksLike | None = None
        try:
            check_encapsulation(self._netlink, encapsulation)
        except DataPlaneError:
            self._netlink.close()
            raise

    @classmethod
    def from_settings(cls, settings) -> LinuxDataPlane:
        dp = settings.dataplane
        return cls(core_interface=dp.core_interface, route_table=dp.route_table, rule_priority=dp.rule_priority,
                   route_protocol=dp.route_protocol, encapsulation=Encapsulation(dp.encapsulation),
                   probe_table=dp.probe_table)

    # -- DataPlane -------------------------------------------------------------------------
    def apply(self, spec: BindingSpec) -> bool:
        old = self._specs.get(spec.key)
        if old == spec:
            return False
        new_objects = self._objects_of(spec)
        old_keys = {o.key for o in self._objects_of(old)} if old is not None else set()
        for obj in new_objects:
            held = self._objects.get(obj.key)
            shared_with_others = self._users[obj.key] - (1 if obj.key in old_keys else 0) > 0
            if held is not None and held != obj and shared_with_others:
                raise SpecConflict(f"binding {spec.key!r}: {describe(obj)} contradicts {describe(held)}")
        to_install = [o for o in new_objects if self._objects.get(o.key) != o]
        new_keys = {o.key for o in new_objects}
        to_remove = [self._objects[k] for k in old_keys - new_keys if self._users[k] == 1]
        self._transaction(to_install)
        for obj in reversed(to_remove):
            self._netlink.uninstall(obj)
        self._account(old, -1)
        self._specs[spec.key] = spec
        self._account(spec, +1)
        return True

    def remove(self, spec: BindingSpec | str) -> bool:
        key = spec if isinstance(spec, str) else spec.key
        old = self._specs.get(key)
        if old is None:
            return False
        for obj in reversed(self._objects_of(old)):
            if self._users[obj.key] == 1:
                self._netlink.uninstall(obj)
        self._account(old, -1)
        del self._specs[key]
        return True

    def installed(self) -> dict[str, BindingSpec]:
        return dict(self._specs)

    def counters(self) -> dict[str, TunnelCounters]:
        """Counters of ip6ip6 tunnel links. SRv6 keeps no per-route counters, so SRv6
        tunnels are absent; `interface_counters` gives the core and access devices'."""
        result = {}
        for obj in self._objects.values():
            if isinstance(obj, KernelTunnelLink):
                s = self._netlink.link_stats(obj.name)
                result[obj.name] = TunnelCounters(packets_in=s["rx_packets"], packets_out=s["tx_packets"],
                                                  bytes_in=s["rx_bytes"], bytes_out=s["tx_bytes"],
                                                  errors=s["rx_errors"] + s["tx_errors"])
        return result

    def interface_counters(self, name: str) -> dict[str, int]:
        return self._netlink.link_stats(name)

    def reconcile(self, specs: Iterable[BindingSpec]) -> ReconcileReport:
        """Hold exactly `specs`; kernel routes and rules bearing our marks that no spec
        needs (left by an earlier run) are removed and reported as `stale:<object>`."""
        specs = list(specs)
        report = super().reconcile(specs)
        wanted_routes = {(o.table, o.prefix) for o in self._objects.values() if isinstance(o, KernelRoute)}
        wanted_rules = {o for o in self._objects.values() if isinstance(o, KernelRule)}
        stale = []
        for table, prefix in self._netlink.owned_routes():
            if (table, prefix) not in wanted_routes:
                self._netlink.delete_owned_route(table, prefix)
                stale.append(f"stale:route {prefix} table {table}")
        for rule in self._netlink.owned_rules():
            if rule not in wanted_rules:
                self._netlink.uninstall(rule)
                stale.append(f"stale:{describe(rule)}")
        for spec in specs:  # an earlier run may have left a different route under our key
            self._transaction(self._objects_of(spec))
        return ReconcileReport(report.added, report.removed + tuple(stale), report.updated)

    def close(self) -> None:
        self._netlink.close()

    # -- the forwarding audit (nf/dataplane/audit.py) ----------------------------------------
    def audit_prepare(self, keys: Iterable[str] | None = None) -> AuditJob:
        if keys is None:
            expected = list(self._objects.values())
        else:
            wanted = {}
            for key in keys:
                spec = self._specs.get(key)
                for obj in self._objects_of(spec) if spec is not None else ():
                    wanted[obj.key] = obj
            expected = list(wanted.values())
        devices = {o.device for o in expected if isinstance(o, KernelRoute) and o.device}
        names = self._netlink.link_names()
        indices = {name: index for index, name in names.items() if name in devices}
        return _LinuxAuditJob(self.netns, self._netlink.protocol, self._netlink.rule_priority, expected,
                              indices, names, stale=keys is None)

    def audit_finish(self, job: AuditJob, mismatches: list[Mismatch],
                     keys: Iterable[str] | None = None) -> AuditReport:
        """Drop what changed since the job took its copy (a binding made or removed while the
        kernel was read), name the bindings concerned, explain missing routes by a lookup."""
        keys = list(keys) if keys is not None else None
        current = []
        for m in mismatches:
            if m.kind is MismatchKind.STALE:
                if m.object_key not in self._objects:
                    current.append(m)
            elif self._objects.get(m.object_key) is not None:
                current.append(m)
        current = self._explain_missing(self._name_bindings(current, keys))
        checked = len(self._specs) if keys is None else sum(1 for key in keys if key in self._specs)
        return AuditReport(checked=checked, objects=len(getattr(job, "expected", ())), mismatches=tuple(current))

    def repair(self, report: AuditReport) -> AuditReport:
        """Stale objects first (a wrong-table rule is also a stale rule), then re-installs."""
        done: dict[int, Mismatch] = {}
        ordered = sorted(enumerate(report.mismatches), key=lambda im: im[1].kind is not MismatchKind.STALE)
        for index, m in ordered:
            try:
                if m.kind is MismatchKind.UNOWNED:
                    done[index] = replace(m, repair_error="a route dmm-nf did not install holds the prefix: "
                                                          "remove it, then repair again")
                    continue
                if m.kind is MismatchKind.STALE:
                    self._remove_stale(m.object_key)
                else:
                    self._netlink.install(self._objects[m.object_key])
                done[index] = replace(m, repaired=True)
            except (DataPlaneError, KeyError) as error:
                done[index] = replace(m, repair_error=str(error))
        return AuditReport(report.checked, report.objects, tuple(done[i] for i in range(len(report.mismatches))))

    def lookup(self, destination, *, source=None, iif=None):
        """The kernel's route for a packet (nf/dataplane/netlink.py `Netlink.lookup`)."""
        return self._netlink.lookup(destination, source=source, iif=iif)

    def _remove_stale(self, key: tuple) -> None:
        if key[0] == "route":
            self._netlink.delete_owned_route(key[1], key[2])
        elif key[0] == "rule":
            _, source, destination, iif, table = key
            self._netlink.uninstall(KernelRule(source, iif, table, destination))

    def _name_bindings(self, mismatches: list[Mismatch], keys: list[str] | None) -> list[Mismatch]:
        wanted = {m.object_key for m in mismatches if m.kind is not MismatchKind.STALE}
        if not wanted:
            return mismatches
        users: dict[tuple, list[str]] = {}
        for key in keys if keys is not None else self._specs:
            spec = self._specs.get(key)
            for obj in self._objects_of(spec) if spec is not None else ():
                if obj.key in wanted:
                    users.setdefault(obj.key, []).append(key)
        return [replace(m, bindings=tuple(users.get(m.object_key, ()))) if m.kind is not MismatchKind.STALE else m
                for m in mismatches]

    def _explain_missing(self, mismatches: list[Mismatch]) -> list[Mismatch]:
        """A missing route of the main table: what does the kernel do with its traffic now?
        A route of another protocol holding exactly the prefix makes it `unowned`."""
        explained, budget = [], _LOOKUPS_PER_AUDIT
        for m in mismatches:
            obj = self._objects.get(m.object_key) if m.kind is MismatchKind.MISSING else None
            if isinstance(obj, KernelRoute) and obj.table == MAIN_TABLE and obj.type == "unicast" and budget > 0:
                budget -= 1
                found = self._netlink.lookup(obj.prefix.network_address)
                if found is None:
                    m = replace(m, actual="no route")
                elif found.protocol != self._netlink.protocol and found.prefix == obj.prefix:
                    m = replace(m, kind=MismatchKind.UNOWNED, actual=f"route {found.describe()}")
                else:
                    m = replace(m, actual=f"forwarded by route {found.describe()}")
            explained.append(m)
        return explained

    # -- the MAG's access links ---------------------------------------------------------------
    def use_access_links(self, links: AccessLinksLike | None) -> None:
        """Send the MAG role's advertisements through `links` (owned by the runtime); None stops."""
        self._access_links = links

    def advertise(self, ra: RouterAdvertisement) -> None:
        if self._access_links is not None:
            self._access_links.advertise(ra)

    def withdraw_advertisement(self, key: str) -> bool:
        return self._access_links.withdraw(key) if self._access_links is not None else False

    # -- internals -------------------------------------------------------------------------
    def _transaction(self, objects: list[KernelObject]) -> None:
        done: list[KernelObject] = []
        try:
            for obj in objects:
                self._netlink.install(obj)
                done.append(obj)
        except DataPlaneError:
            for obj in reversed(done):
                previous = self._objects.get(obj.key)
                try:
                    if previous is not None:
                        self._netlink.install(previous)
                    else:
                        self._netlink.uninstall(obj)
                except DataPlaneError as error:
                    log.error("rollback of %s failed: %s", describe(obj), error)
            raise

    def _account(self, spec: BindingSpec | None, delta: int) -> None:
        if spec is None:
            return
        for obj in self._objects_of(spec):
            self._users[obj.key] += delta
            if self._users[obj.key] <= 0:
                del self._users[obj.key]
                self._objects.pop(obj.key, None)
            else:
                self._objects[obj.key] = obj

    def _objects_of(self, spec: BindingSpec) -> list[KernelObject]:
        """The kernel objects a spec needs, in installation order."""
        tunnel = spec.tunnel
        objects: list[KernelObject] = []
        if tunnel is not None:
            objects += self._tunnel_objects(tunnel, any(r.kind in _UPLINKS for r in spec.routes))
        for route in spec.routes:
            kind = route.kind
            if kind is RouteKind.ACCESS:
                objects.append(KernelRoute(MAIN_TABLE, route.prefix, route.interface))
            elif kind is RouteKind.DOWNLINK:
                objects.append(self._into_tunnel(tunnel, MAIN_TABLE, route.prefix))
            elif kind is RouteKind.PROBE_LOCAL:
                objects.append(KernelRoute(LOCAL_TABLE, route.prefix, "lo", type="local"))
            elif kind is RouteKind.PROBE_DELIVERY:
                objects.append(KernelRoute(self.probe_table, DEFAULT_ROUTE, "lo", type="local"))
            elif kind is RouteKind.UNREACHABLE:
                objects.append(KernelRoute(MAIN_TABLE, route.prefix, "", type="unreachable"))
        for route in spec.routes:  # rules last: they steer traffic into routes already there
            if route.kind is RouteKind.PROBE_UPLINK:
                objects.append(KernelRule(route.source, "", self._uplink_table(tunnel), route.prefix))
            elif route.kind is RouteKind.PROBE_DELIVERY:
                objects.append(KernelRule(route.prefix, "", self.probe_table))
            elif route.kind is RouteKind.UPLINK:
                access = next((r.interface for r in spec.routes
                               if r.kind is RouteKind.ACCESS and r.prefix == route.prefix), None)
                if access is None:
                    raise DataPlaneError(f"binding {spec.key!r}: uplink for {route.prefix} needs an access "
                                         "route naming the interface its traffic arrives on")
                objects.append(KernelRule(route.prefix, access, self._uplink_table(tunnel)))
        return objects

    def _tunnel_objects(self, tunnel: Tunnel, uplink: bool) -> list[KernelObject]:
        objects: list[KernelObject] = []
        if tunnel.encapsulation is Encapsulation.IP6IP6:
            objects.append(KernelTunnelLink(tunnel.name, tunnel.local, tunnel.remote))
        elif tunnel.local_sid is not None:
            objects.append(KernelRoute(MAIN_TABLE, IPv6Network(tunnel.local_sid), self._core(tunnel),
                                       decap_table=MAIN_TABLE))
        if uplink:
            objects.append(self._into_tunnel(tunnel, self._uplink_table(tunnel), DEFAULT_ROUTE))
        return objects

    def _into_tunnel(self, tunnel: Tunnel, table: int, prefix: IPv6Network) -> KernelRoute:
        if tunnel.encapsulation is Encapsulation.IP6IP6:
            return KernelRoute(table, prefix, tunnel.name)
        return KernelRoute(table, prefix, self._core(tunnel), segment=tunnel.remote_sid)

    def _uplink_table(self, tunnel: Tunnel) -> int:
        return tunnel.table if tunnel.table is not None else self.route_table

    def _core(self, tunnel: Tunnel) -> str:
        return self.core_interface or self._netlink.device_towards(tunnel.remote)


@dataclass
class _LinuxAuditJob(AuditJob):
    """Reads our routes and rules with a netlink socket of its own (kernel_dump.KernelReader)
    and compares them with the copy of what the bindings need; touches no shared state."""

    netns: str | None
    protocol: int
    rule_priority: int
    expected: list[KernelObject]
    devices: dict[str, int]
    names: dict[int, str]
    stale: bool

    def run(self) -> list[Mismatch]:
        with KernelReader(self.netns) as reader:
            routes = reader.routes(self.protocol)
            rules = [r for r in reader.rules(self.protocol) if r.priority == self.rule_priority]
        return compare(self.expected, routes, rules, device_index=self.devices.get,
                       device_name=lambda index: self.names.get(index, f"if{index}"), stale=self.stale)


def check_encapsulation(netlink: Netlink, encapsulation: Encapsulation) -> None:
    if encapsulation is Encapsulation.SRV6 and not netlink.srv6_available():
        raise EncapsulationUnavailable("encapsulation srv6 unavailable: the kernel refuses seg6 routes")
    if encapsulation is Encapsulation.IP6IP6 and not netlink.ip6tnl_available():
        raise EncapsulationUnavailable("encapsulation ip6ip6 unavailable: the kernel has no ip6tnl support")
