"""Failover to the standby LMA in the running lab (`dmm-nf lab up --standby-lma`).

The LMA is cut off — its three core links set down at its end, so the MAGs and the CN see
their carrier go, as when the host fails or its lines are cut — while mn1 and the CN stream
UDP to each other. The MAGs' BFD sessions through the tunnels to the LMA expire, their fault
dispatchers fail over (fault-policy on-data-path-failure `failover`) and register their nodes
at lma2; the CN routes the home network prefixes through lma2 once its link to the LMA has no
carrier. Then the failback of docs/liveness.md: the LMA back, its forwarding repaired, the
nodes relocated to it at each MAG. One cut and one failback serve the module; each test
checks one thing that must follow from them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mgmt.cli_errors import CliError
from mgmt.lab_cli import Lab
from nf.lab import Topology
from nf.lab.configs import PASSWORD, USER, mn_identifier
from nf.lab.topology import CN_ADDRESS, HOME_PREFIX, MAGS, NODE_ADDRESS, STANDBY_LMA, slaac_address
from nf.lab.traffic import Flow, StreamResult, udp_streams
from tests.waiting import wait_for

from .conftest import udp_round_trip
from .notifications import leaves, notifications, subscribe

pytestmark = pytest.mark.root

LMA, LMA2 = str(NODE_ADDRESS["lma"]), str(NODE_ADDRESS[STANDBY_LMA])
MN1 = mn_identifier("mn1")
RATE = 200  # datagrams/s each way
SECONDS = 4.0  # the cut comes with the first datagrams; detection and re-registration take about one second


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    running = Lab(f"dmmf{os.getpid() % 10000}-", tmp_path_factory.mktemp("lab"), standby_lma=True)
    try:
        running.up()
        yield running
    finally:
        running.down()


def bfd_up(lab: Lab, host: str, peer: str) -> bool:
    with lab.client(host) as client:
        return client.rpc("probe-path", {"peer": peer, "count": 1, "timeout": 500}).get("bfd-state") == "up"


@dataclass(frozen=True)
class Failover:
    uplink: StreamResult  # mn1 -> CN
    downlink: StreamResult  # CN -> mn1
    data_path_down: dict[str, dict[str, str]]  # MAG -> its data-path-down notification for the LMA
    fault_action: dict[str, dict[str, str]]  # MAG -> its fault-action notification for that fault


@pytest.fixture(scope="module")
def failover(lab) -> Failover:
    for mag in MAGS:
        for peer in (LMA, LMA2):
            wait_for(lambda: bfd_up(lab, mag, peer), f"BFD {mag} -> {peer} up", timeout=15)
    sessions = {mag: subscribe(lab, mag) for mag in MAGS}
    try:
        uplink, downlink = udp_streams(
            lab.topology, [Flow("mn1", "cn", str(CN_ADDRESS)), Flow("cn", "mn1", str(slaac_address("mn1")))],
            rate=RATE, seconds=SECONDS, during=lambda: lab.topology.isolate("lma"))
        seen = {mag: notifications(session, ["data-path-down", "fault-action"], peer=LMA)
                for mag, session in sessions.items()}
    finally:
        for session in sessions.values():
            session.close_session()
    return Failover(uplink, downlink, *({mag: leaves(notes[kind]) for mag, notes in seen.items()}
                                        for kind in ("data-path-down", "fault-action")))


def running(pid: int) -> bool:
    """Exists and is no zombie (the lab's processes are this test's children until reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def dmm_nf(lab: Lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgmt.daemon", "lab", "--prefix", lab.topology.prefix,
                           "--run-dir", str(lab.functions.run_dir), *args], capture_output=True, text=True, timeout=120)


def test_status_lists_the_standby_lma_as_a_running_anchor_with_its_endpoints(lab):
    result = dmm_nf(lab, "status", "--json")
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    hosts = {h["name"]: h for h in state["hosts"]}
    assert state["standby-lma"] is True
    assert hosts[STANDBY_LMA]["role"] == "lma" and hosts[STANDBY_LMA]["running"]
    assert hosts[STANDBY_LMA]["management-address"] == str(lab.topology.management_address(STANDBY_LMA))
    assert {"2001:db8:ff::2/128", "2001:db8:11:1::1/64", "2001:db8:11:2::1/64", "2001:db8:21::1/64"} <= {
        a for found in hosts[STANDBY_LMA]["addresses"].values() for a in found}
    assert hosts["mag1"]["addresses"]["core2"] == ["2001:db8:11:1::2/64"]


