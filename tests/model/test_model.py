"""The libyang context and the model's protocol defaults, codes and structure."""
from __future__ import annotations

import json
import re
import subprocess
from functools import lru_cache

import libyang
import pytest

from nf.model import IETF_MODULES, new_context, yang_dir

TOP = "/dmm-nf:dmm-nf"


@pytest.fixture(scope="module")
def ctx() -> libyang.Context:
    return new_context()


def snode(ctx: libyang.Context, path: str) -> libyang.SNode:
    return next(ctx.find_path(path))


def test_yang_dir_holds_the_main_module() -> None:
    assert (yang_dir() / "dmm-nf.yang").is_file()
    assert (yang_dir() / "ietf" / "ietf-inet-types.yang").is_file()


def test_context_implements_our_modules_and_the_netconf_ones(ctx: libyang.Context) -> None:
    for name in ("dmm-nf", "dmm-nf-types", "dmm-nf-alarms", *IETF_MODULES):
        assert ctx.get_module(name).implemented(), name


def test_context_enables_exactly_the_listed_features(ctx: libyang.Context) -> None:
    for name, features in IETF_MODULES.items():
        module = ctx.get_module(name)
        enabled = {f.name() for f in module.features() if module.feature_state(f.name())}
        assert enabled == set(features), name


def test_contexts_are_independent() -> None:
    assert new_context() is not new_context()


@pytest.mark.parametrize(("leaf", "default", "units"), [
    # RFC 5213 section 9.1 (defaults also in RFC 6475's DEFVALs)
    ("timers/min-delay-before-bce-delete", "10000", "milliseconds"),
    ("timers/max-delay-before-new-bce-assign", "1500", "milliseconds"),
    ("timers/timestamp-validity-window", "300", "milliseconds"),
    # RFC 6275 sections 12 and 13
    ("timers/initial-bindack-timeout-first-reg", "1500", "milliseconds"),
    ("timers/max-bindack-timeout", "32", "seconds"),
    # Lifetime field: 16 bits of 4-second units
    ("timers/max-binding-lifetime", "262140", "seconds"),
    # RFC 5213 section 9.2 / 9.3
    ("timers/timestamp-based-approach-in-use", "true", None),
    ("timers/mobile-node-generated-timestamp-in-use", "false", None),
    ("mag/enable-mag-local-routing", "false", None),
    # RFC 5846 section 11
    ("timers/init-min-delay-bris", "1000", "milliseconds"),
    ("timers/max-brack-timeout", "2000", "milliseconds"),
    ("timers/bri-max-retries", "1", None),
    # RFC 7077 section 7
    ("timers/min-delay-between-update-notification-replay", "1000", "milliseconds"),
    ("timers/max-update-notification-retransmit-count", "1", None),
    # RFC 5847 HEARTBEAT_INTERVAL and MISSING_HEARTBEATS_ALLOWED
    ("heartbeat/interval", "60", "seconds"),
    ("heartbeat/missing-heartbeats-allowed", "3", None),
    # IANA pmip6-cntl, RFC 6242, the metrics port of the design
    ("transport/udp-port", "5436", None),
    ("management/netconf/port", "830", None),
    ("management/metrics/port", "9430", None),
    ("prefix-pools/pool/assign-length", "64", None),
])
def test_protocol_defaults(ctx: libyang.Context, leaf: str, default: str, units: str | None) -> None:
    node = snode(ctx, f"{TOP}/{leaf}")
    assert str(node.default()).lower() == default
    assert node.units() == units


def test_min_delay_before_bce_delete_range_is_the_mibs(ctx: libyang.Context) -> None:
    assert snode(ctx, f"{TOP}/timers/min-delay-before-bce-delete").type().range() == "1..65535"


def test_identity_defaults(ctx: libyang.Context) -> None:
    assert snode(ctx, f"{TOP}/transport/type").default() == "dmm-nf-types:udp"
    assert snode(ctx, f"{TOP}/dataplane/backend").default() == "dmm-nf-types:memory"
    assert snode(ctx, f"{TOP}/dataplane/encapsulation").default() == "dmm-nf-types:srv6"
    assert snode(ctx, f"{TOP}/location-management/backend").default() == "dmm-nf-types:sqlite"


@pytest.mark.parametrize("path", [
    "binding-cache", "binding-update-list", "tunnels", "statistics",
    "location-management/anchor", "event-history/event", "node/restart-counter",
    "prefix-pools/pool/used", "peers/peer/liveness-state",
])
def test_state_is_config_false(ctx: libyang.Context, path: str) -> None:
    assert snode(ctx, f"{TOP}/{path}").config_false()


def test_binding_cache_is_keyed_by_mn_identifier_and_link_layer_id(ctx: libyang.Context) -> None:
    binding = snode(ctx, f"{TOP}/binding-cache/binding")
    assert [k.name() for k in binding.keys()] == ["mn-identifier", "link-layer-id"]


@pytest.mark.parametrize("name", [
    "binding-created", "binding-updated", "binding-deleted", "peer-path-down", "peer-path-up",
    "peer-restart", "data-path-failure", "forwarding-mismatch", "pool-exhausted",
    "registration-failed", "revocation-failed", "pool-usage-high", "pool-usage-normal",
])
def test_notifications_exist(ctx: libyang.Context, name: str) -> None:
    assert snode(ctx, f"/dmm-nf:{name}").keyword() == "notification"


@pytest.mark.parametrize("name", [
    "probe-path", "check-forwarding", "audit-forwarding", "self-test", "revoke-binding",
    "relocate-anchor", "mn-attach", "mn-detach",
])
def test_rpcs_exist(ctx: libyang.Context, name: str) -> None:
    assert snode(ctx, f"/dmm-nf:{name}").keyword() == "rpc"


