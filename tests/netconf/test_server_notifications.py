"""RFC 5277 over the wire through ncclient: stream discovery (§3.2.5.1), the negative
responses of <create-subscription> (§2.1.1), a stop time that passes with nothing to send
(§2.3), and requests on a subscribed session (§1.3, §6)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from tests.netconf.conftest import connect
from tests.netconf.test_server_edit import NC, SRV, cfg, hostname
from tests.netconf.test_server_integration import full_context

NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:netmod:notification"


@pytest.fixture
def client(servers):
    with connect(servers.start(ctx=full_context())) as mgr:
        yield mgr


def stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def subscribe(mgr, start: datetime | None = None, stop: datetime | None = None):
    body = (f"<startTime>{stamp(start)}</startTime>" if start else "") + \
           (f"<stopTime>{stamp(stop)}</stopTime>" if stop else "")
    return mgr.dispatch(to_ele(f'<create-subscription xmlns="{NOTIF}">{body}</create-subscription>'))


def bad_element(err: RPCError) -> str | None:
    return err.xml.findtext(f"{{{NC}}}error-info/{{{NC}}}bad-element")


def test_get_of_streams_lists_the_netconf_stream_and_its_replay(client):
    data = client.get(filter=("subtree", f'<netconf xmlns="{NCN}"><streams/></netconf>')).data_ele
    [stream] = data.findall(f"{{{NCN}}}netconf/{{{NCN}}}streams/{{{NCN}}}stream")
    assert stream.findtext(f"{{{NCN}}}name") == "NETCONF"
    assert stream.findtext(f"{{{NCN}}}replaySupport") == "true"
    created = datetime.fromisoformat(stream.findtext(f"{{{NCN}}}replayLogCreationTime").replace("Z", "+00:00"))
    assert created <= datetime.now(timezone.utc)


def test_stop_time_without_start_time_is_missing_element_naming_start_time(client):
    with pytest.raises(RPCError) as err:
        subscribe(client, stop=datetime.now(timezone.utc))
    assert (err.value.tag, err.value.type, bad_element(err.value)) == ("missing-element", "protocol", "startTime")


def test_a_start_time_in_the_future_is_bad_element_naming_it(client):
    with pytest.raises(RPCError) as err:
        subscribe(client, start=datetime.now(timezone.utc) + timedelta(hours=1))
    assert (err.value.tag, err.value.type, bad_element(err.value)) == ("bad-element", "protocol", "startTime")


def test_a_stop_time_before_the_start_time_is_bad_element_naming_it(client):
    now = datetime.now(timezone.utc)
    with pytest.raises(RPCError) as err:
        subscribe(client, start=now - timedelta(minutes=1), stop=now - timedelta(minutes=2))
    assert (err.value.tag, err.value.type, bad_element(err.value)) == ("bad-element", "protocol", "stopTime")


def test_an_unknown_stream_is_refused(client):
    with pytest.raises(RPCError) as err:
        client.dispatch(to_ele(f'<create-subscription xmlns="{NOTIF}"><stream>SNMP</stream></create-subscription>'))
    assert err.value.tag == "invalid-value"


def test_a_subscription_ends_at_its_stop_time_though_nothing_happens(client):
    now = datetime.now(timezone.utc)
    subscribe(client, start=now - timedelta(seconds=1), stop=now + timedelta(seconds=0.3))
    names = []
    while "notificationComplete" not in names:
        note = client.take_notification(block=True, timeout=5)
        assert note is not None, f"only {names}"
        names += [etree.QName(e).localname for e in note.notification_ele if etree.QName(e).namespace == NCN]
    assert names[-2:] == ["replayComplete", "notificationComplete"]
    client.edit_config(target="running", config=cfg(f'<system xmlns="{SRV}"><hostname>after</hostname></system>'))
    assert hostname(client) == "after"  # the session goes on (§2.3)
    subscribe(client)  # and may subscribe again


def test_a_subscribed_session_is_served_and_closes(servers):
    server = servers.start(ctx=full_context())
    mgr = connect(server)
    subscribe(mgr)
    mgr.edit_config(target="running", config=cfg(f'<system xmlns="{SRV}"><hostname>h</hostname></system>'))
    assert hostname(mgr) == "h"  # §6.1 interleave
    mgr.close_session()  # §1.3: close-session is accepted while subscribed
    assert not mgr.connected


def session_ends(mgr, count: int) -> list[str]:
    reasons = []
    while len(reasons) < count:
        note = mgr.take_notification(block=True, timeout=5)
        assert note is not None, f"only {reasons}"
        end = note.notification_ele.find("{urn:ietf:params:xml:ns:yang:ietf-netconf-notifications}"
                                         "netconf-session-end")
        if end is not None:
            reasons.append(end.findtext("{urn:ietf:params:xml:ns:yang:ietf-netconf-notifications}termination-reason"))
    return reasons


def test_a_bad_hello_ends_its_session_with_reason_bad_hello(servers):
    from tests.netconf.conftest import RawClient, wait_for

    server = servers.start(ctx=full_context())
    with connect(server) as listener:
        subscribe(listener)
        raw = RawClient(server, hello=f'<hello xmlns="{NC}"><capabilities><capability>'
                                      "urn:ietf:params:netconf:base:1.1</capability></capabilities>"
                                      "<session-id>9</session-id></hello>")
        try:
            assert wait_for(raw.closed)
        finally:
            raw.close()
        assert session_ends(listener, 1) == ["bad-hello"]  # RFC 6470 §2.2
        monitoring = listener.get(filter=("subtree", '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:'
                                                     'ietf-netconf-monitoring"><statistics/></netconf-state>'))
    assert monitoring.data_ele.findtext(".//{urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring}in-bad-hellos") == "1"


NN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"


def notifications_named(mgr, name: str, count: int) -> list[etree._Element]:
    found = []
    while len(found) < count:
        note = mgr.take_notification(block=True, timeout=5)
        assert note is not None, f"only {len(found)} {name}"
        found += note.notification_ele.findall(f"{{{NN}}}{name}")
    return found


def test_confirmed_commits_are_notified_start_extend_complete_cancel_and_timeout(servers):
    server = servers.start(ctx=full_context())
    host = cfg(f'<system xmlns="{SRV}"><hostname>h</hostname></system>')
    with connect(server) as listener, connect(server) as editor:
        subscribe(listener)
        editor.edit_config(target="candidate", config=host)
        editor.commit(confirmed=True, timeout="60")
        editor.commit(confirmed=True, timeout="120")
        editor.commit()
        editor.edit_config(target="candidate", config=host.replace(">h<", ">i<"))
        editor.commit(confirmed=True)
        editor.cancel_commit()
        editor.edit_config(target="candidate", config=host.replace(">h<", ">j<"))
        editor.commit(confirmed=True, timeout="1")
        events = [(e.findtext(f"{{{NN}}}confirm-event"), e.findtext(f"{{{NN}}}timeout"),
                   e.findtext(f"{{{NN}}}session-id"))
                  for e in notifications_named(listener, "netconf-confirmed-commit", 7)]
        sid = editor.session_id
    assert events == [("start", "60", sid), ("extend", "120", sid), ("complete", None, sid),
                      ("start", "600", sid), ("cancel", None, sid), ("start", "1", sid),
                      ("timeout", None, None)]  # RFC 6470 §2.2: no session for a timeout


def test_a_killed_session_ends_with_reason_killed_and_who_killed_it(servers):
    from tests.netconf.conftest import wait_for

    server = servers.start(ctx=full_context())
    with connect(server) as listener, connect(server) as killer:
        victim = connect(server)
        subscribe(listener)
        killer.kill_session(victim.session_id)
        assert wait_for(lambda: not victim.connected)
        [end] = notifications_named(listener, "netconf-session-end", 1)
    assert (end.findtext(f"{{{NN}}}session-id"), end.findtext(f"{{{NN}}}termination-reason"),
            end.findtext(f"{{{NN}}}killed-by")) == (victim.session_id, "killed", killer.session_id)


def test_a_replay_sends_what_happened_since_its_start_time_then_replay_complete(servers):
    server = servers.start(ctx=full_context())
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    earlier = connect(server)
    earlier_sid = earlier.session_id
    earlier.close_session()
    with connect(server) as listener:
        subscribe(listener, start=before)
        names = []
        while "replayComplete" not in names:
            note = listener.take_notification(block=True, timeout=5)
            assert note is not None, names
            for body in note.notification_ele[1:]:
                names.append(etree.QName(body).localname)
                if etree.QName(body).localname == "netconf-session-end":
                    assert body.findtext(f"{{{NN}}}session-id") == earlier_sid
    assert names[-1] == "replayComplete" and "netconf-session-end" in names  # RFC 5277 §3.3.2


def test_a_subscription_filter_lets_through_only_what_it_selects(servers):
    server = servers.start(ctx=full_context())
    with connect(server) as listener:
        listener.create_subscription(filter=("subtree", f'<netconf-session-end xmlns="{NN}"/>'))
        other = connect(server)
        other.close_session()
        note = listener.take_notification(block=True, timeout=5)
        assert [etree.QName(e).localname for e in note.notification_ele[1:]] == ["netconf-session-end"]
        assert listener.take_notification(block=True, timeout=0.3) is None  # the session-start was filtered out


def test_replay_complete_is_sent_whatever_the_filter(servers):
    server = servers.start(ctx=full_context())
    with connect(server) as listener:
        listener.create_subscription(filter=("subtree", f'<netconf-session-end xmlns="{NN}"/>'),
                                     start_time=stamp(datetime.now(timezone.utc) - timedelta(seconds=5)))
        note = listener.take_notification(block=True, timeout=5)
        assert [etree.QName(e).localname for e in note.notification_ele[1:]] == ["replayComplete"]  # §3.3.2


def test_times_in_any_time_zone_are_understood(servers):
    server = servers.start(ctx=full_context())
    plus_two = timezone(timedelta(hours=2))
    with connect(server) as listener:
        now = datetime.now(plus_two)
        listener.dispatch(to_ele(
            f'<create-subscription xmlns="{NOTIF}"><startTime>{(now - timedelta(seconds=2)).isoformat()}</startTime>'
            f"<stopTime>{(now - timedelta(seconds=1)).isoformat()}</stopTime></create-subscription>"))  # §2.1.1
        names = []
        while "notificationComplete" not in names:
            note = listener.take_notification(block=True, timeout=5)
            assert note is not None, names
            names += [etree.QName(e).localname for e in note.notification_ele[1:]]
        assert names == ["replayComplete", "notificationComplete"]


def test_a_rollback_at_the_confirm_timeout_is_a_change_by_the_server(servers):
    server = servers.start(ctx=full_context())
    with connect(server) as listener, connect(server) as editor:
        subscribe(listener)
        editor.edit_config(target="candidate", config=cfg(f'<system xmlns="{SRV}"><hostname>h</hostname></system>'))
        editor.commit(confirmed=True, timeout="1")
        changes = notifications_named(listener, "netconf-config-change", 2)
    by = [c.find(f"{{{NN}}}changed-by") for c in changes]
    assert by[0].findtext(f"{{{NN}}}session-id") == editor.session_id
    assert by[1].find(f"{{{NN}}}server") is not None  # RFC 6470 §2.2: the rollback is the server's


def test_a_session_gone_idle_ends_with_reason_timeout_and_a_vanished_one_with_dropped(servers):
    from tests.netconf.conftest import RawClient, wait_for

    server = servers.start(ctx=full_context(), idle_timeout=0.5)
    with connect(server) as listener:
        subscribe(listener)  # a subscriber is not idle
        idle = RawClient(server)
        gone = RawClient(server)
        gone.transport.close()  # no close-session: the connection just goes
        assert wait_for(idle.closed, timeout=5)
        idle.close()
        assert sorted(session_ends(listener, 2)) == ["dropped", "timeout"]  # RFC 6470 §2.2
