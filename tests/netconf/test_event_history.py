"""The event history over NETCONF (SSH) on a running LMA: get-events by time range, kind,
mobile node and peer with limits and paging; bad input as rpc-errors with their path; NACM;
the operational event-history list is the same history; configuration commits and alarm
transitions are events like any other."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from mgmt.netconf.nacm import DEFAULT_NACM_XML
from tests.netconf.conftest import wait_for
from tests.netconf.product import NS, ServiceThread, lma_config

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
ACM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
# admin is an operator; viewer has the shipped policy's monitoring rules; blind may run
# get-events but not read the event history
USERS = {"admin": "admin", "viewer": "viewer", "blind": "blind"}
NACM = f"""
<nacm xmlns="{ACM_NS}">
  <groups>
    <group><name>operator</name><user-name>admin</user-name></group>
    <group><name>monitoring</name><user-name>viewer</user-name></group>
    <group><name>no-history</name><user-name>blind</user-name></group>
  </groups>
  <rule-list><name>operator</name><group>operator</group>
    <rule><name>permit-all</name><module-name>*</module-name><access-operations>*</access-operations>
      <action>permit</action></rule>
  </rule-list>
  {{monitoring}}
  <rule-list><name>no-history</name><group>no-history</group>
    <rule><name>deny-history</name><module-name>dmm-nf</module-name>
      <path xmlns:dmm="{NS}">/dmm:dmm-nf/dmm:event-history</path>
      <access-operations>read</access-operations><action>deny</action></rule>
  </rule-list>
