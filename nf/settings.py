"""Typed settings: the runtime's read-only view of the validated YANG configuration.

libyang has already checked types, ranges, `must` and `when` by the time this module sees the
data (see nf/config.py), so this is a plain translation from the JSON shape of
`/dmm-nf:dmm-nf` into frozen dataclasses with Python types (durations in seconds,
`ipaddress` objects, enumeration values as their numbers). One dataclass per YANG container
keeps the mapping easy to follow next to the model.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from ipaddress import IPv6Address, IPv6Network
from typing import Any, Mapping

import libyang

from nf.alarms.alarm_list import Control as AlarmControl

TOP = "dmm-nf:dmm-nf"
ALARMS = "ietf-alarms:alarms"
DEFAULT_MAX_BINDINGS = 1_000_000  # lma/max-bindings: the size the binding cache is measured at


def _name(identity: str) -> str:
    """'dmm-nf-types:udp' -> 'udp' (identityref values carry their module prefix)."""
    return identity.rsplit(":", 1)[-1]


def _ms(value: int) -> float:
    return value / 1000.0


@dataclass(frozen=True)
class NodeSettings:
    name: str
    roles: frozenset[str]
    address: IPv6Address


@dataclass(frozen=True)
class TransportSettings:
    type: str  # "udp" | "raw-ipv6"
    udp_port: int
    listen_address: IPv6Address | None


@dataclass(frozen=True)
class TimerSettings:
    """RFC 5213 section 9 and RFC 6275 section 13 variables, in seconds."""

    min_delay_before_bce_delete: float
    max_delay_before_new_bce_assign: float
    timestamp_validity_window: float
    initial_bindack_timeout_first_reg: float
    max_bindack_timeout: float
    max_binding_lifetime: int
    default_lifetime: int
    requested_lifetime: int
    refresh_advance: int
    timestamp_based_approach_in_use: bool
    mobile_node_generated_timestamp_in_use: bool
    init_min_delay_bris: float  # RFC 5846 §11
    max_brack_timeout: float
    bri_max_retries: int
    min_delay_between_update_notification_replay: float  # RFC 7077 §7
    max_update_notification_retransmit_count: int


@dataclass(frozen=True)
class HeartbeatSettings:
    interval: int
    missing_heartbeats_allowed: int
    fast_probe_enabled: bool
    fast_probe_interval: float
    fast_probe_detect_multiplier: int
    require_bindings: bool = True  # RFC 5847 §3


@dataclass(frozen=True)
class BfdTimers:
    """RFC 5880 section 6.8.1 timing, in seconds; None inherits (per-peer overrides)."""

    desired_min_tx: float | None
    required_min_rx: float | None
    detect_multiplier: int | None


@dataclass(frozen=True)
class BfdSettings:
    enabled: bool
    timers: BfdTimers
    minimum_ttl: int
    udp_port: int


@dataclass(frozen=True)
class AuditSettings:
    interval: int  # seconds; 0: no periodic audit
    repair: bool


@dataclass(frozen=True)
class DataPathSettings:
    """/dmm-nf/data-path: BFD through the tunnels, per-mobile-node probes, the audit."""

    probe_address: IPv6Address | None
    probe_port: int
    bfd: BfdSettings
    audit: AuditSettings


@dataclass(frozen=True)
class BfdAuthenticationSettings:
    type: str  # "keyed-sha1" | "meticulous-keyed-sha1"
    key_id: int
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class PeerBfdSettings:
    enabled: bool
    mode: str  # "tunnel" | "direct"
    probe_address: IPv6Address | None
    timers: BfdTimers
    authentication: BfdAuthenticationSettings | None = None


@dataclass(frozen=True)
class AccessInterface:
    name: str
    access_technology_type: int
    link_local_address: IPv6Address | None


@dataclass(frozen=True)
class RouterAdvertisementSettings:
    router_lifetime: int
    prefix_valid_lifetime: int
    prefix_preferred_lifetime: int


@dataclass(frozen=True)
class LmaSettings:
    allowed_mags: frozenset[IPv6Address]
    default_pool: str | None
    accept_unknown_mobile_nodes: bool
    unknown_handoff: str = "revoke-previous"  # "revoke-previous" | "wait" | "new-session"
    accept_global_revocation: bool = False
    max_bindings: int = DEFAULT_MAX_BINDINGS


@dataclass(frozen=True)
class MagSettings:
    lma_address: IPv6Address
    access_interfaces: tuple[AccessInterface, ...]
    router_advertisement: RouterAdvertisementSettings
    fixed_link_local_address: IPv6Address | None
    fixed_link_layer_address: bytes | None
    enable_mag_local_routing: bool
    standby_lma_address: IPv6Address | None = None


@dataclass(frozen=True)
class PoolSettings:
    name: str
    prefix: IPv6Network
    assign_length: int
    high_threshold: int = 90  # usage-alarm: percent in use that is nearly exhausted
    hysteresis: int = 10  # percent below high_threshold at which it is normal again


@dataclass(frozen=True)
class MobileNodePolicy:
    mn_identifier: str
    allowed_mags: frozenset[IPv6Address]
    anchor: IPv6Address | None
    home_network_prefixes: tuple[IPv6Network, ...]
    pool: str | None
    lifetime: int | None
    access_technologies: frozenset[int]


@dataclass(frozen=True)
class PeerSettings:
    address: IPv6Address
    name: str | None
    role: str | None
    udp_port: int
    key_id: int | None
    key: bytes | None = field(repr=False)
    replay_window: int  # seconds (RFC 4285 §6 "close enough")
    heartbeat_interval: int | None
    missing_heartbeats_allowed: int | None
    bfd: PeerBfdSettings


@dataclass(frozen=True)
class DataplaneSettings:
    backend: str  # "memory" | "linux"
    encapsulation: str  # "srv6" | "ip6ip6"
    access_interface: str | None
    core_interface: str | None
    srv6_locator: IPv6Network | None
    srv6_decap_sid: IPv6Address | None
    srv6_source_address: IPv6Address | None
    route_table: int
    rule_priority: int
    route_protocol: int
    probe_table: int


@dataclass(frozen=True)
class LocationManagementSettings:
    backend: str  # "memory" | "sqlite" | "etcd"
    etcd_endpoints: tuple[str, ...]
    key_prefix: str
    sqlite_path: str


@dataclass(frozen=True)
class DmmSettings:
    mode: str
    anchor_selection: str
    prefix_handling_on_move: str
    keep_timeout: int


@dataclass(frozen=True)
class FaultPolicySettings:
    on_path_down: str
    on_peer_restart: str
    on_data_path_failure: str


@dataclass(frozen=True)
class SelfTestSettings:
    mn_identifier: str | None  # None: self-test.<node name>@invalid
    timeout: float  # seconds per step


@dataclass(frozen=True)
class EventHistorySettings:
    max_entries: int
    max_age: int
    flush_interval: float = 0.5  # seconds (the model's milliseconds)


@dataclass(frozen=True)
class NetconfUser:
    name: str
    password: str | None = field(repr=False)  # crypt-hash text ("$0$..." is clear text, lab only)
    authorized_keys: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class NetconfLimitSettings:
    """management/netconf login-timeout, request-time-limit, limits and failed-login-delay."""
    login_timeout: int = 30  # seconds
    request_time_limit: int = 60  # seconds
    max_sessions: int = 64
    max_sessions_per_source: int = 16
    max_pending: int = 32
    max_pending_per_source: int = 8
    failed_login_delay: float = 1.0  # seconds (the model's milliseconds)
    failed_login_delay_max: float = 30.0


@dataclass(frozen=True)
class ManagementSettings:
    netconf_address: str
    netconf_port: int
    netconf_idle_timeout: int
    netconf_users: tuple[NetconfUser, ...]
    metrics_enabled: bool
    metrics_address: str
    metrics_port: int
    netconf_limits: NetconfLimitSettings = NetconfLimitSettings()


@dataclass(frozen=True)
class Settings:
    node: NodeSettings
    transport: TransportSettings
    timers: TimerSettings
    heartbeat: HeartbeatSettings
    data_path: DataPathSettings
    lma: LmaSettings | None
    mag: MagSettings | None
    pools: tuple[PoolSettings, ...]
    policies: Mapping[str, MobileNodePolicy]
    peers: Mapping[IPv6Address, PeerSettings]
    dataplane: DataplaneSettings
    location_management: LocationManagementSettings
    dmm: DmmSettings
    fault_policy: FaultPolicySettings
    self_test: SelfTestSettings
    event_history: EventHistorySettings
    management: ManagementSettings
    alarm_control: AlarmControl = AlarmControl()  # /ietf-alarms:alarms/control

    def has_role(self, role: str) -> bool:
        return role in self.node.roles


def _opt_addr(value: str | None) -> IPv6Address | None:
    return IPv6Address(value) if value else None


def _opt_net(value: str | None) -> IPv6Network | None:
    return IPv6Network(value) if value else None


class EnumValues:
    """Looks up the number of an enumeration value in the schema (e.g. 'ieee-802-3' -> 3)."""

    def __init__(self, ctx: libyang.Context) -> None:
        self._ctx = ctx
        self._cache: dict[str, dict[str, int]] = {}

    def value(self, schema_path: str, name: str) -> int:
        table = self._cache.get(schema_path)
        if table is None:
            node = next(self._ctx.find_path(schema_path))
            table = {e.name(): e.value() for e in node.type().enums()}
            self._cache[schema_path] = table
        return table[name]


def settings_from_tree(tree: libyang.DNode, ctx: libyang.Context) -> Settings:
    """Build `Settings` from a validated configuration data tree."""
    data = tree.print_dict(include_implicit_defaults=True, with_siblings=True, absolute=True)
    return settings_from_dict(data.get(TOP) or data.get("dmm-nf") or {}, EnumValues(ctx),
                              alarms=data.get(ALARMS) or data.get("alarms"))


def alarm_control_from_dict(d: Mapping[str, Any]) -> AlarmControl:
    """RFC 8632 /alarms/control; absent leaves take the module's defaults."""
    limit = d.get("max-alarm-status-changes", 32)
    return AlarmControl(
        max_status_changes=None if limit == "infinite" else int(limit),
        notify_status_changes=d.get("notify-status-changes", "all-state-changes"),
        notify_severity_level=d.get("notify-severity-level"),
    )


