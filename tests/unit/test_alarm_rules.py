"""Which events raise and clear which alarms (nf/alarms/rules.py), on synthetic events of
every kind the events contract lists, including those other parts publish."""
from __future__ import annotations

import pytest

from nf.alarms import ALARM_TYPES, RULES, AlarmList, AlarmRules
from nf.alarms.inventory import inventory
from nf.alarms.rules import Clear, Raise
from nf.core.events import EventBus

MAG = "2001:db8::2"
LMA = "2001:db8::1"
PEER_MAG = f"/dmm-nf:dmm-nf/peers/peer[address='{MAG}']"
PEER_LMA = f"/dmm-nf:dmm-nf/peers/peer[address='{LMA}']"
POOL = "/dmm-nf:dmm-nf/prefix-pools/pool[name='p1']"
DATAPLANE = "/dmm-nf:dmm-nf/dataplane"


@pytest.fixture
def node():
    bus = EventBus()
    alarms = AlarmList(bus)
    AlarmRules(bus, alarms)
    return bus, alarms


def state(alarms: AlarmList) -> dict[tuple[str, str], tuple[str, bool]]:
    """(type name, resource) -> (severity, cleared)."""
    return {(a.key.type_id.split(":")[1], a.key.resource): (a.severity, a.is_cleared) for a in alarms.alarms()}


def test_signalling_path_down_is_raised_on_the_peer_entry_and_cleared_by_path_up(node):
    bus, alarms = node
    bus.publish("peer-path-down", peer=MAG, name="mag1", **{"missed-heartbeats": 3})
    assert state(alarms) == {("signalling-path-down", PEER_MAG): ("major", False)}
    assert "mag1" in alarms.alarms()[0].text and "3 Heartbeat Requests" in alarms.alarms()[0].text
    bus.publish("peer-path-up", peer=MAG, **{"down-duration": 42})
    assert state(alarms) == {("signalling-path-down", PEER_MAG): ("major", True)}
    assert "after 42 s" in alarms.alarms()[0].text


def test_the_recovery_of_another_peer_clears_nothing(node):
    bus, alarms = node
    bus.publish("peer-path-down", peer=MAG)
    bus.publish("peer-path-up", peer="2001:db8::9")
    assert state(alarms)[("signalling-path-down", PEER_MAG)] == ("major", False)


def test_peer_addresses_are_named_in_canonical_form_whatever_their_spelling(node):
    bus, alarms = node
    bus.publish("peer-path-down", peer="2001:DB8:0:0::2")
    bus.publish("peer-path-up", peer=MAG)
    assert state(alarms) == {("signalling-path-down", PEER_MAG): ("major", True)}


def test_data_path_down_is_critical_while_bindings_use_the_tunnel_and_names_the_tunnel(node):
    bus, alarms = node
    bus.publish("data-path-down", peer=MAG, tunnel="pmip-1a2b3c4d", diagnostic="control-detection-time-expired",
                bindings=12)
    [alarm] = alarms.alarms()
    assert (alarm.key.resource, alarm.severity) == (PEER_MAG, "critical")
    assert alarm.alt_resources == ("/dmm-nf:dmm-nf/tunnels/tunnel[name='pmip-1a2b3c4d']",)
    assert "control-detection-time-expired" in alarm.text and "12 binding" in alarm.text
    bus.publish("data-path-up", peer=MAG, tunnel="pmip-1a2b3c4d", **{"down-duration": 3})
    assert alarm.is_cleared


def test_data_path_down_without_bindings_is_major(node):
    bus, alarms = node
    bus.publish("data-path-down", peer=MAG, tunnel="t", diagnostic="neighbor-signaled-session-down", bindings=0)
    assert alarms.alarms()[0].severity == "major"


def test_a_peer_restart_is_cleared_by_the_first_registration_with_that_peer(node):
    bus, alarms = node
    bus.publish("peer-restart", peer=MAG, **{"previous-restart-counter": 4, "restart-counter": 5,
                                             "action": "re-register"})
    assert state(alarms) == {("peer-restarted", PEER_MAG): ("minor", False)}
    assert "4 -> 5" in alarms.alarms()[0].text
    bus.publish("binding-created", **{"mn-identifier": "mn1@example.net", "proxy-coa": "2001:db8::7"})
    assert not alarms.alarms()[0].is_cleared  # another MAG
    bus.publish("binding-updated", **{"mn-identifier": "mn1@example.net", "proxy-coa": MAG})
    assert alarms.alarms()[0].is_cleared


def test_at_a_mag_registrations_clear_by_the_lma_address(node):
    bus, alarms = node
    bus.publish("registration-failed", peer=LMA, retransmissions=5, **{"mn-identifier": "mn1@example.net"})
    assert state(alarms) == {("registration-failed", PEER_LMA): ("major", False)}
    assert "mn1@example.net" in alarms.alarms()[0].text
    bus.publish("binding-created", **{"mn-identifier": "mn2@example.net", "proxy-coa": MAG, "lma-address": LMA})
    assert alarms.alarms()[0].is_cleared