</nacm>"""


class Node(ServiceThread):
    """The LMA example with the users above and their NACM rules in running."""

    def __init__(self, tmp: Path) -> None:
        config = lma_config(tmp / "lma.xml")
        tree = etree.parse(str(config))
        netconf = tree.find(f"{{{NS}}}management/{{{NS}}}netconf")
        for user, password in USERS.items():
            if user != "admin":
                entry = etree.SubElement(netconf, f"{{{NS}}}user")
                etree.SubElement(entry, f"{{{NS}}}name").text = user
                etree.SubElement(entry, f"{{{NS}}}password").text = f"$0${password}"
        shipped = etree.fromstring(DEFAULT_NACM_XML.read_bytes())
        [monitoring] = shipped.xpath("a:rule-list[a:name='monitoring']", namespaces={"a": ACM_NS})
        config.write_text(etree.tostring(tree, encoding="unicode")
                          + NACM.replace("{monitoring}", etree.tostring(monitoring, encoding="unicode")))
        super().__init__(tmp)  # boots with the lma.xml written here

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def runtime(self):
        return self.service.runtime

    def publish(self, kind: str, **data: Any) -> None:
        self.on_loop(lambda: self.runtime.events.publish(kind, **data))

    def login(self, user: str = "admin") -> manager.Manager:
        return self.connect((user, USERS[user]))


def get_events(session: manager.Manager, **params: Any) -> etree._Element:
    """Call get-events (`kind` may be a list); the rpc-reply element."""
    request = etree.Element(f"{{{NS}}}get-events", nsmap={None: NS})
    for leaf, value in params.items():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            etree.SubElement(request, f"{{{NS}}}{leaf.replace('_', '-')}").text = str(item)
    return etree.fromstring(session.dispatch(request).xml.encode())


def events_of(reply: etree._Element) -> list[dict[str, str]]:
    return [{etree.QName(leaf).localname: leaf.text for leaf in event} for event in reply.iter(f"{{{NS}}}event")]


def more_of(reply: etree._Element) -> bool:
    return reply.findtext(f"{{{NS}}}more") == "true"


MN1, MN2 = "mn1@example.net", "mn2@example.net"
MAG_A, MAG_B = "2001:db8::a", "2001:db8::b"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with Node(tmp_path_factory.mktemp("history")) as running:
        yield running


@pytest.fixture(scope="module")
def story(node):
    """Six events of two mobile nodes at two MAGs, after whatever the node published itself;
    returns their get-events records (sequence, time, kind, ...), oldest first."""
    first = node.on_loop(lambda: node.runtime.events.store.status().last_sequence) + 1
    for kind, mn, mag in [("binding-created", MN1, MAG_A), ("binding-created", MN2, MAG_B),
                          ("binding-updated", MN1, MAG_B), ("binding-deleted", MN2, MAG_B),
                          ("binding-deleted", MN1, MAG_B)]:
        node.publish(kind, **{"mn-identifier": mn, "proxy-coa": mag, "handoff-indicator": 1})
    node.publish("peer-path-down", peer=MAG_A)
    with node.login() as session:
        return [e for e in events_of(get_events(session, after_sequence=first - 1, limit=100))
                if e["kind"] in STORY_KINDS]


# the kinds the story publishes; the node adds its own (alarm-notification, fault-action) after a path goes down
STORY_KINDS = {"binding-created", "binding-updated", "binding-deleted", "peer-path-down"}


def ours(events: list[dict]) -> list[dict]:
    return [e for e in events if e["kind"] in STORY_KINDS]


def rpc_error(call) -> RPCError:
    with pytest.raises(RPCError) as error:
        call()
    return error.value


def kinds(events) -> list[str]:
    return [e["kind"] for e in events]


# ----- queries -----------------------------------------------------------------------------------
def test_since_and_until_select_a_time_range_including_both_ends(node, story):
    with node.login() as session:
        found = events_of(get_events(session, since=story[1]["time"], until=story[3]["time"]))
    assert found == story[1:4]


def test_kinds_select_events_of_those_kinds(node, story):
    with node.login() as session:
        found = events_of(get_events(session, since=story[0]["time"], kind=["binding-deleted", "peer-path-down"]))
    assert kinds(found) == ["binding-deleted", "binding-deleted", "peer-path-down"]


def test_a_mobile_node_selects_its_own_events(node, story):
    with node.login() as session:
        found = events_of(get_events(session, mn_identifier=MN1))
    assert kinds(found) == ["binding-created", "binding-updated", "binding-deleted"]
    assert {e["mn-identifier"] for e in found} == {MN1}


def test_a_peer_selects_the_events_naming_it(node, story):
    with node.login() as session:
        found = ours(events_of(get_events(session, peer=MAG_A, since=story[0]["time"])))
    assert [(e["kind"], e["peer"]) for e in found] == [("binding-created", MAG_A), ("peer-path-down", MAG_A)]


def test_a_limit_returns_the_first_events_and_says_more_match(node, story):
    with node.login() as session:
        reply = get_events(session, since=story[0]["time"], limit=2)
        rest = get_events(session, since=story[0]["time"], after_sequence=events_of(reply)[-1]["sequence"])
    assert events_of(reply) == story[:2] and more_of(reply)
    assert ours(events_of(rest)) == story[2:] and not more_of(rest)


def test_newest_first_returns_the_latest_events_first(node, story):
    with node.login() as session:
        reply = get_events(session, since=story[0]["time"], until=story[-1]["time"], order="newest-first", limit=2)
    assert events_of(reply) == story[:-3:-1] and more_of(reply)


def test_each_event_carries_its_data_as_json_with_enumerations_by_name(node, story):
    created = story[0]
    assert (created["mn-identifier"], created["peer"]) == (MN1, MAG_A)
    assert json.loads(created["data"]) == {"mn-identifier": MN1, "proxy-coa": MAG_A,
                                           "handoff-indicator": "attachment-over-new-interface"}
    assert created["text"] == "handoff-indicator=attachment-over-new-interface"


def test_a_kind_of_no_notification_is_stored_and_read_like_any_other(node):
    node.publish("a-kind-of-a-later-release", peer=MAG_B, detail={"steps": [1, 2]})
    with node.login() as session:
        [event] = events_of(get_events(session, kind="a-kind-of-a-later-release"))
    assert event["peer"] == MAG_B and json.loads(event["data"]) == {"peer": MAG_B, "detail": {"steps": [1, 2]}}


def test_alarm_transitions_are_in_the_history(node, story):
    with node.login() as session:
        raised = events_of(get_events(session, kind="alarm-notification", since=story[0]["time"]))
    data = json.loads(raised[0]["data"])
    assert (data["resource"], data["perceived-severity"]) == (f"/dmm-nf:dmm-nf/peers/peer[address='{MAG_A}']", "major")


# ----- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, path, words", [
    ({"limit": 0}, "/dmm-nf:get-events/dmm-nf:limit", "out of the allowed range"),
    ({"limit": 10001}, "/dmm-nf:get-events/dmm-nf:limit", "out of the allowed range"),
    ({"since": "yesterday"}, "/dmm-nf:get-events/dmm-nf:since", "does not conform"),
    ({"until": "2026-02-30T00:00:00Z"}, "/dmm-nf:get-events/dmm-nf:until", "not a valid date-and-time"),
    ({"peer": "192.0.2.1"}, "/dmm-nf:get-events/dmm-nf:peer", "does not conform"),
    ({"kind": ""}, "/dmm-nf:get-events/dmm-nf:kind", "length"),
    ({"order": "sideways"}, "/dmm-nf:get-events/dmm-nf:order", "sideways"),
    ({"since": "2026-11-24T12:00:00Z", "until": "2026-11-24T11:00:00Z"}, "/dmm-nf:get-events/dmm-nf:until",
     "is before since"),
])
def test_bad_input_is_invalid_value_naming_its_path(node, params, path, words):
    with node.login() as session:
        error = rpc_error(lambda: get_events(session, **params))
    assert (error.tag, error.path.strip()) == ("invalid-value", path)
    assert words in error.message and error.message.startswith("get-events: ")


def test_an_unknown_parameter_is_unknown_element(node):
    with node.login() as session:
        error = rpc_error(lambda: get_events(session, colour="blue"))
    assert error.tag == "unknown-element" and "colour" in error.message


# ----- access control -------------------------------------------------------------------------------
def test_a_monitoring_user_may_read_the_history(node, story):
    with node.login("viewer") as session:
        assert events_of(get_events(session, since=story[0]["time"], limit=1)) == story[:1]


def test_a_user_who_may_not_read_the_history_is_denied_the_operation(node, story):
    with node.login("blind") as session:
        error = rpc_error(lambda: get_events(session))
        assert error.tag == "access-denied" and error.path is None
        reply = session.get(filter=("subtree", f'<dmm-nf xmlns="{NS}"><event-history/></dmm-nf>'))
    assert "<event>" not in reply.xml  # and <get> prunes it (RFC 8341 §3.2.4)


def test_a_monitoring_user_may_not_change_the_retention(node):
    with node.login("viewer") as session:
        error = rpc_error(lambda: session.edit_config(target="running", config=history_config(max_entries=5)))
    assert error.tag == "access-denied"


# ----- the operational list is the same history --------------------------------------------------------
def test_the_operational_list_holds_the_same_events(node, story):
    with node.login() as session:
        everything = events_of(get_events(session, limit=10000))
        reply = session.get(filter=("subtree", f'<dmm-nf xmlns="{NS}"><event-history/></dmm-nf>'))
    state = [{leaf.tag.split("}")[1]: leaf.text for leaf in event} for event in reply.data_ele.iter(f"{{{NS}}}event")]
    assert state[:len(everything)] == everything and story[0] in state


def test_the_operational_list_answers_a_filter_on_one_sequence_number(node, story):
    wanted = story[2]["sequence"]
    with node.login() as session:
        reply = session.get(filter=("subtree", f'<dmm-nf xmlns="{NS}"><event-history><event><sequence>{wanted}'
                                               f'</sequence></event></event-history></dmm-nf>'))
    state = [{leaf.tag.split("}")[1]: leaf.text for leaf in event} for event in reply.data_ele.iter(f"{{{NS}}}event")]
    assert state == [story[2]]


def test_the_history_counters_count_what_was_recorded(node, story):
    with node.login() as session:
        reply = session.get(filter=("subtree", f'<dmm-nf xmlns="{NS}"><event-history><events-recorded/>'
                                               "<events-dropped/></event-history></dmm-nf>"))
    history = reply.data_ele.find(f"{{{NS}}}dmm-nf/{{{NS}}}event-history")
    assert int(history.findtext(f"{{{NS}}}events-recorded")) >= int(story[-1]["sequence"])
    assert history.findtext(f"{{{NS}}}events-dropped") == "0"


# ----- configuration commits ------------------------------------------------------------------------------
def history_config(**leaves) -> str:
    body = "".join(f"<{k.replace('_', '-')}>{v}</{k.replace('_', '-')}>" for k, v in leaves.items())
    return f'<config xmlns="{NC_NS}"><dmm-nf xmlns="{NS}"><event-history>{body}</event-history></dmm-nf></config>'


def commits_since(session, sequence: str, kind: str = "config-committed") -> list[dict]:
    events = events_of(get_events(session, kind=kind, after_sequence=sequence))
    return [{**e, "data": json.loads(e["data"])} for e in events]


def last_sequence(session) -> str:
    newest = events_of(get_events(session, order="newest-first", limit=1))
    return newest[0]["sequence"] if newest else "0"


def test_a_commit_names_its_user_and_each_changed_leaf_even_in_an_implicit_container(tmp_path):
    with Node(tmp_path) as node, node.login() as session:
        before = last_sequence(session)
        session.edit_config(target="candidate", config=(
            f'<config xmlns="{NC_NS}"><dmm-nf xmlns="{NS}"><timers><timestamp-validity-window>500'
            "</timestamp-validity-window></timers></dmm-nf></config>"))
        session.commit()
        [event] = commits_since(session, before)
        assert node.runtime.settings.timers.timestamp_validity_window == 0.5  # and it reached the runtime (s)
    assert event["data"]["user"] == "admin" and event["data"]["session-id"] == int(session.session_id)
    assert event["data"]["changes"] == [{"path": "/dmm-nf:dmm-nf/timers/timestamp-validity-window",
                                         "operation": "create"}]
    assert event["data"]["confirmed"] is False and "rollback" not in event["data"]


def test_a_commit_is_also_a_notification_listing_its_changes(tmp_path):
    with Node(tmp_path) as node, node.login() as session:
        session.create_subscription()
        session.edit_config(target="running", config=history_config(max_age=3600))
        notification = wait_for_notification(session, "config-committed")
    change = notification.find(f"{{{NS}}}changes")
    assert change.findtext(f"{{{NS}}}path") == "/dmm-nf:dmm-nf/event-history/max-age"
    assert change.findtext(f"{{{NS}}}operation") == "create"
    assert notification.findtext(f"{{{NS}}}user") == "admin"


def wait_for_notification(session: manager.Manager, name: str) -> etree._Element:
    """The next dmm-nf notification `name` (others, such as RFC 6470's, are passed over)."""
    for _ in range(20):
        received = session.take_notification(timeout=10)
        assert received is not None, f"no {name} notification within 10 s"
        found = received.notification_ele.find(f"{{{NS}}}{name}")
        if found is not None:
            return found
    raise AssertionError(f"no {name} among the first 20 notifications")


def test_a_new_peer_key_shows_as_its_path_never_its_value(tmp_path):
    key = base64.b64encode(b"a-shared-secret!").decode()
    with Node(tmp_path) as node, node.login() as session:
        before = last_sequence(session)
        session.edit_config(target="running", config=(
            f'<config xmlns="{NC_NS}"><dmm-nf xmlns="{NS}"><peers><peer><address>::1</address><authentication>'
            f"<key-id>256</key-id><key>{key}</key></authentication></peer></peers></dmm-nf></config>"))
        [event] = commits_since(session, before)
    peer = "/dmm-nf:dmm-nf/peers/peer[address='::1']/authentication"
    assert event["data"]["changes"] == [{"path": f"{peer}/key-id", "operation": "create"},
                                        {"path": f"{peer}/key", "operation": "create"}]
    assert key not in json.dumps(event) and "a-shared-secret" not in json.dumps(event)


def test_a_confirmed_commit_and_its_confirmation_are_events(tmp_path):
    with Node(tmp_path) as node, node.login() as session:
        before = last_sequence(session)
        session.edit_config(target="candidate", config=history_config(max_age=3600))
        session.commit(confirmed=True, timeout="120")
        session.commit()
        [committed] = commits_since(session, before)
        steps = commits_since(session, before, "confirmed-commit")
    assert committed["data"]["confirmed"] is True
    assert [(s["data"]["event"], s["data"].get("timeout")) for s in steps] == [("start", 120), ("complete", None)]
    assert {s["data"]["user"] for s in steps} == {"admin"}


def test_a_cancelled_confirmed_commit_is_rolled_back_and_says_so(tmp_path):
    with Node(tmp_path) as node, node.login() as session:
        before = last_sequence(session)
        session.edit_config(target="candidate", config=history_config(max_age=3600))
        session.commit(confirmed=True)
        session.dispatch(to_ele(f'<cancel-commit xmlns="{NC_NS}"/>'))
        change, rollback = commits_since(session, before)
        steps = commits_since(session, before, "confirmed-commit")
    path = "/dmm-nf:dmm-nf/event-history/max-age"
    assert change["data"]["changes"] == [{"path": path, "operation": "create"}]
    assert rollback["data"]["rollback"] == "cancel" and "user" not in rollback["data"]
    assert rollback["data"]["changes"] == [{"path": path, "operation": "delete"}]
    assert [s["data"]["event"] for s in steps] == ["start", "cancel"]


def test_a_confirmed_commit_left_unconfirmed_is_rolled_back_at_its_timeout(tmp_path):
    with Node(tmp_path) as node, node.login() as session:
        before = last_sequence(session)
        session.edit_config(target="candidate", config=history_config(max_age=3600))
        session.commit(confirmed=True, timeout="1")
        assert wait_for(lambda: any(e["data"].get("rollback") for e in commits_since(session, before)), timeout=10)
        rollback = [e for e in commits_since(session, before) if e["data"].get("rollback")]
        steps = commits_since(session, before, "confirmed-commit")
    assert rollback[0]["data"]["rollback"] == "timeout"
    assert [s["data"]["event"] for s in steps] == ["start", "timeout"]


def test_a_commit_lowering_max_entries_drops_the_surplus_at_once(tmp_path):
    with Node(tmp_path) as node, node.login() as session:
        for i in range(10):
            node.publish("binding-created", **{"mn-identifier": f"m{i}@example.net"})
        session.edit_config(target="running", config=history_config(max_entries=3))
        found = events_of(get_events(session))
    assert len(found) == 3 and found[-1]["kind"] == "config-committed"
    assert [e["mn-identifier"] for e in found[:2]] == ["m8@example.net", "m9@example.net"]
