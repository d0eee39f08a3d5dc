"""BfdSessionSpec validation: a bad value raises BfdSpecError naming the field."""
from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from nf.liveness.bfd import BfdSessionSpec, BfdSpecError

GOOD = dict(key="mag1", local_address="2001:db8::1", remote_address="2001:db8::2")


def test_defaults_are_300_ms_times_3_to_port_4784_with_minimum_hop_limit_254():
    spec = BfdSessionSpec(**GOOD)
    assert (spec.desired_min_tx, spec.required_min_rx, spec.detect_multiplier) == (0.3, 0.3, 3)
    assert (spec.remote_port, spec.minimum_ttl, spec.authentication) == (4784, 254, None)
    assert spec.local_address == IPv6Address("2001:db8::1")
    assert (spec.desired_min_tx_us, spec.required_min_rx_us) == (300_000, 300_000)


@pytest.mark.parametrize("field, value", [
    ("local_address", "192.0.2.1"), ("local_address", "::"), ("remote_address", "ff02::1"),
    ("remote_address", "not-an-address"), ("desired_min_tx", 0), ("desired_min_tx", 0.001),
    ("required_min_rx", -1.0), ("required_min_rx", 5000.0), ("desired_min_tx", "0.3"),
    ("detect_multiplier", 0), ("detect_multiplier", 256), ("detect_multiplier", 2.5),
    ("remote_port", 0), ("remote_port", 70000), ("minimum_ttl", 0), ("minimum_ttl", 256),
    ("key", ["unhashable"]), ("authentication", "sha1"), ("detect_multiplier", True),
])
def test_a_bad_value_raises_bfd_spec_error_naming_the_field(field, value):
    with pytest.raises(BfdSpecError) as caught:
        BfdSessionSpec(**{**GOOD, field: value})
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
