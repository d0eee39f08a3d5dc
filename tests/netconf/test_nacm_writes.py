"""NACM write checks on exactly what a change changes (RFC 8341 §3.2.5-§3.2.8, §3.4.5),
through ncclient on a server with the IETF modules and the example-server model."""
from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from mgmt.netconf.datastore import parse_config
from mgmt.netconf.server import ServerHooks
from tests.netconf.conftest import connect
from tests.netconf.test_server_edit import SRV, cfg, hostname, peer, peers
from tests.netconf.test_server_integration import HOST, full_context

ACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
NN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"

# admin may do everything; oper may create, change and delete peers but not their weight.
POLICY = f"""
<nacm xmlns="{ACM}" xmlns:srv="{SRV}">
  <write-default>deny</write-default>
  <groups>
    <group><name>operator</name><user-name>admin</user-name></group>
    <group><name>peering</name><user-name>oper</user-name></group>
  </groups>
  <rule-list>
    <name>operator</name><group>operator</group>
    <rule><name>all</name><module-name>*</module-name><access-operations>*</access-operations>
      <action>permit</action></rule>
  </rule-list>
  <rule-list>
    <name>peering</name><group>peering</group>
    <rule><name>no-weight</name><module-name>example-server</module-name><path>/srv:peer/srv:weight</path>
      <access-operations>create update</access-operations><action>deny</action></rule>
    <rule><name>peers</name><module-name>example-server</module-name><path>/srv:peer</path>
      <access-operations>create update delete</access-operations><action>permit</action></rule>
  </rule-list>
</nacm>"""


@pytest.fixture
def server(servers):
    ctx = full_context()
    return servers.start(ctx=ctx, initial_config=parse_config(ctx, POLICY))


def test_creating_a_list_entry_checks_each_node_created_with_it(server):
    with connect(server, user="oper") as oper:
        with pytest.raises(RPCError) as denied:
            oper.edit_config(target="running", config=cfg(peer("a", "2001:db8::1", extra="<weight>5</weight>")))
        assert denied.value.tag == "access-denied"
        assert denied.value.path.endswith("weight")
        assert peers(oper) == {}


def test_defaults_created_with_a_permitted_entry_need_no_rights(server):
    with connect(server, user="oper") as oper:
        oper.edit_config(target="running", config=cfg(peer("a", "2001:db8::1")))  # timers/interval defaults
        assert peers(oper) == {"a": "2001:db8::1"}


def test_a_node_the_edit_does_not_change_needs_no_rights(server):
    with connect(server) as admin, connect(server, user="oper") as oper:
        admin.edit_config(target="running", config=cfg(peer("a", "2001:db8::1", extra="<weight>5</weight>")))
        # weight is named with the value it already has: not a change (RFC 8341 §3.2.5)
        oper.edit_config(target="running", config=cfg(
            peer("a", "2001:db8::2", extra="<weight>5</weight>")))
        assert peers(oper) == {"a": "2001:db8::2"}


def test_saving_running_to_startup_needs_only_the_right_to_run_copy_config(server):
    with connect(server) as admin, connect(server, user="oper") as oper:
        admin.edit_config(target="running", config=HOST("saved"))
        oper.copy_config(source="running", target="startup")  # RFC 8341 §3.2.6
        data = oper.get_config("startup").data_ele
    assert data.findtext(f"{{{SRV}}}system/{{{SRV}}}hostname") == "saved"


def test_copying_the_candidate_to_running_checks_what_it_changes(server):
    with connect(server) as admin, connect(server, user="oper") as oper:
        admin.edit_config(target="candidate", config=HOST("by-admin"))
        with pytest.raises(RPCError) as denied:
            oper.copy_config(source="candidate", target="running")
        assert denied.value.tag == "access-denied"
        assert hostname(oper) is None


def test_a_change_of_startup_is_notified_with_its_datastore(server):
    with connect(server) as listener, connect(server) as admin:
        listener.create_subscription()
        admin.edit_config(target="running", config=HOST("saved"))
        admin.copy_config(source="running", target="startup")
        datastores = []
        while "startup" not in datastores:
            note = listener.take_notification(block=True, timeout=5)
            assert note is not None, f"no change of startup notified, only {datastores}"
            change = note.notification_ele.find(f"{{{NN}}}netconf-config-change")
            if change is not None:
                datastores.append(change.findtext(f"{{{NN}}}datastore"))
    assert datastores == ["running", "startup"]


def test_a_denied_operation_names_it_in_error_path(server):
    with connect(server) as admin, connect(server, user="oper") as oper:
        with pytest.raises(RPCError) as denied:
            oper.kill_session(admin.session_id)  # default-deny-all (RFC 8341 §3.2.10)
    assert denied.value.tag == "access-denied"
    request = etree.ElementTree(etree.fromstring(
        f'<rpc xmlns="{NC}" message-id="1"><kill-session><session-id>1</session-id></kill-session></rpc>'))
    path = denied.value.path.strip()
    namespaces = {p: ns for p, ns in denied.value.xml.nsmap.items() if p}
    assert [e.tag for e in request.xpath(path, namespaces=namespaces)] == [f"{{{NC}}}kill-session"]  # §3.4.4


# oper may create peers but not read them
WRITE_ONLY = POLICY.replace(
    '<rule><name>no-weight</name>',
    '<rule><name>unseen</name><module-name>example-server</module-name><path>/srv:peer</path>'
    '<access-operations>read</access-operations><action>deny</action></rule><rule><name>no-weight</name>')


@pytest.fixture
def write_only(servers):
    ctx = full_context()
    return servers.start(ctx=ctx, initial_config=parse_config(ctx, WRITE_ONLY))


