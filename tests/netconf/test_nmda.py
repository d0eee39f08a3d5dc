"""RFC 8526 <get-data> / <edit-data> on the product model, through ncclient over SSH."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

from mgmt.netconf.nmda import DS_NS, NMDA_NS
from mgmt.netconf.server import NetconfServer, ServerHooks
from nf.config import load_config
from tests.netconf.conftest import ServerFactory, connect

EXAMPLES = Path(__file__).resolve().parents[2] / "yang" / "examples"
DMM_NS = "urn:dmm-nf:yang:dmm-nf"
NS = {"d": DMM_NS, "n": NMDA_NS}
STATE = f"""<dmm-nf xmlns="{DMM_NS}"><binding-cache>
  <binding><mn-identifier>mn1@example.net</mn-identifier><link-layer-id>02:00:00:00:00:01</link-layer-id>
    <home-network-prefix>2001:db8:1000:1::/64</home-network-prefix><sequence-number>7</sequence-number></binding>
  <binding><mn-identifier>mn2@example.net</mn-identifier><link-layer-id>02:00:00:00:00:02</link-layer-id>
    <home-network-prefix>2001:db8:1000:2::/64</home-network-prefix><sequence-number>9</sequence-number></binding>
</binding-cache></dmm-nf>"""


@pytest.fixture
def nmda_server(servers: ServerFactory) -> NetconfServer:
    tree = load_config(EXAMPLES / "lma.xml")
    plans = []

    def state(flt):
        plans.append(flt.plan)
        return STATE

    server = servers.start(hooks=ServerHooks(state_provider=state), ctx=tree.context, initial_config=tree)
    server.plans = plans  # what the state provider was asked, for the tests
    return server


@pytest.fixture
def nc(nmda_server: NetconfServer) -> Iterator[manager.Manager]:
    with connect(nmda_server) as mgr:
        yield mgr


def get_data(nc: manager.Manager, datastore: str, body: str = "") -> etree._Element:
    xml = (f'<get-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:{datastore}</datastore>'
           f"{body}</get-data>")
    reply = nc.dispatch(etree.fromstring(xml))
    data = etree.fromstring(reply.xml.encode()).find(f".//{{{NMDA_NS}}}data")
    assert data is not None, reply.xml
    return data


def rpc_error(nc: manager.Manager, xml: str) -> RPCError:
    with pytest.raises(RPCError) as err:
        nc.dispatch(etree.fromstring(xml))
    return err.value


def test_operational_holds_running_config_and_state(nc):
    data = get_data(nc, "operational")
    assert data.findtext("d:dmm-nf/d:node/d:name", namespaces=NS) == "lma1"
    assert len(data.findall("d:dmm-nf/d:binding-cache/d:binding", NS)) == 2


def test_running_holds_config_only_and_does_not_ask_for_state(nc, nmda_server):
    data = get_data(nc, "running")
    assert data.findtext("d:dmm-nf/d:node/d:name", namespaces=NS) == "lma1"
    assert data.find("d:dmm-nf/d:binding-cache", NS) is None
    assert nmda_server.plans == []


def test_subtree_filter_on_one_mobile_node_reaches_the_provider_as_a_key(nc, nmda_server):
    data = get_data(nc, "operational", f"""<subtree-filter><dmm-nf xmlns="{DMM_NS}"><binding-cache><binding>
        <mn-identifier>mn2@example.net</mn-identifier></binding></binding-cache></dmm-nf></subtree-filter>""")
    bindings = data.findall("d:dmm-nf/d:binding-cache/d:binding", NS)
    assert [b.findtext("d:mn-identifier", namespaces=NS) for b in bindings] == ["mn2@example.net"]
    assert bindings[0].findtext("d:sequence-number", namespaces=NS) == "9"
    assert data.find("d:dmm-nf/d:node", NS) is None
    path = "/dmm-nf:dmm-nf/binding-cache/binding"
    assert nmda_server.plans[-1].keys(path) == [{"mn-identifier": "mn2@example.net"}]


def test_xpath_filter(nc):
    data = get_data(nc, "operational", f"""<xpath-filter xmlns:d="{DMM_NS}"
        >/d:dmm-nf/d:binding-cache/d:binding[d:mn-identifier='mn1@example.net']/d:sequence-number</xpath-filter>""")
    binding = data.find("d:dmm-nf/d:binding-cache/d:binding", NS)
    assert binding.findtext("d:sequence-number", namespaces=NS) == "7"
    assert binding.find("d:home-network-prefix", NS) is None
    assert binding.findtext("d:mn-identifier", namespaces=NS) == "mn1@example.net"  # keys locate it


def test_config_filter_false_gives_state_with_its_ancestors_only(nc):
    data = get_data(nc, "operational", "<config-filter>false</config-filter>")
    top = data.find("d:dmm-nf", NS)
    assert top.find("d:node/d:name", NS) is None
    assert top.find("d:policy-store", NS) is None
    assert len(top.findall("d:binding-cache/d:binding", NS)) == 2


def test_config_filter_true_gives_config_and_skips_the_state_provider(nc, nmda_server):
    data = get_data(nc, "operational", "<config-filter>true</config-filter>")
    assert data.findtext("d:dmm-nf/d:node/d:name", namespaces=NS) == "lma1"
    assert data.find("d:dmm-nf/d:binding-cache", NS) is None
    assert nmda_server.plans == []


def test_config_filter_false_on_running_is_empty(nc):
    assert len(get_data(nc, "running", "<config-filter>false</config-filter>")) == 0


def test_max_depth_counts_levels_below_each_selected_node(nc):
    data = get_data(nc, "operational", f"""<subtree-filter><dmm-nf xmlns="{DMM_NS}"><binding-cache/>
        </dmm-nf></subtree-filter><max-depth>2</max-depth>""")
    bindings = data.findall("d:dmm-nf/d:binding-cache/d:binding", NS)
    assert len(bindings) == 2
    for binding in bindings:  # depth 2: the entries, with only their keys
        assert {etree.QName(c).localname for c in binding} == {"mn-identifier", "link-layer-id"}


def test_max_depth_one_without_filter_gives_the_top_nodes_only(nc):
    data = get_data(nc, "running", "<max-depth>1</max-depth>")
    top = data.find("d:dmm-nf", NS)
    assert top is not None and len(top) == 0


def test_with_defaults_report_all_on_running_adds_defaults(nc):
    plain = get_data(nc, "running")
    full = get_data(nc, "running", "<with-defaults>report-all</with-defaults>")
    assert len(full.findall(".//*")) > len(plain.findall(".//*"))


def test_with_defaults_on_operational_is_invalid_value(nc):
    err = rpc_error(nc, f'<get-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:operational</datastore>'
                        "<with-defaults>report-all</with-defaults></get-data>")
    assert err.tag == "invalid-value"


def test_with_origin_is_not_supported_with_a_clear_message(nc):
    err = rpc_error(nc, f'<get-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:operational</datastore>'
                        "<with-origin/></get-data>")
    assert err.tag == "operation-not-supported"
    assert "origin" in err.message


def test_with_origin_on_running_is_invalid_value(nc):
    err = rpc_error(nc, f'<get-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:running</datastore>'
                        "<with-origin/></get-data>")
    assert err.tag == "invalid-value"


@pytest.mark.parametrize("datastore", ["ds:intended", "ds:nope", "operational", "x:running"])
def test_unknown_datastore_is_invalid_value(nc, datastore):
    err = rpc_error(nc, f'<get-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}" xmlns:x="urn:x">'
                        f"<datastore>{datastore}</datastore></get-data>")
    assert err.tag == "invalid-value"


@pytest.mark.parametrize("body, tag", [
    ("", "missing-element"),
    ("<datastore>ds:running</datastore><max-depth>0</max-depth>", "invalid-value"),
    ("<datastore>ds:running</datastore><config-filter>maybe</config-filter>", "invalid-value"),
    ("<datastore>ds:running</datastore><bogus/>", "unknown-element"),
    ("<datastore>ds:running</datastore><xpath-filter>/a:b[</xpath-filter>", "invalid-value"),
])
def test_bad_get_data_requests_get_typed_errors(nc, body, tag):
    err = rpc_error(nc, f'<get-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}">{body}</get-data>')
    assert err.tag == tag


def test_edit_data_on_candidate_then_commit(nc, nmda_server):
    nc.dispatch(etree.fromstring(
        f'<edit-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:candidate</datastore>'
        f'<config><dmm-nf xmlns="{DMM_NS}"><event-history><max-entries>77</max-entries></event-history>'
        "</dmm-nf></config></edit-data>"))
    assert get_data(nc, "candidate").findtext("d:dmm-nf/d:event-history/d:max-entries", namespaces=NS) == "77"
    assert get_data(nc, "running").findtext("d:dmm-nf/d:event-history/d:max-entries", namespaces=NS) != "77"
    nc.commit()
    assert get_data(nc, "running").findtext("d:dmm-nf/d:event-history/d:max-entries", namespaces=NS) == "77"


def test_edit_data_on_operational_is_invalid_value(nc):
    err = rpc_error(nc, f'<edit-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:operational</datastore>'
                        f'<config><dmm-nf xmlns="{DMM_NS}"/></config></edit-data>')
    assert err.tag == "invalid-value"


def test_invalid_edit_data_leaves_running_unchanged(nc):
    before = etree.tostring(get_data(nc, "running"))
    err = rpc_error(nc, f'<edit-data xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}"><datastore>ds:running</datastore>'
                        f'<config><dmm-nf xmlns="{DMM_NS}"><event-history><max-entries>many</max-entries>'
                        "</event-history></dmm-nf></config></edit-data>")
    assert err.tag == "invalid-value"
    assert etree.tostring(get_data(nc, "running")) == before


def test_yang_library_lists_nmda_and_the_four_datastores(nc):
    data = get_data(nc, "operational", '<subtree-filter><yang-library '
                    'xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/></subtree-filter>')
    yl = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
    names = {n.text.split(":")[-1] for n in data.iter(f"{{{yl}}}name") if n.getparent().tag == f"{{{yl}}}datastore"}
    assert names == {"running", "candidate", "startup", "operational"}
    modules = {m.findtext(f"{{{yl}}}name") for m in data.iter(f"{{{yl}}}module")}
    assert "ietf-netconf-nmda" in modules


def nmda_target(operation: str, datastore: str, wrapper: str = "target") -> etree._Element:
    return etree.fromstring(f'<{operation} xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><{wrapper}>'
                            f'<datastore xmlns="{NMDA_NS}" xmlns:ds="{DS_NS}">ds:{datastore}</datastore>'
                            f"</{wrapper}></{operation}>")


def test_lock_and_unlock_take_an_nmda_datastore(nmda_server, nc):
    nc.dispatch(nmda_target("lock", "candidate"))  # RFC 8526 §3.2
    with connect(nmda_server) as other:
        with pytest.raises(RPCError) as denied:
            other.lock("candidate")
        assert denied.value.tag == "lock-denied"
        nc.dispatch(nmda_target("unlock", "candidate"))
        assert other.lock("candidate").ok


@pytest.mark.parametrize("operation, wrapper", [("lock", "target"), ("unlock", "target"), ("validate", "source")])
def test_lock_unlock_and_validate_of_operational_are_invalid_value(nc, operation, wrapper):
    err = rpc_error(nc, etree.tostring(nmda_target(operation, "operational", wrapper)).decode())
    assert err.tag == "invalid-value"


def test_validate_takes_an_nmda_datastore(nc):
    assert nc.dispatch(nmda_target("validate", "candidate", "source")).ok


YL = "urn:ietf:params:xml:ns:yang:ietf-yang-library"


def test_the_hello_gives_the_yang_library_revision_and_the_content_id_it_serves(nc):
    [cap] = [c for c in nc.server_capabilities if c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1?")]
    params = dict(p.split("=", 1) for p in cap.split("?", 1)[1].split("&"))
    data = get_data(nc, "operational", f'<subtree-filter><yang-library xmlns="{YL}"><content-id/>'
                                       "</yang-library></subtree-filter>")
    assert params["revision"] == "2019-01-04"  # RFC 8526 §2
    assert params["content-id"] == data.findtext(f"{{{YL}}}yang-library/{{{YL}}}content-id")  # RFC 8525 §3


def test_every_datastore_names_the_one_complete_schema_and_modules_state_is_served(nc):
    data = get_data(nc, "operational", f'<subtree-filter><yang-library xmlns="{YL}"/>'
                                       f'<modules-state xmlns="{YL}"/></subtree-filter>')
    schemas = {d.findtext(f"{{{YL}}}schema") for d in data.iter(f"{{{YL}}}datastore")}
    assert schemas == {"complete"}  # RFC 8525 §4: the same schema for each
    legacy = {m.findtext(f"{{{YL}}}name") for m in data.iter(f"{{{YL}}}module")
              if m.getparent().tag == f"{{{YL}}}modules-state"}
    assert "dmm-nf" in legacy  # RFC 8525 §1: /modules-state for older clients
