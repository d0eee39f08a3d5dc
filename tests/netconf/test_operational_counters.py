"""Counters read back the way operators read them — NETCONF over SSH and `/metrics` — after
real signalling between an LMA and a MAG on loopback (the example configurations, each a
full dmm-nf service in this process, on free ports)."""
from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from nf.core.binding_update_list import BindingUpdateList
from tests.netconf.conftest import wait_for
from tests.netconf.product import NS, ServiceThread, loopback_configs

MN = "mn1@example.net"
LL_A, LL_B = "02:00:00:00:0a:01", "02:00:00:00:0b:01"


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
