"""Forwarding audit of the running node: the bindings (the flow policy) against what the
kernel really forwards (RFC 7429 REQ6), for one mobile node on request and for all of them
on request and periodically.

An audit reads the kernel in a worker thread (nf/dataplane: `audit_prepare` on the loop,
the job in a thread, `audit_finish` back on the loop), so the signalling loop never waits
for a dump of 100,000 routes. A check of one mobile node adds kernel route lookups made
exactly as for the node's own packets (`ip -6 route get fibmatch`): its prefix at the
anchor must resolve to its own route into the tunnel, and at the access gateway its prefix
to its access link, and a packet from its prefix arriving on that link to the tunnel's
table and segment.

Each audit publishes `forwarding-audit-completed`; one that finds differences also
publishes `forwarding-mismatch` with them (at most `MAX_REPORTED` in the event; the count is
complete).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network

from nf.dataplane.base import AuditReport, DataPlaneError, Mismatch
from nf.roles.base import BindingForwarding

log = logging.getLogger(__name__)

MAX_REPORTED = 64  # mismatches carried by one forwarding-mismatch event / notification

ForwardingOf = Callable[[str | None], list[BindingForwarding]]


class UnknownMobileNode(LookupError):
    """No binding of this node serves the mobile node."""


@dataclass(frozen=True, slots=True)
class KernelLookup:
    """One route lookup made as for a mobile node's packet, and whether it found its route."""

    what: str  # "downlink", "access", "uplink"
    prefix: IPv6Network
    destination: IPv6Address
    source: IPv6Address | None
    iif: str | None
    expected: str
    actual: str
    ok: bool


@dataclass(frozen=True, slots=True)
class MobileNodeCheck:
    mn_identifier: str
    bindings: tuple[BindingForwarding, ...]
    report: AuditReport
    lookups: tuple[KernelLookup, ...]

    @property
    def consistent(self) -> bool:
        return self.report.consistent and all(lookup.ok for lookup in self.lookups)


@dataclass
class AuditState:
    """What the audits have found so far (the YANG data-path/audit state, the metrics)."""

    runs: int = 0
    repairs: int = 0
    last_time: float | None = None  # wall clock
    last_duration: float | None = None  # seconds
    last_report: AuditReport | None = None
    last_mismatch_owners: dict[int, str] = field(default_factory=dict)  # mismatch index -> MN identifier
    mismatches_found: Counter[str] = field(default_factory=Counter)  # by kind, over all runs

    def copy(self) -> AuditState:
        """A detached copy (the report is immutable; the maps are copied)."""
        return AuditState(self.runs, self.repairs, self.last_time, self.last_duration, self.last_report,
                          dict(self.last_mismatch_owners), Counter(self.mismatches_found))


