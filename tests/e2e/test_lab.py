"""The running lab: dmm-nf processes in the namespaces, driven by `dmm-nf lab` and NETCONF.

One lab serves the module (starting it takes about two seconds); each test leaves every
mobile node registered at a MAG, as it found it. `down` gets a lab of its own.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mgmt.lab_cli import Lab
from nf.lab.configs import mn_identifier
from nf.lab.topology import CN_ADDRESS, HOME_PREFIX, slaac_address
from nf.lab.traffic import udp_stream
from tests.waiting import wait_for

from .conftest import reachable, udp_round_trip

pytestmark = pytest.mark.root

PROTO = "201"


def dmm_nf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgmt.daemon", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    running = Lab(f"dmml{os.getpid() % 10000}-", tmp_path_factory.mktemp("lab"))
    try:
        running.up()
        yield running
    finally:
        running.down()


def owned(lab: Lab, host: str) -> list[str]:
    """Routes and rules the function installed (its protocol mark), one line each."""
    topology = lab.topology
    routes = topology.exec(host, "ip", "-6", "route", "show", "table", "all", "proto", PROTO).stdout.splitlines()
    rules = [r for r in topology.exec(host, "ip", "-6", "rule").stdout.splitlines() if f"proto {PROTO}" in r]
    return routes + rules


def for_mobile_nodes(lab: Lab, host: str) -> list[str]:
    """The owned routes and rules of the mobile nodes' prefixes (not the data-path probes' or a
    tunnel's default route, which stay while BFD runs through the tunnel, docs/liveness.md)."""
    return [line for line in owned(lab, host) if any(str(p) in line for p in HOME_PREFIX.values())]


