"""Which BFD sessions a configuration asks for (nf/liveness/tunnel_bfd.py wanted_sessions)."""
from __future__ import annotations

import base64
from ipaddress import IPv6Address

from nf.liveness.bfd import AuthType
from nf.liveness.tunnel_bfd import wanted_sessions
from nf.model import new_context
from nf.settings import EnumValues, settings_from_dict

LMA, MAG1, MAG2 = (IPv6Address(a) for a in ("2001:db8:ff::1", "2001:db8:ff::11", "2001:db8:ff::12"))
KEY = base64.b64encode(b"lab-secret").decode()


def mag_settings(**bfd):
    peer = {"address": str(LMA), "role": "dmm-nf-types:lma", "bfd": {"probe-address": "2001:db8:fe::1", **bfd}}
    return settings_from_dict({
        "node": {"name": "mag1", "role": ["dmm-nf-types:mag"], "address": str(MAG1)},
        "mag": {"lma-address": str(LMA)},
        "data-path": {"probe-address": "2001:db8:fe::11", "bfd": {"desired-min-tx": 50, "required-min-rx": 50}},
        "peers": {"peer": [peer, {"address": str(MAG2), "bfd": {"mode": "direct"}},
                           {"address": "2001:db8:ff::99"}]},
    }, EnumValues(new_context()))


def test_tunnel_sessions_run_between_the_probe_addresses_with_the_global_timers():
    wanted = wanted_sessions(mag_settings())
    lma = wanted[LMA]
    assert (lma.mode, lma.access_side) == ("tunnel", True)
    assert (lma.spec.local_address, lma.spec.remote_address) == (IPv6Address("2001:db8:fe::11"),
                                                                 IPv6Address("2001:db8:fe::1"))
    assert (lma.spec.desired_min_tx, lma.spec.required_min_rx, lma.spec.detect_multiplier) == (0.05, 0.05, 3)


def test_direct_sessions_run_between_node_addresses_and_peers_without_a_probe_address_get_none():
    wanted = wanted_sessions(mag_settings())
    assert (wanted[MAG2].spec.local_address, wanted[MAG2].spec.remote_address) == (MAG1, MAG2)
    assert IPv6Address("2001:db8:ff::99") not in wanted


def test_per_peer_timers_override_and_disabled_peers_get_no_session():
    wanted = wanted_sessions(mag_settings(**{"desired-min-tx": 300, "detect-multiplier": 5}))
    assert (wanted[LMA].spec.desired_min_tx, wanted[LMA].spec.required_min_rx,
            wanted[LMA].spec.detect_multiplier) == (0.3, 0.05, 5)
    assert LMA not in wanted_sessions(mag_settings(enabled=False))


def test_configured_authentication_reaches_the_session():
    wanted = wanted_sessions(mag_settings(authentication={"key-id": 7, "key": KEY}))
    auth = wanted[LMA].spec.authentication
    assert (auth.auth_type, auth.key_id, auth.key) == (AuthType.METICULOUS_KEYED_SHA1, 7, b"lab-secret")
    assert "lab-secret" not in repr(wanted[LMA])  # no key in logs
