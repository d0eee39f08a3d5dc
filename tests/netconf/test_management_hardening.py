"""The management plane of a running dmm-nf (lma.xml on free ports, in this process) holds
against its users: state-changing operations need an NACM rule, secrets are read by nobody
who may not read them and are never logged, failed logins are counted where operators look,
and an expensive read is ended while the session and the server go on."""
from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import paramiko
import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from prometheus_client.parser import text_string_to_metric_families

from tests.bench.bench_netconf import _fill
from tests.netconf.product import ADMIN, GUEST, NS, ServiceThread, lma_config
from tests.waiting import wait_for

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
PEER_KEY = base64.b64encode(b"peer-secret-0123").decode()
NEW_PEER_KEY = base64.b64encode(b"peer-secret-new!").decode()
BFD_KEY = base64.b64encode(b"bfd-secret-4567").decode()
GUEST_PASSWORD = "guest-pass-9876"
EXPENSIVE = "//*[count(//*)>0]"  # quadratic: minutes over 2,000 bindings without a limit
BINDINGS = 2000


def configured(tmp_path: Path, **netconf: str) -> Path:
    """lma.xml with a keyed peer, a keyed BFD session, the guest user (in no NACM group) and
    ``netconf`` leaves (name: XML) under management/netconf."""
    config = lma_config(tmp_path / "lma.xml", users=[(GUEST[0], GUEST_PASSWORD)])
    text = config.read_text()
    text = text.replace("<netconf>", "<netconf>" + "".join(f"<{k}>{v}</{k}>" for k, v in netconf.items()), 1)
    text = text.replace("<role>dmmt:mag</role>", "<role>dmmt:mag</role>"
                        f"<authentication><key-id>256</key-id><key>{PEER_KEY}</key></authentication>"
                        "<bfd><mode>direct</mode><authentication><key-id>7</key-id>"
                        f"<key>{BFD_KEY}</key></authentication></bfd>", 1)
    config.write_text(text)
    return config


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ServiceThread]:
    service = ServiceThread(tmp_path, configured(tmp_path, **{
        "request-time-limit": "2",
        "failed-login-delay": "<initial>50</initial><maximum>200</maximum>"}))
    yield service
    service.stop()


def guest(node: ServiceThread):
    return node.connect((GUEST[0], GUEST_PASSWORD))


def metric(node: ServiceThread, name: str, labels: dict[str, str] | None = None) -> float:
    with urllib.request.urlopen(node.metrics_url, timeout=5) as reply:
        text = reply.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == (labels or {}):
                return sample.value
    raise AssertionError(f"no sample {name} {labels}")


def statistics(session) -> dict[str, int]:
    reply = session.get(filter=("xpath", "/dmm-nf/management/netconf/statistics"))
    found = reply.data_ele.find(f".//{{{NS}}}statistics")
    return {etree.QName(leaf).localname: int(leaf.text) for leaf in found}


def rpc(name: str, body: str = "") -> etree._Element:
    return etree.fromstring(f'<{name} xmlns="{NS}">{body}</{name}>')


STATE_CHANGING = [
    ("revoke-binding", "<mn-identifier>mn1@example.net</mn-identifier>"),
    ("relocate-anchor", "<mn-identifier>mn1@example.net</mn-identifier><new-anchor>2001:db8::2</new-anchor>"),
    ("mn-attach", "<mn-identifier>mn1@example.net</mn-identifier>"),
    ("mn-detach", "<mn-identifier>mn1@example.net</mn-identifier>"),
    ("audit-forwarding", "<repair>true</repair>"),
    ("self-test", ""),
]


# ------------------------------------------------------------------ NACM defaults
def test_a_user_in_no_group_is_refused_every_state_changing_operation_and_an_operator_is_not(node):
    with guest(node) as as_guest, node.connect(ADMIN) as as_admin:
        for name, body in STATE_CHANGING:
            with pytest.raises(RPCError) as denied:
                as_guest.dispatch(rpc(name, body))
            assert denied.value.tag == "access-denied", name
            try:
                as_admin.dispatch(rpc(name, body))
            except RPCError as error:  # refused for what it asks (an LMA has no access link), not for who asks
                assert error.tag != "access-denied", name


