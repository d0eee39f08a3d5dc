"""Counters read back the way operators read them — NETCONF over SSH and `/metrics` — after
real signalling between an LMA and a MAG on loopback (the example configurations, each a
full dmm-nf service in this process, on free ports)."""
from __future__ import annotations

import socket
import urllib.request
from ipaddress import IPv6Address
from pathlib import Path
from typing import Iterator

import pytest
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from nf import wire
from nf.core.binding_update_list import BindingUpdateList
from tests.netconf.conftest import wait_for
from tests.netconf.product import NS, ServiceThread, loopback_configs

MN = "mn1@example.net"
LL_A, LL_B = "02:00:00:00:0a:01", "02:00:00:00:0b:01"
LOOPBACK = IPv6Address("::1")  # the LMA's and the MAG's address in the example configurations


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ServiceThread, ServiceThread]]:
    lma_xml, mag_xml = loopback_configs(tmp_path)
    lma = ServiceThread(tmp_path, lma_xml)
    try:
        mag = ServiceThread(tmp_path, mag_xml)
    except BaseException:
        lma.stop()
        raise
    yield lma, mag
    mag.stop()
    lma.stop()


def get(session, subtree: str) -> etree._Element:
    return session.get(filter=("subtree", f'<dmm-nf xmlns="{NS}">{subtree}</dmm-nf>')).data_ele


def attach(session, mn: str, link_layer_id: str) -> None:
    session.dispatch(etree.fromstring(f'<mn-attach xmlns="{NS}"><mn-identifier>{mn}</mn-identifier>'
                                      f'<link-layer-id>{link_layer_id}</link-layer-id></mn-attach>'))


def heartbeat_counts(session) -> dict[str, int]:
    found = get(session, "<statistics><heartbeat/></statistics>").find(f".//{{{NS}}}heartbeat")
    return {etree.QName(leaf).localname: int(leaf.text) for leaf in found}


def samples(node: ServiceThread) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(node.metrics_url, timeout=5) as reply:
        text = reply.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def registered(mag, *link_layer_ids: str) -> bool:
    entries = get(mag, "<binding-update-list/>").findall(f".//{{{NS}}}entry")
    return sorted(e.findtext(f"{{{NS}}}link-layer-id") for e in entries
                  if e.findtext(f"{{{NS}}}state") == "registered") == sorted(link_layer_ids)


def test_heartbeat_statistics_count_requests_and_responses_apart_at_both_ends(pair):
    lma, mag = pair
    with lma.connect() as at_lma_nc, mag.connect() as at_mag_nc:
        attach(at_mag_nc, MN, LL_A)  # the registration makes the LMA ask the MAG at once (RFC 5847)

        def settled() -> bool:
            # The LMA's first request went out before the MAG was listening: lost, never answered.
            at_lma, at_mag = heartbeat_counts(at_lma_nc), heartbeat_counts(at_mag_nc)
            return (at_mag["requests-received"] >= 1 and at_mag["requests-sent"] >= 1
                    and at_lma["requests-received"] == at_mag["requests-sent"] == at_lma["responses-sent"]
                    and at_mag["requests-received"] == at_mag["responses-sent"] == at_lma["responses-received"]
                    and at_lma["requests-sent"] >= at_mag["requests-received"])

        assert wait_for(settled, timeout=10), (heartbeat_counts(at_lma_nc), heartbeat_counts(at_mag_nc))
        at_lma = heartbeat_counts(at_lma_nc)
    metrics = samples(lma)
    peer = frozenset({("peer", "::1")})
    assert metrics[("dmm_heartbeat_requests_total", peer)] == at_lma["requests-sent"]
    assert metrics[("dmm_heartbeat_responses_total", peer)] == at_lma["responses-received"]


def test_a_mag_exports_its_binding_update_list_and_its_registrations(pair):
    lma, mag = pair
    with mag.connect() as session:
        attach(session, MN, LL_A)
        assert wait_for(lambda: registered(session, LL_A), timeout=10)
        statistics = get(session, "<statistics/>").find(f".//{{{NS}}}statistics")
    metrics = samples(mag)
    assert metrics[("dmm_bindings", frozenset({("state", "registered")}))] == 1
    assert metrics[("dmm_bindings", frozenset({("state", "registering")}))] == 0
    assert metrics[("dmm_registrations_received_total", frozenset({("role", "mag")}))] == 1
    assert metrics[("dmm_registrations_accepted_total", frozenset({("role", "mag")}))] == 1
    assert (statistics.findtext(f"{{{NS}}}pbu-sent"), statistics.findtext(f"{{{NS}}}pba-received")) == ("1", "1")
    at_lma = samples(lma)
    assert at_lma[("dmm_registrations_accepted_total", frozenset({("role", "lma")}))] == 1
    assert ("dmm_registrations_accepted_total", frozenset({("role", "mag")})) not in at_lma


