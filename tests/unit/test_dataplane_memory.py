from ipaddress import IPv6Address, IPv6Network

import pytest

from nf.dataplane import (
    BindingSpec,
    DataPlaneError,
    Encapsulation,
    InjectedFailure,
    MemoryDataPlane,
    Route,
    RouteKind,
    SpecConflict,
    Tunnel,
    TunnelCounters,
)

LMA = IPv6Address("2001:db8:aaaa::1")
MAG1, MAG2 = IPv6Address("2001:db8:ffff::1"), IPv6Address("2001:db8:ffff::2")


def tunnel_to(mag: IPv6Address, name: str | None = None) -> Tunnel:
    return Tunnel(name or f"t-{mag.exploded[-1]}", LMA, mag, Encapsulation.SRV6,
                  remote_sid=IPv6Address(int(mag) + 0x100), local_sid=IPv6Address(int(LMA) + 0x100))


def lma_spec(mn: str, prefix: str, mag: IPv6Address = MAG1) -> BindingSpec:
    tunnel = tunnel_to(mag)
    return BindingSpec(mn, tunnel, (Route(RouteKind.DOWNLINK, IPv6Network(prefix), tunnel=tunnel.name),))


def mag_spec(mn: str, prefix: str) -> BindingSpec:
    tunnel = Tunnel("to-lma", MAG1, LMA, Encapsulation.IP6IP6)
    p = IPv6Network(prefix)
    return BindingSpec(mn, tunnel, (Route(RouteKind.UPLINK, p, tunnel="to-lma"),
                                    Route(RouteKind.ACCESS, p, interface="eth1")))


def test_apply_installs_tunnel_and_routes():
    dp = MemoryDataPlane()
    assert dp.apply(lma_spec("mn1", "2001:db8:1::/64")) is True
    assert set(dp.tunnels) == {"t-1"}
    assert dp.route(RouteKind.DOWNLINK, IPv6Network("2001:db8:1::/64")).tunnel == "t-1"


def test_mag_spec_has_uplink_and_access_routes():
    dp = MemoryDataPlane()
    dp.apply(mag_spec("mn1", "2001:db8:1::/64"))
    p = IPv6Network("2001:db8:1::/64")
    assert dp.route(RouteKind.UPLINK, p).tunnel == "to-lma"
    assert dp.route(RouteKind.ACCESS, p).interface == "eth1"


def test_apply_and_remove_are_idempotent():
    dp = MemoryDataPlane()
    spec = lma_spec("mn1", "2001:db8:1::/64")
    assert dp.apply(spec) is True
    assert dp.apply(spec) is False
    assert len(dp.routes()) == 1
    assert dp.remove(spec) is True
    assert dp.remove(spec) is False
    assert dp.installed() == {} and dp.tunnels == {} and dp.routes() == []


def test_tunnel_is_shared_and_removed_with_its_last_user():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("mn1", "2001:db8:1::/64"))
    dp.apply(lma_spec("mn2", "2001:db8:2::/64"))
    dp.remove("mn1")
    assert "t-1" in dp.tunnels
    dp.remove("mn2")
    assert "t-1" not in dp.tunnels


def test_handover_replaces_spec_and_moves_route_to_new_tunnel():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("mn1", "2001:db8:1::/64", MAG1))
    dp.apply(lma_spec("mn1", "2001:db8:1::/64", MAG2))
    assert dp.route(RouteKind.DOWNLINK, IPv6Network("2001:db8:1::/64")).tunnel == "t-2"
    assert set(dp.tunnels) == {"t-2"}


def test_route_owned_by_another_binding_is_a_conflict():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("mn1", "2001:db8:1::/64"))
    with pytest.raises(SpecConflict):
        dp.apply(lma_spec("mn2", "2001:db8:1::/64"))
    assert set(dp.installed()) == {"mn1"}


def test_tunnel_name_reused_with_other_endpoint_is_a_conflict():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("mn1", "2001:db8:1::/64"))
    other = tunnel_to(MAG2, name="t-1")
    with pytest.raises(SpecConflict):
        dp.apply(BindingSpec("mn2", other, (Route(RouteKind.DOWNLINK, IPv6Network("2001:db8:2::/64"), tunnel="t-1"),)))
    assert dp.tunnels["t-1"].remote == MAG1


def test_injected_apply_failure_leaves_previous_state():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("mn1", "2001:db8:1::/64", MAG1))
    before = dp.installed()
    dp.fail_next("apply")
    with pytest.raises(InjectedFailure) as failure:
        dp.apply(lma_spec("mn1", "2001:db8:1::/64", MAG2))
    assert isinstance(failure.value, DataPlaneError)
    assert dp.installed() == before
    assert set(dp.tunnels) == {"t-1"}
    assert dp.apply(lma_spec("mn1", "2001:db8:1::/64", MAG2)) is True  # only the next call failed


def test_injected_remove_failure_keeps_spec():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("mn1", "2001:db8:1::/64"))
    dp.fail_next("remove")
    with pytest.raises(DataPlaneError):
        dp.remove("mn1")
    assert "mn1" in dp.installed()


def test_reconcile_adds_missing_removes_stale_updates_changed():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("stale", "2001:db8:9::/64"))
    dp.apply(lma_spec("kept", "2001:db8:1::/64"))
    dp.apply(lma_spec("moved", "2001:db8:2::/64", MAG1))
    wanted = [lma_spec("kept", "2001:db8:1::/64"), lma_spec("moved", "2001:db8:2::/64", MAG2),
              lma_spec("new", "2001:db8:3::/64")]
    report = dp.reconcile(wanted)
    assert report.added == ("new",)
    assert report.removed == ("stale",)
    assert report.updated == ("moved",)
    assert dp.installed() == {s.key: s for s in wanted}
    again = dp.reconcile(wanted)
    assert (again.added, again.removed, again.updated) == ((), (), ())


def test_reconcile_lets_a_prefix_move_between_keys():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("old-owner", "2001:db8:1::/64"))
    dp.reconcile([lma_spec("new-owner", "2001:db8:1::/64")])
    assert set(dp.installed()) == {"new-owner"}


def test_counters_per_tunnel():
    dp = MemoryDataPlane()
    dp.apply(lma_spec("mn1", "2001:db8:1::/64"))
    dp.record_traffic("t-1", packets_out=2, bytes_out=200)
    assert dp.counters() == {"t-1": TunnelCounters(packets_out=2, bytes_out=200)}
    with pytest.raises(DataPlaneError):
        dp.record_traffic("nope", packets_in=1)


@pytest.mark.parametrize("build", [
    lambda: Tunnel("", LMA, MAG1, Encapsulation.IP6IP6),
    lambda: Tunnel("t", LMA, MAG1, Encapsulation.SRV6),  # SRv6 without a segment
    lambda: Route(RouteKind.ACCESS, IPv6Network("2001:db8::/64")),
    lambda: Route(RouteKind.DOWNLINK, IPv6Network("2001:db8::/64")),
    lambda: BindingSpec("k", None, (Route(RouteKind.DOWNLINK, IPv6Network("2001:db8::/64"), tunnel="t"),)),
    lambda: BindingSpec("", None, ()),
])
def test_malformed_specs_are_refused(build):
    with pytest.raises(ValueError):
        build()
