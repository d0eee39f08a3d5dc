from ipaddress import IPv6Address, IPv6Network

import pytest

from nf.core.policy import MobileNodePolicy, PolicyError, PolicyStore

MAG1, MAG2 = IPv6Address("2001:db8:ffff::1"), IPv6Address("2001:db8:ffff::2")


def test_lookup_returns_the_profile_or_none():
    store = PolicyStore.of([MobileNodePolicy("mn1@example.net", pool="home", lifetime=3600)])
    assert store.lookup("mn1@example.net").pool == "home"
    assert store.lookup("nobody") is None


def test_mag_authorization_follows_the_allowed_list():
    store = PolicyStore.of([
        MobileNodePolicy("restricted", allowed_mags=frozenset({MAG1})),
        MobileNodePolicy("anywhere"),
    ])
    assert store.is_mag_authorized("restricted", MAG1)
    assert not store.is_mag_authorized("restricted", MAG2)
    assert store.is_mag_authorized("anywhere", MAG2)
    assert not store.is_mag_authorized("unknown", MAG1)


def test_access_technology_restriction():
    policy = MobileNodePolicy("mn", allowed_access_technologies=frozenset({3}))
    assert policy.allows_access_technology(3) and not policy.allows_access_technology(4)


def test_static_prefix_cannot_belong_to_two_nodes():
    store = PolicyStore()
    store.put(MobileNodePolicy("a", static_prefixes=(IPv6Network("2001:db8:1::/64"),)))
    with pytest.raises(PolicyError):
        store.put(MobileNodePolicy("b", static_prefixes=(IPv6Network("2001:db8:1::/64"),)))
    assert store.lookup("b") is None


def test_replacing_a_profile_releases_its_old_static_prefixes():
    store = PolicyStore()
    store.put(MobileNodePolicy("a", static_prefixes=(IPv6Network("2001:db8:1::/64"),)))
    store.put(MobileNodePolicy("a", static_prefixes=(IPv6Network("2001:db8:2::/64"),)))
    assert store.owner_of_static_prefix(IPv6Network("2001:db8:1::/64")) is None
    store.put(MobileNodePolicy("b", static_prefixes=(IPv6Network("2001:db8:1::/64"),)))
    assert store.owner_of_static_prefix(IPv6Network("2001:db8:1::/64")) == "b"


def test_remove_forgets_profile():
    store = PolicyStore.of([MobileNodePolicy("a")])
    assert store.remove("a") is not None
    assert "a" not in store and len(store) == 0


@pytest.mark.parametrize("kwargs", [dict(mn_identifier=""), dict(mn_identifier="a", lifetime=-1),
                                    dict(mn_identifier="a", static_prefixes=("2001:db8::/64",))])
def test_inconsistent_profiles_are_refused(kwargs):
    with pytest.raises(PolicyError):
        MobileNodePolicy(**kwargs)
