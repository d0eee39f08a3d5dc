"""Filter errors over the wire (RFC 6241 §8.9.1, §8.9.5.1, Appendix A), through ncclient."""
from __future__ import annotations

import pytest
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from tests.netconf.test_server_edit import NC, SRV, cfg, hostname

NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"


def error_info(err: RPCError) -> dict[str, str]:
    return {child.tag.split("}")[1]: child.text for child in err.xml.find(f"{{{NC}}}error-info")}


@pytest.mark.parametrize("expr", ["count(/srv:system)", "/srv:system/srv:hostname = 'h'", "'text'"])
def test_an_xpath_filter_that_returns_no_node_set_is_invalid_value(client, expr):
    with pytest.raises(RPCError) as err:
        client.get(filter=("xpath", ({"srv": SRV}, expr)))
    assert (err.value.tag, err.value.type) == ("invalid-value", "application")
    assert "node set" in err.value.message
    assert hostname(client) is None  # the session goes on


def test_an_xpath_filter_that_does_not_parse_is_invalid_value(client):
    with pytest.raises(RPCError) as err:
        client.get_config("running", filter=("xpath", ({"srv": SRV}, "/srv:system[")))
    assert err.value.tag == "invalid-value"


def test_an_xpath_filter_holding_elements_is_unknown_element(client):
    rpc = to_ele(f'<get xmlns="{NC}"><filter type="xpath" select="/s:system" xmlns:s="{SRV}">'
                 f'<system xmlns="{SRV}"/></filter></get>')
    with pytest.raises(RPCError) as err:
        client.dispatch(rpc)  # RFC 6241 §8.9.5.1: the <filter> element itself must be empty
    assert err.value.tag == "unknown-element"
    assert error_info(err.value) == {"bad-element": "system"}


def test_an_xpath_filter_without_select_is_missing_attribute_naming_it(client):
    with pytest.raises(RPCError) as err:
        client.dispatch(to_ele(f'<get xmlns="{NC}"><filter type="xpath"/></get>'))
    assert err.value.tag == "missing-attribute"
    assert error_info(err.value) == {"bad-attribute": "select", "bad-element": "filter"}


def test_a_subscription_with_an_xpath_filter_that_returns_no_node_set_is_refused(client):
    rpc = to_ele(f'<create-subscription xmlns="{NOTIF}"><filter type="xpath" select="count(/*)"/>'
                 "</create-subscription>")
    with pytest.raises(RPCError) as err:
        client.dispatch(rpc)
    assert err.value.tag == "invalid-value"
    client.edit_config(target="running", config=cfg(f'<system xmlns="{SRV}"><hostname>h</hostname></system>'))
    assert hostname(client) == "h"


def test_an_unknown_filter_type_is_bad_attribute_naming_it(client):
    with pytest.raises(RPCError) as err:
        client.dispatch(to_ele(f'<get xmlns="{NC}"><filter type="regex"/></get>'))
    assert err.value.tag == "bad-attribute"
    assert error_info(err.value) == {"bad-attribute": "type", "bad-element": "filter"}
