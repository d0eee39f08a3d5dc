"""NACM (RFC 8341): the Appendix A examples, the §3.4 order, defaults and counters."""
import libyang
import pytest

from mgmt.netconf.nacm import DEFAULT_NACM_XML, Nacm, NacmCounters
from tests.netconf.yang.testctx import make_context

T = "http://example.com/schema/1.2/config"
NACM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"

# RFC 8341 Appendix A.2 groups with the A.3-A.6 rule-lists, on the example-top model.
APPENDIX_A = f"""
<nacm xmlns="{NACM_NS}">
  <groups>
    <group><name>admin</name><user-name>admin</user-name><user-name>andy</user-name></group>
    <group><name>limited</name><user-name>wilma</user-name><user-name>bam-bam</user-name></group>
    <group><name>guest</name><user-name>guest</user-name><user-name>guest@example.com</user-name></group>
  </groups>
  <rule-list><name>guest-acl</name><group>guest</group>
    <rule><name>deny-ncm</name><module-name>ietf-netconf-monitoring</module-name>
      <access-operations>*</access-operations><action>deny</action></rule>
    <rule><name>deny-top</name><module-name>*</module-name>
      <path xmlns:t="{T}">/t:top</path><access-operations>*</access-operations><action>deny</action></rule>
  </rule-list>
  <rule-list><name>guest-limited-acl</name><group>limited</group><group>guest</group>
    <rule><name>deny-kill-session</name><module-name>ietf-netconf</module-name><rpc-name>kill-session</rpc-name>
      <access-operations>exec</access-operations><action>deny</action></rule>
    <rule><name>deny-delete-config</name><module-name>ietf-netconf</module-name><rpc-name>delete-config</rpc-name>
      <access-operations>exec</access-operations><action>deny</action></rule>
    <rule><name>permit-fred</name><module-name>*</module-name>
      <path xmlns:t="{T}">/t:top/t:users/t:user[t:name='fred']</path>
      <access-operations>read update</access-operations><action>permit</action></rule>
    <rule><name>deny-config-change</name><module-name>ietf-netconf-notifications</module-name>
      <notification-name>netconf-config-change</notification-name>
      <access-operations>read</access-operations><action>deny</action></rule>
  </rule-list>
  <rule-list><name>limited-acl</name><group>limited</group>
    <rule><name>permit-ncm</name><module-name>ietf-netconf-monitoring</module-name>
      <access-operations>read</access-operations><action>permit</action></rule>
    <rule><name>permit-edit-config</name><module-name>ietf-netconf</module-name><rpc-name>edit-config</rpc-name>
      <access-operations>exec</access-operations><action>permit</action></rule>
    <rule><name>deny-users</name><module-name>example-top</module-name>
      <path xmlns:t="{T}">/t:top/t:users/t:user</path><access-operations>read</access-operations><action>deny</action></rule>
  </rule-list>
  <rule-list><name>admin-acl</name><group>admin</group>
    <rule><name>permit-all</name><module-name>*</module-name>
      <access-operations>*</access-operations><action>permit</action></rule>
  </rule-list>
</nacm>"""

DATA = f"""
<top xmlns="{T}"><users>
  <user><name>fred</name><type>admin</type></user>
  <user><name>barney</name><type>admin</type></user>
</users><interfaces><interface><ifName>eth0</ifName></interface></interfaces></top>
<bindings xmlns="{T}"><binding><mn-identifier>mn1</mn-identifier></binding></bindings>
"""


@pytest.fixture(scope="module")
def ctx():
    return make_context()


@pytest.fixture()
def nacm(ctx):
    return Nacm.from_config(ctx.parse_data_mem(APPENDIX_A, "xml", strict=True, no_state=True))


def readable(ctx, nacm, user):
    tree = nacm.prune_read(user, ctx.parse_data_mem(DATA, "xml", parse_only=True, strict=True))
    if tree is None:
        return set()
    return {n.path() for top in tree.first_sibling().siblings() for n in top.iter_tree()}


def test_admin_may_do_everything(nacm):
    assert nacm.check_rpc("andy", "ietf-netconf", "kill-session")
    assert nacm.check_write("admin", "/ietf-netconf-acm:nacm/enable-nacm", "update")
    assert nacm.counters == NacmCounters()


def test_rpc_rule_denies_and_counts(nacm):  # A.4
    assert not nacm.check_rpc("wilma", "ietf-netconf", "kill-session")
    assert not nacm.check_rpc("guest", "ietf-netconf", "delete-config")
    assert nacm.counters.denied_operations == 2


