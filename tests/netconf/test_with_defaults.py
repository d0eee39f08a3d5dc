"""RFC 6243 with-defaults through ncclient: retrieval modes (§3), defaults filtered before
the filter (§4.5.1), the default attribute on edit-config and copy-config (§4.5.1, §4.5.2)
and the explicit basic mode's create/delete rules (§2.3.3)."""
from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from mgmt.netconf.server import ServerHooks
from tests.netconf.conftest import connect
from tests.netconf.test_server_edit import NC, SRV, cfg, peer, running
from tests.netconf.test_server_integration import full_context

WD = "urn:ietf:params:xml:ns:netconf:default:1.0"
WD_MODULE = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
SYSTEM = f"{{{SRV}}}system"
MTU = f"{SYSTEM}/{{{SRV}}}mtu"


def system(body: str) -> str:
    return cfg(f'<system xmlns="{SRV}" xmlns:wd="{WD}">{body}</system>')


def get_config(mgr, subtree: str, mode: str) -> etree._Element:
    return mgr.get_config("running", filter=("subtree", subtree), with_defaults=mode).data_ele


@pytest.fixture
def client(servers):
    """A server with ietf-netconf-with-defaults (report-all-tagged and the default attribute)."""
    with connect(servers.start(ctx=full_context())) as mgr:
        yield mgr


@pytest.fixture
def state_server(servers):
    """A server whose state data holds counters/restarts; counters/drops (default 0) is not
    set by the provider."""
    def state(request):
        return f'<counters xmlns="{SRV}"><restarts>3</restarts></counters>'
    return servers.start(ctx=full_context(), hooks=ServerHooks(state_provider=state))


# ---------------------------------------------------------------- §4.5.1 defaults, then filter
def test_report_all_with_a_narrow_filter_returns_only_what_it_selects(client):
    client.edit_config(target="running", config=system("<hostname>h</hostname>"))
    client.edit_config(target="running", config=cfg(peer("a", "x1")))
    data = get_config(client, f'<system xmlns="{SRV}"><hostname/></system>', "report-all")
    assert [etree.QName(e).localname for e in data.iter() if e is not data] == ["system", "hostname"]


def test_report_all_fills_no_defaults_into_parts_the_filter_left_out(client):
    client.edit_config(target="running", config=cfg(peer("a", "x1")))
    data = get_config(client, f'<peer xmlns="{SRV}"><name/></peer>', "report-all")
    entry = data.find(f"{{{SRV}}}peer")
    assert [etree.QName(e).localname for e in entry] == ["name"]  # not timers/interval


def test_report_all_lets_the_filter_select_a_default_nobody_set(client):
    data = get_config(client, f'<system xmlns="{SRV}"><mtu/></system>', "report-all")
    assert data.findtext(MTU) == "1500"


def test_report_all_get_config_reports_no_state_defaults(state_server):
    with connect(state_server) as mgr:
        data = mgr.get_config("running", with_defaults="report-all").data_ele
    assert data.find(f"{{{SRV}}}counters") is None
    assert data.findtext(MTU) == "1500"


def test_report_all_get_reports_the_state_defaults(state_server):
    with connect(state_server) as mgr:
        data = mgr.get(filter=("subtree", f'<counters xmlns="{SRV}"/>'), with_defaults="report-all").data_ele
    assert (data.findtext(f"{{{SRV}}}counters/{{{SRV}}}restarts"),
            data.findtext(f"{{{SRV}}}counters/{{{SRV}}}drops")) == ("3", "0")


# ---------------------------------------------------------------- §3 retrieval modes
def test_report_all_tagged_tags_what_the_client_did_not_set_only(client):
    client.edit_config(target="running", config=cfg(peer("a", "x1", extra="<timers><interval>60</interval></timers>")
                                                    + peer("b", "x2")))
    data = client.get_config("running", with_defaults="report-all-tagged").data_ele
    tags = {p.findtext(f"{{{SRV}}}name"): p.find(f"{{{SRV}}}timers/{{{SRV}}}interval").get(f"{{{WD}}}default")
            for p in data.iter(f"{{{SRV}}}peer")}
    assert tags == {"a": None, "b": "true"}  # a set 60, the default, itself (§3.4, Appendix A.3.2)
    assert data.find(MTU).get(f"{{{WD}}}default") == "true"


def test_trim_leaves_out_a_value_set_to_its_default(client):
    client.edit_config(target="running", config=system("<mtu>1500</mtu>"))
    assert running(client, "trim").find(MTU) is None
    assert running(client, "explicit").findtext(MTU) == "1500"
    assert running(client).findtext(MTU) == "1500"  # the basic mode: explicit