def settings_from_dict(d: Mapping[str, Any], enums: EnumValues, alarms: Mapping[str, Any] | None = None) -> Settings:
    node = d["node"]
    roles = frozenset(_name(r) for r in node.get("role", []))
    t = d.get("timers", {})
    hb = d.get("heartbeat", {})
    fp = hb.get("fast-probe", {})
    att_path = f"/{TOP}/mag/access-interface/access-technology-type"

    lma = None
    if "lma" in roles:
        lma_d = d.get("lma", {})
        lma = LmaSettings(
            allowed_mags=frozenset(IPv6Address(a) for a in lma_d.get("allowed-mag", [])),
            default_pool=lma_d.get("default-pool"),
            accept_unknown_mobile_nodes=lma_d.get("accept-unknown-mobile-nodes", False),
            unknown_handoff=lma_d.get("unknown-handoff", "revoke-previous"),
            accept_global_revocation=lma_d.get("accept-global-revocation", False),
            max_bindings=int(lma_d.get("max-bindings", DEFAULT_MAX_BINDINGS)),
        )
    mag = None
    if "mag" in roles:
        mag_d = d.get("mag", {})
        ra = mag_d.get("router-advertisement", {})
        lla = mag_d.get("fixed-link-layer-address")
        mag = MagSettings(
            lma_address=IPv6Address(mag_d["lma-address"]),
            access_interfaces=tuple(
                AccessInterface(
                    name=i["name"],
                    access_technology_type=enums.value(att_path, i.get("access-technology-type", "ieee-802-3")),
                    link_local_address=_opt_addr(i.get("link-local-address")),
                )
                for i in mag_d.get("access-interface", [])
            ),
            router_advertisement=RouterAdvertisementSettings(
                router_lifetime=ra.get("router-lifetime", 1800),
                prefix_valid_lifetime=ra.get("prefix-valid-lifetime", 2592000),
                prefix_preferred_lifetime=ra.get("prefix-preferred-lifetime", 604800),
            ),
            fixed_link_local_address=_opt_addr(mag_d.get("fixed-link-local-address")),
            fixed_link_layer_address=bytes.fromhex(lla.replace(":", "")) if lla else None,
            enable_mag_local_routing=mag_d.get("enable-mag-local-routing", False),
            standby_lma_address=_opt_addr(mag_d.get("standby-lma-address")),
        )

    policy_att_path = f"/{TOP}/policy-store/mobile-node/access-technology"
    policies = {}
    for mn in d.get("policy-store", {}).get("mobile-node", []):
        policies[mn["mn-identifier"]] = MobileNodePolicy(
            mn_identifier=mn["mn-identifier"],
            allowed_mags=frozenset(IPv6Address(a) for a in mn.get("allowed-mag", [])),
            anchor=_opt_addr(mn.get("anchor")),
            home_network_prefixes=tuple(IPv6Network(p) for p in mn.get("home-network-prefix", [])),
            pool=mn.get("pool"),
            lifetime=mn.get("lifetime"),
            access_technologies=frozenset(enums.value(policy_att_path, a) for a in mn.get("access-technology", [])),
        )

    peers = {}
    for p in d.get("peers", {}).get("peer", []):
        auth = p.get("authentication", {})
        phb = p.get("heartbeat", {})
        pbfd = p.get("bfd", {})
        address = IPv6Address(p["address"])
        peers[address] = PeerSettings(
            address=address,
            name=p.get("name"),
            role=_name(p["role"]) if p.get("role") else None,
            udp_port=p.get("udp-port", 5436),
            key_id=auth.get("key-id"),
            key=_b64(auth.get("key")),
            replay_window=auth.get("replay-window", 7),
            heartbeat_interval=phb.get("interval"),
            missing_heartbeats_allowed=phb.get("missing-heartbeats-allowed"),
            bfd=PeerBfdSettings(enabled=pbfd.get("enabled", True), mode=pbfd.get("mode", "tunnel"),
                                probe_address=_opt_addr(pbfd.get("probe-address")), timers=_bfd_timers(pbfd),
                                authentication=_bfd_authentication(pbfd.get("authentication"))),
        )

    dp = d.get("dataplane", {})
    srv6 = dp.get("srv6", {})
    dpath = d.get("data-path", {})
    bfd = dpath.get("bfd", {})
    audit = dpath.get("audit", {})
    lm = d.get("location-management", {})
    dmm = d.get("dmm", {})
    fault = d.get("fault-policy", {})
    hist = d.get("event-history", {})
    mg = d.get("management", {})
    nc = mg.get("netconf", {})
    met = mg.get("metrics", {})
    tr = d.get("transport", {})

    return Settings(
        node=NodeSettings(name=node["name"], roles=roles, address=IPv6Address(node["address"])),
        transport=TransportSettings(
            type=_name(tr.get("type", "udp")),
            udp_port=tr.get("udp-port", 5436),
            listen_address=_opt_addr(tr.get("listen-address")),
        ),
        timers=TimerSettings(
            min_delay_before_bce_delete=_ms(t.get("min-delay-before-bce-delete", 10000)),
            max_delay_before_new_bce_assign=_ms(t.get("max-delay-before-new-bce-assign", 1500)),
            timestamp_validity_window=_ms(t.get("timestamp-validity-window", 300)),
            initial_bindack_timeout_first_reg=_ms(t.get("initial-bindack-timeout-first-reg", 1500)),
            max_bindack_timeout=float(t.get("max-bindack-timeout", 32)),
            max_binding_lifetime=t.get("max-binding-lifetime", 262140),
            default_lifetime=t.get("default-lifetime", 3600),
            requested_lifetime=t.get("requested-lifetime", 3600),
            refresh_advance=t.get("refresh-advance", 30),
            timestamp_based_approach_in_use=t.get("timestamp-based-approach-in-use", True),
            mobile_node_generated_timestamp_in_use=t.get("mobile-node-generated-timestamp-in-use", False),
            init_min_delay_bris=_ms(t.get("init-min-delay-bris", 1000)),
            max_brack_timeout=_ms(t.get("max-brack-timeout", 2000)),
            bri_max_retries=t.get("bri-max-retries", 1),
            min_delay_between_update_notification_replay=_ms(
                t.get("min-delay-between-update-notification-replay", 1000)),
            max_update_notification_retransmit_count=t.get("max-update-notification-retransmit-count", 1),
        ),
        heartbeat=HeartbeatSettings(
            interval=hb.get("interval", 60),
            missing_heartbeats_allowed=hb.get("missing-heartbeats-allowed", 3),
            fast_probe_enabled=fp.get("enabled", False),
            fast_probe_interval=_ms(fp.get("interval", 1000)),
            fast_probe_detect_multiplier=fp.get("detect-multiplier", 3),
            require_bindings=hb.get("require-bindings", True),
        ),
        data_path=DataPathSettings(
            probe_address=_opt_addr(dpath.get("probe-address")),
            probe_port=dpath.get("probe-port", 61784),
            bfd=BfdSettings(
                enabled=bfd.get("enabled", True),
                timers=BfdTimers(_ms(bfd.get("desired-min-tx", 300)), _ms(bfd.get("required-min-rx", 300)),
                                 bfd.get("detect-multiplier", 3)),
                minimum_ttl=bfd.get("minimum-ttl", 254),
                udp_port=bfd.get("udp-port", 4784),
            ),
            audit=AuditSettings(interval=audit.get("interval", 60), repair=audit.get("repair", False)),
        ),
        lma=lma,
        mag=mag,
        pools=tuple(
            PoolSettings(name=p["name"], prefix=IPv6Network(p["prefix"]), assign_length=p.get("assign-length", 64),
                         high_threshold=p.get("usage-alarm", {}).get("high-threshold", 90),
                         hysteresis=p.get("usage-alarm", {}).get("hysteresis", 10))
            for p in d.get("prefix-pools", {}).get("pool", [])
        ),
        policies=policies,
        peers=peers,
        dataplane=DataplaneSettings(
            backend=_name(dp.get("backend", "memory")),
            encapsulation=_name(dp.get("encapsulation", "srv6")),
            access_interface=dp.get("access-interface"),
            core_interface=dp.get("core-interface"),
            srv6_locator=_opt_net(srv6.get("locator")),
            srv6_decap_sid=_opt_addr(srv6.get("decap-sid")),
            srv6_source_address=_opt_addr(srv6.get("source-address")),
            route_table=dp.get("route-table", 100),
            rule_priority=dp.get("rule-priority", 1000),
            route_protocol=dp.get("route-protocol", 201),
            probe_table=dp.get("probe-table", 4200),
        ),
        location_management=LocationManagementSettings(
            backend=_name(lm.get("backend", "sqlite")),
            etcd_endpoints=tuple(lm.get("etcd-endpoint", [])),
            key_prefix=lm.get("key-prefix", "/dmm-nf/"),
            sqlite_path=lm.get("sqlite-path", "lm.sqlite3"),
        ),
        dmm=DmmSettings(
            mode=dmm.get("mode", "none"),
            anchor_selection=dmm.get("anchor-selection", "serving-node"),
            prefix_handling_on_move=dmm.get("prefix-handling-on-move", "keep-via-previous-anchor"),
            keep_timeout=dmm.get("keep-timeout", 3600),
        ),
        fault_policy=FaultPolicySettings(
            on_path_down=_name(fault.get("on-path-down", "alarm-only")),
            on_peer_restart=_name(fault.get("on-peer-restart", "re-register")),
            on_data_path_failure=_name(fault.get("on-data-path-failure", "alarm-only")),
        ),
        self_test=SelfTestSettings(mn_identifier=d.get("self-test", {}).get("mn-identifier"),
                                   timeout=_ms(d.get("self-test", {}).get("timeout", 3000))),
        event_history=EventHistorySettings(
            max_entries=hist.get("max-entries", 100000), max_age=hist.get("max-age", 86400),
            flush_interval=hist.get("flush-interval", 500) / 1000,
        ),
        management=ManagementSettings(
            netconf_address=nc.get("address", "::"),
            netconf_port=nc.get("port", 830),
            netconf_idle_timeout=nc.get("idle-timeout", 3600),
            netconf_users=tuple(
                NetconfUser(
                    name=u["name"],
                    password=u.get("password"),
                    authorized_keys=tuple(
                        (k["algorithm"], _b64(k["key-data"]) or b"") for k in u.get("authorized-key", [])
                    ),
                )
                for u in nc.get("user", [])
            ),
            metrics_enabled=met.get("enabled", True),
            metrics_address=met.get("address", "::"),
            metrics_port=met.get("port", 9430),
            netconf_limits=_netconf_limits(nc),
        ),
        alarm_control=alarm_control_from_dict((alarms or {}).get("control", {})),
    )


