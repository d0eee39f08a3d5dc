"""/ietf-alarms:alarms over NETCONF on a running node: the alarm list, inventory and summary
read with subtree and XPath filters beside /dmm-nf:dmm-nf, alarm-notification to a
subscriber, and /alarms/control taking effect through a commit."""
from __future__ import annotations

import pytest
from lxml import etree

from tests.netconf.product import AL, NS, ServiceThread

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
MAG = "2001:db8::2"
SIGNALLING = "signalling-path-down"


@pytest.fixture
def node(tmp_path):
    node = ServiceThread(tmp_path)
    yield node
    node.stop()


def alarms_of(mgr, subtree: str = "<alarm-list/>") -> etree._Element:
    return mgr.get(filter=("subtree", f'<alarms xmlns="{AL}">{subtree}</alarms>')).data_ele


def alarm_entries(data: etree._Element) -> list[etree._Element]:
    return data.findall(f".//{{{AL}}}alarm-list/{{{AL}}}alarm")


def text(element: etree._Element, leaf: str) -> str | None:
    return element.findtext(f"{{{AL}}}{leaf}")


def test_an_alarm_raised_by_an_event_is_in_the_alarm_list_on_the_peer_entry(node):
    node.publish("peer-path-down", peer=MAG, name="mag1", **{"missed-heartbeats": 3})
    with node.connect() as mgr:
        data = alarms_of(mgr)
    assert data.findtext(f".//{{{AL}}}number-of-alarms") == "1"
    [alarm] = alarm_entries(data)
    resource = alarm.find(f"{{{AL}}}resource")
    prefix = next(p for p, ns in resource.nsmap.items() if ns == NS)
    assert resource.text == f"/{prefix}:dmm-nf/{prefix}:peers/{prefix}:peer[{prefix}:address='{MAG}']"
    type_id = alarm.find(f"{{{AL}}}alarm-type-id")
    assert type_id.text.split(":")[1] == SIGNALLING
    assert type_id.nsmap[type_id.text.split(":")[0]] == "urn:dmm-nf:yang:dmm-nf-alarms"
    assert (text(alarm, "is-cleared"), text(alarm, "perceived-severity")) == ("false", "major")
    assert text(alarm, "alarm-type-qualifier") in ("", None)
    [change] = alarm.findall(f"{{{AL}}}status-change")
    assert text(change, "time") == text(alarm, "last-changed") == text(alarm, "time-created")


def test_the_inventory_lists_the_lma_alarm_types_with_resources_and_severities(node):
    with node.connect() as mgr:
        data = alarms_of(mgr, "<alarm-inventory/>")
    types = {t.findtext(f"{{{AL}}}alarm-type-id").split(":")[1]: t
             for t in data.iter(f"{{{AL}}}alarm-type")}
    assert set(types) == {SIGNALLING, "data-path-down", "peer-restarted", "revocation-failed",
                          "forwarding-mismatch", "prefix-pool-nearly-exhausted", "prefix-pool-exhausted"}
    data_path = types["data-path-down"]
    assert [s.text for s in data_path.findall(f"{{{AL}}}severity-level")] == ["major", "critical"]
    assert data_path.findtext(f"{{{AL}}}will-clear") == "true"
    assert "docs/runbooks/data-path-down.md" in data_path.findtext(f"{{{AL}}}description")
    assert data_path.findtext(f"{{{AL}}}resource").endswith("peers/dmm:peer") or \
        data_path.findtext(f"{{{AL}}}resource").endswith(":peer")


def test_the_summary_counts_alarms_per_severity(node):
    node.publish("peer-path-down", peer=MAG)
    node.publish("pool-usage-high", pool="home", used=60000, size=65536)
    with node.connect() as mgr:
        data = alarms_of(mgr, "<summary/>")
    rows = {r.findtext(f"{{{AL}}}severity"): r for r in data.iter(f"{{{AL}}}alarm-summary")}
    assert list(rows) == ["indeterminate", "warning", "minor", "major", "critical"]
    assert rows["major"].findtext(f"{{{AL}}}not-cleared-not-closed") == "1"
    assert rows["warning"].findtext(f"{{{AL}}}total") == "1"
    assert rows["critical"].findtext(f"{{{AL}}}total") == "0"


def test_an_xpath_filter_selects_alarms_by_type_and_clearance(node):
    node.publish("peer-path-down", peer=MAG)
    node.publish("peer-path-down", peer="2001:db8::3")
    node.publish("peer-path-up", peer="2001:db8::3")
    node.publish("pool-usage-high", pool="home", used=60000, size=65536)
    # identity values in XPath literals are written module:name, as in JSON (RFC 7951 §6.8)
    select = ("/al:alarms/al:alarm-list/al:alarm[al:alarm-type-id='dmm-nf-alarms:signalling-path-down']"
              "[al:is-cleared='false']")
    with node.connect() as mgr:
        reply = mgr.get(filter=("xpath", ({"al": AL}, select)))
    entries = reply.data_ele.findall(f".//{{{AL}}}alarm")
    assert len(entries) == 1 and entries[0].findtext(f"{{{AL}}}resource").endswith(f"'{MAG}']")