def test_a_binding_update_list_filter_on_one_node_reads_its_entries_without_walking_the_list(pair, monkeypatch):
    _, mag = pair
    with mag.connect() as session:
        attach(session, MN, LL_A)
        attach(session, MN, LL_B)
        assert wait_for(lambda: registered(session, LL_A, LL_B), timeout=10)

        def walk(self):
            raise AssertionError("the binding update list was walked")

        monkeypatch.setattr(BindingUpdateList, "__iter__", walk)
        one = get(session, f"<binding-update-list><entry><mn-identifier>{MN}</mn-identifier>"
                           f"<link-layer-id>{LL_B}</link-layer-id></entry></binding-update-list>")
        both = get(session, f"<binding-update-list><entry><mn-identifier>{MN}</mn-identifier></entry>"
                            "</binding-update-list>")
        nobody = get(session, "<binding-update-list><entry><mn-identifier>nobody@example.net</mn-identifier>"
                              "</entry></binding-update-list>")
        monkeypatch.undo()
    assert [e.findtext(f"{{{NS}}}link-layer-id") for e in one.iter(f"{{{NS}}}entry")] == [LL_B]
    assert sorted(e.findtext(f"{{{NS}}}link-layer-id") for e in both.iter(f"{{{NS}}}entry")) == [LL_A, LL_B]
    assert list(nobody.iter(f"{{{NS}}}entry")) == []


def counters_of(session, peer: str = "::1") -> etree._Element:
    return get(session, f"<peers><peer><address>{peer}</address><counters/></peer></peers>").find(
        f".//{{{NS}}}counters")


def message(counters: etree._Element, kind: str) -> dict[str, int]:
    found = next(m for m in counters.iterfind(f"{{{NS}}}message") if m.findtext(f"{{{NS}}}type") == kind)
    return {etree.QName(leaf).localname: int(leaf.text) for leaf in found if etree.QName(leaf).localname != "type"}


def by_code(counters: etree._Element, listed: str, key: str) -> dict[str, tuple[int, int]]:
    return {e.findtext(f"{{{NS}}}{key}"): (int(e.findtext(f"{{{NS}}}sent")), int(e.findtext(f"{{{NS}}}received")))
            for e in counters.iterfind(f"{{{NS}}}{listed}")}


def rpc(session, xml: str) -> etree._Element:
    return etree.fromstring(session.dispatch(etree.fromstring(xml)).xml.encode())


def test_each_peer_has_its_pbu_pba_bri_bra_counters_by_status_and_trigger_in_netconf_and_metrics(pair):
    lma, mag = pair
    with lma.connect() as at_lma, mag.connect() as at_mag:
        attach(at_mag, MN, LL_A)
        assert wait_for(lambda: registered(at_mag, LL_A), timeout=10)
        reply = rpc(at_lma, f'<revoke-binding xmlns="{NS}"><mn-identifier>{MN}</mn-identifier></revoke-binding>')
        assert reply.findtext(f"{{{NS}}}status") == "success"
        lma_side, mag_side = counters_of(at_lma), counters_of(at_mag)
    zero = {"received": 0, "sent": 0, "dropped": 0, "malformed": 0, "send-failures": 0}
    assert message(lma_side, "pbu") == {**zero, "received": 1} and message(mag_side, "pbu") == {**zero, "sent": 1}
    assert message(lma_side, "pba") == {**zero, "sent": 1} and message(mag_side, "pba") == {**zero, "received": 1}
    assert message(lma_side, "bri")["sent"] == 1 and message(mag_side, "bra")["sent"] == 1
    assert by_code(lma_side, "pba-by-status", "status") == {"accepted": (1, 0)}
    assert by_code(mag_side, "pba-by-status", "status") == {"accepted": (0, 1)}
    assert by_code(lma_side, "bri-by-trigger", "trigger") == {"administrative-reason": (1, 0)}
    assert by_code(lma_side, "bra-by-status", "status") == {"success": (0, 1)}
    assert by_code(mag_side, "bri-by-trigger", "trigger") == {"administrative-reason": (0, 1)}
    metrics = samples(lma)

    def sample(name: str, **labels: str) -> float:
        return metrics[(name, frozenset({"peer": "::1", **labels}.items()))]

    assert sample("dmm_peer_messages_total", type="pbu", direction="received", result="ok") == 1
    assert sample("dmm_peer_messages_total", type="bri", direction="sent", result="ok") == 1
    assert sample("dmm_peer_message_codes_total", type="pba", direction="sent", code="0") == 1
    assert sample("dmm_peer_message_codes_total", type="bri", direction="sent", code="1") == 1
    assert sample("dmm_peer_message_codes_total", type="bra", direction="received", code="0") == 1


