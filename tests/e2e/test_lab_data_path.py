"""The data path in the running lab: BFD through every tunnel between dmm-nf processes, and
per-mobile-node path probes, against faults injected in the kernel with `ip`."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from ncclient import manager

from mgmt.lab_cli import Lab
from nf.lab.configs import PASSWORD, USER, mn_identifier
from nf.lab.topology import HOME_PREFIX
from tests.e2e.test_daemon import wait_for

from .notifications import NS, next_notification, subscribe

pytestmark = pytest.mark.root

MN1, MN2 = mn_identifier("mn1"), mn_identifier("mn2")


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    running = Lab(f"dmmp{os.getpid() % 10000}-", tmp_path_factory.mktemp("lab"))
    try:
        running.up()
        yield running
    finally:
        running.down()


def probe(lab: Lab, host: str, **target) -> dict:
    with lab.client(host) as client:
        return client.rpc("probe-path", {**target, "count": 1, "timeout": 500})


def bfd_up(lab: Lab, host: str, peer: str) -> bool:
    return probe(lab, host, peer=peer).get("bfd-state") == "up"


@pytest.fixture
def restore(lab):
    """Undo commands after a test: the lab is shared by the module."""
    undo: list[tuple[str, list[str]]] = []
    yield undo
    for host, command in reversed(undo):
        lab.topology.exec(host, *command, check=False)
    for host, peer in (("lma", "2001:db8:ff::11"), ("lma", "2001:db8:ff::12"), ("mag1", "2001:db8:ff::1")):
        wait_for(lambda: bfd_up(lab, host, peer), what=f"BFD {host} -> {peer} up again")


def test_bfd_runs_through_every_tunnel_between_the_processes(lab):
    for host, peer in (("lma", "2001:db8:ff::11"), ("lma", "2001:db8:ff::12"), ("mag1", "2001:db8:ff::1"),
                       ("mag2", "2001:db8:ff::1")):
        wait_for(lambda: bfd_up(lab, host, peer), what=f"BFD {host} -> {peer} up")


def test_each_mobile_node_path_probe_passes_through_its_own_forwarding(lab):
    wait_for(lambda: bfd_up(lab, "lma", "2001:db8:ff::11"), what="BFD up")
    for host, mn in (("lma", MN1), ("lma", MN2), ("mag1", MN1), ("mag2", MN2)):
        output = probe(lab, host, **{"mn-identifier": mn})
        assert output["result"] == "reachable", output.get("failure")
        [path] = output["path-probe"]
        assert path["passed"] and path["prefix"] == str(HOME_PREFIX["mn1" if mn == MN1 else "mn2"])
        assert {c["check"] for c in path["check"]} == {"downlink", "access", "uplink"}


@pytest.mark.parametrize("host, command, failing_check", [
    ("lma", "ip -6 route del 2001:db8:100:1::/64", "lma downlink"),
    ("mag1", "ip -6 route del 2001:db8:100:1::/64 dev acc-mn1", "mag1 access"),
    ("mag1", "ip -6 rule del from 2001:db8:100:1::/64 iif acc-mn1 lookup 100", "mag1 uplink"),
], ids=["lma-downlink-route", "mag-access-route", "mag-uplink-rule"])
def test_a_route_deleted_for_one_node_fails_its_probe_and_no_other(lab, host, command, failing_check):
    lab.topology.exec(host, *command.split())
    try:
        for prober in ("lma", "mag1"):  # from either end of the tunnel
            broken = probe(lab, prober, **{"mn-identifier": MN1})
            assert broken["result"] == "unreachable"
            assert failing_check in broken["failure"], broken["failure"]
        assert probe(lab, "lma", **{"mn-identifier": MN2})["result"] == "reachable"
    finally:  # the forwarding audit puts the deleted object back
        with lab.client(host) as client:
            repaired = client.rpc("audit-forwarding", {"repair": "true"})
    assert repaired["repaired"] == 1, repaired
    assert probe(lab, "lma", **{"mn-identifier": MN1})["result"] == "reachable"


@pytest.mark.parametrize("host, command, undo", [
    ("lma", "ip -6 route del 2001:db8:fe::11/128",
     "ip -6 route add 2001:db8:fe::11/128 encap seg6 mode encap segs 2001:db8:ff::11 dev to-mag1 proto 201"),
    ("mag1", "ip -6 rule del from 2001:db8:fe::11 to 2001:db8:fe::1 lookup 100",
     "ip -6 rule add from 2001:db8:fe::11 to 2001:db8:fe::1 lookup 100 priority 1000 proto 201"),
    # the core link blackholed: frames to mag1 go to a MAC nobody has (a link set down would
    # also flush its routes, which a routing protocol, not dmm-nf, puts back)
    ("lma", "ip -6 neigh replace 2001:db8:10:1::2 lladdr 02:de:ad:00:00:01 dev to-mag1 nud permanent",
     "ip -6 neigh del 2001:db8:10:1::2 dev to-mag1"),
], ids=["downlink-route-deleted", "uplink-rule-deleted", "core-link-blackholed"])
def test_a_tunnel_fault_takes_bfd_down_with_the_rfc_5880_diagnostics_at_both_ends(lab, restore, host, command, undo):
    wait_for(lambda: bfd_up(lab, "lma", "2001:db8:ff::11"), what="BFD up")
    lma, mag1 = subscribe(lab, "lma"), subscribe(lab, "mag1")
    try:
        restore.append((host, undo.split()))
        lab.topology.exec(host, *command.split())
        downs = {name: next_notification(session, "data-path-down") for name, session in (("lma", lma), ("mag1", mag1))}
        diagnostics = {name: note.findtext(f"{{{NS}}}diagnostic") for name, note in downs.items()}
        # the end that stops hearing expires its detection time (1); the other is told (3)
        assert sorted(diagnostics.values()) in (
            ["control-detection-time-expired", "neighbor-signaled-session-down"],
            ["control-detection-time-expired", "control-detection-time-expired"])  # both directions lost
        assert downs["mag1"].findtext(f"{{{NS}}}peer") == "2001:db8:ff::1"
        lab.topology.exec(host, *undo.split())
        restore.pop()
        up = next_notification(lma, "data-path-up", timeout=15)
        assert up.findtext(f"{{{NS}}}peer") == "2001:db8:ff::11" and int(up.findtext(f"{{{NS}}}down-duration")) > 0
    finally:
        lma.close_session()
        mag1.close_session()


def peer_bfd(lab: Lab, host: str, peer: str) -> dict:
    with lab.client(host) as client:
        state = client.get(f"<peers><peer><address>{peer}</address><bfd/></peer></peers>")
    [entry] = state["peers"]["peer"]
    return entry["bfd"]["session"]


def test_both_ends_show_the_session_with_each_others_discriminators_over_netconf(lab):
    wait_for(lambda: bfd_up(lab, "lma", "2001:db8:ff::11"), what="BFD up")
    at_lma, at_mag = peer_bfd(lab, "lma", "2001:db8:ff::11"), peer_bfd(lab, "mag1", "2001:db8:ff::1")
    assert at_lma["state"] == at_mag["state"] == "up"
    assert at_lma["remote-discriminator"] == at_mag["local-discriminator"]
    assert at_mag["remote-discriminator"] == at_lma["local-discriminator"]
    assert (at_lma["local-address"], at_lma["remote-address"]) == ("2001:db8:fe::1", "2001:db8:fe::11")
    assert at_lma["negotiated-transmit-interval"] == 300000 and at_lma["detection-time"] == 900000
    assert int(at_lma["packets-received"]) > 0 and at_lma["up-count"] >= 1


def test_audit_state_and_bfd_counters_are_read_back_over_netconf(lab):
    with lab.client("lma") as client:
        client.rpc("audit-forwarding", {})
        tree = client.get("<data-path><audit/></data-path><statistics><bfd/></statistics>")
    audit = tree["data-path"]["audit"]
    # two bindings, the probed tunnels to mag1 and mag2, the probe address
    assert int(audit["runs"]) >= 1 and audit["last-mismatches"] == 0 and audit["last-checked"] == 5
    bfd = tree["statistics"]["bfd"]
    assert int(bfd["packets-sent"]) > 0 and {d["reason"] for d in bfd["drop"]} >= {"bad-version", "no-session"}


def dmmctl(lab: Lab, host: str, *args: str):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "mgmt.dmmctl", "--host", str(lab.topology.management_address(host)),
                           "--user", USER, "--password", PASSWORD, *args], capture_output=True, text=True, timeout=60)


def test_self_test_at_a_mag_registers_probes_and_deregisters_its_test_node(lab):
    wait_for(lambda: bfd_up(lab, "mag1", "2001:db8:ff::1"), what="BFD up")
    result = dmmctl(lab, "mag1", "self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split()[0] for line in result.stdout.splitlines()[1:-1]]
    assert steps == ["register", "forwarding", "anchor-binding", "data-path", "deregister"]
    assert result.stdout.splitlines()[-1] == "self-test passed"
    with lab.client("lma") as client:  # de-registered: kept MinDelayBeforeBCEDelete (RFC 5213 §5.3.5), then gone
        cache = client.get("<binding-cache/>").get("binding-cache", {}).get("binding", [])
    assert [b["state"] for b in cache if b["mn-identifier"] == "self-test.mag1@invalid"] in (
        [], ["deregistration-pending"])


def test_self_test_at_the_lma_checks_signalling_forwarding_peers_and_bfd(lab):
    wait_for(lambda: bfd_up(lab, "lma", "2001:db8:ff::12"), what="BFD up")
    result = dmmctl(lab, "lma", "--json", "self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    import json
    output = json.loads(result.stdout)
    assert [c["name"] for c in output["check"]] == ["signalling", "forwarding", "peers", "data-paths"]
    assert all(c["passed"] and c["duration"] >= 0 for c in output["check"])


def test_self_test_names_the_step_that_failed_and_exits_non_zero(lab):
    import signal
    pid = lab.functions.pid("lma")
    os.kill(pid, signal.SIGSTOP)
    try:
        result = dmmctl(lab, "mag1", "self-test")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "self-test FAILED at register"
    assert "no Proxy Binding Acknowledgement from 2001:db8:ff::1" in result.stdout
    wait_for(lambda: bfd_up(lab, "mag1", "2001:db8:ff::1"), what="BFD up after the LMA resumes")


def test_audit_reports_a_difference_and_repairs_it(lab):
    lab.topology.exec("lma", "ip", "-6", "route", "del", "2001:db8:100:2::/64")
    found = dmmctl(lab, "lma", "audit")
    assert found.returncode == 1 and "missing" in found.stdout and MN2 in found.stdout
    repaired = dmmctl(lab, "lma", "audit", "--repair")
    assert repaired.returncode == 1 and "1 repaired" in repaired.stdout  # it was there to repair
    assert dmmctl(lab, "lma", "audit").returncode == 0


def fields(stdout: str) -> dict[str, list[str]]:
    """dmmctl's "name: value" lines: name -> its values (a name may repeat)."""
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        name, _, value = line.partition(":")
        found.setdefault(name.strip(), []).append(value.strip())
    return found


