"""RFC 5277 subscriptions, replay, filters and the RFC 6470 base notifications."""
import threading
from datetime import timedelta

import pytest
from lxml import etree

from mgmt.netconf.filters import Filter, RequestError
from mgmt.netconf import notifications as n
from tests.netconf.yang.testctx import make_context

NS = {"nc": n.NOTIFICATION_NS, "nn": "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications",
      "ncn": "urn:ietf:params:xml:ns:netmod:notification"}


@pytest.fixture(scope="module")
def ctx():
    return make_context()


@pytest.fixture()
def hub(ctx):
    return n.NotificationHub(ctx, replay_size=3)


def parse(xml):
    return etree.fromstring(xml)


def test_live_notification_has_envelope_and_event_time(ctx, hub):
    sub = hub.subscribe(1)
    hub.publish(n.netconf_session_start(ctx, "admin", 7, "192.0.2.1"))
    doc = parse(sub.get(timeout=2))
    assert doc.tag == f"{{{n.NOTIFICATION_NS}}}notification"
    assert doc.findtext("nc:eventTime", namespaces=NS).endswith("Z")
    assert doc.findtext("nn:netconf-session-start/nn:username", namespaces=NS) == "admin"


def test_publish_from_another_thread_reaches_subscriber(ctx, hub):
    sub = hub.subscribe(1)
    t = threading.Thread(target=hub.publish, args=(n.netconf_session_end(ctx, "bob", 3, "closed"),))
    t.start()
    t.join()
    doc = parse(sub.get(timeout=2))
    assert doc.findtext("nn:netconf-session-end/nn:termination-reason", namespaces=NS) == "closed"


def test_replay_from_start_time_then_replay_complete(ctx, hub):
    t0 = n.now() - timedelta(seconds=10)
    for i in range(5):  # the buffer keeps the last 3
        hub.publish(n.netconf_session_start(ctx, f"u{i}", i), t0 + timedelta(seconds=i))
    sub = hub.subscribe(1, start=t0)
    users = [parse(sub.get(1)).findtext("nn:netconf-session-start/nn:username", namespaces=NS) for _ in range(3)]
    assert users == ["u2", "u3", "u4"]
    assert parse(sub.get(1)).find("ncn:replayComplete", NS) is not None


def test_stop_time_in_the_past_completes_subscription(ctx, hub):
    t0 = n.now() - timedelta(seconds=10)
    hub.publish(n.netconf_session_start(ctx, "a", 1), t0 + timedelta(seconds=1))
    hub.publish(n.netconf_session_start(ctx, "b", 2), t0 + timedelta(seconds=5))
    sub = hub.subscribe(1, start=t0, stop=t0 + timedelta(seconds=2))
    got = [sub.get(1) for _ in range(3)]
    assert "<username>a</username>" in got[0]
    assert "replayComplete" in got[1] and "notificationComplete" in got[2]
    assert sub.closed and sub.get(1) is None


def test_subtree_filter_on_notifications(ctx, hub):
    flt = Filter.from_subtree(parse(
        f'<filter><netconf-confirmed-commit xmlns="{NS["nn"]}"><confirm-event>timeout</confirm-event>'
        "</netconf-confirmed-commit></filter>"), ctx)
    sub = hub.subscribe(1, flt=flt)
    hub.publish(n.netconf_confirmed_commit(ctx, "start", "admin", 4, timeout=600))
    hub.publish(n.netconf_confirmed_commit(ctx, "timeout"))
    doc = parse(sub.get(2))
    assert doc.findtext("nn:netconf-confirmed-commit/nn:confirm-event", namespaces=NS) == "timeout"
    assert sub.get(0.05) is None


def test_nacm_hides_denied_notifications(ctx):
    hub = n.NotificationHub(ctx, permit=lambda user, module, name: name != "netconf-session-start")
    sub = hub.subscribe(1, user="guest")
    hub.publish(n.netconf_session_start(ctx, "a", 1))
    hub.publish(n.netconf_capability_change(ctx, added=["urn:example:cap"]))
    assert "netconf-capability-change" in sub.get(2)


def test_config_change_builder(ctx, hub):
    sub = hub.subscribe(1)
    hub.publish(n.netconf_config_change(ctx, "admin", 5, edits=[("/ietf-netconf-acm:nacm", "merge")]))
    doc = parse(sub.get(2))
    assert doc.findtext("nn:netconf-config-change/nn:edit/nn:operation", namespaces=NS) == "merge"
    assert doc.findtext("nn:netconf-config-change/nn:changed-by/nn:username", namespaces=NS) == "admin"


@pytest.mark.parametrize("kwargs, tag", [
    ({"stream": "nope"}, "invalid-value"),
    ({"stop": n.now()}, "missing-element"),
    ({"start": n.now() + timedelta(hours=1)}, "bad-element"),
    ({"start": n.now() - timedelta(hours=1), "stop": n.now() - timedelta(hours=2)}, "bad-element"),
])
def test_bad_subscription_arguments_are_typed_errors(hub, kwargs, tag):
    with pytest.raises(RequestError) as err:
        hub.subscribe(1, **kwargs)
    assert err.value.tag == tag


def test_second_subscription_on_a_session_is_refused(hub):
    hub.subscribe(1)
    with pytest.raises(RequestError):
        hub.subscribe(1)


def test_streams_data_lists_netconf_stream_with_replay(hub):
    data = hub.streams_data()
    assert data.find_path("/ietf-subscribed-notifications:streams/stream[name='NETCONF']/replay-support") is not None


def test_the_log_reports_when_a_notification_last_aged_out(ctx, hub):
    t0 = n.now() - timedelta(seconds=10)
    for i in range(4):  # the buffer keeps the last 3: the first ages out
        hub.publish(n.netconf_session_start(ctx, f"u{i}", i), t0 + timedelta(seconds=i))
    data = hub.netconf_streams_data()
    aged = data.find_path("/nc-notifications:netconf/streams/stream[name='NETCONF']/replayLogAgedTime")
    assert aged is not None and aged.value() == n.format_time(t0).replace("Z", "+00:00")  # RFC 5277 §3.4


def test_a_log_nothing_aged_out_of_has_no_aged_time(hub):
    data = hub.netconf_streams_data()
    stream = "/nc-notifications:netconf/streams/stream[name='NETCONF']"
    assert data.find_path(f"{stream}/replaySupport").value() is True
    assert data.find_path(f"{stream}/replayLogCreationTime") is not None
    assert data.find_path(f"{stream}/replayLogAgedTime") is None