def test_drops_are_counted_per_message_type_for_the_node_and_the_peer(pair):
    lma, _ = pair
    port = lma.on_loop(lambda: lma.service.runtime.transport.local_port)
    pba = wire.encode(wire.ProxyBindingAck(status=0, sequence=1, lifetime=0), LOOPBACK, LOOPBACK)
    bad_checksum = bytearray(wire.encode(wire.ProxyBindingUpdate(sequence=1, lifetime=0, proxy=True),
                                         LOOPBACK, LOOPBACK))
    bad_checksum[4] ^= 0xFF
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sender:
        sender.sendto(pba, ("::1", port))  # an LMA handles no PBA: dropped after decoding
        sender.sendto(bytes(bad_checksum), ("::1", port))  # names a PBU, does not decode: malformed
    with lma.connect() as session:
        def node_messages() -> etree._Element:
            return get(session, "<statistics><messages/></statistics>").find(f".//{{{NS}}}messages")

        assert wait_for(lambda: message(node_messages(), "pba")["dropped"] == 1
                        and message(node_messages(), "pbu")["malformed"] == 1, timeout=10)
        peer = counters_of(session)
    assert message(peer, "pba")["dropped"] == 1 and message(peer, "pbu")["malformed"] == 1
    metrics = samples(lma)
    assert metrics[("dmm_messages_total", frozenset({("type", "pba"), ("direction", "received"),
                                                     ("result", "dropped")}))] == 1
    assert metrics[("dmm_messages_total", frozenset({("type", "pbu"), ("direction", "received"),
                                                     ("result", "malformed")}))] == 1
    assert metrics[("dmm_messages_dropped_total", frozenset({("reason", "unexpected-message")}))] == 1


def test_a_send_the_socket_refuses_is_counted_as_a_send_failure_of_its_type(pair):
    lma, _ = pair
    transport = lma.service.runtime.transport
    lma.on_loop(lambda: setattr(transport, "send", lambda data, dst, port: False))  # the socket refuses all
    try:
        with lma.connect() as session:
            reply = rpc(session, f'<probe-path xmlns="{NS}"><peer>::1</peer><count>1</count></probe-path>')
            assert reply.findtext(f"{{{NS}}}result") == "unreachable"
            lma.on_loop(lambda: transport.__dict__.pop("send"))
            peer = counters_of(session)
            failures = get(session, "<statistics><messages><send-failure/></messages></statistics>")
    finally:
        lma.on_loop(lambda: transport.__dict__.pop("send", None))
    assert message(peer, "heartbeat-request")["send-failures"] >= 1
    assert failures.findtext(f".//{{{NS}}}send-failure/{{{NS}}}reason") == "socket-error"
    metrics = samples(lma)
    assert metrics[("dmm_peer_messages_total", frozenset({("peer", "::1"), ("type", "heartbeat-request"),
                                                          ("direction", "sent"), ("result", "failed")}))] >= 1
    assert metrics[("dmm_messages_send_failures_total", frozenset({("reason", "socket-error")}))] >= 1


def test_both_ends_show_the_time_left_to_the_expected_refresh(pair):
    lma, mag = pair
    with lma.connect() as at_lma, mag.connect() as at_mag:
        attach(at_mag, MN, LL_A)
        assert wait_for(lambda: registered(at_mag, LL_A), timeout=10)
        binding = get(at_lma, f"<binding-cache><binding><mn-identifier>{MN}</mn-identifier></binding>"
                              "</binding-cache>").find(f".//{{{NS}}}binding")
        entry = get(at_mag, "<binding-update-list/>").find(f".//{{{NS}}}entry")
    lifetime = int(binding.findtext(f"{{{NS}}}lifetime"))
    expected = lifetime - 30  # timers/refresh-advance, its default
    assert expected - 5 <= int(binding.findtext(f"{{{NS}}}time-to-refresh")) <= expected
    assert expected - 5 <= int(entry.findtext(f"{{{NS}}}time-to-refresh")) <= expected


def test_registrations_beyond_the_capacity_ceiling_are_refused_with_130_and_counted(pair):
    lma, mag = pair
    ceiling = (f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><dmm-nf xmlns="{NS}"><lma>'
               "<max-bindings>1</max-bindings></lma></dmm-nf></config>")
    with lma.connect() as at_lma, mag.connect() as at_mag:
        at_lma.edit_config(target="running", config=ceiling)
        attach(at_mag, MN, LL_A)
        assert wait_for(lambda: registered(at_mag, LL_A), timeout=10)
        attach(at_mag, MN, LL_B)

        def statistics() -> etree._Element:
            return get(at_lma, "<statistics/>").find(f".//{{{NS}}}statistics")

        assert wait_for(lambda: statistics().findtext(f"{{{NS}}}capacity-rejections") == "1", timeout=10)
        found = statistics()
        assert wait_for(lambda: registered(at_mag, LL_A), timeout=10)  # LL_B's entry went with its refusal
    assert (found.findtext(f"{{{NS}}}current-bindings"), found.findtext(f"{{{NS}}}max-bindings"),
            found.findtext(f"{{{NS}}}binding-utilization")) == ("1", "1", "100.0")
    refused = {e.findtext(f"{{{NS}}}status"): e.findtext(f"{{{NS}}}count")
               for e in found.iterfind(f"{{{NS}}}pba-sent-by-status")}
    assert refused.get("insufficient-resources") == "1"
    metrics = samples(lma)
    assert metrics[("dmm_bindings_max", frozenset())] == 1
    assert metrics[("dmm_binding_utilization_ratio", frozenset())] == 1.0
    assert metrics[("dmm_binding_capacity_rejections_total", frozenset())] == 1
    assert metrics[("dmm_registrations_rejected_total", frozenset({("role", "lma"), ("status", "130")}))] == 1
