"""Interoperability of the NETCONF server in a real `dmm-nf run` with independent clients.

netconf-console2 (its own framing, hello and RPC building) drives the LMA example: hello,
get-config, edit-config through candidate + validate + commit, a live change the commit
hook refuses, subtree and XPath gets, get-schema and a bad request. ncclient checks locks
across two sessions and <get-data> on the operational datastore filtered to one mobile
node, registered through the MAG example beside it.
"""
from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

from tests.e2e.test_daemon import EXAMPLES, dmm_nf, free_port, ready, wait_for
from tests.netconf.conftest import error_path_selects

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / ".venv" / "bin" / "netconf-console2"
NS = "urn:dmm-nf:yang:dmm-nf"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NMDA_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
MN = "mn1@example.net"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def config_with_ports(example: str, own_udp: int, peer_udp: int | None, out: Path) -> Path:
    """The example with its signalling moved to free UDP ports, so parallel runs do not meet."""
    tree = etree.parse(str(EXAMPLES / example))
    tree.find(f"{{{NS}}}transport/{{{NS}}}udp-port").text = str(own_udp)
    for port in tree.findall(f"{{{NS}}}peers/{{{NS}}}peer/{{{NS}}}udp-port"):
        port.text = str(peer_udp)
    tree.write(str(out))
    return out


class Node:
    def __init__(self, proc: subprocess.Popen, netconf_port: int) -> None:
        self.proc = proc
        self.netconf_port = netconf_port

    def console(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(CONSOLE), "--host", "::1", "--port", str(self.netconf_port),
                               "-u", "admin", "-p", "admin", *args],
                              input=stdin, capture_output=True, text=True, timeout=60)

    def connect(self) -> manager.Manager:
        return manager.connect(host="::1", port=self.netconf_port, username="admin", password="admin",
                               hostkey_verify=False, allow_agent=False, look_for_keys=False, timeout=10)


def start(example: str, own_udp: int, peer_udp: int, state: Path) -> Node:
    netconf_port, metrics_port = free_port(), free_port()
    config = config_with_ports(example, own_udp, peer_udp, state.with_suffix(".xml"))
    proc = dmm_nf("run", "--config", str(config), "--state-dir", str(state),
                  "--netconf-port", str(netconf_port), "--metrics-port", str(metrics_port))
    wait_for(lambda: proc.poll() is not None or ready(metrics_port), what=f"{example} /readyz")
    assert proc.poll() is None, proc.communicate()[1]
    return Node(proc, netconf_port)


def stop(node: Node) -> None:
    if node.proc.poll() is None:
        node.proc.send_signal(signal.SIGTERM)
        node.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory) -> Iterator[tuple[Node, Node]]:
    tmp = tmp_path_factory.mktemp("interop")
    lma_udp, mag_udp = free_udp_port(), free_udp_port()
    lma = start("lma.xml", lma_udp, mag_udp, tmp / "lma")
    try:
        mag = start("mag.xml", mag_udp, lma_udp, tmp / "mag")
        try:
            yield lma, mag
        finally:
            stop(mag)
    finally:
        stop(lma)


@pytest.fixture
def lma(nodes) -> Node:
    return nodes[0]


def xml_of(result: subprocess.CompletedProcess) -> etree._Element:
    assert result.returncode == 0, result.stdout + result.stderr
    return etree.fromstring(result.stdout.encode())


def error_of(result: subprocess.CompletedProcess) -> etree._Element:
    """netconf-console2 prints an rpc-error and exits non-zero."""
    assert result.returncode != 0, result.stdout
    return etree.fromstring(result.stdout.encode())