def process_running(pid: int) -> bool:
    """Exists and is no zombie (an exited process nobody has reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_status_json_lists_every_host_and_the_function_endpoints_answer_from_the_host(lab):
    result = dmm_nf("lab", "--prefix", lab.topology.prefix, "--run-dir", str(lab.functions.run_dir),
                    "status", "--json")
    assert result.returncode == 0, result.stderr
    hosts = {h["name"]: h for h in json.loads(result.stdout)["hosts"]}
    assert {name: h["role"] for name, h in hosts.items()} == {
        "lma": "lma", "mag1": "mag", "mag2": "mag", "mn1": "mn", "mn2": "mn", "cn": "cn"}
    assert hosts["mn1"]["namespace"] == lab.topology.ns("mn1")
    assert hosts["mn1"]["addresses"] == {"to-mag1": [f"{slaac_address('mn1')}/64"]}
    for name in ("lma", "mag1", "mag2"):
        assert hosts[name]["running"] and hosts[name]["netconf-port"] == 830 and hosts[name]["metrics-port"] == 9430
    with urllib.request.urlopen(hosts["lma"]["metrics-url"], timeout=5) as response:  # from the host namespace
        assert 'dmm_bindings{state="active"} 2.0' in response.read().decode()
    with lab.client("lma") as client:  # NETCONF from the host namespace too
        assert client.get("<node><name/></node>")["node"]["name"] == "lma"


def global_addresses(lab: Lab, mn: str, ifname: str) -> list[str]:
    """`ip -6 addr` lines of the node's global addresses on `ifname`, flags and lifetimes joined."""
    out = lab.topology.exec(mn, "ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "global").stdout
    return [" ".join(line.split()[3:]).replace("\\", "") for line in out.splitlines()]


def assert_configured_by_slaac(lab: Lab, mn: str, ifname: str) -> None:
    """One address in the home network prefix, formed by the kernel from the RA's prefix and
    the MAC (modified EUI-64), with finite lifetimes; the default route learnt from the RA."""
    (line,) = global_addresses(lab, mn, ifname)
    assert line.startswith(f"{slaac_address(mn)}/64 ")
    assert slaac_address(mn) in HOME_PREFIX[mn]
    assert "dynamic" in line.split() and "valid_lft forever" not in line  # not set by hand
    routes = lab.topology.exec(mn, "ip", "-6", "route", "show", "default").stdout
    assert f"default via fe80::1 dev {ifname} proto ra" in routes


def test_mobile_nodes_get_their_address_and_default_route_by_slaac(lab):
    assert_configured_by_slaac(lab, "mn1", "to-mag1")
    assert_configured_by_slaac(lab, "mn2", "to-mag2")
    neighbours = lab.topology.exec("mn1", "ip", "-6", "neigh", "show", "fe80::1", "dev", "to-mag1").stdout
    assert "02:00:00:00:00:01" in neighbours and "router" in neighbours  # the fixed MAG addresses


def test_mobile_node_reaches_the_cn_through_the_tunnel_both_ways(lab):
    lma_routes = lab.topology.exec("lma", "ip", "-6", "route", "show", str(HOME_PREFIX["mn1"])).stdout
    assert "encap seg6 mode encap segs 1 [ 2001:db8:ff::11 ]" in lma_routes  # installed by the LMA process
    assert reachable(lab.topology, "mn1", str(CN_ADDRESS))
    assert reachable(lab.topology, "cn", str(slaac_address("mn1")))
    assert udp_round_trip(lab.topology, "mn1", "cn", str(CN_ADDRESS), "uplink") == "uplink"
    assert udp_round_trip(lab.topology, "cn", "mn2", str(slaac_address("mn2")), "downlink") == "downlink"


def test_handover_keeps_the_address_and_the_flow_continues(lab):
    moved = []
    stream = udp_stream(lab.topology, "cn", "mn1", str(slaac_address("mn1")), rate=500, seconds=1.5,
                        during=lambda: moved.append(lab.handover("mn1", "mag2")))
    try:
        assert moved[0].old_mag == "mag1" and moved[0].new_mag == "mag2" and moved[0].old_detached
        assert stream.received > 0.8 * stream.sent  # the stream went on after the move
        mn1 = next(h for h in lab.status()["hosts"] if h["name"] == "mn1")
        assert mn1["addresses"] == {"to-mag2": [f"{slaac_address('mn1')}/64"]} and mn1["serving-mag"] == "mag2"
        assert_configured_by_slaac(lab, "mn1", "to-mag2")  # the same address, from mag2's RA
        assert lab.registration("mag2", "mn1")["state"] == "registered"
        assert lab.registration("mag1", "mn1") is None
        assert wait_for(lambda: for_mobile_nodes(lab, "mag1") == [], what="mag1's routes for mn1 to go")
        assert udp_round_trip(lab.topology, "mn1", "cn", str(CN_ADDRESS), "after-move") == "after-move"
    finally:
        lab.handover("mn1", "mag1")


def lma_binding(lab: Lab, mn: str) -> dict | None:
    key = f"<mn-identifier>{mn_identifier(mn)}</mn-identifier>"
    with lab.client("lma") as client:
        found = client.get(f"<binding-cache><binding>{key}</binding></binding-cache>")
    bindings = found.get("binding-cache", {}).get("binding", [])
    return bindings[0] if bindings else None


def test_when_the_link_goes_down_the_mag_detaches_and_the_routes_and_binding_go(lab):
    hnp = str(HOME_PREFIX["mn2"])
    assert any(hnp in line for line in owned(lab, "mag2"))
    assert lma_binding(lab, "mn2")["home-network-prefix"] == [hnp]
    lab.topology.exec("mn2", "ip", "link", "set", "to-mag2", "down")  # the node leaves: carrier down at mag2
    try:
        wait_for(lambda: lab.registration("mag2", "mn2") is None, what="mag2 to de-register mn2")
        wait_for(lambda: lma_binding(lab, "mn2") is None, what="the LMA's binding for mn2 to go")
        wait_for(lambda: not any(hnp in line for line in owned(lab, "mag2")), what="mag2's routes for mn2 to go")
        assert not any("lookup" in line for line in for_mobile_nodes(lab, "mag2"))
        wait_for(lambda: not any(hnp in line for line in owned(lab, "lma")), what="the LMA's downlink to go")
    finally:
        lab.up()  # the link comes up again: mn2 solicits and mag2 attaches it
    assert reachable(lab.topology, "mn2", str(CN_ADDRESS))


def test_a_killed_and_restarted_mag_holds_each_route_once(lab):
    before = sorted(owned(lab, "mag1"))
    os.kill(lab.functions.pid("mag1"), signal.SIGKILL)
    wait_for(lambda: lab.functions.pid("mag1") is None, what="mag1 to die")
    assert sorted(owned(lab, "mag1")) == before  # the kernel keeps forwarding without the process
    lab.up()  # restarts mag1, which registers mn1 again
    assert sorted(owned(lab, "mag1")) == before
    assert reachable(lab.topology, "mn1", str(CN_ADDRESS))


def test_a_restarted_mag_removes_routes_of_bindings_it_no_longer_has(lab):
    os.kill(lab.functions.pid("mag1"), signal.SIGKILL)
    wait_for(lambda: lab.functions.pid("mag1") is None, what="mag1 to die")
    try:
        lab.handover("mn1", "mag2")  # while mag1 is down: its routes for mn1 are now stale
        assert any(str(HOME_PREFIX["mn1"]) in line for line in owned(lab, "mag1"))
        lab.functions.start("mag1")
        wait_for(lambda: for_mobile_nodes(lab, "mag1") == [], what="mag1 to remove its stale routes at start")
    finally:
        lab.up()
        lab.handover("mn1", "mag1")
    assert reachable(lab.topology, "mn1", str(CN_ADDRESS))


def test_up_again_changes_nothing(lab):
    def snapshot():
        return ({h: lab.functions.pid(h) for h in ("lma", "mag1", "mag2")}, lab.topology.status(),
                {h: sorted(owned(lab, h)) for h in ("lma", "mag1", "mag2")}, lab.topology.links_in_host())
    before = snapshot()
    result = dmm_nf("lab", "--prefix", lab.topology.prefix, "--run-dir", str(lab.functions.run_dir), "up")
    assert result.returncode == 0, result.stderr
    assert "try this:" in result.stdout and f"dmm-nf lab --prefix {lab.topology.prefix} handover mn1 mag2" in result.stdout
    assert snapshot() == before


def test_down_leaves_no_namespace_process_link_or_file(tmp_path):
    prefix, run_dir = f"dmmd{os.getpid() % 10000}-", tmp_path / "run"
    lab = Lab(prefix, run_dir)
    try:
        up = dmm_nf("lab", "--prefix", prefix, "--run-dir", str(run_dir), "up")
        assert up.returncode == 0, up.stderr
        pids = [lab.functions.pid(h) for h in ("lma", "mag1", "mag2")]
        assert all(pids)
        left_running = subprocess.Popen(["ip", "netns", "exec", lab.topology.ns("cn"), "sleep", "60"])
        wait_for(lambda: left_running.pid in lab.topology.processes(), what="the sleep to be in cn's namespace")
        down = dmm_nf("lab", "--prefix", prefix, "--run-dir", str(run_dir), "down")
        assert down.returncode == 0, down.stderr
        assert left_running.wait(timeout=10) == -9
        namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert prefix not in namespaces
        assert lab.topology.links_in_host() == []
        assert not any(process_running(pid) for pid in pids)
        assert not run_dir.exists()
        assert "removed namespace " + prefix + "lma" in down.stdout
    finally:
        lab.down()


def test_handover_of_an_unknown_node_is_a_usage_error(lab):
    result = dmm_nf("lab", "--prefix", lab.topology.prefix, "--run-dir", str(lab.functions.run_dir),
                    "handover", "mn9", "mag2")
    assert result.returncode == 2
    assert result.stderr.strip() == "dmm-nf: error: no mobile node 'mn9'; the lab has mn1, mn2"
