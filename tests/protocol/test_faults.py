"""The fault dispatcher: each fault carried out as fault-policy says, its outcome published
(fault-action), on a MAG and an LMA harness."""
from __future__ import annotations

import dataclasses
from ipaddress import IPv6Address
from types import SimpleNamespace

import pytest

from nf.dataplane.base import RouteKind
from nf.liveness.faults import FaultDispatcher
from nf.wire import BindingRevocationIndication, ProxyBindingUpdate
from tests.protocol.test_lma_harness import MAG1, Harness as LmaHarness, settings_with
from tests.protocol.test_mag import HNP, LMA, MN, Harness as MagHarness, base_settings, registered  # noqa: F401

STANDBY = IPv6Address("2001:db8::2")


def mag_with(base, **fault_policy):
    mag = dataclasses.replace(base.mag, standby_lma_address=fault_policy.pop("standby", STANDBY))
    return MagHarness(dataclasses.replace(base, mag=mag, fault_policy=dataclasses.replace(base.fault_policy,
                                                                                         **fault_policy)))


def dispatcher_for(h, *, lma=None, mag=None) -> FaultDispatcher:
    runtime = SimpleNamespace(settings=h.ctx.settings, events=h.events, lma=lma, mag=mag, data_path=None)
    return FaultDispatcher(runtime)


def fault_actions(h) -> list[dict]:
    return [dict(e.data) for e in h.events.history() if e.kind == "fault-action"]


def test_failover_registers_the_sessions_of_the_failed_anchor_with_the_standby(base_settings):
    h = mag_with(base_settings, on_data_path_failure="failover")
    dispatcher_for(h, mag=h.mag)
    registered(h)
    h.events.publish("data-path-down", peer=str(LMA), diagnostic="control-detection-time-expired")
    pbu, destination = next((m, dst) for m, dst, _ in reversed(h.sent) if isinstance(m, ProxyBindingUpdate))
    assert destination == STANDBY and pbu.lifetime > 0
    assert [a["outcome"] for a in fault_actions(h)] == ["done"]
    assert fault_actions(h)[0] == {"fault": "data-path-down", "peer": str(LMA), "action": "failover",
                                        "outcome": "done", "bindings": 1,
                                        "detail": f"sessions anchored at {LMA} moved to {STANDBY}; "
                                                  f"new sessions register with {STANDBY}"}
    h.answer(src=STANDBY)
    assert h.mag.entry(MN).lma_address == STANDBY and h.mag.entry(MN).state == "registered"
    tunnel = h.dataplane.route(RouteKind.UPLINK, HNP).tunnel
    assert h.dataplane.tunnels[tunnel].remote == STANDBY  # the uplink moved to the standby's tunnel


def test_a_second_fault_of_the_same_outage_finds_nothing_left_to_move(base_settings):
    h = mag_with(base_settings, on_path_down="failover", on_data_path_failure="failover")
    dispatcher_for(h, mag=h.mag)
    registered(h)
    h.events.publish("data-path-down", peer=str(LMA))
    h.events.publish("peer-path-down", peer=str(LMA))
    assert [a["outcome"] for a in fault_actions(h)] == ["done", "nothing-to-do"]


def test_after_a_failover_a_node_attaching_registers_with_the_standby(base_settings):
    h = mag_with(base_settings, on_data_path_failure="failover")
    dispatcher_for(h, mag=h.mag)
    registered(h)
    h.events.publish("data-path-down", peer=str(LMA))
    h.mag.attach("mn2@example.net")  # a node arriving, or moving here from another MAG, meanwhile
    assert h.sent[-1][1] == STANDBY and h.mag.entry("mn2@example.net").lma_address == STANDBY


def test_a_mag_with_no_session_at_the_failed_lma_still_fails_over_for_new_sessions(base_settings):
    h = mag_with(base_settings, on_path_down="failover")
    dispatcher_for(h, mag=h.mag)
    h.events.publish("peer-path-down", peer=str(LMA))
    [action] = fault_actions(h)
    assert (action["outcome"], action["bindings"]) == ("done", 0) and f"new sessions register with {STANDBY}" \
        in action["detail"]
    h.mag.attach(MN)
    assert h.sent[-1][1] == STANDBY


def test_failover_without_a_standby_is_not_applicable_and_changes_nothing(base_settings):
    h = mag_with(base_settings, on_path_down="failover", standby=None)
    dispatcher_for(h, mag=h.mag)
    registered(h)
    sent = len(h.sent)
    h.events.publish("peer-path-down", peer=str(LMA))
    [action] = fault_actions(h)
    assert action["outcome"] == "not-applicable" and "mag/standby-lma-address" in action["detail"]
    assert len(h.sent) == sent and h.mag.entry(MN).state == "registered"


def test_revoke_bindings_at_a_mag_ends_the_sessions_anchored_at_the_failed_lma(base_settings):
    h = mag_with(base_settings, on_path_down="revoke-bindings")
    dispatcher_for(h, mag=h.mag)
    registered(h)
    h.events.publish("peer-path-down", peer=str(LMA))
    assert h.mag.entry(MN) is None and h.dataplane.installed() == {}
    assert fault_actions(h)[0]["bindings"] == 1


def test_alarm_only_keeps_every_session(base_settings):
    h = mag_with(base_settings)  # on-path-down defaults to alarm-only
    dispatcher_for(h, mag=h.mag)
    registered(h)
    h.events.publish("peer-path-down", peer=str(LMA))
    assert h.mag.entry(MN).state == "registered"
    assert fault_actions(h)[0]["outcome"] == "done" and fault_actions(h)[0]["action"] == "alarm-only"


def test_an_lma_restart_makes_the_mag_register_its_sessions_again(base_settings):
    h = mag_with(base_settings)  # on-peer-restart defaults to re-register (RFC 5847 section 3.2)
    dispatcher_for(h, mag=h.mag)
    registered(h)
    h.events.publish("peer-restart", peer=str(LMA), **{"previous-restart-counter": 1, "restart-counter": 2})
    assert len(h.pbus()) == 2
    assert fault_actions(h)[0]["action"] == "re-register" and fault_actions(h)[0]["bindings"] == 1


def test_revoke_bindings_at_an_lma_sends_a_global_binding_revocation_to_the_failed_mag():
    h = LmaHarness(settings_with(fault_policy={"on_data_path_failure": "revoke-bindings"}))
    dispatcher_for(h, lma=h.lma)
    h.register()
    h.events.publish("data-path-down", peer=str(MAG1))
    bri = next(sent.message for sent in reversed(h.sent) if isinstance(sent.message, BindingRevocationIndication))
    assert bri.global_ and fault_actions(h)[0]["bindings"] == 1


@pytest.mark.parametrize("action", ["re-register", "failover"])
def test_an_anchor_cannot_re_register_or_fail_over(action):
    h = LmaHarness(settings_with(fault_policy={"on_path_down": action}))
    dispatcher_for(h, lma=h.lma)
    h.register()
    h.events.publish("peer-path-down", peer=str(MAG1))
    assert fault_actions(h)[0]["outcome"] == "not-applicable"
    assert len(h.lma.bindings()) == 1
