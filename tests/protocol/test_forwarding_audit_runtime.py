"""The forwarding audit inside the runtime: requested and periodic audits, what they publish,
and the check of one mobile node. The data plane here is the memory one, told to report
differences (a fake standing beside the real audit, which tests/e2e/test_dataplane_audit.py
runs against a kernel)."""
from __future__ import annotations

import asyncio
import dataclasses
from ipaddress import IPv6Network

import pytest

from nf.dataplane import MemoryDataPlane, Mismatch, MismatchKind
from nf.dataplane.base import AuditJob
from nf.liveness.forwarding import UnknownMobileNode
from nf.runtime import Runtime
from tests.protocol.test_lma_runtime import MN, free_udp_port, lma_settings, mag_socket, pbu_octets, receive_pba  # noqa: F401
from tests.waiting import wait_until


class DriftingDataPlane(MemoryDataPlane):
    """The memory data plane whose kernel read-back finds what the test puts in `drift`."""

    def __init__(self) -> None:
        super().__init__()
        self.drift: list[Mismatch] = []
        self.repairs = 0

    def audit_prepare(self, keys=None) -> AuditJob:
        plane = self

        class Job(AuditJob):
            def run(self) -> list[Mismatch]:
                wanted = set(keys) if keys is not None else None
                return [m for m in plane.drift if wanted is None or wanted & set(m.bindings)]
        return Job()

    def repair(self, report):
        self.repairs += 1
        return dataclasses.replace(report, mismatches=tuple(dataclasses.replace(m, repaired=True)
                                                            for m in report.mismatches))


def run(tmp_path, mag_socket, scenario, **audit):
    settings = lma_settings(free_udp_port(), mag_socket.getsockname()[1])
    if audit:
        settings = dataclasses.replace(settings, data_path=dataclasses.replace(
            settings.data_path, audit=dataclasses.replace(settings.data_path.audit, **audit)))
    dataplane = DriftingDataPlane()

    async def main():
        runtime = Runtime(settings, tmp_path, dataplane=dataplane)
        await runtime.start()
        events = []
        runtime.events.subscribe(events.append, {"forwarding-mismatch", "forwarding-audit-completed"})
        try:
            mag_socket.sendto(pbu_octets(), ("::1", settings.transport.udp_port))
            await receive_pba(mag_socket)
            return await scenario(runtime, dataplane, events)
        finally:
            await runtime.stop()
    return asyncio.run(main())


def missing_route_of(runtime) -> Mismatch:
    [binding] = runtime.forwarding_of(MN)
    prefix = binding.prefixes[0]
    return Mismatch(MismatchKind.MISSING, f"route {prefix}", f"route {prefix}", "no route", prefix,
                    bindings=(binding.key,), object_key=("route", 254, prefix))


def test_a_clean_audit_publishes_its_completion_and_no_mismatch(tmp_path, mag_socket):
    async def scenario(runtime, dataplane, events):
        report, owners = await runtime.data_path.auditor.audit()
        return report, [e.kind for e in events]

    report, kinds = run(tmp_path, mag_socket, scenario)
    assert report.consistent and report.checked == 1
    assert kinds == ["forwarding-audit-completed"]


def test_a_difference_is_published_with_the_mobile_node_it_concerns(tmp_path, mag_socket):
    async def scenario(runtime, dataplane, events):
        dataplane.drift = [missing_route_of(runtime)]
        report, owners = await runtime.data_path.auditor.audit()
        return report, owners, events, runtime.data_path.auditor.state

    report, owners, events, state = run(tmp_path, mag_socket, scenario)
    assert owners == {0: MN}
    mismatch_event = next(e for e in events if e.kind == "forwarding-mismatch")
    [listed] = mismatch_event.data["mismatch"]
    assert listed["mn-identifier"] == MN and listed["kind"] == "missing" and listed["actual"] == "no route"
    assert mismatch_event.data["count"] == 1
    assert state.runs == 1 and state.mismatches_found == {"missing": 1} and state.last_report is report


def test_repair_is_asked_of_the_data_plane_and_counted(tmp_path, mag_socket):
    async def scenario(runtime, dataplane, events):
        dataplane.drift = [missing_route_of(runtime)]
        report, _ = await runtime.data_path.auditor.audit(repair=True)
        return report, dataplane.repairs, runtime.data_path.auditor.state.repairs

    report, asked, repairs = run(tmp_path, mag_socket, scenario)
    assert report.repaired == 1 and asked == 1 and repairs == 1


def test_the_periodic_audit_runs_at_its_interval_and_repairs_when_configured(tmp_path, mag_socket):
    async def scenario(runtime, dataplane, events):
        dataplane.drift = [missing_route_of(runtime)]
        auditor = runtime.data_path.auditor
        await wait_until(lambda: auditor.state.runs >= 2, "two periodic audits", timeout=10)
        return dataplane.repairs

    assert run(tmp_path, mag_socket, scenario, interval=1, repair=True) >= 2


def test_a_check_of_one_mobile_node_covers_its_bindings_only(tmp_path, mag_socket):
    async def scenario(runtime, dataplane, events):
        dataplane.drift = [missing_route_of(runtime)]
        check = await runtime.data_path.auditor.check(MN)
        with pytest.raises(UnknownMobileNode, match="nobody@example.net"):
            await runtime.data_path.auditor.check("nobody@example.net")
        return check

    check = run(tmp_path, mag_socket, scenario)
    assert not check.consistent and [m.kind for m in check.report.mismatches] == [MismatchKind.MISSING]
    assert [b.mn_identifier for b in check.bindings] == [MN]
    assert check.lookups == ()  # the memory data plane has no kernel to look routes up in


def test_an_audit_interval_change_takes_effect_on_commit(tmp_path, mag_socket):
    async def scenario(runtime, dataplane, events):
        new = dataclasses.replace(runtime.settings, data_path=dataclasses.replace(
            runtime.settings.data_path, audit=dataclasses.replace(runtime.settings.data_path.audit, interval=1)))
        runtime.reconfigure(new)
        auditor = runtime.data_path.auditor
        await wait_until(lambda: auditor.state.runs >= 1, "a periodic audit after the commit", timeout=10)
        return auditor.interval

    assert run(tmp_path, mag_socket, scenario, interval=0) == 1