def test_before_the_cut_the_cn_reaches_the_home_prefixes_through_the_lma(lab):
    route = lab.topology.exec("cn", "ip", "-6", "route", "get", str(slaac_address("mn1"))).stdout
    assert "via 2001:db8:20::1 dev to-lma" in route


def test_each_mag_detects_the_cut_by_bfd_with_diagnostic_1(failover):
    for mag in MAGS:
        assert failover.data_path_down[mag]["diagnostic"] == "control-detection-time-expired"


def test_each_mag_fails_its_node_over_to_the_standby_with_outcome_done(failover):
    for mag in MAGS:
        note = failover.fault_action[mag]
        assert note["action"].rpartition(":")[2] == "failover"
        assert (note["outcome"], note["bindings"]) == ("done", "1"), note
        assert LMA2 in note["detail"]


def test_mn1s_binding_is_at_the_standby_lma_and_its_mag_registered_there(lab, failover):
    with lab.client(STANDBY_LMA) as client:
        [binding] = client.get(f"<binding-cache><binding><mn-identifier>{MN1}</mn-identifier></binding>"
                               "</binding-cache>")["binding-cache"]["binding"]
    assert binding["proxy-coa"] == str(NODE_ADDRESS["mag1"])
    assert binding["home-network-prefix"] == [str(HOME_PREFIX["mn1"])]
    entry = lab.registration("mag1", "mn1")
    assert (entry["lma-address"], entry["state"]) == (LMA2, "registered")


def active_anchor(lab: Lab, mag: str) -> str:
    with lab.client(mag) as client:
        return client.get("<mag><active-lma-address/></mag>")["mag"]["active-lma-address"]


def test_after_the_failover_each_mag_registers_new_sessions_with_the_standby(lab, failover):
    assert {mag: active_anchor(lab, mag) for mag in MAGS} == {mag: LMA2 for mag in MAGS}


def test_during_the_failover_a_node_handed_over_registers_with_the_standby_and_keeps_its_traffic(lab, failover):
    lab.handover("mn1", "mag2")
    try:
        assert lab.registration("mag2", "mn1")["lma-address"] == LMA2
        assert udp_round_trip(lab.topology, "mn1", "cn", str(CN_ADDRESS), "via-mag2") == "via-mag2"
    finally:
        lab.handover("mn1", "mag1")
    assert lab.registration("mag1", "mn1")["lma-address"] == LMA2


def test_mn1s_traffic_to_the_cn_resumes_with_the_same_address(failover, record_property):
    uplink = failover.uplink
    record_property("uplink_longest_gap_ms", round(uplink.max_gap_ms))
    record_property("uplink_lost", uplink.lost)
    assert uplink.lost > 0  # the cut interrupted it ...
    assert uplink.reached_the_end  # ... and it came back
    assert uplink.sources == (str(slaac_address("mn1")),)


def test_the_cn_reaches_mn1_again_through_the_standby(lab, failover, record_property):
    downlink = failover.downlink
    record_property("downlink_longest_gap_ms", round(downlink.max_gap_ms))
    record_property("downlink_lost", downlink.lost)
    assert downlink.lost > 0 and downlink.reached_the_end
    route = lab.topology.exec("cn", "ip", "-6", "route", "get", str(slaac_address("mn1"))).stdout
    assert "via 2001:db8:21::1 dev to-lma2" in route


def dmmctl(lab: Lab, host: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgmt.dmmctl", "--host", str(lab.topology.management_address(host)),
                           "--user", USER, "--password", PASSWORD, *args], capture_output=True, text=True, timeout=60)


# ----- failback: moving the nodes back to the LMA once it is back (docs/liveness.md) ----------
def test_relocating_to_an_address_that_is_no_anchor_of_the_mag_is_an_rpc_error_naming_new_anchor(lab):
    result = dmmctl(lab, "mag1", "relocate", str(NODE_ADDRESS["mag2"]), MN1)
    assert result.returncode == 5 and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "neither mag/lma-address nor mag/standby-lma-address" in result.stderr


def test_relocate_at_an_lma_is_not_supported(lab):
    result = dmmctl(lab, STANDBY_LMA, "relocate", LMA, MN1)
    assert result.returncode == 5 and "operation-not-supported" in result.stderr, result.stderr


def test_while_the_lma_is_cut_off_relocating_back_to_it_is_refused_and_nothing_moves(lab, failover):
    result = dmmctl(lab, "mag1", "relocate", LMA, MN1)
    assert result.returncode == 1
    assert f"{MN1}: NOT relocated (anchor-unreachable): the data path to {LMA} is down (BFD down" in result.stdout
    assert lab.registration("mag1", "mn1")["lma-address"] == LMA2