def test_a_user_in_no_group_may_still_run_the_reading_operations(node):
    with guest(node) as as_guest:
        with pytest.raises(RPCError) as answered:  # it ran: the node has no such binding
            as_guest.dispatch(rpc("check-forwarding", "<mn-identifier>mn1@example.net</mn-identifier>"))
        assert answered.value.tag == "invalid-value" and "no binding for mobile node" in answered.value.message
        assert as_guest.dispatch(rpc("get-events", "<limit>1</limit>")).ok


# ------------------------------------------------------------------ secrets
def server_log(caplog) -> str:
    """What the function logged (the test's own NETCONF client, ncclient, logs every reply)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("ncclient"))


def test_no_key_or_password_reaches_a_user_who_may_not_read_it_nor_the_log(node, caplog):
    caplog.set_level(logging.DEBUG)
    with guest(node) as as_guest:
        seen = as_guest.get().xml + as_guest.get_config("running").xml + as_guest.get_config("startup").xml
        seen += as_guest.dispatch(rpc("get-events", "<limit>1000</limit>")).xml
    with node.connect(ADMIN) as as_admin:
        secrets = as_admin.get_config("running").xml
        as_admin.edit_config(target="running", config=(  # a new key, committed and logged about
            f'<config xmlns="{NC_NS}"><dmm-nf xmlns="{NS}"><peers><peer><address>::1</address><authentication>'
            f"<key-id>257</key-id><key>{NEW_PEER_KEY}</key></authentication></peer></peers></dmm-nf></config>"))
    assert PEER_KEY in secrets and BFD_KEY in secrets and GUEST_PASSWORD in secrets  # the operator reads them
    logged = server_log(caplog)
    for secret in (PEER_KEY, NEW_PEER_KEY, BFD_KEY, GUEST_PASSWORD, "peer-secret", "bfd-secret"):
        assert secret not in seen
        assert secret not in logged
    assert "<authentication" not in seen and "<password" not in seen


# ------------------------------------------------------------------ failed logins
def test_failed_logins_are_counted_in_the_model_and_the_metric_and_logged_with_user_and_address(node, caplog):
    caplog.set_level(logging.INFO, "mgmt.netconf.ssh")
    for _ in range(3):
        transport = paramiko.Transport(("::1", node.port))
        try:
            transport.start_client(timeout=10)
            with pytest.raises(paramiko.AuthenticationException):
                transport.auth_password("admin", "not-the-password")
        finally:
            transport.close()
    with node.connect(ADMIN) as session:
        assert statistics(session)["login-failures"] == 3
    assert metric(node, "dmm_netconf_login_failures_total") == 3
    lines = [r.getMessage() for r in caplog.records if "login failed" in r.getMessage()]
    assert len(lines) == 3 and all(line.startswith("NETCONF login failed: user 'admin' from [::1]:") for line in lines)
    assert [line.split("failure ")[1].split(" ")[0] for line in lines] == ["1", "2", "3"]


# ------------------------------------------------------------------ the request budget
@pytest.fixture
def filled(node: ServiceThread) -> ServiceThread:
    node.on_loop(lambda: _fill(node.runtime.lma, BINDINGS))
    yield node
    node.on_loop(node.runtime.lma.cache.clear)  # the entries were added behind the role's back


def test_an_expensive_xpath_is_ended_after_the_time_limit_and_the_session_goes_on(filled):
    with filled.connect(ADMIN) as session:
        started = time.monotonic()
        with pytest.raises(RPCError) as ended:
            session.get(filter=("xpath", EXPENSIVE))
        took = time.monotonic() - started
        assert ended.value.tag == "operation-failed"
        assert "time limit of 2 s (management/netconf/request-time-limit)" in ended.value.message
        assert 2 <= took < 30
        one = session.get(filter=("xpath", "/dmm-nf/binding-cache/binding[mn-identifier='mn7@example.net']"))
        assert one.data_ele.findtext(f".//{{{NS}}}mn-identifier") == "mn7@example.net"
        assert statistics(session)["requests-over-time-limit"] == 1
    assert metric(filled, "dmm_netconf_requests_ended_total", {"reason": "time-limit"}) == 1


def test_an_expensive_xpath_is_ended_when_its_client_goes(filled):
    server = filled.service.netconf
    transport = paramiko.Transport(("::1", filled.port))
    transport.connect(username=ADMIN[0], password=ADMIN[1])
    channel = transport.open_session()
    channel.invoke_subsystem("netconf")
    channel.sendall(f'<hello xmlns="{NC_NS}"><capabilities><capability>urn:ietf:params:netconf:base:1.0'
                    "</capability></capabilities></hello>]]>]]>".encode())
    channel.sendall(f'<rpc xmlns="{NC_NS}" message-id="1"><get><filter type="xpath" select="{EXPENSIVE}"/>'
                    "</get></rpc>]]>]]>".encode())
    wait_for(lambda: server.xpath_workers.live_pids(), "the XPath worker evaluating")
    [worker] = server.xpath_workers.live_pids()
    transport.close()  # long before the 2 s limit
    wait_for(lambda: server.counters.abandoned == 1, "the read abandoned", timeout=1.5)
    assert not Path(f"/proc/{worker}").exists() or _zombie(worker)
    assert server.counters.over_time_limit == 0
    with filled.connect(ADMIN) as session:
        assert statistics(session)["requests-abandoned"] == 1


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_filter_evaluated_in_a_worker_selects_what_the_server_would_with_defaults_kept(filled):
    server = filled.service.netconf
    with filled.connect(ADMIN) as session:
        bounded = session.get(filter=("xpath", "/dmm-nf/binding-cache/binding[mn-identifier='mn7@example.net'] | "
                                               "/dmm-nf/timers"), with_defaults="report-all-tagged").data_xml
        assert server.xpath_workers.started == 0  # equalities on absolute paths: evaluated in the server
        anywhere = session.get(filter=("xpath", "//binding[mn-identifier='mn7@example.net'] | //timers"),
                               with_defaults="report-all-tagged").data_xml
        assert server.xpath_workers.started == 1
    assert anywhere == bounded
    assert 'default="true"' in anywhere  # the timers' defaults kept their default flag on the way


@pytest.mark.parametrize("select, problem", [
    ("/dmm-nf/[", "is not an XPath expression that returns a node set"),
    ("count(/dmm-nf/binding-cache/binding)", "is not an XPath expression that returns a node set"),
    ("/dmm-nf/binding-cache/binding[frobnicate()]", "is not an XPath expression that returns a node set"),
    ("/nosuch:dmm-nf", "prefix 'nosuch' is not declared"),
])
def test_every_filter_error_is_invalid_value_naming_the_problem_and_the_session_goes_on(filled, select, problem):
    with filled.connect(ADMIN) as session:
        with pytest.raises(RPCError) as refused:
            session.get(filter=("xpath", select))
        assert refused.value.tag == "invalid-value"
        assert problem in refused.value.message
        assert session.get(filter=("xpath", "/dmm-nf/node/name")).data_ele.findtext(f".//{{{NS}}}name") == "lma1"


@pytest.mark.parametrize("select", [
    "/dmm-nf/binding-cache/binding[mn-identifier='a' or mn-identifier='b'] | /dmm-nf/node/name",
    "/dmm-nf/binding-cache/binding[mn-identifier='a' and link-layer-id='']/proxy-coa | /dmm-nf/node/name",
])
def test_a_filter_with_and_or_over_absent_data_is_no_error(node, select):
    """libyang 2.1 takes such a predicate over an empty node set for a boolean; the server
    answers what the filter selects: here the node's name alone."""
    with node.connect(ADMIN) as session:
        data = session.get(filter=("xpath", select)).data_ele
    assert data.findtext(f".//{{{NS}}}name") == "lma1"
    assert data.find(f".//{{{NS}}}binding-cache") is None


def test_concurrent_expensive_reads_wait_for_a_worker_within_their_time_limit(filled):
    outcomes: list[str] = []

    def read() -> None:
        with filled.connect(ADMIN) as session:
            try:
                session.get(filter=("xpath", EXPENSIVE))
                outcomes.append("answered")
            except RPCError as error:
                outcomes.append(error.tag)

    readers = [threading.Thread(target=read) for _ in range(6)]  # more than the workers
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(60)
    assert outcomes == ["operation-failed"] * 6
    assert len(filled.service.netconf.xpath_workers.live_pids()) <= 4