@lru_cache(maxsize=1)
def tshark_values() -> dict[str, dict[int, str]]:
    """Wireshark's value tables for the mip6 dissector: an independent source of the codes."""
    out = subprocess.run(["tshark", "-G", "values"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    tables: dict[str, dict[int, str]] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0] == "V" and parts[1].startswith("mip6."):
            tables.setdefault(parts[1], {})[int(parts[2])] = parts[3]
    return tables


@pytest.mark.parametrize(("typedef_leaf", "field"), [
    ("statistics/pba-sent-by-status/status", "mip6.ba.status"),
    ("statistics/revocation/by-trigger/trigger", "mip6.bri_r.trigger"),
    ("binding-cache/binding/handoff-indicator", "mip6.hi"),
    ("binding-cache/binding/access-technology-type", "mip6.att"),
])
def test_code_numbers_agree_with_wireshark(ctx: libyang.Context, typedef_leaf: str,
                                           field: str) -> None:
    """Every enum value of our protocol codes is a code Wireshark knows, under the same meaning."""
    ours = {e.value(): e.name() for e in snode(ctx, f"{TOP}/{typedef_leaf}").type().enums()}
    theirs = tshark_values()[field]
    assert ours, typedef_leaf
    # RFC 4285 §8 assigned 144 (MIPV6-ID-MISMATCH); Wireshark 4.0 has no name for it
    unknown = {v: n for v, n in ours.items() if v not in theirs and (field, v) != ("mip6.ba.status", 144)}
    assert not unknown, f"codes unknown to tshark {field}: {unknown}"


def test_rfc5213_status_codes_are_152_to_162(ctx: libyang.Context) -> None:
    codes = {e.name(): e.value()
             for e in snode(ctx, f"{TOP}/statistics/pba-sent-by-status/status").type().enums()}
    assert codes["proxy-reg-not-enabled"] == 152
    assert codes["mag-not-authorized-for-proxy-reg"] == 154
    assert codes["missing-access-tech-type-option"] == 162
    assert tshark_values()["mip6.ba.status"][154] == "MAG_NOT_AUTHORIZED_FOR_PROXY_REG"



# rpc input/output and shorthand choice cases have no statement of their own to describe
IMPLICIT = (libyang.SNode.INPUT, libyang.SNode.OUTPUT, libyang.SNode.CASE)


def test_every_schema_node_has_a_description(ctx: libyang.Context) -> None:
    nodes = [node for top in ctx.get_module("dmm-nf").children() for node in top.iter_tree()
             if node.nodetype() not in IMPLICIT]
    assert len(nodes) > 300
    missing = [n.schema_path() for n in nodes if not n.description()]
    assert not missing, missing


def test_alarms_are_the_ietf_module_and_dmm_nf_has_no_list_of_its_own(ctx: libyang.Context) -> None:
    assert snode(ctx, "/ietf-alarms:alarms/alarm-list").config_false()
    assert snode(ctx, "/ietf-alarms:alarm-notification").keyword() == "notification"
    assert not any(n.name() in ("alarms", "alarm-raised", "alarm-cleared") for n in ctx.get_module("dmm-nf"))


ABSTRACT_ALARM_TYPES = {"dmm-nf-alarm", "communications-alarm", "processing-alarm", "mobility-session-update-failed"}


def _alarm_entry(type_id: str) -> str:
    when = "2026-01-01T00:00:00Z"
    return json.dumps({"ietf-alarms:alarms": {"alarm-list": {"alarm": [{
        "resource": "/dmm-nf:dmm-nf/dataplane", "alarm-type-id": type_id, "alarm-type-qualifier": "",
        "time-created": when, "is-cleared": False, "last-raised": when, "last-changed": when,
        "perceived-severity": "major", "alarm-text": "t",
        "status-change": [{"time": when, "perceived-severity": "major", "alarm-text": "t"}]}]}}})


def test_every_identity_of_dmm_nf_alarms_is_an_inventoried_type_or_abstract() -> None:
    from nf.alarms import ALARM_TYPES

    declared = set(re.findall(r"^  identity ([\w-]+)", (yang_dir() / "dmm-nf-alarms.yang").read_text(), re.M))
    assert declared == {t.name for t in ALARM_TYPES} | ABSTRACT_ALARM_TYPES


def test_every_alarm_type_derives_from_the_rfc_8632_base(ctx: libyang.Context) -> None:
    """libyang accepts an identity in alarm-type-id only if it derives from al:alarm-type-id."""
    from nf.alarms import ALARM_TYPES

    for alarm_type in ALARM_TYPES:
        ctx.parse_data_mem(_alarm_entry(alarm_type.type_id), "json", parse_only=True, strict=True).free()
    with pytest.raises(libyang.LibyangError):
        ctx.parse_data_mem(_alarm_entry("dmm-nf-types:lma"), "json", parse_only=True, strict=True)


def test_pool_usage_alarm_defaults_and_the_hysteresis_below_the_threshold(ctx: libyang.Context) -> None:
    assert str(snode(ctx, f"{TOP}/prefix-pools/pool/usage-alarm/high-threshold").default()) == "90"
    assert str(snode(ctx, f"{TOP}/prefix-pools/pool/usage-alarm/hysteresis").default()) == "10"


def test_relocate_anchor_needs_a_nacm_rule(ctx: libyang.Context) -> None:
    # it moves mobile nodes between anchors: no user may by default (RFC 8341 §3.4.4)
    extensions = snode(ctx, "/dmm-nf:relocate-anchor").extensions()
    assert any(e.name() == "default-deny-all" and e.module().name() == "ietf-netconf-acm" for e in extensions)
