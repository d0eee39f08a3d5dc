"""The server's hooks into the product: commit diffs, product RPCs, operational state."""
from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from mgmt.netconf.server import CommitRejected, ServerHooks
from tests.netconf.conftest import connect, error_path_selects
from tests.netconf.test_server_edit import SRV, cfg, hostname


def HOST(name: str) -> str:
    return cfg(f'<system xmlns="{SRV}"><hostname>{name}</hostname></system>')


def test_commit_hook_gets_old_new_and_diff(servers):
    seen = []

    def hook(old, new, diff):
        seen.append((old.find_path("/example-server:system/hostname") if old else None,
                     new.find_path("/example-server:system/hostname").value(),
                     diff.print_mem("xml", with_siblings=True)))

    server = servers.start(hooks=ServerHooks(commit_hook=hook))
    with connect(server) as mgr:
        mgr.edit_config(target="candidate", config=HOST("h1"))
        mgr.commit()
    assert len(seen) == 1
    old_leaf, new_value, diff_xml = seen[0]
    assert old_leaf is None and new_value == "h1"
    assert 'yang:operation="create"' in diff_xml and "<hostname" in diff_xml


def test_rejected_commit_leaves_running_unchanged(servers):
    def hook(old, new, diff):
        raise CommitRejected("hostname refused by the runtime", "/example-server:system/hostname")

    server = servers.start(hooks=ServerHooks(commit_hook=hook))
    with connect(server) as mgr:
        mgr.edit_config(target="candidate", config=HOST("h1"))
        with pytest.raises(RPCError) as err:
            mgr.commit()
        assert err.value.tag == "operation-failed"
        [leaf] = error_path_selects(err.value, etree.fromstring(HOST("h1")))
        assert leaf.text == "h1"
        assert "refused" in err.value.message
        assert hostname(mgr) is None


def test_product_rpc_goes_to_the_rpc_hook(servers):
    def rpc_hook(name, request):
        target = request.find_path("target").value()
        output = request.context.create_data_path("/example-server:ping")
        output.new_path("reply", f"pong {target}", opt_output=True)
        return output

    server = servers.start(hooks=ServerHooks(rpc_hook=rpc_hook))
    with connect(server) as mgr:
        reply = mgr.dispatch(to_ele(f'<ping xmlns="{SRV}"><target>mn1</target></ping>'))
    root = to_ele(reply.xml)
    assert root.findtext(f"{{{SRV}}}reply") == "pong mn1"


def test_product_rpc_without_hook_is_operation_not_supported(client):
    with pytest.raises(RPCError) as err:
        client.dispatch(to_ele(f'<ping xmlns="{SRV}"><target>mn1</target></ping>'))
    assert err.value.tag == "operation-not-supported"


def test_get_merges_state_from_the_provider(servers):
    def state(flt):
        return f'<counters xmlns="{SRV}"><restarts>3</restarts></counters>'

    server = servers.start(hooks=ServerHooks(state_provider=state))
    with connect(server) as mgr:
        mgr.edit_config(target="running", config=HOST("h1"))
        data = mgr.get().data_ele
        assert data.findtext(f"{{{SRV}}}counters/{{{SRV}}}restarts") == "3"
        assert data.findtext(f"{{{SRV}}}system/{{{SRV}}}hostname") == "h1"
        config_only = mgr.get_config("running").data_ele
        assert config_only.find(f"{{{SRV}}}counters") is None


def test_unknown_product_rpc_is_operation_not_supported_even_with_a_hook(servers):
    server = servers.start(hooks=ServerHooks(rpc_hook=lambda name, request: None))
    with connect(server) as mgr:
        with pytest.raises(RPCError) as err:
            mgr.dispatch(to_ele(f'<teleport xmlns="{SRV}"/>'))
        assert err.value.tag == "operation-not-supported"
        assert mgr.dispatch(to_ele(f'<ping xmlns="{SRV}"/>')).ok


def test_bad_product_rpc_input_is_invalid_value(servers):
    server = servers.start(hooks=ServerHooks(rpc_hook=lambda name, request: None))
    with connect(server) as mgr:
        with pytest.raises(RPCError) as err:
            mgr.dispatch(to_ele(f'<ping xmlns="{SRV}"><colour>red</colour></ping>'))
        assert err.value.tag == "invalid-value"
