"""A leaf set inside a container that held only defaults is a change like any other: NACM
checks it (RFC 8341 §3.2.5, §3.2.8), the runtime gets it, it is notified (RFC 6470) and it
is what <get-config> shows (RFC 6243 §2.3). Run against the dmm-nf model and runtime."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from lxml import etree
from ncclient.operations import RPCError

from tests.netconf.product import GUEST, NS, ServiceThread

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
ACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"


def timers(body: str) -> str:
    return f'<config xmlns="{NC}"><dmm-nf xmlns="{NS}"><timers>{body}</timers></dmm-nf></config>'


WINDOW_700 = timers("<timestamp-validity-window>700</timestamp-validity-window>")
WINDOW_300 = timers("<timestamp-validity-window>300</timestamp-validity-window>")  # its default


@pytest.fixture
def lma(tmp_path: Path) -> Iterator[ServiceThread]:
    node = ServiceThread(tmp_path)
    yield node
    node.stop()


def runtime_window(lma: ServiceThread) -> float:
    return lma.on_loop(lambda: lma.service.runtime.settings.timers.timestamp_validity_window)


def configured_window(mgr) -> str | None:
    data = mgr.get_config("running", filter=("subtree", f'<dmm-nf xmlns="{NS}"><timers/></dmm-nf>')).data_ele
    return data.findtext(f".//{{{NS}}}timestamp-validity-window")


def test_a_user_in_no_group_may_not_set_a_timer_in_a_container_of_defaults(lma):
    with lma.connect(GUEST) as guest:
        with pytest.raises(RPCError) as denied:
            guest.edit_config(target="running", config=WINDOW_700)
        assert denied.value.tag == "access-denied"
        assert configured_window(guest) is None
    assert runtime_window(lma) == 0.3


def test_a_user_in_no_group_may_not_set_a_timer_to_its_default_value_either(lma):
    with lma.connect(GUEST) as guest:
        with pytest.raises(RPCError) as denied:
            guest.edit_config(target="running", config=WINDOW_300)
        assert denied.value.tag == "access-denied"
        assert configured_window(guest) is None


def test_a_user_in_no_group_may_not_commit_a_timer_another_user_set_in_the_candidate(lma):
    with lma.connect() as admin, lma.connect(GUEST) as guest:
        admin.edit_config(target="candidate", config=WINDOW_700)
        with pytest.raises(RPCError) as denied:
            guest.commit()
        assert denied.value.tag == "access-denied"
        assert configured_window(admin) is None
    assert runtime_window(lma) == 0.3


def test_admins_timer_edit_in_a_container_of_defaults_reaches_the_runtime(lma):
    with lma.connect() as admin:
        admin.edit_config(target="running", config=WINDOW_700)
        assert configured_window(admin) == "700"
    assert runtime_window(lma) == 0.7


def test_removing_the_timer_again_brings_its_default_back_to_the_runtime(lma):
    with lma.connect() as admin:
        admin.edit_config(target="running", config=WINDOW_700)
        admin.edit_config(target="running", config=timers(
            f'<timestamp-validity-window xmlns:nc="{NC}" nc:operation="delete"/>'))
        assert configured_window(admin) is None
    assert runtime_window(lma) == 0.3


def test_the_timer_change_is_notified_with_the_leaf_as_its_target(lma):
    with lma.connect() as listener, lma.connect() as admin:
        listener.create_subscription()
        admin.edit_config(target="running", config=WINDOW_700)
        for _ in range(5):
            note = listener.take_notification(block=True, timeout=5)
            assert note is not None, "no netconf-config-change"
            change = note.notification_ele.find(f"{{{NN}}}netconf-config-change")
            if change is not None:
                break
        edits = [(steps(e.find(f"{{{NN}}}target")), e.findtext(f"{{{NN}}}operation"))
                 for e in change.iter(f"{{{NN}}}edit")]
    assert edits == [([(NS, "dmm-nf"), (NS, "timers"), (NS, "timestamp-validity-window")], "create")]


def steps(target: etree._Element) -> list[tuple[str, str]]:
    """An instance-identifier's steps as (namespace, name), its prefixes resolved where the
    element declares them."""
    out = []
    for step in target.text.strip("/").split("/"):
        prefix, _, name = step.partition(":")
        out.append((target.nsmap[prefix], name))
    return out


def test_a_nacm_switch_set_over_its_default_takes_effect(lma):
    with lma.connect() as admin, lma.connect(GUEST) as guest:
        admin.edit_config(target="running", config=(
            f'<config xmlns="{NC}"><nacm xmlns="{ACM}"><write-default>permit</write-default></nacm></config>'))
        guest.edit_config(target="running", config=WINDOW_700)  # no rule, and writes are now permitted
        assert configured_window(guest) == "700"


def test_deleting_a_container_that_holds_a_value_set_over_a_default_removes_it(lma):
    with lma.connect() as admin:
        admin.edit_config(target="running", config=WINDOW_700)
        admin.edit_config(target="running", config=(
            f'<config xmlns="{NC}"><dmm-nf xmlns="{NS}"><timers xmlns:nc="{NC}" nc:operation="delete"/>'
            "</dmm-nf></config>"))
        assert configured_window(admin) is None
    assert runtime_window(lma) == 0.3
