"""<edit-config> (RFC 6241 §7.2): every operation, default-operation, test-option and
error-option, and the rpc-error each failure gets."""
from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations import RPCError

from tests.netconf.conftest import error_path_selects

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SRV = "urn:example:server"


def cfg(body: str) -> str:
    return f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>'


def peer(name: str, address: str | None = None, op: str | None = None, extra: str = "") -> str:
    attr = f' nc:operation="{op}"' if op else ""
    addr = f"<address>{address}</address>" if address else ""
    return f'<peer xmlns="{SRV}"{attr}><name>{name}</name>{addr}{extra}</peer>'


def running(mgr, with_defaults: str | None = None) -> etree._Element:
    reply = mgr.get_config("running", with_defaults=with_defaults) if with_defaults else mgr.get_config("running")
    return reply.data_ele


def peers(mgr) -> dict[str, str]:
    data = running(mgr)
    return {p.findtext(f"{{{SRV}}}name"): p.findtext(f"{{{SRV}}}address")
            for p in data.iter(f"{{{SRV}}}peer")}


def hostname(mgr) -> str | None:
    return running(mgr).findtext(f"{{{SRV}}}system/{{{SRV}}}hostname")


def test_merge_creates_and_updates(client):
    client.edit_config(target="running", config=cfg(peer("a", "2001:db8::1")))
    client.edit_config(target="running", config=cfg(peer("a", "2001:db8::2") + peer("b", "2001:db8::3")))
    assert peers(client) == {"a": "2001:db8::2", "b": "2001:db8::3"}


def test_create_of_existing_node_is_data_exists_with_its_path(client):
    client.edit_config(target="running", config=cfg(peer("a", "x1")))
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(peer("a", "x2", op="create")))
    assert err.value.tag == "data-exists"
    [entry] = error_path_selects(err.value, running(client))
    assert entry.findtext(f"{{{SRV}}}name") == "a"
    assert peers(client) == {"a": "x1"}


def test_delete_removes_and_delete_of_missing_is_data_missing(client):
    client.edit_config(target="running", config=cfg(peer("a", "x1") + peer("b", "x2")))
    client.edit_config(target="running", config=cfg(peer("a", op="delete")))
    assert peers(client) == {"b": "x2"}
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(peer("a", op="delete")))
    assert err.value.tag == "data-missing"
    request = etree.fromstring(cfg(peer("a", op="delete")))
    assert error_path_selects(err.value, request) == [request[0]]


def test_remove_of_missing_node_is_silent(client):
    client.edit_config(target="running", config=cfg(peer("ghost", op="remove")))
    assert peers(client) == {}


def test_replace_swaps_the_whole_subtree(client):
    client.edit_config(target="running", config=cfg(peer("a", "x1", extra="<weight>5</weight>")))
    client.edit_config(target="running", config=cfg(peer("a", "x9", op="replace")))
    data = running(client)
    assert data.findtext(f"{{{SRV}}}peer/{{{SRV}}}address") == "x9"
    assert data.find(f"{{{SRV}}}peer/{{{SRV}}}weight") is None


def test_default_operation_replace_replaces_the_datastore(client):
    client.edit_config(target="running", config=cfg(peer("a", "x1") + peer("b", "x2")))
    client.edit_config(target="running", default_operation="replace", config=cfg(peer("c", "x3")))
    assert peers(client) == {"c": "x3"}


def test_default_operation_none_touches_only_marked_nodes(client):
    client.edit_config(target="running", config=cfg(
        f'<system xmlns="{SRV}"><hostname>h1</hostname><dns>a</dns><dns>b</dns></system>'))
    client.edit_config(target="running", default_operation="none", config=cfg(
        f'<system xmlns="{SRV}"><hostname>ignored</hostname><dns nc:operation="delete">a</dns></system>'))
    data = running(client)
    assert hostname(client) == "h1"
    assert [d.text for d in data.iter(f"{{{SRV}}}dns")] == ["b"]


def test_default_operation_none_on_missing_level_is_data_missing(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", default_operation="none", config=cfg(
            f'<system xmlns="{SRV}"><hostname>h</hostname></system>'))
    assert err.value.tag == "data-missing"


def test_test_only_validates_without_changing(client):
    client.edit_config(target="running", test_option="test-only", config=cfg(peer("a", "x1")))
    assert peers(client) == {}
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", test_option="test-only", config=cfg(peer("a")))
    assert err.value.tag == "missing-element"  # mandatory address