def test_check_mn_gives_one_answer_and_exits_1_when_the_node_is_cut_off(lab):
    wait_for(lambda: bfd_up(lab, "lma", "2001:db8:ff::11"), what="BFD up")
    good = dmmctl(lab, "lma", "check-mn", MN1)
    assert good.returncode == 0, good.stdout + good.stderr
    answer = fields(good.stdout)
    assert answer["anchor (LMA)"] == ["2001:db8:ff::1"] and answer["serving MAG"] == ["2001:db8:ff::11"]
    assert answer["binding vs kernel"] == ["consistent"] and answer["kernel downlink"][0].startswith("ok: ")
    assert answer["data path"] == ["reachable"] and answer["verdict"] == ["OK"]
    assert answer["tunnel"][0].startswith("pmip-") and answer["bfd"] == ["up (no-diagnostic)"]
    lab.topology.exec("lma", "ip", "-6", "route", "del", "2001:db8:100:1::/64")
    try:
        bad = dmmctl(lab, "lma", "check-mn", MN1)
    finally:
        with lab.client("lma") as client:
            client.rpc("audit-forwarding", {"repair": "true"})
    assert bad.returncode == 1
    answer = fields(bad.stdout)
    assert answer["binding vs kernel"] == ["DIFFERENT"] and answer["verdict"] == ["PROBLEM"]
    assert any(p.startswith("forwarding missing: route 2001:db8:100:1::/64") for p in answer["problem"]), answer
    assert any("lma downlink" in p for p in answer["problem"])