def test_many_failed_registrations_at_one_lma_are_one_alarm_with_one_status_change(node):
    bus, alarms = node
    for n in range(100):
        bus.publish("registration-failed", peer=LMA, retransmissions=5, **{"mn-identifier": f"mn{n}@example.net"})
    [alarm] = alarms.alarms()
    assert len(alarm.status_changes) == 1
    assert sum(1 for e in bus.history() if e.kind == "alarm-notification") == 1


def test_an_unacknowledged_revocation_raises_on_the_mag_and_a_registration_from_it_clears(node):
    bus, alarms = node
    bus.publish("revocation-failed", peer=MAG, trigger=1, retransmissions=1, **{"mn-identifier": "mn1@example.net"})
    [alarm] = alarms.alarms()
    assert (alarm.key.type_id, alarm.key.resource, alarm.severity) == \
        ("dmm-nf-alarms:revocation-failed", PEER_MAG, "minor")
    assert "administrative-reason" in alarm.text
    bus.publish("revocation-failed", peer=MAG, trigger=128, retransmissions=1)  # global: no mn-identifier
    bus.publish("binding-updated", **{"mn-identifier": "mn3@example.net", "proxy-coa": MAG})
    assert alarm.is_cleared


def audit(bus, mismatches: int, repaired: int) -> None:
    """What the forwarding audit publishes: completed first, then the list of what it found."""
    bus.publish("forwarding-audit-completed", checked=10, mismatches=mismatches, repaired=repaired)
    if mismatches:
        bus.publish("forwarding-mismatch", count=mismatches, mismatch=[
            {"kind": "missing", "mn-identifier": "mn1@example.net", "repaired": n < repaired}
            for n in range(mismatches)])


def test_an_audit_that_leaves_differences_raises_on_the_data_plane_and_a_clean_audit_clears(node):
    bus, alarms = node
    audit(bus, mismatches=3, repaired=1)
    [alarm] = alarms.alarms()
    assert (alarm.key.resource, alarm.severity, alarm.is_cleared) == (DATAPLANE, "major", False)
    assert "found 3 difference(s)" in alarm.text and "2 remain" in alarm.text
    audit(bus, mismatches=2, repaired=0)
    assert not alarm.is_cleared and len(alarm.status_changes) == 1
    audit(bus, mismatches=0, repaired=0)
    assert alarm.is_cleared


def test_an_audit_that_repairs_everything_it_found_raises_nothing(node):
    bus, alarms = node
    audit(bus, mismatches=2, repaired=2)
    assert alarms.alarms() == []


def test_an_audit_that_repairs_what_remained_clears_the_alarm(node):
    bus, alarms = node
    audit(bus, mismatches=1, repaired=0)
    audit(bus, mismatches=1, repaired=1)
    assert state(alarms) == {("forwarding-mismatch", DATAPLANE): ("major", True)}


def test_pool_usage_high_and_exhaustion_both_clear_when_the_usage_is_normal_again(node):
    bus, alarms = node
    bus.publish("pool-usage-high", pool="p1", used=90, size=100)
    bus.publish("pool-exhausted", pool="p1", size=100, **{"mn-identifier": "mn1@example.net"})
    assert state(alarms) == {("prefix-pool-nearly-exhausted", POOL): ("warning", False),
                             ("prefix-pool-exhausted", POOL): ("major", False)}
    bus.publish("pool-usage-normal", pool="p1", used=79, size=100)
    assert state(alarms) == {("prefix-pool-nearly-exhausted", POOL): ("warning", True),
                             ("prefix-pool-exhausted", POOL): ("major", True)}


def test_a_pool_name_with_a_quote_is_a_valid_instance_identifier(node):
    bus, alarms = node
    bus.publish("pool-usage-high", pool="bob's", used=9, size=10)
    assert alarms.alarms()[0].key.resource == '/dmm-nf:dmm-nf/prefix-pools/pool[name="bob\'s"]'


def test_an_event_missing_its_resource_raises_nothing(node):
    bus, alarms = node
    bus.publish("peer-path-down")
    bus.publish("pool-usage-high", used=1, size=1)
    assert alarms.alarms() == []


def test_every_alarm_type_has_a_rule_that_raises_and_one_that_clears_it():
    raised = {e.alarm.name for effects in RULES.values() for e in effects if isinstance(e, Raise)}
    cleared = {e.alarm.name for effects in RULES.values() for e in effects if isinstance(e, Clear)}
    names = {t.name for t in ALARM_TYPES}
    assert raised == names and cleared == names
    assert all(t.will_clear for t in ALARM_TYPES)


def test_the_inventory_follows_the_roles():
    lma = {t.name for t in inventory({"lma"})}
    mag = {t.name for t in inventory({"mag"})}
    assert "registration-failed" not in lma and "prefix-pool-exhausted" not in mag
    assert "revocation-failed" in lma and "registration-failed" in mag
    assert {"signalling-path-down", "data-path-down", "peer-restarted", "forwarding-mismatch"} <= lma & mag