def test_a_subtree_filter_with_content_match_selects_the_cleared_alarms(node):
    node.publish("peer-path-down", peer=MAG)
    node.publish("peer-path-down", peer="2001:db8::3")
    node.publish("peer-path-up", peer="2001:db8::3")
    with node.connect() as mgr:
        data = alarms_of(mgr, "<alarm-list><alarm><is-cleared>true</is-cleared><resource/>"
                              "<perceived-severity/></alarm></alarm-list>")
    [alarm] = alarm_entries(data)
    assert alarm.findtext(f"{{{AL}}}resource").endswith("'2001:db8::3']")
    assert alarm.find(f"{{{AL}}}status-change") is None  # not selected


def test_a_read_of_dmm_nf_alone_carries_no_alarms_and_one_of_both_carries_both(node):
    node.publish("peer-path-down", peer=MAG)
    with node.connect() as mgr:
        only_node = mgr.get(filter=("subtree", f'<dmm-nf xmlns="{NS}"><node/></dmm-nf>')).data_ele
        reply = mgr.dispatch(etree.fromstring(
            f'<get xmlns="{NC}"><filter type="subtree"><dmm-nf xmlns="{NS}"><node/></dmm-nf>'
            f'<alarms xmlns="{AL}"/></filter></get>'))
        both = etree.fromstring(reply.xml.encode()).find(f"{{{NC}}}data")
        everything = mgr.get().data_ele
    assert only_node.find(f"{{{AL}}}alarms") is None
    assert both.find(f"{{{NS}}}dmm-nf/{{{NS}}}node") is not None and len(alarm_entries(both)) == 1
    assert len(alarm_entries(everything)) == 1


def test_get_data_on_the_operational_datastore_serves_the_alarms(node):
    node.publish("peer-path-down", peer=MAG)
    with node.connect() as mgr:
        reply = mgr.dispatch(etree.fromstring(
            '<get-data xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-nmda" '
            'xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores"><datastore>ds:operational</datastore>'
            f'<subtree-filter><alarms xmlns="{AL}"><alarm-list/></alarms></subtree-filter></get-data>'))
    root = etree.fromstring(reply.xml.encode())
    assert len(root.findall(f".//{{{AL}}}alarm")) == 1


def test_an_alarm_notification_reaches_a_subscriber(node):
    with node.connect() as mgr:
        mgr.create_subscription()
        node.publish("peer-path-down", peer=MAG)
        found = None
        for _ in range(10):
            note = mgr.take_notification(block=True, timeout=5)
            assert note is not None
            found = note.notification_ele.find(f"{{{AL}}}alarm-notification")
            if found is not None:
                break
    assert found is not None
    assert found.findtext(f"{{{AL}}}perceived-severity") == "major"
    assert found.findtext(f"{{{AL}}}alarm-type-id").endswith(f":{SIGNALLING}")
    assert "docs/runbooks/signalling-path-down.md" in found.findtext(f"{{{AL}}}alarm-text")


CONTROL = f"""<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><alarms xmlns="{AL}"><control>
  <max-alarm-status-changes>2</max-alarm-status-changes>
  <notify-status-changes>raise-and-clear</notify-status-changes>
</control></alarms></config>"""


def test_a_committed_control_bounds_status_changes_at_once(node):
    for _ in range(3):
        node.publish("peer-path-down", peer=MAG)
        node.publish("peer-path-up", peer=MAG)
    with node.connect() as mgr:
        assert len(alarm_entries(alarms_of(mgr))[0].findall(f"{{{AL}}}status-change")) == 6
        mgr.edit_config(target="candidate", config=CONTROL)
        mgr.commit()
        [alarm] = alarm_entries(alarms_of(mgr))
    assert [text(c, "perceived-severity") for c in alarm.findall(f"{{{AL}}}status-change")] == ["cleared", "major"]
    assert node.runtime.alarms.control.notify_status_changes == "raise-and-clear"


def test_a_control_in_the_configuration_file_applies_from_the_start(tmp_path):
    node = ServiceThread(tmp_path, extra_config=f'<alarms xmlns="{AL}"><control><max-alarm-status-changes>infinite'
                                       '</max-alarm-status-changes></control></alarms>')
    try:
        for _ in range(40):
            node.publish("peer-path-down", peer=MAG)
            node.publish("peer-path-up", peer=MAG)
        with node.connect() as mgr:
            assert len(alarm_entries(alarms_of(mgr))[0].findall(f"{{{AL}}}status-change")) == 80
    finally:
        node.stop()


def test_severity_level_without_a_level_is_refused_by_the_model(node):
    from ncclient.operations import RPCError

    bad = CONTROL.replace("raise-and-clear", "severity-level")
    with node.connect() as mgr:
        with pytest.raises(RPCError) as err:
            mgr.edit_config(target="candidate", config=bad)
    assert (err.value.tag, err.value.app_tag) == ("operation-failed", "must-violation")
    assert "notify-status-changes" in err.value.path
    assert node.runtime.alarms.control.notify_status_changes == "all-state-changes"
