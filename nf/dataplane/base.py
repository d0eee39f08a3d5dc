"""What the data plane must hold for each binding, and the interface every backend offers.

A binding installs one `BindingSpec`: the tunnel it uses and the routes through it.

* LMA: a DOWNLINK route per home network prefix (destination = HNP) into the tunnel to the
  MAG that serves the mobile node.
* MAG: an UPLINK route per HNP (source = HNP, an `ip -6 rule` on Linux) into the tunnel to
  the LMA, and an ACCESS route per HNP delivering to the mobile node on the access link.
* MAAR (DMM): the same UPLINK/ACCESS routes for prefixes it anchors itself, and DOWNLINK
  routes toward the serving MAAR for prefixes it keeps anchored after a move.

Data-path probes (nf/liveness) install specs of their own so that BFD and per-mobile-node
probes take the tunnels as mobile nodes' packets do (docs/liveness.md): the node's probe
address (PROBE_LOCAL), a DOWNLINK route to the peer's probe address at the anchor end, and
at the access end a PROBE_UPLINK rule into the tunnel's table, PROBE_DELIVERY of the
anchor's probes, and an UNREACHABLE route so the peer's probe address has no path outside
the tunnel.

Many bindings share one tunnel per peer: a backend creates the tunnel with the first spec
that needs it and removes it with the last. Tunnels carry SRv6 (seg6 encap toward the
peer's SID, seg6local End.DT6 at our own SID) where the kernel has no ip6ip6.
"""
from __future__ import annotations

import abc
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network


class DataPlaneError(Exception):
    """A change could not be made; the backend holds what it held before the call."""


class SpecConflict(DataPlaneError):
    """The spec contradicts what another binding installed (same route, or a tunnel name
    reused with other parameters)."""


class Encapsulation(enum.Enum):
    SRV6 = "srv6"
    IP6IP6 = "ip6ip6"  # RFC 5213's default; needs the ip6_tunnel kernel module


class RouteKind(enum.Enum):
    DOWNLINK = "downlink"  # destination prefix -> tunnel
    UPLINK = "uplink"  # source prefix -> tunnel
    ACCESS = "access"  # destination prefix -> access interface
    PROBE_LOCAL = "probe-local"  # our probe address, delivered locally
    PROBE_UPLINK = "probe-uplink"  # from `source` (our probe address) to prefix -> tunnel
    PROBE_DELIVERY = "probe-delivery"  # packets from prefix (the peer's probe address) delivered locally
    UNREACHABLE = "unreachable"  # destination prefix dropped outside the tunnel


@dataclass(frozen=True, slots=True)
class Tunnel:
    name: str
    local: IPv6Address
    remote: IPv6Address
    encapsulation: Encapsulation = Encapsulation.SRV6
    remote_sid: IPv6Address | None = None  # SRv6: segment our traffic is encapsulated toward
    local_sid: IPv6Address | None = None  # SRv6: our End.DT6 SID decapsulating the peer's traffic
    table: int | None = None  # routing table holding the tunnel's routes, when the backend uses one

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a tunnel needs a name")
        if self.encapsulation is Encapsulation.SRV6 and self.remote_sid is None:
            raise ValueError(f"tunnel {self.name!r}: SRv6 encapsulation needs remote_sid")


@dataclass(frozen=True, slots=True)
class Route:
    kind: RouteKind
    prefix: IPv6Network
    tunnel: str | None = None  # DOWNLINK / UPLINK: the tunnel's name
    interface: str | None = None  # ACCESS: the access-link interface
    next_hop: IPv6Address | None = None  # ACCESS: the mobile node's link-local address, if known
    source: IPv6Network | None = None  # PROBE_UPLINK: the source the rule matches

    def __post_init__(self) -> None:
        kind = self.kind
        if kind is RouteKind.ACCESS:
            if self.interface is None:
                raise ValueError(f"access route for {self.prefix} needs an interface")
        elif kind in _TUNNELLED and self.tunnel is None:
            raise ValueError(f"{kind.value} route for {self.prefix} needs a tunnel")
        if (kind is RouteKind.PROBE_UPLINK) != (self.source is not None):
            raise ValueError(f"{kind.value} route for {self.prefix}: only a probe uplink has a source")


_TUNNELLED = frozenset({RouteKind.DOWNLINK, RouteKind.UPLINK, RouteKind.PROBE_UPLINK})


@dataclass(frozen=True, slots=True)
class BindingSpec:
    """Everything one binding installs. `key` names the binding (e.g. its MN-Identifier and
    link-layer id); applying a new spec under the same key replaces the old one."""

    key: str
    tunnel: Tunnel | None
    routes: tuple[Route, ...]

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a binding spec needs a key")
        for route in self.routes:
            if route.tunnel is not None and (self.tunnel is None or route.tunnel != self.tunnel.name):
                raise ValueError(f"spec {self.key!r}: route {route.prefix} uses tunnel {route.tunnel!r}, "
                                 "which the spec does not carry")
        seen: set[tuple[RouteKind, IPv6Network]] = set()
        for route in self.routes:
            if (route.kind, route.prefix) in seen:
                raise ValueError(f"spec {self.key!r}: two {route.kind.value} routes for {route.prefix}")
            seen.add((route.kind, route.prefix))


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    added: tuple[str, ...] = ()  # keys installed because they were missing
    removed: tuple[str, ...] = ()  # keys removed because they were not wanted
    updated: tuple[str, ...] = ()  # keys whose installed spec differed and was replaced


