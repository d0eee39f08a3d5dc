"""dmmctl against real dmm-nf processes: the LMA and MAG examples on one host, run as a
subprocess exactly as an operator would, human and --json output checked on real values,
and every error path ending in one line and its documented exit status."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.test_daemon import EXAMPLES, ROOT, dmm_nf, free_port, ready, wait_for

MN = "mn1@example.net"
PREFIX_START = "2001:db8:1000:"


# ----- harness ------------------------------------------------------------------------------
def free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, name: str, proc: subprocess.Popen, netconf_port: int) -> None:
        self.name, self.proc, self.port = name, proc, netconf_port


def start_lab(tmp: Path, nodes: list[Node]) -> None:
    """The LMA and MAG examples, with every port (signalling too) chosen free, so that other
    labs running on the same host at the same time do not collide with this one. Each node
    joins `nodes` as soon as it is started, so a failure later still stops it."""
    lma_udp, mag_udp = free_udp_port(), free_udp_port()
    metrics = []
    for name in ("lma", "mag"):
        text = (EXAMPLES / f"{name}.xml").read_text()
        config = tmp / f"{name}.xml"
        config.write_text(text.replace("5436", str(lma_udp)).replace("5437", str(mag_udp)))
        netconf_port, metrics_port = free_port(), free_port()
        proc = dmm_nf("run", "--config", str(config), "--state-dir", str(tmp / name),
                      "--netconf-port", str(netconf_port), "--metrics-port", str(metrics_port))
        nodes.append(Node(name, proc, netconf_port))
        metrics.append(metrics_port)
    for node, metrics_port in zip(nodes, metrics):
        wait_for(lambda: node.proc.poll() is not None or ready(metrics_port), what=f"{node.name} /readyz")
        assert node.proc.poll() is None, node.proc.communicate()[1]
    lma, mag = nodes
    # Whichever node started first sent its first heartbeat before the other listened; a probe
    # from each side is answered now (the next periodic heartbeat is a minute away).
    ok("probe", "::1", "--count", "1", node=lma)
    ok("probe", "::1", "--count", "1", node=mag)
    wait_for(lambda: peer_state(lma) == "up" and peer_state(mag) == "up", what="both peer paths up")


def stop_lab(nodes: list[Node]) -> None:
    for node in nodes:
        if node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)
    for node in nodes:
        node.proc.communicate(timeout=20)


@contextmanager
def running_lab(tmp: Path):
    nodes: list[Node] = []
    try:
        start_lab(tmp, nodes)
        yield nodes
    finally:
        stop_lab(nodes)


@pytest.fixture
def lab(tmp_path):
    """A fresh pair, for tests that change bindings."""
    with running_lab(tmp_path) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def idle_lab(tmp_path_factory):
    """A pair no test attaches a mobile node to (reads and failed requests only)."""
    with running_lab(tmp_path_factory.mktemp("idle")) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def bound_lab(tmp_path_factory):
    """A pair with mn1 attached once; its tests only read."""
    with running_lab(tmp_path_factory.mktemp("bound")) as nodes:
        attach_and_wait(*nodes)
        yield nodes


def dmmctl(*args: str, port: int | None = None, password: str = "admin") -> subprocess.CompletedProcess:
    connection = ["--host", "::1", "--user", "admin", "--password", password]
    if port is not None:
        connection += ["--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMMCTL_")}
    return subprocess.run([sys.executable, "-m", "mgmt.dmmctl", *connection, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def ok(*args: str, node: Node) -> str:
    result = dmmctl(*args, port=node.port)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def ok_json(*args: str, node: Node):
    return json.loads(ok("--json", *args, node=node))


def peer_state(node: Node) -> str | None:
    peers = ok_json("peers", node=node)
    return peers[0].get("liveness-state") if peers else None


def one_line_error(result: subprocess.CompletedProcess, status: int) -> str:
    assert result.returncode == status, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dmmctl: error: "), result.stderr
    return lines[0]


def lma_binding(lma: Node) -> list[dict]:
    return ok_json("bindings", "--mn", MN, node=lma)["binding-cache"]


def attach_and_wait(lma: Node, mag: Node) -> dict:
    out = ok("attach", MN, node=mag)
    assert f"attach {MN}: accepted" in out
    return wait_for(lambda: lma_binding(lma), what="the binding at the LMA")[0]


# ----- reading state -------------------------------------------------------------------------
def test_status_shows_identity_roles_restart_counter_and_peers(idle_lab):
    lma, mag = idle_lab
    summary = ok_json("status", node=lma)
    assert summary["name"] == "lma1" and summary["roles"] == ["lma"]
    assert summary["restart-counter"] == 0 and summary["uptime"] >= 0
    assert summary["bindings"] == 0
    assert (summary["peers-up"], summary["peers-down"], summary["peers-unknown"]) == (1, 0, 0)
    assert summary["pools"][0]["name"] == "home" and summary["pools"][0]["used"] == 0
    assert summary["statistics"]["pbu-received"] == 0

    text = ok("status", node=mag)
    lines = dict(line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith(" "))
    assert lines["node"].strip() == "mag1" and lines["roles"].strip() == "mag"
    assert lines["restart counter"].strip() == "0"
    assert lines["peers"].strip() == "1 up, 0 down, 0 unknown"


def test_peers_shows_liveness_of_each_peer(idle_lab):
    lma, mag = idle_lab
    [peer] = ok_json("peers", node=lma)
    assert peer["address"] == "::1" and peer["name"] == "mag1" and peer["liveness-state"] == "up"
    assert peer["rtt"] > 0 and peer["missed-heartbeats"] == 0 and peer["restart-counter"] == 0

    header, row = ok("peers", node=mag).splitlines()
    assert header.split()[:4] == ["ADDRESS", "NAME", "STATE", "RTT"]
    assert row.split()[:3] == ["::1", "lma1", "up"]


def test_attach_at_the_mag_shows_the_prefix_in_bindings_at_both_ends_and_detach_ends_it(lab):
    lma, mag = lab
    assert ok("bindings", "--mn", MN, node=lma).strip() == f"no binding for {MN}"

    binding = attach_and_wait(lma, mag)
    [prefix] = binding["home-network-prefix"]
    assert prefix.startswith(PREFIX_START) and prefix.endswith("/64")
    assert binding["state"] == "active" and binding["proxy-coa"] == "::1"
    assert 0 < binding["remaining-lifetime"] <= 3600

    table = ok("bindings", "--mn", MN, node=lma).splitlines()
    assert table[0] == "binding cache"
    assert table[2].split()[:5] == [MN, "-", prefix, "::1", "active"]

    entry = wait_for(lambda: [e for e in ok_json("bindings", node=mag)["binding-update-list"]
                              if e["state"] == "registered"], what="the MAG's registered entry")[0]
    assert entry["mn-identifier"] == MN and entry["home-network-prefix"] == [prefix]
    assert entry["interface"] == "acc0" and entry["lma-address"] == "::1"

    assert f"detach {MN}: accepted" in ok("detach", MN, node=mag)
    wait_for(lambda: not lma_binding(lma) or lma_binding(lma)[0]["state"] == "deregistration-pending",
             what="the de-registration at the LMA")


def test_bindings_with_mn_selects_only_that_mobile_node(bound_lab):
    lma, _ = bound_lab
    assert [b["mn-identifier"] for b in ok_json("bindings", node=lma)["binding-cache"]] == [MN]
    assert ok_json("bindings", "--mn", "nobody@example.net", node=lma) == {"binding-cache": [],
                                                                          "binding-update-list": []}
    assert ok("bindings", "--mn", "nobody@example.net", node=lma).strip() == "no binding for nobody@example.net"


def test_revoke_removes_the_binding_at_both_ends(lab):
    lma, mag = lab
    attach_and_wait(lma, mag)
    output = ok_json("revoke", MN, "--trigger", "administrative-reason", node=lma)
    assert output == {"mn-identifier": MN, "status": "success", "revoked": 1}
    assert lma_binding(lma) == []
    assert ok_json("bindings", node=mag)["binding-update-list"] == []

    attach_and_wait(lma, mag)
    lines = ok("revoke", MN, node=lma).splitlines()
    assert [line.split(":", 1)[1].strip() for line in lines] == [MN, "1", "success"]
    assert lma_binding(lma) == []


def test_status_counts_the_binding_and_the_accepted_registration(bound_lab):
    lma, mag = bound_lab
    summary = ok_json("status", node=lma)
    assert summary["bindings"] == 1 and summary["pools"][0]["used"] == 1
    assert (summary["statistics"]["pbu-received"], summary["statistics"]["pbu-accepted"]) == (1, 1)
    assert ok_json("status", node=mag)["bindings"] == 1
    assert "bindings:         1" in ok("status", node=lma).splitlines()


def json_lines(*args: str, node: Node) -> list[dict]:
    return [json.loads(line) for line in ok("--json", *args, node=node).splitlines()]


def test_events_as_json_lines_give_time_kind_and_data_and_filter_by_time_kind_and_mobile_node(bound_lab):
    lma, _ = bound_lab
    events = json_lines("events", node=lma)
    kinds = [e["kind"] for e in events]
    assert "peer-path-up" in kinds and "binding-created" in kinds
    assert [e["sequence"] for e in events] == sorted(e["sequence"] for e in events)
    created = next(e for e in events if e["kind"] == "binding-created")
    assert set(created) == {"sequence", "time", "kind", "data"}
    assert created["data"]["mn-identifier"] == MN and created["data"]["handoff-indicator"] == "attachment-over-new-interface"

    assert [e["kind"] for e in json_lines("events", "--mn", MN, node=lma)] == ["binding-created"]
    assert [e["kind"] for e in json_lines("events", "--kind", "peer-path-up", node=lma)] == ["peer-path-up"]
    assert json_lines("events", "--since", "2999-01-01T00:00:00", node=lma) == []
    assert len(json_lines("events", "--since", "1h", node=lma)) == len(events)
    assert json_lines("events", "--until", created["time"], node=lma)[-1] == created
    assert json_lines("events", "--limit", "1", node=lma) == [json_lines("events", node=lma)[-1]]


def test_events_in_a_table_with_utc_times_or_a_line_saying_there_are_none(bound_lab):
    lma, _ = bound_lab
    assert ok("events", "--since", "2999-01-01T00:00:00", node=lma).strip() == "no events"
    header, row = ok("events", "--mn", MN, node=lma).splitlines()
    assert header.split() == ["SEQ", "TIME", "(UTC)", "KIND", "MN", "PEER", "TEXT"]
    seq, day, clock, kind, mn, peer, *text = row.split()
    assert (kind, mn, peer) == ("binding-created", MN, "::1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", day) and re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", clock)
    assert "handoff-indicator=attachment-over-new-interface" in text


def test_probe_measures_the_path_and_exit_status_says_whether_it_answered(idle_lab):
    lma, _ = idle_lab
    output = ok_json("probe", "::1", "--count", "2", node=lma)
    assert output["result"] == "reachable" and output["peer"] == "::1"
    assert (output["sent"], output["received"]) == (2, 2)
    assert output["rtt-min"] <= output["rtt"] <= output["rtt-max"]

    unknown = dmmctl("probe", "--mn", "nobody@example.net", port=lma.port)
    assert unknown.returncode == 5 and unknown.stdout == ""  # 5: the node answered with an rpc-error
    [line] = unknown.stderr.strip().splitlines()
    assert line.startswith("dmmctl: error: ") and "invalid-value" in line
    assert "no binding for mobile node 'nobody@example.net' on this node" in line and "probe-path" in line


def test_config_get_prints_the_datastore_as_xml_or_json(idle_lab):
    lma, _ = idle_lab
    xml = ok("config", "get", node=lma)
    assert xml.startswith('<dmm-nf xmlns="urn:dmm-nf:yang:dmm-nf">') and "<name>lma1</name>" in xml
    config = ok_json("config", "get", "--datastore", "candidate", node=lma)["dmm-nf:dmm-nf"]
    assert config["node"]["name"] == "lma1"
    assert config["policy-store"]["mobile-node"][0]["mn-identifier"] == MN
    assert "binding-cache" not in config  # configuration only, no state


# ----- errors --------------------------------------------------------------------------------
def test_unreachable_port_is_exit_3():
    line = one_line_error(dmmctl("status", port=free_port()), 3)
    assert "cannot connect to ::1 port" in line and "refused" in line


def test_a_listener_that_never_greets_is_exit_6_within_the_timeout():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as silent:
        silent.bind(("::1", 0))
        silent.listen()
        started = time.monotonic()
        line = one_line_error(dmmctl("--timeout", "1", "status", port=silent.getsockname()[1]), 6)
        assert time.monotonic() - started < 10  # paramiko alone would wait 15 s for the greeting
    assert "sent no SSH greeting within 1 s" in line


def test_a_listener_that_is_not_ssh_is_exit_3():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server:
        server.bind(("::1", 0))
        server.listen()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(lambda: server.accept()[0].sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n"))
            line = one_line_error(dmmctl("--timeout", "5", "status", port=server.getsockname()[1]), 3)
    assert "cannot open a NETCONF session" in line


def test_wrong_password_is_exit_4(idle_lab):
    lma, _ = idle_lab
    line = one_line_error(dmmctl("status", port=lma.port, password="wrong"), 4)
    assert line == f"dmmctl: error: authentication refused by ::1 port {lma.port} for user 'admin'"


def test_attach_on_the_lma_is_an_rpc_error_exit_5_with_its_tag(idle_lab):
    lma, _ = idle_lab
    line = one_line_error(dmmctl("attach", MN, port=lma.port), 5)
    assert "mn-attach: rpc-error operation-not-supported" in line and "no MAG role" in line


def test_revoke_of_an_unknown_mobile_node_is_an_rpc_error_exit_5(idle_lab):
    lma, _ = idle_lab
    line = one_line_error(dmmctl("revoke", "nobody@example.net", port=lma.port), 5)
    assert "revoke-binding: rpc-error invalid-value" in line and "nobody@example.net" in line


@pytest.mark.parametrize("args, message", [
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["probe"], "one of the arguments PEER --mn is required"),
    (["probe", "::1", "--count", "0"], "not a count 1..255"),
    (["revoke", MN, "--trigger", "whim"], "invalid choice: 'whim'"),
    (["events", "--since", "yesterday"], "not a duration"),
    (["events", "--until", "2026-02-30T00:00:00"], "not a duration"),
    (["events", "--peer", "192.0.2.1"], "not an IPv6 address"),
    (["events", "--limit", "0"], "not a positive number"),
    (["events", "--since", "1h", "--until", "2h"], "is before --since"),
    (["--port", "70000", "status"], "not a port number"),
])
def test_usage_errors_are_one_line_and_exit_2(args, message):
    assert message in one_line_error(dmmctl(*args), 2)


@pytest.mark.parametrize("command", [["status"], ["bindings"], ["peers"], ["events"], ["attach"], ["detach"],
                                     ["revoke"], ["probe"], ["config"], ["config", "get"]])
def test_every_command_has_help(command):
    result = dmmctl(*command, "--help")
    assert result.returncode == 0 and result.stdout.startswith(f"usage: dmmctl {' '.join(command)}")


# ----- the request itself ----------------------------------------------------------------------
class RecordingClient:
    """Stands in for the NETCONF session to see what a command asks for."""

    def __init__(self, error=None) -> None:
        self.subtrees: list[str] = []
        self.error = error

    def get(self, subtree: str) -> dict:
        self.subtrees.append(subtree)
        return {}

    def rpc(self, name: str, params: dict) -> dict:
        raise self.error


def test_bindings_with_mn_is_a_keyed_subtree_filter():
    from mgmt.dmmctl import build_parser, cmd_bindings

    client = RecordingClient()
    cmd_bindings(client, build_parser().parse_args(["bindings", "--mn", "a<b@example.net"]))
    key = "<mn-identifier>a&lt;b@example.net</mn-identifier>"
    assert client.subtrees == [f"<binding-cache><binding>{key}</binding></binding-cache>"
                               f"<binding-update-list><entry>{key}</entry></binding-update-list>"]


def test_probe_on_a_node_without_probe_path_says_so():
    from mgmt.dmmctl import build_parser, cmd_probe
    from mgmt.dmmctl_client import RpcFailed
    from mgmt.cli_errors import CliError

    client = RecordingClient(RpcFailed("probe-path: rpc-error operation-not-supported: no", "operation-not-supported"))
    with pytest.raises(CliError) as err:
        cmd_probe(client, build_parser().parse_args(["probe", "::1"]))
    assert err.value.status == 5
    assert str(err.value).startswith("this node does not support probing paths")


# ----- runbooks ----------------------------------------------------------------------------------
RUNBOOKS = ROOT / "docs" / "runbooks"
SECTIONS = ("## What it means", "## How to confirm", "## Likely causes", "## What to do", "## How to verify it cleared")


def _alerts() -> list[str]:
    text = (ROOT / "exporters" / "prometheus" / "rules.yml").read_text()
    return re.findall(r"^\s*- alert: (\w+)\s*$", text, re.MULTILINE)


@pytest.mark.parametrize("alert", _alerts())
def test_every_alert_has_a_runbook_with_every_section(alert):
    page = (RUNBOOKS / f"{alert}.md").read_text()
    assert page.startswith(f"# {alert}\n")
    positions = [page.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert f"[{alert}.md]({alert}.md)" in (RUNBOOKS / "README.md").read_text()


def _documented_commands() -> list[str]:
    commands = []
    for page in sorted([*RUNBOOKS.glob("*.md"), ROOT / "docs" / "dmmctl.md"]):
        for line in page.read_text().splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("dmmctl ") and "[" not in line:  # "[" marks a synopsis, not a command
                commands.append(re.split(r"\s(?:#|\||>|&&)\s", line)[0])
    return commands


def test_every_dmmctl_command_in_the_docs_parses():
    from mgmt.dmmctl import build_parser

    commands = _documented_commands()
    assert len(commands) > 40
    parser = build_parser()
    for command in commands:
        try:
            parser.parse_args(shlex.split(command)[1:])
        except SystemExit:
            pytest.fail(f"documented command does not parse: {command}")
