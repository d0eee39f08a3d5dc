"""The binding list printed straight to XML is what libyang prints for the same entries."""
from __future__ import annotations

import json
import time
from ipaddress import IPv6Address, IPv6Network

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mgmt.binding_xml import BindingPrinter
from mgmt.operational import EnumNames
from mgmt.yang_values import date_and_time, pin_utc
from nf.core.binding_cache import BindingState
from nf.model import new_context
from nf.snapshot import BindingRow

NS = "urn:dmm-nf:yang:dmm-nf"
BINDINGS = "/dmm-nf:dmm-nf/binding-cache/binding"

pin_utc()  # as the NETCONF service does: libyang prints times in the local zone
CTX = new_context()
ENUMS = EnumNames(CTX)


def enum_name(leaf: str, number: int):
    return ENUMS.name(f"{BINDINGS}/{leaf}", number)


def printer(now: float = 1000.0) -> BindingPrinter:
    return BindingPrinter(IPv6Address("2001:db8::1"), now, enum_name)


def libyang_xml(entries: list[dict]) -> str:
    doc = {"dmm-nf:dmm-nf": {"binding-cache": {"binding": entries}}}
    tree = CTX.parse_data_mem(json.dumps(doc, ensure_ascii=False), "json", parse_only=True, strict=True)
    try:
        return tree.print_mem("xml", pretty=False)
    finally:
        tree.free()


def our_xml(rows: list[BindingRow]) -> str:
    return f'<dmm-nf xmlns="{NS}"><binding-cache>{printer().xml(rows)}</binding-cache></dmm-nf>'


addresses = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
prefixes = st.builds(lambda n, length: IPv6Network((n >> (128 - length) << (128 - length), length)),
                     st.integers(0, 2**128 - 1), st.integers(0, 128))
times = st.floats(0, 4_102_444_800, allow_nan=False)  # to 2100
# names come from the configuration's policies: strings YANG (XML) can hold
names = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
                min_size=1, max_size=40)
rows = st.builds(
    BindingRow,
    mn_identifier=names,
    link_layer_id=st.one_of(st.none(), st.binary(min_size=1, max_size=8)),
    home_network_prefixes=st.lists(prefixes, max_size=3, unique=True).map(tuple),
    proxy_coa=addresses,
    access_technology_type=st.sampled_from([0, 1, 4, 5, 250]),  # 250 has no name in the model
    handoff_indicator=st.sampled_from([0, 1, 2, 3, 4, 5, 200]),
    sequence=st.integers(0, 0xFFFF),
    lifetime=st.integers(0, 0xFFFF * 4),
    expires_at=st.floats(0, 2e5, allow_nan=False),
    state=st.sampled_from([s.value for s in BindingState]),
    created_wall=times,
    last_refresh_wall=times,
    tunnel_id=st.one_of(st.none(), names),
)


MAPPED = BindingRow("a&b<c>@example.net", b"\x02\x00\x00\x00\x00\x01",
                    (IPv6Network("::ffff:10.0.0.0/120"), IPv6Network("2001:db8:0:1::/64")),
                    IPv6Address("::ffff:192.0.2.1"), 4, 1, 7, 3600, 5000.0, "active",
                    1_700_000_000.25, 1_700_000_100.5, "mag-1 & <x>")


@settings(max_examples=300, deadline=None)
@example([MAPPED])
@given(st.lists(rows, min_size=1, max_size=4, unique_by=lambda r: (r.mn_identifier, r.link_layer_id)))
def test_printed_entries_equal_libyang_print_of_the_same_entries(entries):
    p = printer()
    assert our_xml(entries) == libyang_xml([p.json(r) for r in entries])


def test_absent_values_are_left_out_as_libyang_leaves_them_out():
    row = BindingRow("mn1@example.net", None, (), IPv6Address("2001:db8::7"), 250, 200, 1, 60, 0.0,
                     "active", 0.0, 0.0, None)
    xml = our_xml([row])
    assert "<link-layer-id/>" in xml and "<tunnel>" not in xml and "access-technology-type" not in xml
    assert "<home-network-prefix>" not in xml and "<remaining-lifetime>0<" in xml
    assert xml == libyang_xml([printer().json(row)])


@pytest.mark.parametrize("epoch, text", [
    (0.0, "1970-01-01T00:00:00.000+00:00"),
    (1_700_000_000.3, "2023-11-14T22:13:20.300+00:00"),
    (1_700_000_000.9999996, "2023-11-14T22:13:21.000+00:00"),  # rounds to whole microseconds first
    (1_700_000_000.1239, "2023-11-14T22:13:20.123+00:00"),
])
def test_date_and_time_is_utc_with_truncated_milliseconds(epoch, text):
    assert date_and_time(epoch) == text


def test_the_service_zone_is_utc():
    assert time.localtime(0).tm_gmtoff == 0