def test_rpc_rule_permits(nacm):  # A.4
    assert nacm.check_rpc("bam-bam", "ietf-netconf", "edit-config")


def test_module_rule_denies_every_operation_of_module(nacm):  # A.3
    assert not nacm.check_rpc("guest", "ietf-netconf-monitoring", "get-schema")
    assert nacm.check_rpc("guest", "ietf-netconf", "get")  # exec-default permit


def test_close_session_is_always_permitted(nacm):  # §3.4.4
    assert nacm.check_rpc("guest", "ietf-netconf", "close-session")


def test_kill_session_is_default_deny_all(nacm):  # no rule for an unknown user
    assert not nacm.check_rpc("nobody", "ietf-netconf", "kill-session")
    assert nacm.check_rpc("nobody", "ietf-netconf", "lock")



def test_read_pruning_follows_rule_order(ctx, nacm):  # A.5
    got = readable(ctx, nacm, "wilma")
    assert "/example-top:top/users/user[name='fred']/type" in got      # permit-fred comes first
    assert "/example-top:top/users/user[name='barney']" not in got     # deny-users
    assert "/example-top:top/interfaces/interface[ifName='eth0']" in got  # read-default permit


def test_denied_node_hides_its_descendants(ctx):
    nacm = Nacm.from_config({"nacm": {"rule-list": [{"name": "l", "group": ["*"], "rule": [
        {"name": "deny-users", "module-name": "*", "path": "/example-top:top/users", "access-operations": "read", "action": "deny"},
        {"name": "permit-fred", "module-name": "*", "path": "/example-top:top/users/user[name='fred']", "action": "permit"}]}]}})
    assert not any("users" in p for p in readable(ctx, nacm, "anyone"))


def test_path_rule_denies_read_of_subtree(ctx, nacm):
    got = readable(ctx, nacm, "guest")
    assert not any(p.startswith("/example-top:top") for p in got)
    assert "/example-top:bindings/binding[mn-identifier='mn1']" in got


def test_write_rule_and_write_default(nacm):
    assert nacm.check_write("wilma", "/example-top:top/users/user[name='fred']/type", "update")
    assert not nacm.check_write("wilma", "/example-top:top/users/user[name='fred']/type", "delete")
    assert not nacm.check_write("wilma", "/example-top:top/interfaces", "create")  # write-default deny
    assert nacm.counters.denied_data_writes == 2


def test_nacm_container_is_default_deny_all(ctx):
    nacm = Nacm.from_config({"nacm": {"write-default": "permit", "read-default": "permit"}})
    tree = ctx.parse_data_mem(f'<nacm xmlns="{NACM_NS}"><enable-nacm>true</enable-nacm></nacm>', "xml", no_state=True, strict=True)
    assert not nacm.check_write("joe", tree.find_path("/ietf-netconf-acm:nacm/enable-nacm"), "update")
    left = nacm.prune_read("joe", tree)
    assert left is not None and all(n.name() != "nacm" for n in left.first_sibling().siblings())


def test_notification_rule(nacm):  # A.6
    assert not nacm.check_notification("guest", "ietf-netconf-notifications", "netconf-config-change")
    assert nacm.check_notification("admin", "ietf-netconf-notifications", "netconf-config-change")
    assert nacm.check_notification("guest", "ietf-netconf-notifications", "replayComplete")
    assert nacm.counters.denied_notifications == 1


def test_recovery_session_and_disabled_nacm_bypass(nacm):
    assert nacm.check_rpc("guest", "ietf-netconf", "kill-session", recovery=True)
    off = Nacm.from_config({"ietf-netconf-acm:nacm": {"enable-nacm": False}})
    assert off.check_write("anyone", "/example-top:top", "delete")


def test_external_groups(nacm):
    assert nacm.check_rpc("stranger", "ietf-netconf", "kill-session", external_groups=["admin"])
    strict = Nacm.from_config({"nacm": {"enable-external-groups": False, "rule-list": [
        {"name": "x", "group": ["admin"], "rule": [{"name": "p", "module-name": "*", "action": "permit"}]}]}})
    assert not strict.check_rpc("stranger", "ietf-netconf", "kill-session", external_groups=["admin"])


def test_counters_state_tree_and_survive_reload(ctx, nacm):
    nacm.check_rpc("guest", "ietf-netconf", "kill-session")
    again = Nacm.from_config({}, counters=nacm.counters)
    data = again.counters.to_data(ctx)
    assert data.find_path("/ietf-netconf-acm:nacm/denied-operations").value() == 1