def test_check_path_reports_signalling_and_bfd_and_fails_when_bfd_is_down(lab):
    wait_for(lambda: bfd_up(lab, "mag1", "2001:db8:ff::1"), what="BFD up")
    good = dmmctl(lab, "mag1", "check-path", "2001:db8:ff::1")
    assert good.returncode == 0, good.stdout
    answer = fields(good.stdout)
    assert answer["signalling"] == ["up"] and answer["bfd"][0].startswith("up (no-diagnostic)")
    lab.topology.exec("mag1", "ip", "-6", "rule", "del", "from", "2001:db8:fe::11", "to", "2001:db8:fe::1",
                      "lookup", "100")
    try:
        wait_for(lambda: not bfd_up(lab, "mag1", "2001:db8:ff::1"), what="BFD down")
        bad = dmmctl(lab, "mag1", "check-path", "2001:db8:ff::1")
    finally:
        lab.topology.exec("mag1", "ip", "-6", "rule", "add", "from", "2001:db8:fe::11", "to", "2001:db8:fe::1",
                          "lookup", "100", "priority", "1000", "proto", "201")
    answer = fields(bad.stdout)
    assert bad.returncode == 1 and answer["verdict"] == ["PROBLEM"]
    assert [p for p in answer["problem"] if p.startswith("data path: BFD down")], answer
    assert answer["heartbeats"][0].startswith("3 of 3 answered")  # the signalling works: only the data path failed
    wait_for(lambda: bfd_up(lab, "mag1", "2001:db8:ff::1"), what="BFD up again")


