"""A committed configuration reaches the running LMA in phases: refused changes leave
everything as it was, accepted ones take effect for the next registration."""
from __future__ import annotations

import asyncio
import dataclasses
from ipaddress import IPv6Address, IPv6Network

import pytest

from nf.config import load_config
from nf.runtime import ReconfigureError, Runtime
from nf.settings import MobileNodePolicy, PoolSettings, settings_from_tree
from tests.e2e.test_daemon import EXAMPLES

MN2 = "mn2@example.net"


@pytest.fixture
def runtime(tmp_path):
    tree = load_config(EXAMPLES / "lma.xml")
    settings = settings_from_tree(tree, tree.context)
    # port 0: any free port, so the test never collides with a running example
    settings = dataclasses.replace(settings, transport=dataclasses.replace(settings.transport, udp_port=0))
    loop = asyncio.new_event_loop()
    rt = Runtime(settings, tmp_path)
    loop.run_until_complete(rt.start())
    yield rt
    loop.run_until_complete(rt.stop())
    loop.close()


def with_policy(settings, mn_identifier: str):
    policy = MobileNodePolicy(mn_identifier=mn_identifier, allowed_mags=frozenset({IPv6Address("::1")}),
                              anchor=None, home_network_prefixes=(), pool="home", lifetime=None,
                              access_technologies=frozenset())
    return dataclasses.replace(settings, policies={**settings.policies, mn_identifier: policy})


def test_a_new_mobile_node_policy_is_applied(runtime):
    lma = runtime.lma
    assert lma.policies.lookup(MN2) is None
    runtime.reconfigure(with_policy(runtime.settings, MN2))
    assert lma.policies.lookup(MN2) is not None
    assert runtime.settings.policies[MN2].pool == "home"


def test_a_transport_change_is_refused_with_its_path_and_changes_nothing(runtime):
    before = runtime.settings
    changed = dataclasses.replace(before, transport=dataclasses.replace(before.transport, udp_port=5999))
    with pytest.raises(ReconfigureError) as err:
        runtime.reconfigure(with_policy(changed, MN2))
    assert err.value.path == "/dmm-nf:dmm-nf/transport"
    assert runtime.settings is before
    assert runtime.lma.policies.lookup(MN2) is None


def test_a_pool_in_use_cannot_be_reshaped(runtime):
    lma = runtime.lma
    lma.pools.get("home").allocate()
    before = runtime.settings
    reshaped = dataclasses.replace(before, pools=(PoolSettings("home", IPv6Network("2001:db8:2000::/48"), 64),))
    with pytest.raises(ReconfigureError, match="home has 1 prefixes assigned"):
        runtime.reconfigure(reshaped)
    assert lma.pools.get("home").prefix == IPv6Network("2001:db8:1000::/48")
    assert runtime.settings is before


def test_a_new_pool_is_added_beside_the_one_in_use(runtime):
    lma = runtime.lma
    home = lma.pools.get("home")
    home.allocate()
    extra = PoolSettings("extra", IPv6Network("2001:db8:3000::/48"), 64)
    runtime.reconfigure(dataclasses.replace(runtime.settings, pools=(*runtime.settings.pools, extra)))
    assert lma.pools.get("home") is home and home.used == 1
    assert lma.pools.get("extra").free == 2 ** 16


def test_event_history_retention_follows_the_commit(runtime):
    for i in range(5):
        runtime.events.publish("binding-created", **{"mn-identifier": f"m{i}@example.net"})
    history = dataclasses.replace(runtime.settings.event_history, max_entries=2)
    runtime.reconfigure(dataclasses.replace(runtime.settings, event_history=history))
    assert [e.data["mn-identifier"] for e in runtime.events.history()] == ["m3@example.net", "m4@example.net"]


def test_an_overlapping_pool_is_refused_and_changes_nothing(runtime):
    before = runtime.settings
    inner = PoolSettings("inner", IPv6Network("2001:db8:1000:ff00::/56"), 64)
    with pytest.raises(ReconfigureError, match="overlaps"):
        runtime.reconfigure(dataclasses.replace(before, pools=(*before.pools, inner)))
    assert "inner" not in runtime.lma.pools and runtime.settings is before