class ForwardingAuditor:
    def __init__(self, dataplane, forwarding_of: ForwardingOf, events, *, interval: float = 0.0,
                 repair: bool = False, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._dataplane = dataplane
        self._forwarding_of = forwarding_of
        self._events = events
        self.interval = interval
        self.repair_periodic = repair
        self._wall = wall
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self.state = AuditState()

    # ----- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._periodic(), name="forwarding-audit")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def reconfigure(self, interval: float, repair: bool) -> None:
        self.repair_periodic = repair
        if interval != self.interval:
            self.interval = interval
            if self._task is not None:
                self._task.cancel()
                self._task = None
            self.start()

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.audit(repair=self.repair_periodic)
            except Exception:  # the next period tries again; the audit must not stop for good
                log.exception("periodic forwarding audit failed")

    # ----- audits -------------------------------------------------------------------------
    async def audit(self, *, repair: bool = False) -> tuple[AuditReport, dict[int, str]]:
        """Every binding against the kernel; returns the report and, for each mismatch that
        belongs to a mobile node's binding, its MN-Identifier (by mismatch index)."""
        async with self._lock:
            started = self._monotonic()
            report = await self._run(None)
            if repair and report.mismatches:
                report = self._dataplane.repair(report)
            owners = self._owners(report)
            self._record(report, owners, self._monotonic() - started)
            return report, owners

    async def check(self, mn_identifier: str) -> MobileNodeCheck:
        """One mobile node's bindings against the kernel, with route lookups for its packets."""
        bindings = tuple(self._forwarding_of(mn_identifier))
        if not bindings:
            raise UnknownMobileNode(f"no binding for mobile node {mn_identifier!r} on this node")
        async with self._lock:
            report = await self._run([b.key for b in bindings])
        lookups = tuple(lookup for binding in bindings for lookup in self._lookups(binding))
        return MobileNodeCheck(mn_identifier, bindings, report, lookups)

    async def _run(self, keys: list[str] | None) -> AuditReport:
        job = self._dataplane.audit_prepare(keys)
        mismatches = await asyncio.get_running_loop().run_in_executor(None, job.run)
        return self._dataplane.audit_finish(job, mismatches, keys)

    def _owners(self, report: AuditReport) -> dict[int, str]:
        if report.consistent:
            return {}
        by_key = {b.key: b.mn_identifier for b in self._forwarding_of(None)}
        owners = {}
        for index, mismatch in enumerate(report.mismatches):
            owner = next((by_key[k] for k in mismatch.bindings if k in by_key), None)
            if owner is not None:
                owners[index] = owner
        return owners

    def _record(self, report: AuditReport, owners: dict[int, str], duration: float) -> None:
        state = self.state
        state.runs += 1
        state.repairs += report.repaired
        state.last_time = self._wall()
        state.last_duration = duration
        state.last_report = report
        state.last_mismatch_owners = owners
        for mismatch in report.mismatches:
            state.mismatches_found[mismatch.kind.value] += 1
        self._events.publish("forwarding-audit-completed", checked=report.checked,
                             mismatches=len(report.mismatches), repaired=report.repaired)
        if report.mismatches:
            listed = [mismatch_data(m, owners.get(i)) for i, m in enumerate(report.mismatches[:MAX_REPORTED])]
            self._events.publish("forwarding-mismatch", mismatch=listed, count=len(report.mismatches))
            log.warning("forwarding audit: %d difference(s) between the bindings and the kernel, %d repaired",
                        len(report.mismatches), report.repaired)

    # ----- kernel route lookups for one binding --------------------------------------------
    def _lookups(self, binding: BindingForwarding) -> list[KernelLookup]:
        return [lookup for prefix in binding.prefixes for lookup in self.lookups_for(binding, prefix)]

    def lookups_for(self, binding: BindingForwarding, prefix: IPv6Network) -> list[KernelLookup]:
        """The kernel route lookups for one prefix of a binding, made as for its packets."""
        if getattr(self._dataplane, "lookup", None) is None:  # a backend with no kernel: nothing to look up
            return []
        tunnel = binding.tunnel
        inside = prefix.network_address
        if binding.anchor_side:
            return [self._lookup("downlink", prefix, inside, None, None,
                                 lambda r: r.prefix == prefix and r.segments == (tunnel.remote_sid,),
                                 f"route {prefix} encap seg6 segs {tunnel.remote_sid}")]
        iface = binding.access_interface
        source = prefix[1] if prefix.num_addresses > 1 else inside
        return [
            self._lookup("access", prefix, inside, None, None,
                         lambda r: r.prefix == prefix and r.device == iface, f"route {prefix} dev {iface}"),
            self._lookup("uplink", prefix, tunnel.remote, source, iface,
                         lambda r: r.table == tunnel.table and r.segments == (tunnel.remote_sid,),
                         f"table {tunnel.table} encap seg6 segs {tunnel.remote_sid}"),
        ]

    def _lookup(self, what, prefix, destination, source, iif, matches, expected) -> KernelLookup:
        try:
            found = self._dataplane.lookup(destination, source=source, iif=iif)
        except DataPlaneError as error:
            return KernelLookup(what, prefix, destination, source, iif, expected, str(error), False)
        if found is None:
            return KernelLookup(what, prefix, destination, source, iif, expected, "no route", False)
        return KernelLookup(what, prefix, destination, source, iif, expected, found.describe(), matches(found))


def mismatch_data(mismatch: Mismatch, mn_identifier: str | None) -> dict:
    """A mismatch under the YANG `forwarding-mismatch` grouping's leaf names."""
    data = {"kind": mismatch.kind.value, "object": mismatch.object, "expected": mismatch.expected,
            "actual": mismatch.actual, "repaired": mismatch.repaired}
    if mn_identifier is not None:
        data["mn-identifier"] = mn_identifier
    if mismatch.prefix is not None:
        data["prefix"] = str(mismatch.prefix)
    if mismatch.repair_error:
        data["repair-error"] = mismatch.repair_error
    return data



