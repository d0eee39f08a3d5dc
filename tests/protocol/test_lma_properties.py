"""Whatever a MAG sends, the LMA answers each PBU at most once with a valid PBA (or holds
it, HI=4) and never raises; the binding cache and the data plane stay in step."""
from __future__ import annotations

from ipaddress import IPv6Network

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nf.dataplane.base import RouteKind
from nf.wire import ProxyBindingAck, TimestampOption

from .test_lma_harness import MAG1, MAG2, MN, MN_STATIC, POOL, STATIC, STRANGER, ZERO, Harness

prefixes = st.lists(st.sampled_from([ZERO, STATIC[0], IPv6Network("2001:db8:1000::/64"),
                                     IPv6Network("2001:db8:9::/64")]), max_size=3)
pbu_args = st.fixed_dictionaries({
    "mag": st.sampled_from([MAG1, MAG2, STRANGER]),
    "mn": st.sampled_from([MN, MN_STATIC, None, "x@y"]),
    "hi": st.sampled_from([None, 0, 1, 2, 3, 4, 5, 6, 255]),
    "att": st.sampled_from([None, 0, 3, 4, 255]),
    "prefixes": prefixes,
    "ll": st.sampled_from([None, b"\x00" * 6, b"\x02\x00\x00\x00\x00\x01", b"\x02"]),
    "lifetime": st.sampled_from([0, 4, 400, 262140]),
    "sequence": st.integers(0, 0xFFFF),
    "stamp_offset": st.sampled_from([None, -1.0, 0.0, 0.1]),
    "proxy": st.booleans(),
    "advance": st.sampled_from([0.0, 0.5, 2.0, 11.0]),
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pbu_args, min_size=1, max_size=8))
def test_any_sequence_of_pbus_is_answered_validly_and_keeps_state_consistent(steps):
    h = Harness()
    for step in steps:
        offset = step.pop("stamp_offset")
        advance = step.pop("advance")
        mag = step.pop("mag")
        stamp = None if offset is None else TimestampOption.from_time(h.clock.wall() + offset)
        before = len(h.sent)
        h.deliver(h.pbu(mag, timestamp=stamp, **step), mag)
        answers = h.sent[before:]
        assert len(answers) <= 2  # its own PBA, plus a held PBU's answer released by a de-registration
        assert all(isinstance(a.message, ProxyBindingAck) for a in answers)
        h.advance(advance)
        installed = {route.prefix for route in h.dataplane.routes() if route.kind is RouteKind.DOWNLINK}
        bound = {p for entry in h.lma.bindings() for p in entry.home_network_prefixes}
        assert installed == bound
        pool = next(iter(h.lma.pools))
        assert pool.used == len([p for p in bound if p.subnet_of(POOL)])