def test_watch_prints_notifications_as_they_come_until_interrupted(lab):
    import json
    import select
    import signal
    import subprocess
    import sys
    watch = subprocess.Popen([sys.executable, "-m", "mgmt.dmmctl", "--host", str(lab.topology.management_address("lma")),
                              "--user", USER, "--password", PASSWORD, "--json", "watch", "--kind",
                              "forwarding-audit-completed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        ready: list = []
        with lab.client("lma") as client:
            while not ready and time.monotonic() < deadline:  # audits until the subscription has one
                client.rpc("audit-forwarding", {})
                ready, _, _ = select.select([watch.stdout], [], [], 0.5)
        assert ready, "no line from dmmctl watch within 15 s"
        event = json.loads(watch.stdout.readline())
        assert event["kind"] == "forwarding-audit-completed" and event["data"]["mismatches"] == 0
        assert event["time"] and event["data"]["checked"] >= 5  # two bindings, three probe entries, perhaps a self-test
    finally:
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=10)
    assert watch.returncode == 0 and "Traceback" not in err


def set_bfd_authentication(lab: Lab, host: str, peer: str, key: str | None) -> None:
    """Commit (or remove, key None) Meticulous Keyed SHA1 for the BFD session with `peer`."""
    import base64
    auth = (f"<authentication><key-id>3</key-id><key>{base64.b64encode(key.encode()).decode()}</key></authentication>"
            if key else '<authentication xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="remove"/>')
    config = (f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><dmm-nf xmlns="{NS}"><peers><peer>'
              f"<address>{peer}</address><bfd>{auth}</bfd></peer></peers></dmm-nf></config>")
    with manager.connect(host=str(lab.topology.management_address(host)), port=830, username=USER,
                         password=PASSWORD, hostkey_verify=False, look_for_keys=False, allow_agent=False) as m:
        m.edit_config(target="candidate", config=config)
        m.commit()


def test_bfd_authentication_committed_at_one_end_takes_the_session_down_until_the_other_has_the_key(lab):
    wait_for(lambda: bfd_up(lab, "lma", "2001:db8:ff::11"), what="BFD up")
    try:
        set_bfd_authentication(lab, "lma", "2001:db8:ff::11", "s3cret-key")
        wait_for(lambda: not bfd_up(lab, "lma", "2001:db8:ff::11"), what="BFD down: mag1 has no key")
        set_bfd_authentication(lab, "mag1", "2001:db8:ff::1", "s3cret-key")
        wait_for(lambda: bfd_up(lab, "lma", "2001:db8:ff::11"), what="BFD up, authenticated at both ends")
        with lab.client("lma") as client:
            drops = {d["reason"]: int(d["count"]) for d in
                     client.get("<statistics><bfd/></statistics>")["statistics"]["bfd"]["drop"]}
        assert drops["authentication-mismatch"] > 0  # mag1's unauthenticated packets meanwhile
        assert peer_bfd(lab, "mag1", "2001:db8:ff::1")["state"] == "up"
    finally:
        set_bfd_authentication(lab, "lma", "2001:db8:ff::11", None)
        set_bfd_authentication(lab, "mag1", "2001:db8:ff::1", None)
    wait_for(lambda: bfd_up(lab, "lma", "2001:db8:ff::11"), what="BFD up without authentication")
