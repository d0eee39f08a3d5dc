import dataclasses
from ipaddress import IPv6Network

import pytest

from nf.config import load_config
from nf.hostcheck import HostCheckError, check_host
from nf.settings import PoolSettings, settings_from_tree
from tests.e2e.test_daemon import EXAMPLES


def lma_settings():
    tree = load_config(EXAMPLES / "lma.xml")
    return settings_from_tree(tree, tree.context)


def test_the_lma_example_runs_here():
    check_host(lma_settings())


def test_overlapping_pools_are_refused_with_the_pool_path():
    s = lma_settings()
    s = dataclasses.replace(s, pools=(*s.pools, PoolSettings("inner", IPv6Network("2001:db8:1000:ff00::/56"), 64)))
    with pytest.raises(HostCheckError) as err:
        check_host(s)
    assert str(err.value) == ("/dmm-nf:dmm-nf/prefix-pools/pool[name='inner']/prefix: 2001:db8:1000:ff00::/56 "
                              "overlaps pool home (2001:db8:1000::/48)")


def test_a_missing_interface_of_the_linux_data_plane_is_named():
    s = lma_settings()
    s = dataclasses.replace(s, dataplane=dataclasses.replace(s.dataplane, backend="linux", core_interface="nosuch0"))
    with pytest.raises(HostCheckError, match=r"/dmm-nf:dmm-nf/dataplane/core-interface: no interface named nosuch0"):
        check_host(s)


def test_the_memory_data_plane_needs_no_interface():
    s = lma_settings()
    check_host(dataclasses.replace(s, dataplane=dataclasses.replace(s.dataplane, core_interface="nosuch0")))
