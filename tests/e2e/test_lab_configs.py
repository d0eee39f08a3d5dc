"""The lab's generated function configurations: valid under the model, and saying what the
lab relies on (no root needed)."""
from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

import pytest

from nf.access.identity import MobileNodeIdentities
from nf.config import load_config
from nf.lab.configs import function_config
from nf.lab.topology import Topology, management_network
from nf.settings import settings_from_tree


@pytest.mark.parametrize("host", ["lma", "mag1", "mag2"])
def test_each_function_config_validates_and_serves_on_its_management_address(tmp_path, host):
    topology = Topology("dmm-")
    path = tmp_path / f"{host}.xml"
    path.write_text(function_config(topology, host))
    tree = load_config(path)
    settings = settings_from_tree(tree, tree.context)
    assert settings.dataplane.backend == "linux" and settings.dataplane.encapsulation == "srv6"
    assert settings.transport.type == "raw-ipv6"
    assert settings.management.netconf_address == str(topology.management_address(host))
    assert settings.management.metrics_port == 9430


def test_the_lma_pins_each_mobile_node_home_prefix_and_each_mag_self_test_node(tmp_path):
    path = tmp_path / "lma.xml"
    path.write_text(function_config(Topology(), "lma"))
    tree = load_config(path)
    policies = settings_from_tree(tree, tree.context).policies
    assert {p.mn_identifier: p.home_network_prefixes for p in policies.values()} == {
        "02-00-00-00-01-01@example.net": (IPv6Network("2001:db8:100:1::/64"),),
        "02-00-00-00-02-01@example.net": (IPv6Network("2001:db8:100:2::/64"),),
        "self-test.mag1@invalid": (IPv6Network("2001:db8:100:f1::/64"),),
        "self-test.mag2@invalid": (IPv6Network("2001:db8:100:f2::/64"),),
    }
    assert policies["self-test.mag1@invalid"].allowed_mags == {IPv6Address("2001:db8:ff::11")}


@pytest.mark.parametrize("mag", ["mag1", "mag2"])
def test_each_mag_knows_the_mobile_nodes_by_their_mac_and_uses_the_fixed_router_addresses(tmp_path, mag):
    path = tmp_path / f"{mag}.xml"
    path.write_text(function_config(Topology(), mag))
    tree = load_config(path)
    settings = settings_from_tree(tree, tree.context)
    identities = MobileNodeIdentities.from_policy_store(settings.policies)
    assert identities.identify(bytes.fromhex("020000000101")) == "02-00-00-00-01-01@example.net"
    assert identities.identify(bytes.fromhex("020000000201")) == "02-00-00-00-02-01@example.net"
    assert identities.identify(bytes.fromhex("020000000301")) is None  # not in the policy store
    assert [a.name for a in settings.mag.access_interfaces] == ["acc-mn1", "acc-mn2"]
    assert str(settings.mag.fixed_link_local_address) == "fe80::1"
    assert settings.mag.fixed_link_layer_address == bytes.fromhex("020000000001")


def test_labs_with_other_prefixes_get_their_own_management_network():
    assert management_network("dmm-") == IPv6Network("fd00:dd::/64")
    assert management_network("dmmt1-") != management_network("dmmt2-") != management_network("dmm-")


def test_a_host_without_a_function_has_no_config():
    with pytest.raises(ValueError, match="'mn1' runs no function"):
        function_config(Topology(), "mn1")


def test_the_standby_lma_carries_the_lmas_policy_store_and_peers_under_its_own_addresses(tmp_path):
    topology = Topology("dmm-", standby_lma=True)
    settings = {}
    for host in ("lma", "lma2"):
        path = tmp_path / f"{host}.xml"
        path.write_text(function_config(topology, host))
        tree = load_config(path)
        settings[host] = settings_from_tree(tree, tree.context)
    lma, lma2 = settings["lma"], settings["lma2"]
    assert lma2.node.roles == {"lma"} and str(lma2.node.address) == "2001:db8:ff::2"
    assert str(lma2.data_path.probe_address) == "2001:db8:fe::2"
    assert settings["lma2"].management.netconf_address == str(topology.management_address("lma2")) == "fd00:dd::3"
    # the same static prefixes: a node failed over keeps its address
    assert {p.mn_identifier: p.home_network_prefixes for p in lma2.policies.values()} == {
        p.mn_identifier: p.home_network_prefixes for p in lma.policies.values()}
    assert {str(a): p.bfd.probe_address for a, p in lma2.peers.items()} == {
        str(a): p.bfd.probe_address for a, p in lma.peers.items()}


@pytest.mark.parametrize("mag", ["mag1", "mag2"])
def test_with_a_standby_each_mag_names_it_runs_bfd_to_it_and_fails_over(tmp_path, mag):
    path = tmp_path / f"{mag}.xml"
    path.write_text(function_config(Topology("dmm-", standby_lma=True), mag))
    tree = load_config(path)
    settings = settings_from_tree(tree, tree.context)
    assert str(settings.mag.standby_lma_address) == "2001:db8:ff::2"
    assert {str(a): str(p.bfd.probe_address) for a, p in settings.peers.items()} == {
        "2001:db8:ff::1": "2001:db8:fe::1", "2001:db8:ff::2": "2001:db8:fe::2"}
    policy = settings.fault_policy
    assert (policy.on_path_down, policy.on_data_path_failure) == ("failover", "failover")
    assert settings.dataplane.core_interface is None  # two core links: the route to each anchor picks


def test_without_a_standby_a_mag_has_one_anchor_one_core_interface_and_raises_alarms_only(tmp_path):
    path = tmp_path / "mag1.xml"
    path.write_text(function_config(Topology("dmm-"), "mag1"))
    tree = load_config(path)
    settings = settings_from_tree(tree, tree.context)
    assert settings.mag.standby_lma_address is None and [str(a) for a in settings.peers] == ["2001:db8:ff::1"]
    assert settings.fault_policy.on_data_path_failure == "alarm-only"
    assert settings.dataplane.core_interface == "core"


def test_only_a_lab_with_a_standby_has_a_config_for_lma2():
    with pytest.raises(ValueError, match="'lma2' runs no function"):
        function_config(Topology(), "lma2")
