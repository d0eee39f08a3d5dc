"""rpc-error content (RFC 6241 §4.3): error-path is an XPath whose prefixes the rpc-error
declares."""
from __future__ import annotations

from lxml import etree

from mgmt.netconf.errors import NC_NS, RpcError, qualified_path

NAMESPACES = {"example-server": "urn:example:server", "ietf-netconf-acm": "urn:acm", "aug": "urn:aug"}


def test_every_step_and_key_gets_its_module_prefix():
    path, declared = qualified_path("/example-server:peer[name='a']/timers/interval", NAMESPACES.get)
    assert path == "/example-server:peer[example-server:name='a']/example-server:timers/example-server:interval"
    assert declared == {"example-server": "urn:example:server"}


def test_a_module_change_midway_is_followed():
    path, declared = qualified_path("/example-server:peer[name='a']/aug:extra", NAMESPACES.get)
    assert path == "/example-server:peer[example-server:name='a']/aug:extra"
    assert declared == {"example-server": "urn:example:server", "aug": "urn:aug"}


def test_quoted_key_values_and_leaf_list_entries_are_left_alone():
    path, _ = qualified_path("/example-server:peer[name='a/b[c]']/dns[.='x=y']", NAMESPACES.get)
    assert path == "/example-server:peer[example-server:name='a/b[c]']/example-server:dns[.='x=y']"


def test_a_path_in_an_unknown_module_is_kept_as_it_is():
    assert qualified_path("/nowhere:x/y", NAMESPACES.get) == ("/nowhere:x/y", {})


def test_the_rpc_error_declares_the_prefixes_and_the_path_selects_the_node():
    error = RpcError("invalid-value", "bad", path="/example-server:system/mtu").to_element(NAMESPACES.get)
    config = etree.fromstring('<config><system xmlns="urn:example:server"><mtu>99</mtu></system></config>')
    path = error.findtext(f"{{{NC_NS}}}error-path")
    namespaces = {p: ns for p, ns in error.nsmap.items() if p}
    assert [n.text for n in config.xpath("." + path, namespaces=namespaces)] == ["99"]
