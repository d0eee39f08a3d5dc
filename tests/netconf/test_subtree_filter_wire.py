"""RFC 6241 §6 subtree filtering as a client sees it: the §6.4 examples through ncclient on
<get-config> and <get>, over SSH, on the example-top model (users and interfaces as
configuration, bindings as state)."""
from __future__ import annotations

import pytest
from lxml import etree

from mgmt.netconf.datastore import parse_config
from mgmt.netconf.server import ServerHooks
from tests.netconf.conftest import connect
from tests.netconf.test_filters import DATA, T
from tests.netconf.test_server_integration import full_context

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
CONFIG, STATE = DATA.split("<bindings")[0], "<bindings" + DATA.split("<bindings")[1]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tests.netconf.conftest import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp("subtree"))
    ctx = full_context()
    server = factory.start(ctx=ctx, initial_config=parse_config(ctx, CONFIG),
                           hooks=ServerHooks(state_provider=lambda request: STATE))
    with connect(server) as mgr:
        yield mgr
    factory.stop_all()


def leaves(data: etree._Element) -> set[str]:
    """Every leaf below <data> as 'a/b[key]/c=value', an order-free view of a reply."""
    out = set()
    for leaf in data.iter():
        if len(leaf) or leaf is data or not isinstance(leaf.tag, str):
            continue
        steps = []
        for node in reversed(list(leaf.iterancestors())):
            if node is data or node in data.iterancestors():
                continue
            name = etree.QName(node).localname
            key = next((c.text for c in node if etree.QName(c).localname in ("name", "ifName", "mn-identifier")), None)
            steps.append(f"{name}[{key}]" if key and len(node) > 1 and node is not leaf else name)
        out.add("/".join([*steps, etree.QName(leaf).localname]) + f"={(leaf.text or '').strip()}")
    return out


def config(client, body: str) -> set[str]:
    return leaves(client.get_config("running", filter=("subtree", body)).data_ele)


def everything(client, body: str) -> set[str]:
    """<get> with a subtree filter of any number of top-level elements."""
    reply = client.dispatch(etree.fromstring(f'<get xmlns="{NC}"><filter type="subtree">{body}</filter></get>'))
    return leaves(etree.fromstring(reply.xml.encode()).find(f"{{{NC}}}data"))


USER = "top/users/user"


def test_no_filter_returns_the_whole_configuration(client):  # §6.4.1
    got = leaves(client.get_config("running").data_ele)
    assert f"{USER}[fred]/full-name=Fred Flintstone" in got and "top/interfaces/interface[eth1]/ifInOctets=10" in got


def test_an_empty_filter_selects_nothing(client):  # §6.4.2
    assert everything(client, "") == set()


def test_a_selection_node_selects_its_whole_subtree(client):  # §6.2.4, §6.4.3
    got = config(client, f'<top xmlns="{T}"><users/></top>')
    assert f"{USER}[barney]/company-info/id=3" in got
    assert not any(g.startswith("top/interfaces") for g in got)


def test_selection_nodes_suppress_their_siblings(client):  # §6.4.4
    assert config(client, f'<top xmlns="{T}"><users><user><name/></user></users></top>') == {
        f"{USER}/name={n}" for n in ("root", "fred", "barney")}


def test_a_content_match_node_alone_selects_all_its_siblings(client):  # §6.2.5, §6.4.5
    got = config(client, f'<top xmlns="{T}"><users><user><name>fred</name></user></users></top>')
    assert got == {f"{USER}[fred]/{leaf}" for leaf in (
        "name=fred", "type=admin", "full-name=Fred Flintstone", "company-info/dept=2", "company-info/id=2")}


def test_content_match_and_selection_nodes_select_those_nodes_only(client):  # §6.4.6
    got = config(client, f'<top xmlns="{T}"><users><user><name>fred</name><type/><full-name/></user></users></top>')
    assert got == {f"{USER}[fred]/name=fred", f"{USER}[fred]/type=admin", f"{USER}[fred]/full-name=Fred Flintstone"}


def test_a_false_content_match_drops_its_whole_sibling_set(client):  # §6.2.5, §6.4.7
    got = config(client, f"""<top xmlns="{T}"><users>
        <user><name>root</name><company-info/></user>
        <user><name>fred</name><company-info><id/></company-info></user>
        <user><name>barney</name><type>superuser</type><company-info/></user></users></top>""")
    assert got == {f"{USER}[root]/name=root", f"{USER}[root]/company-info/dept=1", f"{USER}[root]/company-info/id=1",
                   f"{USER}[fred]/name=fred", f"{USER}[fred]/company-info/id=2"}


def test_an_element_without_namespace_matches_every_namespace(client):  # §6.2.1
    got = everything(client, '<bindings xmlns=""><binding><mn-identifier>mn2@example.net</mn-identifier>'
                             "<lifetime/></binding></bindings>")
    assert got == {"bindings/binding[mn2@example.net]/mn-identifier=mn2@example.net",
                   "bindings/binding[mn2@example.net]/lifetime=60"}


def test_an_element_in_another_namespace_selects_nothing(client):  # §6.2.1
    assert config(client, '<top xmlns="urn:example:elsewhere"><users/></top>') == set()


def test_an_attribute_the_data_does_not_carry_selects_nothing(client):  # §6.2.2
    assert config(client, f'<top xmlns="{T}"><users><user ifName="eth0"/></users></top>') == set()


def test_whitespace_around_a_content_match_is_ignored_and_blank_is_a_selection(client):  # §6.2.4, §6.2.5
    assert config(client, f'<top xmlns="{T}"><users><user><name>  fred  </name><type> </type></user></users></top>') \
        == {f"{USER}[fred]/name=fred", f"{USER}[fred]/type=admin"}


def test_state_and_configuration_are_filtered_alike_by_get(client):  # §7.7
    got = everything(client, f'<top xmlns="{T}"><interfaces><interface><ifName>eth1</ifName></interface>'
                             f'</interfaces></top><bindings xmlns="{T}"><binding><mn-identifier>mn1@example.net'
                             "</mn-identifier></binding></bindings>")
    assert "top/interfaces/interface[eth1]/ifInOctets=10" in got
    assert "bindings/binding[mn1@example.net]/lifetime=3600" in got


def test_an_xpath_filter_returns_the_selected_node_with_its_ancestors_and_keys(client):  # §8.9.5.1
    got = leaves(client.get_config("running", filter=("xpath", ({"t": T}, "/t:top/t:users/t:user[t:name='fred']/t:type"))).data_ele)
    assert got == {f"{USER}[fred]/name=fred", f"{USER}[fred]/type=admin"}


def test_the_keys_of_a_selected_entry_come_with_it(client):  # §6.2.5: MAY, and dmm-nf does
    assert config(client, f'<top xmlns="{T}"><users><user><type/></user></users></top>') == {
        f"{USER}[{name}]/{leaf}" for name, kind in (("root", "superuser"), ("fred", "admin"), ("barney", "admin"))
        for leaf in (f"name={name}", f"type={kind}")}