def test_default_configuration_groups(ctx):
    nacm = Nacm.from_config(ctx.parse_data_mem(DEFAULT_NACM_XML.read_text(), "xml", strict=True, no_state=True))
    assert nacm.check_rpc("admin", "dmm-nf", "revoke-binding")
    assert nacm.check_write("admin", "/example-top:top", "create")
    for rpc in [("ietf-netconf", "get"), ("ietf-netconf", "get-config"), ("ietf-netconf-nmda", "get-data"),
                ("ietf-netconf", "close-session")]:
        assert nacm.check_rpc("viewer", *rpc, external_groups=["monitoring"])
    assert not nacm.check_rpc("viewer", "dmm-nf", "revoke-binding", external_groups=["monitoring"])
    assert not nacm.check_rpc("viewer", "ietf-netconf", "edit-config", external_groups=["monitoring"])
    assert not nacm.check_write("viewer", "/example-top:top", "update", external_groups=["monitoring"])
    tree = ctx.parse_data_mem(DATA, "xml", parse_only=True, strict=True)
    assert nacm.prune_read("viewer", tree, external_groups=["monitoring"]) is not None


BINDING = "/example-top:bindings/binding"
USER = "/example-top:top/users/user"


def _rules(*rules, read_default="permit"):
    return Nacm.from_config({"nacm": {"read-default": read_default, "rule-list": [
        {"name": "l", "group": ["*"], "rule": [dict(r, **{"access-operations": "read"}) for r in rules]}]}})


@pytest.mark.parametrize("nacm_of, user, path, whole", [
    (lambda n: n, "admin", USER, True),            # permit-all
    (lambda n: n, "wilma", USER, False),           # permit-fred: only one entry
    (lambda n: n, "wilma", BINDING, True),         # no rule names it: read-default permit
    (lambda n: n, "guest", USER, False),           # deny-top covers it: nothing is readable
    (lambda n: n, "guest", BINDING, True),
    (lambda n: _rules({"name": "r", "module-name": "*", "path": f"{BINDING}/lifetime", "action": "deny"}),
     "anyone", BINDING, False),                   # a rule below the list
    (lambda n: _rules({"name": "r", "module-name": "*", "path": "/example-top:bindings", "action": "permit"},
                      read_default="deny"), "anyone", BINDING, True),
    (lambda n: _rules(read_default="deny"), "anyone", BINDING, False),
    (lambda n: _rules({"name": "r", "module-name": "ietf-netconf-monitoring", "action": "deny"}),
     "anyone", BINDING, True),                    # another module's rule
])
def test_reads_whole_when_one_decision_permits_the_whole_subtree(ctx, nacm, nacm_of, user, path, whole):
    rules = nacm_of(nacm)
    assert rules.reads_whole(user, path) is whole
    if whole:  # what it promises, on real data: nothing under the list is pruned
        listed = path.rsplit("/", 1)[0]
        every = {p for p in readable(ctx, Nacm.from_config({"nacm": {"enable-nacm": False}}), user)
                 if p.startswith(listed)}
        assert every and every <= readable(ctx, rules, user)


def test_default_deny_all_on_a_container_denies_writes_below_it():
    from nf.model import new_context

    product = new_context()
    nacm = Nacm.from_config({"nacm": {"write-default": "permit"}})
    tree = product.parse_data_mem(
        '<dmm-nf xmlns="urn:dmm-nf:yang:dmm-nf"><peers><peer><address>2001:db8::1</address><name>p</name>'
        "<authentication><key-id>300</key-id><key>MDEyMzQ1Njc4OWFiY2RlZg==</key></authentication>"
        "</peer></peers></dmm-nf>", "xml", parse_only=True, strict=True)
    peer = "/dmm-nf:dmm-nf/peers/peer[address='2001:db8::1']"
    assert not nacm.check_write("joe", tree.find_path(f"{peer}/authentication/key"), "update")  # §3.4.5 step 10
    assert nacm.check_write("joe", tree.find_path(f"{peer}/name"), "update")


def test_the_rules_in_effect_when_a_message_arrives_decide_all_of_it(ctx):
    from types import SimpleNamespace

    from mgmt.netconf.errors import RpcError
    from mgmt.netconf.integration import Services

    services = Services(ctx)
    session = SimpleNamespace(username="oper", nacm=None)
    services.rules_for_message(session)  # the shipped policy: oper may run get
    services.nacm = Nacm.from_config({"nacm": {"exec-default": "deny"}})  # another session's commit
    services.check_rpc(session, "ietf-netconf", "get")  # RFC 8341 §3.4: still the message's rules
    services.rules_for_message(session)  # the next message
    with pytest.raises(RpcError):
        services.check_rpc(session, "ietf-netconf", "get")