def test_an_unsupported_mode_is_invalid_value(client):
    rpc = to_ele(f'<get-config xmlns="{NC}"><source><running/></source>'
                 f'<with-defaults xmlns="{WD_MODULE}">everything</with-defaults></get-config>')
    with pytest.raises(RPCError) as err:
        client.dispatch(rpc)
    assert err.value.tag == "invalid-value"


# ---------------------------------------------------------------- §4.5.2 the default attribute
def test_the_default_attribute_returns_a_leaf_to_its_default(client):
    client.edit_config(target="running", config=system("<mtu>9000</mtu>"))
    client.edit_config(target="running", config=system('<mtu wd:default="true">1500</mtu>'))
    assert running(client).find(MTU) is None
    assert running(client, "report-all-tagged").find(MTU).get(f"{{{WD}}}default") == "true"


@pytest.mark.parametrize("value", ["1400", "many"])
def test_the_default_attribute_with_another_value_than_the_default_is_invalid_value(client, value):
    client.edit_config(target="running", config=system("<mtu>9000</mtu>"))
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=system(f'<mtu wd:default="1">{value}</mtu>'))
    assert err.value.tag == "invalid-value"
    assert running(client).findtext(MTU) == "9000"


def test_the_default_attribute_under_delete_is_invalid_value(client):
    client.edit_config(target="running", config=system("<mtu>9000</mtu>"))
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=system('<mtu nc:operation="delete" wd:default="true">1500</mtu>'))
    assert err.value.tag == "invalid-value"
    assert running(client).findtext(MTU) == "9000"


def test_the_default_attribute_under_create_of_a_set_leaf_is_data_exists(client):
    client.edit_config(target="running", config=system("<mtu>9000</mtu>"))
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=system('<mtu nc:operation="create" wd:default="true">1500</mtu>'))
    assert err.value.tag == "data-exists"


def test_copy_config_understands_the_default_attribute_and_ignores_with_defaults(client):
    client.edit_config(target="running", config=system("<hostname>h</hostname><mtu>9000</mtu>"))
    rpc = to_ele(f'<copy-config xmlns="{NC}"><target><running/></target><source>'
                 + system('<hostname>h2</hostname><mtu wd:default="true">1500</mtu>')
                 + f'</source><with-defaults xmlns="{WD_MODULE}">trim</with-defaults></copy-config>')
    client.dispatch(rpc)  # §4.5.1: with-defaults has no effect on a datastore target
    data = running(client)
    assert (data.findtext(f"{SYSTEM}/{{{SRV}}}hostname"), data.find(MTU)) == ("h2", None)


# ---------------------------------------------------------------- §2.3.3 explicit basic mode
def test_create_of_a_leaf_holding_its_default_only_implicitly_succeeds(client):
    client.edit_config(target="running", config=system('<mtu nc:operation="create">1500</mtu>'))
    assert running(client).findtext(MTU) == "1500"


def test_create_of_a_leaf_the_client_set_to_its_default_is_data_exists(client):
    client.edit_config(target="running", config=system("<mtu>1500</mtu>"))
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=system('<mtu nc:operation="create">1500</mtu>'))
    assert err.value.tag == "data-exists"


def test_delete_of_a_leaf_holding_its_default_only_implicitly_is_data_missing(client):
    with pytest.raises(RPCError) as err:
        client.edit_config(target="running", config=system('<mtu nc:operation="delete"/>'))
    assert err.value.tag == "data-missing"


def test_delete_of_a_leaf_the_client_set_to_its_default_succeeds(client):
    client.edit_config(target="running", config=system("<mtu>1500</mtu>"))
    client.edit_config(target="running", config=system('<mtu nc:operation="delete"/>'))
    assert running(client).find(MTU) is None


@pytest.fixture
def zero_drops(servers):
    """State data whose counters/drops the provider sets to its default value, 0."""
    def state(request):
        return f'<counters xmlns="{SRV}"><restarts>3</restarts><drops>0</drops></counters>'
    return servers.start(ctx=full_context(), hooks=ServerHooks(state_provider=state))


def test_state_holding_its_default_value_is_reported_in_the_basic_mode(zero_drops):
    with connect(zero_drops) as mgr:
        data = mgr.get(filter=("subtree", f'<counters xmlns="{SRV}"/>')).data_ele
    assert data.findtext(f"{{{SRV}}}counters/{{{SRV}}}drops") == "0"  # RFC 6243 §2.3.1, §3.3


def test_trim_leaves_out_state_holding_its_default_value(zero_drops):
    with connect(zero_drops) as mgr:
        data = mgr.get(filter=("subtree", f'<counters xmlns="{SRV}"/>'), with_defaults="trim").data_ele
    assert data.find(f"{{{SRV}}}counters/{{{SRV}}}drops") is None  # RFC 6243 §3.2
    assert data.findtext(f"{{{SRV}}}counters/{{{SRV}}}restarts") == "3"
