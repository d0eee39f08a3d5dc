"""The MAG's access links wired to its role (no root): what a solicitation or a carrier
change does to the MAG, and where advertisements go."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from ipaddress import IPv6Address, IPv6Network
from typing import Any

import pytest

from nf.access.attachments import AccessLinks
from nf.access.errors import AccessLinkError
from nf.access.identity import MobileNodeIdentities, link_layer_address_of
from nf.dataplane.linux import LinuxDataPlane
from nf.roles.mag_forwarding import AdvertisedPrefix, RouterAdvertisement, session_key

MAC = bytes.fromhex("020000000101")
MN = "02-00-00-00-01-01@example.net"


class FakeLink:
    def __init__(self, interface, settings, loop, *, on_solicitation, on_link_event, point_to_point=True):
        self.interface, self.point_to_point = interface, point_to_point
        self.on_solicitation, self.on_link_event = on_solicitation, on_link_event
        self.advertised: dict[str, tuple[RouterAdvertisement, bytes | None]] = {}
        self.started = self.closed = False

    def start(self) -> None:
        if self.interface == "missing":
            raise AccessLinkError("access interface 'missing' does not exist")
        self.started = True

    def close(self) -> None:
        self.closed = True

    def advertise(self, ra, link_layer_address=None) -> None:
        self.advertised[ra.key] = (ra, link_layer_address)

    def withdraw(self, key) -> bool:
        return self.advertised.pop(key, None) is not None


class FakeMag:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.sessions: dict[tuple[str, str], SimpleNamespace] = {}  # what MagRole.entry() gives: BulEntryState

    def attach(self, mn_identifier, link_layer_id=None, access_technology_type=None, interface=None):
        self.calls.append(("attach", mn_identifier, link_layer_id, interface))
        self.sessions[(mn_identifier, link_layer_id.hex(":"))] = SimpleNamespace(
            mn_identifier=mn_identifier, link_layer_id=link_layer_id, interface=interface, state="registering",
            last_status=None)

    def detach(self, mn_identifier, link_layer_id=None):
        self.calls.append(("detach", mn_identifier, link_layer_id))

    def entries(self):
        return list(self.sessions.values())

    def entry(self, mn_identifier, link_layer_id=None):
        ll = link_layer_id.hex(":") if isinstance(link_layer_id, bytes) else link_layer_id
        return self.sessions.get((mn_identifier, ll))


@pytest.fixture
def wired():
    loop = asyncio.new_event_loop()
    mag = FakeMag()
    links = AccessLinks(["acc-mn1", "acc-mn2"], None, mag, MobileNodeIdentities({MAC: MN}), loop,
                        link_factory=FakeLink)
    links.start()
    yield links, mag
    links.close()
    loop.close()


def ra(interface: str = "acc-mn1") -> RouterAdvertisement:
    return RouterAdvertisement(key=session_key(MN, MAC), interface=interface, source=IPv6Address("fe80::1"),
                               router_lifetime=1800,
                               prefixes=(AdvertisedPrefix(IPv6Network("2001:db8:100:1::/64"), 86400, 14400),))


def test_a_solicitation_from_a_known_mac_attaches_that_node_on_that_interface(wired):
    links, mag = wired
    links.links["acc-mn1"].on_solicitation("acc-mn1", MAC)
    assert mag.calls == [("attach", MN, MAC, "acc-mn1")]
    links.links["acc-mn1"].on_solicitation("acc-mn1", MAC)  # repeated while registering: no new PBU
    assert len(mag.calls) == 1


def test_unknown_or_missing_link_layer_addresses_attach_nobody(wired):
    links, mag = wired
    links.on_solicitation("acc-mn1", bytes.fromhex("020000000999"))
    links.on_solicitation("acc-mn1", None)
    assert mag.calls == []


def test_carrier_loss_detaches_the_nodes_of_that_link_only_and_carrier_up_does_nothing(wired):
    links, mag = wired
    links.on_solicitation("acc-mn1", MAC)
    links.on_link_event("acc-mn2", False)
    links.on_link_event("acc-mn1", True)
    assert [c[0] for c in mag.calls] == ["attach"]
    links.on_link_event("acc-mn1", False)
    assert mag.calls[-1] == ("detach", MN, MAC)


def test_advertisements_go_to_the_link_of_their_interface_with_the_attaching_mac(wired):
    links, _ = wired
    links.on_solicitation("acc-mn1", MAC)
    links.advertise(ra())
    assert links.links["acc-mn1"].advertised[ra().key] == (ra(), MAC)
    assert links.links["acc-mn2"].advertised == {}
    assert links.withdraw(ra().key) and not links.withdraw(ra().key)
    with pytest.raises(AccessLinkError, match="'eth9' is not an access link"):
        links.advertise(ra("eth9"))


def test_a_link_that_cannot_start_closes_those_already_started():
    loop = asyncio.new_event_loop()
    links = AccessLinks(["acc-mn1", "missing"], None, FakeMag(), MobileNodeIdentities(), loop, link_factory=FakeLink)
    with pytest.raises(AccessLinkError, match="'missing' does not exist"):
        links.start()
    assert links.links["acc-mn1"].closed
    loop.close()


def test_the_linux_data_plane_forwards_advertisements_to_the_lent_links(wired):
    links, _ = wired
    plane = LinuxDataPlane.__new__(LinuxDataPlane)  # no netlink needed for the delegation
    plane._access_links = None
    plane.advertise(ra())  # no links lent: nothing to send through, no error
    assert plane.withdraw_advertisement(ra().key) is False
    plane.use_access_links(links)
    plane.advertise(ra())
    assert ra().key in links.links["acc-mn1"].advertised
    assert plane.withdraw_advertisement(ra().key) is True


@pytest.mark.parametrize("identifier, mac", [
    ("02-00-00-00-01-01@example.net", MAC),
    ("mn1@example.net", None),
    ("02-00-00-00-01@example.net", None),
    ("02-00-00-00-01-zz@example.net", None),
    ("02-00-00-00-01-01", None),
])
def test_policy_store_identifiers_name_a_mac_only_in_the_derived_form(identifier, mac):
    assert link_layer_address_of(identifier) == mac
    table = MobileNodeIdentities.from_policy_store([identifier]).configured
    assert table == ({mac: identifier} if mac else {})


def test_a_node_the_lma_refused_is_not_attached_again_by_its_solicitations(wired):
    links, mag = wired
    links.links["acc-mn1"].on_solicitation("acc-mn1", MAC)
    mag.sessions[(MN, MAC.hex(":"))].state = "failed"  # RFC 5213 §6.9.1.2 #7: refused with 152
    links.links["acc-mn1"].on_solicitation("acc-mn1", MAC)
    assert [c[0] for c in mag.calls] == ["attach"]