def _netconf_limits(nc: Mapping[str, Any]) -> NetconfLimitSettings:
    limits, delay = nc.get("limits", {}), nc.get("failed-login-delay", {})
    return NetconfLimitSettings(
        login_timeout=nc.get("login-timeout", 30), request_time_limit=nc.get("request-time-limit", 60),
        max_sessions=limits.get("max-sessions", 64), max_sessions_per_source=limits.get("max-sessions-per-source", 16),
        max_pending=limits.get("max-pending-connections", 32),
        max_pending_per_source=limits.get("max-pending-connections-per-source", 8),
        failed_login_delay=_ms(delay.get("initial", 1000)), failed_login_delay_max=_ms(delay.get("maximum", 30000)))


def _bfd_timers(d: Mapping[str, Any]) -> BfdTimers:
    tx, rx = d.get("desired-min-tx"), d.get("required-min-rx")
    return BfdTimers(_ms(tx) if tx is not None else None, _ms(rx) if rx is not None else None,
                     d.get("detect-multiplier"))


def _bfd_authentication(d: Mapping[str, Any] | None) -> BfdAuthenticationSettings | None:
    if d is None:
        return None
    return BfdAuthenticationSettings(type=d.get("type", "meticulous-keyed-sha1"), key_id=d["key-id"],
                                     key=_b64(d["key"]))


def _b64(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value else None