# --------------------------------------------------------------------- netconf-console2
def test_hello_advertises_base_11_candidate_validate_xpath_and_yang_library(lma):
    caps = {c.text for c in xml_of(lma.console("--hello")).iter(f"{{{NC_NS}}}capability")}
    for cap in ("urn:ietf:params:netconf:base:1.1", "urn:ietf:params:netconf:capability:candidate:1.0",
                "urn:ietf:params:netconf:capability:validate:1.1", "urn:ietf:params:netconf:capability:xpath:1.0"):
        assert cap in caps
    assert any(c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1?") for c in caps)


def test_get_config_with_xpath_filter(lma):
    data = xml_of(lma.console("--get-config", "-x", "/dmm-nf/node"))
    assert data.findtext(f".//{{{NS}}}node/{{{NS}}}name") == "lma1"
    assert data.find(f".//{{{NS}}}policy-store") is None


def test_get_with_subtree_filter_returns_state(lma):
    # netconf-console2 builds the subtree filter <dmm-nf><node><restart-counter/></node></dmm-nf>
    data = xml_of(lma.console("--ns", f"d={NS}", "--filter", "/d:dmm-nf/d:node/d:restart-counter", "--get"))
    assert data.findtext(f".//{{{NS}}}restart-counter") == "0"
    assert data.find(f".//{{{NS}}}node/{{{NS}}}name") is None


def test_get_with_xpath_filter_returns_state(lma):
    data = xml_of(lma.console("--get", "-x", "/dmm-nf/node/software-version"))
    assert data.findtext(f".//{{{NS}}}software-version")
    assert data.find(f".//{{{NS}}}restart-counter") is None


def test_edit_candidate_validate_and_commit(lma):
    edit = f'<dmm-nf xmlns="{NS}"><event-history><max-entries>321</max-entries></event-history></dmm-nf>'
    assert lma.console("--db", "candidate", "--edit-config", "-", stdin=edit).returncode == 0
    assert lma.console("--validate", "candidate").returncode == 0
    assert lma.console("--commit").returncode == 0
    data = xml_of(lma.console("--get-config", "-x", "/dmm-nf/event-history/max-entries"))
    assert data.findtext(f".//{{{NS}}}max-entries") == "321"


def test_a_live_change_the_node_cannot_take_is_operation_failed(lma):
    edit = f'<dmm-nf xmlns="{NS}"><node><name>renamed</name></node></dmm-nf>'
    error = error_of(lma.console("--edit-config", "-", stdin=edit))
    assert error.findtext(f"{{{NC_NS}}}error-tag") == "operation-failed"
    assert [e.tag for e in error_path_selects(error, etree.fromstring(f"<config>{edit}</config>"))] == [
        f"{{{NS}}}node"]
    data = xml_of(lma.console("--get-config", "-x", "/dmm-nf/node/name"))
    assert data.findtext(f".//{{{NS}}}name") == "lma1"


def test_an_invalid_value_in_candidate_fails_validate(lma):
    edit = f'<dmm-nf xmlns="{NS}"><event-history><max-entries>lots</max-entries></event-history></dmm-nf>'
    error = error_of(lma.console("--db", "candidate", "--edit-config", "-", stdin=edit))
    assert error.findtext(f"{{{NC_NS}}}error-tag") == "invalid-value"
    assert lma.console("--discard-changes").returncode == 0


def test_get_schema_returns_the_module_text(lma):
    result = lma.console("--get-schema", "dmm-nf-types")
    assert result.returncode == 0, result.stdout
    assert "module dmm-nf-types {" in result.stdout


def test_an_invalid_request_gets_an_rpc_error(lma):
    error = error_of(lma.console("--rpc", "-", stdin=f'<get-config xmlns="{NC_NS}"><source><nowhere/></source>'
                                 "</get-config>"))
    assert error.findtext(f"{{{NC_NS}}}error-tag") == "bad-element"
    assert error.findtext(f"{{{NC_NS}}}error-type") == "protocol"


# --------------------------------------------------------------------- ncclient
def test_a_lock_held_by_one_session_is_denied_to_another(lma):
    with lma.connect() as first, lma.connect() as second:
        first.lock("candidate")
        with pytest.raises(RPCError) as denied:
            second.lock("candidate")
        assert denied.value.tag == "lock-denied"
        assert str(first.session_id) in etree.tostring(denied.value.xml).decode()
        first.unlock("candidate")
        second.lock("candidate")
        second.unlock("candidate")


def test_get_data_on_operational_filtered_to_one_mobile_node(nodes):
    lma, mag = nodes
    with mag.connect() as m:
        m.dispatch(etree.fromstring(f'<mn-attach xmlns="{NS}"><mn-identifier>{MN}</mn-identifier></mn-attach>'))
    request = (f'<get-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:operational</datastore>'
               f'<subtree-filter><dmm-nf xmlns="{NS}"><binding-cache><binding><mn-identifier>{MN}</mn-identifier>'
               "</binding></binding-cache></dmm-nf></subtree-filter></get-data>")
    with lma.connect() as m:
        def bindings() -> list[etree._Element]:
            reply = etree.fromstring(m.dispatch(etree.fromstring(request)).xml.encode())
            return reply.findall(f".//{{{NMDA_NS}}}data/{{{NS}}}dmm-nf/{{{NS}}}binding-cache/{{{NS}}}binding")

        found = wait_for(bindings, what="the binding at the LMA")
    assert [b.findtext(f"{{{NS}}}mn-identifier") for b in found] == [MN]
    assert found[0].findtext(f"{{{NS}}}home-network-prefix").startswith("2001:db8:1000:")
    assert found[0].findtext(f"{{{NS}}}state")


# --------------------------------------------------------------------- conformance fixes, independent clients
NCN = "urn:ietf:params:xml:ns:netmod:notification"
WD = "urn:ietf:params:xml:ns:netconf:default:1.0"


def test_streams_are_discovered_with_get(lma):  # RFC 5277 §3.2.5.1
    data = xml_of(lma.console("--ns", f"n={NCN}", "--get", "-x", "/n:netconf/n:streams"))
    [stream] = data.iter(f"{{{NCN}}}stream")
    assert (stream.findtext(f"{{{NCN}}}name"), stream.findtext(f"{{{NCN}}}replaySupport")) == ("NETCONF", "true")
    assert stream.findtext(f"{{{NCN}}}replayLogCreationTime")


def test_an_xpath_filter_that_returns_no_node_set_is_invalid_value(lma):  # RFC 6241 §8.9.1
    error = error_of(lma.console("--get", "-x", "count(/dmm-nf/peers/peer)"))
    assert error.findtext(f".//{{{NC_NS}}}error-tag") == "invalid-value"


def test_report_all_with_a_narrow_filter_returns_just_the_leaf_it_selects(lma):  # RFC 6243 §4.5.1
    data = xml_of(lma.console("--get-config", "--with-defaults", "report-all",
                              "-x", "/dmm-nf/timers/timestamp-validity-window"))
    leaves = [etree.QName(e).localname for e in data.iter() if len(e) == 0]
    assert leaves == ["timestamp-validity-window"]
    assert data.findtext(f".//{{{NS}}}timestamp-validity-window") == "300"


def test_the_default_attribute_returns_a_timer_to_its_default(lma):  # RFC 6243 §4.5.2
    set_it = f'<dmm-nf xmlns="{NS}"><timers><timestamp-validity-window>700</timestamp-validity-window></timers></dmm-nf>'
    back = (f'<dmm-nf xmlns="{NS}" xmlns:wd="{WD}"><timers><timestamp-validity-window wd:default="true">300'
            "</timestamp-validity-window></timers></dmm-nf>")
    assert lma.console("--edit-config", "-", stdin=set_it).returncode == 0
    assert xml_of(lma.console("--get-config", "-x", "/dmm-nf/timers")).findtext(
        f".//{{{NS}}}timestamp-validity-window") == "700"
    assert lma.console("--edit-config", "-", stdin=back).returncode == 0
    tagged = xml_of(lma.console("--get-config", "--with-defaults", "report-all-tagged", "-x",
                                "/dmm-nf/timers/timestamp-validity-window"))
    assert tagged.find(f".//{{{NS}}}timestamp-validity-window").get(f"{{{WD}}}default") == "true"


def test_unlocking_the_candidate_discards_what_was_not_committed(lma):  # RFC 6241 §8.3.5.2
    edit = f'<config xmlns="{NC_NS}"><dmm-nf xmlns="{NS}"><event-history><max-entries>999</max-entries></event-history></dmm-nf></config>'
    with lma.connect() as m:
        m.lock("candidate")
        m.edit_config(target="candidate", config=edit)
        m.unlock("candidate")
        candidate = m.get_config("candidate").data_ele
    assert candidate.findtext(f".//{{{NS}}}event-history/{{{NS}}}max-entries") != "999"