@pytest.fixture(scope="module")
def failback(lab, failover) -> dict[str, subprocess.CompletedProcess]:
    """The failback of docs/liveness.md, step by step: the LMA's links to the MAGs back (its
    link to the CN still down, so the CN keeps sending through lma2), its forwarding
    repaired, every node relocated back at each MAG, then its link to the CN."""
    lab.topology.reconnect("lma", ["to-mag1", "to-mag2"])
    dmmctl(lab, "lma", "audit", "--repair")  # the link-down flushed its routes: exit 1, it found them missing
    for mag in MAGS:
        wait_for(lambda: bfd_up(lab, mag, LMA), f"BFD {mag} -> LMA up again", timeout=15)
    relocated = {mag: dmmctl(lab, mag, "relocate", LMA, "--all") for mag in MAGS}
    lab.topology.reconnect("lma", ["to-cn"])
    return relocated


def test_failback_relocates_each_mags_node_to_the_lma(lab, failback):
    for mag, result in failback.items():
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"relocated from {LMA2} to {LMA}" in result.stdout and result.stdout.splitlines()[-1] == f"1 of 1 at {LMA}"
    entry = lab.registration("mag1", "mn1")
    assert (entry["lma-address"], entry["state"]) == (LMA, "registered")
    assert {mag: active_anchor(lab, mag) for mag in MAGS} == {mag: LMA for mag in MAGS}
    with lab.client("lma") as client:
        [binding] = client.get(f"<binding-cache><binding><mn-identifier>{MN1}</mn-identifier></binding>"
                               "</binding-cache>")["binding-cache"]["binding"]
    assert binding["proxy-coa"] == str(NODE_ADDRESS["mag1"])


def test_after_failback_mn1_and_the_cn_reach_each_other_through_the_lma_with_the_same_address(lab, failback):
    uplink, downlink = udp_streams(
        lab.topology, [Flow("mn1", "cn", str(CN_ADDRESS)), Flow("cn", "mn1", str(slaac_address("mn1")))],
        rate=RATE, seconds=0.5)
    assert uplink.reached_the_end and downlink.reached_the_end
    assert uplink.sources == (str(slaac_address("mn1")),)
    assert "via 2001:db8:20::1 dev to-lma" in lab.topology.exec(
        "cn", "ip", "-6", "route", "get", str(slaac_address("mn1"))).stdout


def test_relocating_a_node_already_at_the_anchor_moves_nothing(lab, failback):
    result = dmmctl(lab, "mag1", "relocate", LMA, "--all")
    assert result.returncode == 0 and result.stdout.startswith("nothing to relocate")


def test_after_failback_revoking_at_the_standby_removes_only_its_stale_binding(lab, failback):
    result = dmmctl(lab, STANDBY_LMA, "revoke", MN1)
    assert result.returncode == 0, result.stderr
    assert "binding-does-not-exist" in result.stdout  # mag1 serves mn1 through the LMA, not lma2
    with lab.client(STANDBY_LMA) as client:
        cache = client.get(f"<binding-cache><binding><mn-identifier>{MN1}</mn-identifier></binding>"
                           "</binding-cache>").get("binding-cache", {}).get("binding", [])
    assert [b["state"] for b in cache] in ([], ["deregistration-pending"])
    assert lab.registration("mag1", "mn1")["lma-address"] == LMA


def test_up_with_a_standby_on_a_lab_that_has_none_is_refused_in_one_line(tmp_path):
    prefix = f"dmmg{os.getpid() % 10000}-"
    plain = Topology(prefix)
    try:
        plain.up()
        with pytest.raises(CliError, match=r"is up without a standby LMA; take it down first"):
            Lab(prefix, tmp_path, standby_lma=True).up()
        assert not plain.exists(STANDBY_LMA)
    finally:
        plain.down()


def test_down_removes_the_standby_lma_with_everything_else(lab):
    pid = lab.functions.pid(STANDBY_LMA)
    removed = dmm_nf(lab, "down")
    assert removed.returncode == 0, removed.stderr
    assert f"process {STANDBY_LMA}" in removed.stdout and f"namespace {lab.topology.ns(STANDBY_LMA)}" in removed.stdout
    assert pid is not None and not running(pid)
    assert lab.topology.links_in_host() == []
    assert not lab.topology.exists(STANDBY_LMA)
