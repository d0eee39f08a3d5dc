"""The namespace lab: idempotent up, complete down, status, handover link events."""
from __future__ import annotations

import subprocess
from ipaddress import IPv6Interface

import pytest

from nf.lab import Topology

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
