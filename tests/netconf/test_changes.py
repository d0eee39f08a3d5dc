"""A datastore change read as the explicit basic mode sees it (RFC 6243 §2.3): what NACM
checks (RFC 8341 §3.2.5) and what netconf-config-change reports (RFC 6470)."""
from __future__ import annotations

import pytest
from lxml import etree

from mgmt.netconf import datastore as ds
from mgmt.netconf.changes import changed_nodes, changed_subtrees
from mgmt.netconf.edit import apply_edit
from tests.netconf.conftest import server_context

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
SRV = "urn:example:server"
SYSTEM = "/example-server:system"


@pytest.fixture(scope="module")
def ctx():
    return server_context()


def edited(ctx, tree, body: str):
    config = etree.fromstring(f'<config xmlns="{NC}" xmlns:nc="{NC}">{body}</config>')
    new, errors = apply_edit(ctx, ds.duplicate(tree), config)
    assert errors == []
    return ds.validate(ctx, new)


def changes(ctx, old, new, every_node=True) -> list[tuple[str, str]]:
    diff = ds.diff(ctx, old, new)
    try:
        return [(c.path, c.operation) for c in (changed_nodes if every_node else changed_subtrees)(diff)]
    finally:
        ds.free(diff)


@pytest.fixture
def empty(ctx):
    return ds.validate(ctx, None)  # only defaults: system/mtu 1500, held by a default container


def test_a_value_set_over_an_implicit_default_is_a_create(ctx, empty):
    new = edited(ctx, empty, f'<system xmlns="{SRV}"><mtu>9000</mtu></system>')
    assert changes(ctx, empty, new) == [(f"{SYSTEM}/mtu", "create")]


def test_setting_the_default_value_explicitly_is_a_create(ctx, empty):
    new = edited(ctx, empty, f'<system xmlns="{SRV}"><mtu>1500</mtu></system>')
    assert changes(ctx, empty, new) == [(f"{SYSTEM}/mtu", "create")]


def test_a_new_value_of_a_set_leaf_is_an_update(ctx, empty):
    old = edited(ctx, empty, f'<system xmlns="{SRV}"><mtu>9000</mtu></system>')
    new = edited(ctx, old, f'<system xmlns="{SRV}"><mtu>2000</mtu></system>')
    assert changes(ctx, old, new) == [(f"{SYSTEM}/mtu", "update")]


def test_removing_a_set_leaf_is_a_delete_though_its_default_comes_back(ctx, empty):
    old = edited(ctx, empty, f'<system xmlns="{SRV}"><mtu>9000</mtu></system>')
    new = edited(ctx, old, f'<system xmlns="{SRV}"><mtu nc:operation="delete"/></system>')
    assert changes(ctx, old, new) == [(f"{SYSTEM}/mtu", "delete")]


def test_revalidating_the_same_configuration_changes_nothing(ctx, empty):
    old = edited(ctx, empty, f'<system xmlns="{SRV}"><mtu>9000</mtu></system>')
    assert changes(ctx, old, ds.validate(ctx, ds.duplicate(old))) == []


def test_a_created_entry_lists_each_node_set_but_not_its_defaults(ctx, empty):
    new = edited(ctx, empty, f'<peer xmlns="{SRV}"><name>a</name><address>x</address></peer>')
    entry = "/example-server:peer[name='a']"
    assert changes(ctx, empty, new) == [(entry, "create"), (f"{entry}/name", "create"),
                                        (f"{entry}/address", "create")]  # not timers/interval
    assert changes(ctx, empty, new, every_node=False) == [(entry, "create")]


def test_a_leaf_set_in_a_container_of_defaults_leaves_the_container_explicit(ctx, empty):
    new = edited(ctx, empty, f'<system xmlns="{SRV}"><mtu>9000</mtu></system>')
    assert not new.find_path(SYSTEM).flags()["default"]
    back = edited(ctx, new, f'<system xmlns="{SRV}"><mtu nc:operation="remove"/></system>')
    assert back.find_path(SYSTEM).flags()["default"]
