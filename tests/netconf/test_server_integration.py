"""The server with the IETF management modules loaded: monitoring (RFC 6022),
get-schema, YANG library (RFC 8525), NACM (RFC 8341) and notifications (RFC 5277/6470)."""
from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations import RPCError

from mgmt.netconf.datastore import parse_config
from mgmt.netconf.nacm import DEFAULT_NACM_XML
from tests.netconf.conftest import YANG_DIR, connect, wait_for
from tests.netconf.test_server_edit import SRV, cfg, hostname
from tests.netconf.yang.testctx import make_context

NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
CAP = "urn:ietf:params:netconf:capability:"


def full_context():
    ctx = make_context()
    ctx.load_module("example-server")
    return ctx


@pytest.fixture
def full_server(servers):
    return servers.start(ctx=full_context())  # no /nacm in running: the shipped policy


def HOST(name: str) -> str:
    return cfg(f'<system xmlns="{SRV}"><hostname>{name}</hostname></system>')


def test_hello_lists_management_capabilities(full_server):
    with connect(full_server) as mgr:
        caps = set(mgr.server_capabilities)
    assert CAP + "notification:1.0" in caps and CAP + "interleave:1.0" in caps
    assert any(c.startswith(NCM + "?module=ietf-netconf-monitoring") for c in caps)
    assert any(c.startswith(CAP + "yang-library:1.1?revision=2019-01-04&content-id=") for c in caps)
    assert not any("module=example-server" in c for c in caps)  # YANG 1.1: in the library only


def test_netconf_state_lists_sessions_and_locks(full_server):
    with connect(full_server) as one, connect(full_server) as two:
        one.lock("candidate")
        data = two.get(filter=("subtree", f'<netconf-state xmlns="{NCM}"/>')).data_ele
    sessions = [s.findtext(f"{{{NCM}}}session-id") for s in data.iter(f"{{{NCM}}}session")]
    assert sorted(sessions) == sorted([one.session_id, two.session_id])
    locked = data.find(f".//{{{NCM}}}datastore[{{{NCM}}}name='candidate']//{{{NCM}}}locked-by-session")
    assert locked is not None and locked.text == one.session_id


def test_get_schema_returns_the_module_text(full_server):
    with connect(full_server) as mgr:
        reply = mgr.get_schema("example-server")
    assert "module example-server" in reply.data


def test_nacm_denies_writes_outside_the_rules(full_server):
    with connect(full_server, user="admin") as admin, connect(full_server, user="oper") as oper:
        admin.edit_config(target="running", config=HOST("by-admin"))
        with pytest.raises(RPCError) as err:
            oper.edit_config(target="running", config=HOST("by-oper"))
        assert err.value.tag == "access-denied"
        assert hostname(oper) == "by-admin"  # reads stay permitted
        with pytest.raises(RPCError) as err:
            oper.kill_session(admin.session_id)  # default-deny-all (RFC 8341)
        assert err.value.tag == "access-denied"


def test_config_change_notification_reaches_a_subscriber(full_server):
    with connect(full_server) as listener, connect(full_server) as editor:
        listener.create_subscription()
        editor.edit_config(target="running", config=HOST("changed"))
        found = None
        for _ in range(10):
            note = listener.take_notification(block=True, timeout=5)
            assert note is not None
            root = note.notification_ele
            if root.find(f".//{{{NN}}}netconf-config-change") is not None:
                found = root
                break
        assert found is not None
        targets = [t.text for t in found.iter(f"{{{NN}}}target")]
        assert any("hostname" in t or "system" in t for t in targets)
        assert found.findtext(f".//{{{NN}}}session-id") == editor.session_id


def test_session_start_and_end_are_notified(full_server):
    with connect(full_server) as listener:
        listener.create_subscription()
        other = connect(full_server)
        sid = other.session_id
        other.close_session()
        seen = []
        while len(seen) < 2:
            note = listener.take_notification(block=True, timeout=5)
            assert note is not None
            body = note.notification_ele
            for name in ("netconf-session-start", "netconf-session-end"):
                elem = body.find(f".//{{{NN}}}{name}")
                if elem is not None and elem.findtext(f"{{{NN}}}session-id") == sid:
                    seen.append((name, elem.findtext(f"{{{NN}}}termination-reason")))
        assert seen == [("netconf-session-start", None), ("netconf-session-end", "closed")]


def test_report_all_tagged_marks_default_values(full_server):
    with connect(full_server) as mgr:
        mgr.edit_config(target="running", config=HOST("h"))
        data = mgr.get_config("running", with_defaults="report-all-tagged").data_ele
    mtu = data.find(f"{{{SRV}}}system/{{{SRV}}}mtu")
    wd = "urn:ietf:params:xml:ns:netconf:default:1.0"
    assert mtu is not None and mtu.get(f"{{{wd}}}default") == "true"
    assert data.find(f"{{{SRV}}}system/{{{SRV}}}hostname").get(f"{{{wd}}}default") is None


def test_nacm_in_running_replaces_the_shipped_policy(servers):
    ctx = full_context()
    initial = parse_config(ctx, DEFAULT_NACM_XML.read_text().replace(
        "<write-default>deny</write-default>", "<write-default>permit</write-default>"))
    server = servers.start(ctx=ctx, initial_config=initial)
    with connect(server, user="oper") as oper:
        oper.edit_config(target="running", config=HOST("by-oper"))
        assert hostname(oper) == "by-oper"


def test_hello_gives_the_with_defaults_basic_mode_the_modes_and_the_module(full_server):
    with connect(full_server) as mgr:
        caps = set(mgr.server_capabilities)
    assert CAP + "with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim" in caps
    wd_module = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults?module=ietf-netconf-with-defaults"
    assert any(c.startswith(wd_module) for c in caps)  # RFC 6243 §4.3


def test_hello_lists_the_rfc_5277_modules_and_capabilities(full_server):
    with connect(full_server) as mgr:
        caps = set(mgr.server_capabilities)
    assert {CAP + "notification:1.0", CAP + "interleave:1.0"} <= caps
    assert any(c.startswith("urn:ietf:params:xml:ns:netmod:notification?module=nc-notifications") for c in caps)
