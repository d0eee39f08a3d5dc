"""A state provider's own printing of a long list, spliced into reads over real SSH: used
exactly when it cannot differ from the libyang path, and then the replies are the same."""
from __future__ import annotations

import json

import pytest
from lxml import etree

from mgmt.netconf.datastore import parse_config
from mgmt.netconf.server import ServerHooks
from mgmt.netconf.splice import Splice, State, new_token, pieces_of, splice
from tests.netconf.conftest import RawClient, connect
from tests.netconf.yang.testctx import make_context

T = "http://example.com/schema/1.2/config"
NACM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
B = "/example-top:bindings/binding"
ENTRIES = [{"mn-identifier": "mn1@example.net", "lifetime": 3600, "state": "a&b"},
           {"mn-identifier": "mn2@example.net", "lifetime": 60}]


class Provider:
    """Prints the binding list itself whenever the request allows it; records the answer."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.asked: list[bool] = []
        whole = self._parse(ENTRIES)
        printed = whole.print_mem("xml", pretty=False)
        whole.free()
        self.text = printed[printed.index("<binding>"):printed.rindex("</bindings>")]

    def _parse(self, entries):
        return self.ctx.parse_data_mem(json.dumps({"example-top:bindings": {"binding": entries}}), "json",
                                       parse_only=True, strict=True)

    def __call__(self, request):
        printable = request.printable(B)
        self.asked.append(printable)
        if not printable:
            return self._parse(ENTRIES)
        token = new_token()
        return State(self._parse([{"mn-identifier": token}]), [Splice(token, "binding", lambda: self.text)])


def nacm_config(*rules: str) -> str:
    return (f'<nacm xmlns="{NACM_NS}"><read-default>permit</read-default><write-default>permit</write-default>'
            f'<groups><group><name>ops</name><user-name>oper</user-name></group></groups>'
            f'<rule-list><name>ops</name><group>ops</group>{"".join(rules)}</rule-list></nacm>')


def rule(name: str, path: str, action: str) -> str:
    return (f'<rule><name>{name}</name><module-name>*</module-name><path xmlns:t="{T}">{path}</path>'
            f'<access-operations>read</access-operations><action>{action}</action></rule>')


@pytest.fixture
def start(servers):
    def start(*rules: str):
        ctx = make_context()
        provider = Provider(ctx)
        server = servers.start(ctx=ctx, hooks=ServerHooks(state_provider=provider),
                               initial_config=parse_config(ctx, nacm_config(*rules)))
        return server, provider
    return start


def bindings(data: etree._Element) -> dict[str, dict[str, str]]:
    return {b.findtext(f"{{{T}}}mn-identifier"): {etree.QName(leaf).localname: leaf.text for leaf in b}
            for b in data.iter(f"{{{T}}}binding")}


WHOLE = {"mn1@example.net": {"mn-identifier": "mn1@example.net", "lifetime": "3600", "state": "a&b"},
         "mn2@example.net": {"mn-identifier": "mn2@example.net", "lifetime": "60"}}


def test_unfiltered_get_is_spliced_and_complete(start):
    server, provider = start()
    with connect(server) as mgr:
        data = mgr.get().data_ele
    assert provider.asked == [True]
    assert bindings(data) == WHOLE
    assert data.find(f"{{{NCM}}}netconf-state") is not None  # the server's own state is still there


def test_subtree_selection_of_the_list_is_spliced(start):
    server, provider = start()
    with connect(server) as mgr:
        data = mgr.get(filter=("subtree", f'<bindings xmlns="{T}"/>')).data_ele
    assert provider.asked == [True] and bindings(data) == WHOLE
    assert data.find(f"{{{NCM}}}netconf-state") is None


@pytest.mark.parametrize("flt, expected", [
    (("subtree", f'<bindings xmlns="{T}"><binding><lifetime>60</lifetime></binding></bindings>'),
     {"mn2@example.net": WHOLE["mn2@example.net"]}),
    (("subtree", f'<bindings xmlns="{T}"><binding><mn-identifier/><lifetime/></binding></bindings>'),
     {mn: {"mn-identifier": mn, "lifetime": v["lifetime"]} for mn, v in WHOLE.items()}),
    (("xpath", "/t:bindings/t:binding[t:lifetime > 100]"), {"mn1@example.net": WHOLE["mn1@example.net"]}),
])
def test_a_filter_that_picks_among_entries_goes_through_libyang(start, flt, expected):
    server, provider = start()
    with connect(server) as mgr:
        if flt[0] == "xpath":
            reply = mgr.dispatch(etree.fromstring(
                f'<get xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:t="{T}">'
                f'<filter type="xpath" select="{flt[1]}"/></get>'))
            data = etree.fromstring(reply.xml.encode()).find("{urn:ietf:params:xml:ns:netconf:base:1.0}data")
        else:
            data = mgr.get(filter=flt).data_ele
    assert provider.asked == [False]
    assert bindings(data) == expected


def test_nacm_rule_below_the_list_goes_through_libyang(start):
    server, provider = start(rule("no-lifetime", "/t:bindings/t:binding/t:lifetime", "deny"))
    with connect(server, user="oper") as mgr:
        data = mgr.get().data_ele
    assert provider.asked == [False]
    assert bindings(data) == {mn: {k: v for k, v in leaves.items() if k != "lifetime"}
                              for mn, leaves in WHOLE.items()}


def test_a_denied_ancestor_hides_the_spliced_list(start):
    server, provider = start(rule("list", "/t:bindings/t:binding", "permit"), rule("top", "/t:bindings", "deny"))
    with connect(server, user="oper") as mgr:
        data = mgr.get().data_ele
    assert provider.asked == [True]  # the list itself is permitted alike...
    assert bindings(data) == {}      # ...but its container is not readable


def _get_data(mgr, extra: str) -> etree._Element:
    reply = mgr.dispatch(etree.fromstring(
        f'<get-data xmlns="{NMDA}" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores">'
        f"<datastore>ds:operational</datastore>{extra}</get-data>"))
    return etree.fromstring(reply.xml.encode()).find(f"{{{NMDA}}}data")


def test_get_data_splices_unless_max_depth_trims(start):
    server, provider = start()
    with connect(server) as mgr:
        whole = _get_data(mgr, "<config-filter>false</config-filter>")
        trimmed = _get_data(mgr, "<max-depth>2</max-depth>")
    assert provider.asked == [True, False]
    assert bindings(whole) == WHOLE
    assert bindings(trimmed) == {mn: {"mn-identifier": mn} for mn in WHOLE}  # keys stay, leaves go


def test_splice_replaces_only_the_placeholder_element():
    token = new_token()
    xml = (f'<x><binding-list/><binding xmlns="urn:a"><k>{token}</k></binding>'
           f"<binding><k>other</k></binding></x>")
    pieces = splice(xml, [Splice(token, "binding", lambda: iter(["<binding>NEW</binding>", "<binding>2</binding>"]))])
    assert "".join(pieces_of(pieces)) == \
        "<x><binding-list/><binding>NEW</binding><binding>2</binding><binding><k>other</k></binding></x>"
    assert "".join(pieces_of(splice("<x/>", [Splice(token, "binding", lambda: "unused")]))) == "<x/>"  # pruned


class ManyBindings(Provider):
    """A list of 20,000 entries (about 2 MB of XML): the reply leaves in several chunks."""

    COUNT = 20_000

    def __call__(self, request):
        assert request.printable(B)
        token = new_token()
        entries = (f"<binding><mn-identifier>mn{i}@example.net</mn-identifier><lifetime>{i}</lifetime>"
                   f"<state>{'x' * 40}</state></binding>" for i in range(self.COUNT))
        return State(self._parse([{"mn-identifier": token}]), [Splice(token, "binding", lambda: entries)])


@pytest.mark.parametrize("base11", [True, False])
def test_a_large_spliced_reply_arrives_whole_in_either_framing(servers, base11):
    ctx = make_context()
    server = servers.start(ctx=ctx, hooks=ServerHooks(state_provider=ManyBindings(ctx)))
    raw = RawClient(server, base11=base11)
    try:
        reply = etree.fromstring(raw.rpc(f'<get><filter type="subtree"><bindings xmlns="{T}"/></filter></get>', "7")
                                 .encode(), parser=etree.XMLParser(huge_tree=True))
        lifetimes = [int(b.findtext(f"{{{T}}}lifetime")) for b in reply.iter(f"{{{T}}}binding")]
        assert lifetimes == list(range(ManyBindings.COUNT))
        assert reply.get("message-id") == "7"
        # the session is still in step: the next reply is read correctly
        assert 'message-id="8"' in raw.rpc("<get-config><source><running/></source></get-config>", "8")
    finally:
        raw.close()
