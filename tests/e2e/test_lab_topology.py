"""The namespace lab: idempotent up, complete down, status, handover link events."""
from __future__ import annotations

import os
import subprocess
from ipaddress import IPv6Interface

import pytest

from nf.lab import Topology

from .conftest import reachable

pytestmark = pytest.mark.root


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines()}


def test_up_twice_changes_nothing_and_status_lists_every_host(lab):
    first = lab.status()
    lab.up()
    assert lab.status() == first
    assert {h.name: h.role for h in first} == {"lma": "lma", "mag1": "mag", "mag2": "mag", "mn1": "mn",
                                               "mn2": "mn", "cn": "cn"}
    by_name = {h.name: h for h in first}
    assert by_name["mn1"].addresses == {"to-mag1": [IPv6Interface("2001:db8:100:1::100/64")]}
    assert by_name["cn"].namespace == lab.ns("cn")


def test_down_removes_only_its_own_namespaces():
    other = "dmmkeep-bystander"
    subprocess.run(["ip", "netns", "add", other], check=True)
    lab = Topology("dmmdown-")
    try:
        lab.up()
        assert {lab.ns(h) for h in ("lma", "mag1", "mag2", "mn1", "mn2", "cn")} <= namespaces()
        assert len(lab.down()) == 6
        assert not any(n.startswith("dmmdown-") for n in namespaces())
        assert other in namespaces()
    finally:
        lab.down()
        subprocess.run(["ip", "netns", "del", other], check=False)


def test_handover_takes_the_old_mag_access_link_down_and_the_new_one_up(lab):
    def carrier(mag: str) -> bool:
        return "LOWER_UP" in lab.exec(mag, "ip", "-o", "link", "show", "acc-mn1").stdout
    assert carrier("mag1") and not carrier("mag2")
    lab.attach("mn1", "mag2")
    assert carrier("mag2") and not carrier("mag1")
    assert lab.serving_mag("mn1") == "mag2"


@pytest.fixture
def standby_lab():
    topology = Topology(f"dmms{os.getpid() % 10000}-", standby_lma=True)
    try:
        topology.up()
        yield topology
    finally:
        topology.down()


def route_to(topology: Topology, host: str, address: str) -> str:
    return topology.exec(host, "ip", "-6", "route", "get", address).stdout


def test_a_standby_lma_is_linked_to_both_mags_and_the_cn_and_reached_over_its_own_links(standby_lab):
    hosts = {h.name: h for h in standby_lab.status()}
    assert hosts["lma2"].role == "lma"
    assert hosts["mag1"].addresses["core2"] == [IPv6Interface("2001:db8:11:1::2/64")]
    assert hosts["cn"].addresses["to-lma2"] == [IPv6Interface("2001:db8:21::2/64")]
    for mag in ("mag1", "mag2"):
        assert "dev core2" in route_to(standby_lab, mag, "2001:db8:ff::2")
        assert reachable(standby_lab, mag, "2001:db8:ff::2")
    assert "dev to-cn" in route_to(standby_lab, "lma2", "2001:db8:20::2")  # the CN's address, over lma2's link


def test_the_cn_routes_home_prefixes_to_the_lma_and_to_the_standby_while_the_lma_is_cut_off(standby_lab):
    mn1 = "2001:db8:100:1::100"
    assert "via 2001:db8:20::1 dev to-lma" in route_to(standby_lab, "cn", mn1)
    assert standby_lab.isolate("lma") == ["to-mag1", "to-mag2", "to-cn"]
    assert "via 2001:db8:21::1 dev to-lma2" in route_to(standby_lab, "cn", mn1)
    standby_lab.reconnect("lma")
    assert "via 2001:db8:20::1 dev to-lma" in route_to(standby_lab, "cn", mn1)
    assert reachable(standby_lab, "mag1", "2001:db8:ff::1")  # the routes the link-down flushed are back


def test_a_lab_without_the_option_has_no_standby(lab):
    assert "lma2" not in {h.name for h in lab.status()}
    assert not lab.exists("lma2")
    assert "2001:db8:100::/48" not in lab.exec("cn", "ip", "-6", "route").stdout