@dataclass(frozen=True, slots=True)
class TunnelCounters:
    packets_in: int = 0
    packets_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    errors: int = 0


class MismatchKind(enum.Enum):
    """How the kernel differs from the bindings (nf/dataplane/audit.py explains each)."""

    MISSING = "missing"
    UNOWNED = "unowned"
    WRONG_SID = "wrong-sid"
    WRONG_NEXT_HOP = "wrong-next-hop"
    WRONG_DEVICE = "wrong-device"
    WRONG_TABLE = "wrong-table"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Mismatch:
    kind: MismatchKind
    object: str  # the kernel object concerned, as `ip` would show it
    expected: str  # what the bindings need; empty for stale state
    actual: str  # what the kernel holds; empty when it holds nothing
    prefix: IPv6Network | None = None
    bindings: tuple[str, ...] = ()  # data-plane keys of the bindings that need the object
    repaired: bool = False
    repair_error: str | None = None
    object_key: tuple | None = None  # the data plane's key of the object (KernelObject.key), or None


@dataclass(frozen=True, slots=True)
class AuditReport:
    checked: int  # bindings (data-plane specs) checked
    objects: int  # kernel objects compared
    mismatches: tuple[Mismatch, ...] = ()

    @property
    def consistent(self) -> bool:
        return not self.mismatches

    @property
    def repaired(self) -> int:
        return sum(1 for m in self.mismatches if m.repaired)


class AuditJob(abc.ABC):
    """The part of an audit that reads the kernel: safe to run in another thread."""

    @abc.abstractmethod
    def run(self) -> list[Mismatch]: ...


class _NothingToRead(AuditJob):
    def run(self) -> list[Mismatch]:
        return []


class DataPlane(abc.ABC):
    """A forwarding backend. Every call is idempotent and all-or-nothing."""

    @abc.abstractmethod
    def apply(self, spec: BindingSpec) -> bool:
        """Install `spec` (replacing any spec of the same key); False if it was already there."""

    @abc.abstractmethod
    def remove(self, spec: BindingSpec | str) -> bool:
        """Remove the spec of this key; False if nothing was installed under it."""

    @abc.abstractmethod
    def installed(self) -> dict[str, BindingSpec]:
        """What the backend holds now, by key (the audit compares it with the binding cache)."""

    @abc.abstractmethod
    def counters(self) -> dict[str, TunnelCounters]:
        """Per-tunnel counters where the backend has them."""

    @property
    def tunnels(self) -> dict[str, Tunnel]:
        """Tunnels in use, by name; derived from the installed specs unless a backend keeps them."""
        return {s.tunnel.name: s.tunnel for s in self.installed().values() if s.tunnel is not None}

    def reconcile(self, specs: Iterable[BindingSpec]) -> ReconcileReport:
        """Make the backend hold exactly `specs` (after a restart or an audit)."""
        wanted: dict[str, BindingSpec] = {}
        for spec in specs:
            if spec.key in wanted:
                raise DataPlaneError(f"reconcile: key {spec.key!r} given twice")
            wanted[spec.key] = spec
        have = self.installed()
        removed = tuple(key for key in have if key not in wanted)
        for key in removed:  # first, so routes and tunnels move freely between keys
            self.remove(key)
        added, updated = [], []
        for key, spec in wanted.items():
            if key not in have:
                self.apply(spec)
                added.append(key)
            elif have[key] != spec:
                self.apply(spec)
                updated.append(key)
        return ReconcileReport(tuple(added), removed, tuple(updated))

    # -- the forwarding audit (RFC 7429 REQ6): three steps, so reading the kernel can leave the loop --
    def audit_prepare(self, keys: Iterable[str] | None = None) -> AuditJob:
        """Take what the bindings of `keys` (all when None) need; returns the job that reads
        the kernel. A backend with nothing to read back holds exactly what it was told."""
        return _NothingToRead()

    def audit_finish(self, job: AuditJob, mismatches: list[Mismatch],
                     keys: Iterable[str] | None = None) -> AuditReport:
        """The report of a finished job, checked against the bindings as they are now."""
        specs = self.installed()
        checked = len(specs) if keys is None else sum(1 for key in keys if key in specs)
        return AuditReport(checked=checked, objects=0, mismatches=tuple(mismatches))

    def repair(self, report: AuditReport) -> AuditReport:
        """Re-install what the report found missing or wrong, remove what is stale; the
        report again with each mismatch marked repaired or with its repair error."""
        return report

    def close(self) -> None:
        """Release backend resources; installed state stays (a restart reconciles it)."""
