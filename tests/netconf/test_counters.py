"""The server's RPC and commit counters, and the metrics they become."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from lxml import etree
from ncclient.operations import RPCError

from exporters.runtime_source import RuntimeSource
from exporters.source import ManagementCounters, NetconfRpcCount
from tests.netconf.conftest import SRV_NS, RawClient, connect, wait_for

HOSTNAME = f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><system xmlns="{SRV_NS}"><hostname>%s</hostname></system></config>'


def test_rpcs_are_counted_by_operation_and_error_tag(server, client):
    client.get_config("running")
    client.get_config("running")
    with pytest.raises(RPCError):
        client.edit_config(target="running", config=f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><system xmlns="{SRV_NS}"><mtu>1</mtu></system></config>')
    rpcs = server.counters.rpcs()
    assert rpcs[("get-config", None)] == 2
    assert rpcs[("edit-config", "invalid-value")] == 1


def test_unknown_operations_share_one_label(server, client):
    for name in ("frobnicate", "teleport"):
        with pytest.raises(RPCError):
            client.dispatch(etree.fromstring(f'<{name} xmlns="urn:example:nowhere"/>'))
    rpcs = server.counters.rpcs()
    assert rpcs[("other", "operation-not-supported")] == 2
    assert not any(op in ("frobnicate", "teleport") for op, _ in rpcs)


def test_malformed_messages_are_counted(server):
    raw = RawClient(server)
    raw.send('<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1"><get/><get/></rpc>')
    assert "malformed-message" in raw.receive()
    assert server.counters.rpcs()[("malformed", "malformed-message")] == 1


def test_commits_count_changes_of_running_only(server, client):
    client.edit_config(target="running", config=HOSTNAME % "a")
    client.edit_config(target="candidate", config=HOSTNAME % "b")
    assert server.counters.commits() == 1
    client.commit()
    client.commit()  # nothing left to change
    assert server.counters.commits() == 2


def test_metrics_source_reads_the_server(server):
    source = RuntimeSource(runtime=None, service=SimpleNamespace(netconf=server))
    client = connect(server)
    client.edit_config(target="running", config=HOSTNAME % "m")
    client.get_config("running")
    counters = source.management()
    assert (counters.sessions, counters.commits) == (1, 1)
    assert NetconfRpcCount("get-config", None, 1) in counters.rpcs
    assert NetconfRpcCount("edit-config", None, 1) in counters.rpcs
    client.close_session()
    assert wait_for(lambda: source.management().sessions == 0)


def test_metrics_source_without_a_server_reads_zero():
    source = RuntimeSource(runtime=None, service=SimpleNamespace(netconf=None))
    assert source.management() == ManagementCounters()