def test_set_on_candidate_skips_validation_until_commit(client):
    client.edit_config(target="candidate", test_option="set", config=cfg(peer("a")))
    with pytest.raises(RPCError) as err:
        client.commit()
    assert err.value.tag == "missing-element"
    assert "address" in err.value.message


def test_invalid_value_names_the_leaf(client):
    edit = cfg(f'<system xmlns="{SRV}"><mtu>99</mtu></system>')
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=edit)
    assert err.value.tag == "invalid-value"
    assert [n.text for n in error_path_selects(err.value, etree.fromstring(edit))] == ["99"]
    assert err.value.type == "application"


def test_must_violation_is_operation_failed_with_app_tag(client):
    edit = cfg(peer("a", "x", extra="<weight>200</weight>"))
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=edit)
    assert err.value.tag == "operation-failed"
    assert err.value.app_tag == "must-violation"
    assert [n.text for n in error_path_selects(err.value, etree.fromstring(edit))] == ["200"]


def test_unique_violation_is_data_not_unique(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(peer("a", "same") + peer("b", "same")))
    assert err.value.tag == "operation-failed"
    assert err.value.app_tag == "data-not-unique"


def test_unknown_element_reports_bad_element(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(f'<system xmlns="{SRV}"><colour>red</colour></system>'))
    assert err.value.tag == "unknown-element"
    assert err.value.info is not None and "colour" in err.value.info


def test_unknown_namespace(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg('<system xmlns="urn:nowhere"/>'))
    assert err.value.tag == "unknown-namespace"


def test_state_data_is_not_editable(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(f'<counters xmlns="{SRV}"><restarts>1</restarts></counters>'))
    assert err.value.tag == "invalid-value"


def test_list_entry_without_key_is_missing_element(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(f'<peer xmlns="{SRV}"><address>x</address></peer>'))
    assert err.value.tag == "missing-element"


def test_bad_operation_attribute_is_bad_attribute(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(peer("a", "x", op="explode")))
    assert err.value.tag == "bad-attribute"


def test_stop_on_error_and_rollback_on_error_change_nothing(client):
    for option in ("stop-on-error", "rollback-on-error"):
        with pytest.raises(RPCError):
            client.edit_config(target="running", error_option=option,
                               config=cfg(peer("a", "x1") + peer("zz", op="delete") + peer("b", "x2")))
        assert peers(client) == {}


def test_continue_on_error_applies_the_rest_and_reports_the_errors(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", error_option="continue-on-error",
                           config=cfg(peer("a", "x1") + peer("zz", op="delete") + peer("b", "x2")))
    assert err.value.tag == "data-missing"
    assert peers(client) == {"a": "x1", "b": "x2"}


def test_with_defaults_modes(client):
    client.edit_config(target="running", config=cfg(f'<system xmlns="{SRV}"><hostname>h</hostname></system>'))
    mtu = f"{{{SRV}}}system/{{{SRV}}}mtu"
    assert running(client).find(mtu) is None  # basic-mode explicit
    assert running(client, "report-all").findtext(mtu) == "1500"
    client.edit_config(target="running", config=cfg(f'<system xmlns="{SRV}"><mtu>1600</mtu></system>'))
    assert running(client, "trim").findtext(mtu) == "1600"


def test_get_config_subtree_filter(client):
    client.edit_config(target="running", config=cfg(peer("a", "x1") + peer("b", "x2")))
    reply = client.get_config("running", filter=("subtree", f'<peer xmlns="{SRV}"><name>b</name></peer>'))
    names = [n.text for n in reply.data_ele.iter(f"{{{SRV}}}name")]
    assert names == ["b"]


def test_the_models_error_app_tag_is_the_one_sent(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(peer("a", "x", extra="<priority>12</priority>")))
    assert (err.value.tag, err.value.app_tag) == ("operation-failed", "priority-out-of-range")  # RFC 6241 §4.3


def test_an_error_message_says_its_language(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=cfg(f'<system xmlns="{SRV}"><mtu>99</mtu></system>'))
    message = err.value.xml.find(f"{{{NC}}}error-message")
    assert message.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"  # RFC 6241 §4.3


def test_set_on_running_is_validated_all_the_same(client):
    with pytest.raises(RPCError) as err:  # running stays valid: the runtime runs it
        client.edit_config(target="running", test_option="set", config=cfg(peer("a")))
    assert err.value.tag == "missing-element"
    assert peers(client) == {}


def test_startup_can_be_locked_unlocked_read_and_validated(client):
    assert client.lock("startup").ok  # RFC 6241 §8.7.5.1
    assert client.get_config("startup").ok
    assert client.validate("startup").ok
    assert client.unlock("startup").ok