def test_an_rpc_error_says_nothing_of_data_the_user_may_not_read(write_only):
    with connect(write_only) as admin, connect(write_only, user="oper") as oper:
        admin.edit_config(target="running", config=cfg(peer("hidden", "2001:db8::1")))
        with pytest.raises(RPCError) as seen_by_admin:
            admin.edit_config(target="running", config=cfg(peer("b", "2001:db8::1")))
        with pytest.raises(RPCError) as seen_by_oper:
            oper.edit_config(target="running", config=cfg(peer("b", "2001:db8::1")))  # address not unique
    assert "hidden" in seen_by_admin.value.message and seen_by_admin.value.app_tag == "data-not-unique"
    assert seen_by_oper.value.tag == seen_by_admin.value.tag == "operation-failed"
    assert "hidden" not in etree.tostring(seen_by_oper.value.xml).decode()  # RFC 8341 §3.2.5, RFC 6241 §4.3
    assert (seen_by_oper.value.path, seen_by_oper.value.app_tag) == (None, None)


@pytest.fixture
def guarded(servers):
    """The shipped policy (admin in operator, oper in no group) and the example-guarded module."""
    ctx = full_context()
    ctx.load_module("example-guarded")
    return servers.start(ctx=ctx, hooks=ServerHooks(rpc_hook=lambda name, request: None))


def test_an_operation_marked_default_deny_all_needs_a_rule(guarded):
    wipe = to_ele('<wipe xmlns="urn:example:guarded"/>')
    with connect(guarded) as admin, connect(guarded, user="oper") as oper:
        assert admin.dispatch(wipe).ok  # the operator rule permits it
        with pytest.raises(RPCError) as denied:
            oper.dispatch(wipe)  # no rule: denied though exec-default is permit (RFC 8341 §3.4.4 step 10)
    assert denied.value.tag == "access-denied"


def test_a_notification_marked_default_deny_all_reaches_only_users_a_rule_permits(guarded):
    with connect(guarded) as admin, connect(guarded, user="oper") as oper:
        admin.create_subscription()
        oper.create_subscription()
        guarded.services.hub.publish('<secret-event xmlns="urn:example:guarded"><detail>x</detail></secret-event>')
        guarded.services.hub.publish(f'<netconf-session-start xmlns="{NN}"><username>last</username>'
                                     "<session-id>9</session-id></netconf-session-start>")

        def names(mgr) -> list[str]:
            """What reaches ``mgr`` up to the session-start of user 'last' (other sessions'
            session-starts may come first)."""
            seen = []
            while "last" not in seen:
                note = mgr.take_notification(block=True, timeout=5)
                assert note is not None, seen
                body = note.notification_ele[1]
                seen.append(body.findtext(f"{{{NN}}}username") or etree.QName(body).localname)
            return [name for name in seen if name in ("secret-event", "last")]

        assert names(admin) == ["secret-event", "last"]
        assert names(oper) == ["last"]  # RFC 8341 §3.4.6 step 10


def test_what_a_user_may_not_read_is_left_out_and_filters_see_only_the_rest(write_only):
    with connect(write_only) as admin, connect(write_only, user="oper") as oper:
        admin.edit_config(target="running", config=cfg(peer("hidden", "2001:db8::1")))
        admin.edit_config(target="running", config=HOST("visible"))
        assert peers(oper) == {} and hostname(oper) == "visible"  # RFC 8341 §3.2.4
        data = oper.get_config("running", filter=("subtree", f'<peer xmlns="{SRV}"><name>hidden</name></peer>')).data_ele
        assert len(data) == 0


def test_delete_config_needs_a_rule(server):
    with connect(server, user="oper") as oper:
        with pytest.raises(RPCError) as denied:
            oper.delete_config("startup")  # RFC 8341 §3.2.7: not by exec-default
    assert denied.value.tag == "access-denied"


def test_discard_changes_needs_only_the_right_to_run_it(server):
    with connect(server) as admin, connect(server, user="oper") as oper:
        admin.edit_config(target="candidate", config=HOST("by-admin"))
        oper.discard_changes()  # RFC 8341 §3.2.9: no datastore rights
        data = oper.get_config("candidate").data_ele
    assert data.findtext(f"{{{SRV}}}system/{{{SRV}}}hostname") is None


def test_denials_are_counted_in_the_nacm_state(server):
    with connect(server) as admin, connect(server, user="oper") as oper:
        with pytest.raises(RPCError):
            oper.edit_config(target="running", config=cfg(peer("a", "2001:db8::1", extra="<weight>5</weight>")))
        with pytest.raises(RPCError):
            oper.kill_session(admin.session_id)
        counters = admin.get(filter=("subtree", f'<nacm xmlns="{ACM}"/>')).data_ele
    assert (counters.findtext(f".//{{{ACM}}}denied-data-writes"),
            counters.findtext(f".//{{{ACM}}}denied-operations")) == ("1", "1")  # RFC 8341 §3.5.2


def test_with_nacm_switched_off_every_access_is_permitted(servers):
    ctx = full_context()
    policy = POLICY.replace("<write-default>deny</write-default>", "<enable-nacm>false</enable-nacm>")
    server = servers.start(ctx=ctx, initial_config=parse_config(ctx, policy))
    with connect(server, user="oper") as oper:
        oper.edit_config(target="running", config=cfg(peer("a", "2001:db8::1", extra="<weight>5</weight>")))
        assert peers(oper) == {"a": "2001:db8::1"}  # RFC 8341 §3.3.4.1: the no-weight rule is not applied
