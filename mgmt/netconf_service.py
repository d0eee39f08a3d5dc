"""Starts the NETCONF server for a running `Service` and connects it to the runtime.

The server's hooks are the runtime's: `<get>` state comes from `OperationalState`, product
RPCs from `ProductRpcs`, and a commit of running hands the new configuration to the runtime.
"""
from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Iterable

import paramiko

from mgmt.config_events import ConfigEvents
from mgmt.history import NS as DMM_NS, RPC as GET_EVENTS
from mgmt.netconf.admission import (
    PENDING_LIMIT, PENDING_PER_SOURCE_LIMIT, SESSION_LIMIT, SESSION_PER_SOURCE_LIMIT, Limits,
)
from mgmt.netconf.credentials import CredentialError, check_crypt_hash, public_key
from mgmt.netconf.filters import FilterPlan
from mgmt.netconf.server import CommitRejected, NetconfServer, ServerHooks
from mgmt.notify import EventNotifier
from mgmt.operational import TOP, OperationalState
from mgmt.rpcs import ProductRpcs
from mgmt.service import NETCONF_STATE
from mgmt.yang_values import pin_utc
from nf.runtime import ReconfigureError
from nf.settings import NetconfLimitSettings, NetconfUser, settings_from_tree

if TYPE_CHECKING:
    from mgmt.service import Service

log = logging.getLogger(__name__)


def netconf_credentials(users: Iterable[NetconfUser]) -> tuple[dict[str, str], dict[str, list[paramiko.PKey]]]:
    """(user -> crypt-hash password, user -> public keys) from the configuration. A password
    or key the server cannot use is left out with a warning naming the user, so one bad entry
    does not lock every operator out."""
    passwords: dict[str, str] = {}
    keys: dict[str, list[paramiko.PKey]] = {}
    for user in users:
        if user.password is not None:
            try:
                check_crypt_hash(user.password)
                passwords[user.name] = user.password
            except CredentialError as e:
                log.warning("NETCONF user %s: password ignored: %s", user.name, e)
        for algorithm, key_data in user.authorized_keys:
            try:
                key = public_key(algorithm, key_data)
            except CredentialError as e:
                log.warning("NETCONF user %s: %s", user.name, e)
            else:
                keys.setdefault(user.name, []).append(key)
    return passwords, keys


def netconf_limits(configured: NetconfLimitSettings) -> Limits:
    return Limits(max_sessions=configured.max_sessions, max_sessions_per_source=configured.max_sessions_per_source,
                  max_pending=configured.max_pending, max_pending_per_source=configured.max_pending_per_source,
                  login_timeout=float(configured.login_timeout),
                  failed_login_delay=configured.failed_login_delay,
                  failed_login_delay_max=configured.failed_login_delay_max,
                  request_time_limit=float(configured.request_time_limit))


def management_state(server: NetconfServer, plan: FilterPlan) -> dict:
    """/dmm-nf/management/netconf/statistics, when the read can select it."""
    if not plan.selects(f"{TOP}/management/netconf/statistics"):
        return {}
    counters = server.admission.snapshot()
    reads = server.counters
    refused = counters.refused
    return {"management": {"netconf": {"statistics": {
        "pending-connections": counters.pending,
        "login-failures": str(counters.login_failures),
        "login-timeouts": str(counters.login_timeouts),
        "connections-refused": str(refused[PENDING_LIMIT] + refused[PENDING_PER_SOURCE_LIMIT]),
        "sessions-refused": str(refused[SESSION_LIMIT] + refused[SESSION_PER_SOURCE_LIMIT]),
        "requests-over-time-limit": str(reads.over_time_limit),
        "requests-abandoned": str(reads.abandoned),
    }}}}


def start_netconf(service: "Service", port: int) -> NetconfServer:
    pin_utc()  # state times in UTC, as the spliced binding list prints them
    runtime = service.runtime
    state = OperationalState(service.ctx, runtime)

    def commit(old, new, diff) -> None:
        """A new running configuration reaches the runtime, which applies it in phases or
        refuses it (then running stays as it was and the client gets operation-failed)."""
        if diff is None or new is None:
            return
        settings = settings_from_tree(new, service.ctx)
        try:
            runtime.call(runtime.reconfigure, settings)
        except ReconfigureError as e:
            raise CommitRejected(str(e), e.path) from None
        service.settings = settings

    config_events = ConfigEvents(runtime)
    hooks = ServerHooks(commit_hook=commit, rpc_hook=ProductRpcs(service.ctx, runtime),
                        state_provider=state.build, committed=config_events.committed,
                        confirmed_commit=config_events.confirmed_commit)
    mgmt = service.settings.management
    passwords, keys = netconf_credentials(mgmt.netconf_users)
    server = NetconfServer(service.ctx, service.state_dir / NETCONF_STATE, port=port, address=mgmt.netconf_address,
                           password_hashes=passwords, authorized_keys=keys, hooks=hooks, initial_config=service.initial_tree,
                           idle_timeout=float(mgmt.netconf_idle_timeout), limits=netconf_limits(mgmt.netconf_limits))
    state.extra = lambda plan: management_state(server, plan)
    server.register_operation(DMM_NS, GET_EVENTS, partial(state.history.get_events, server.services))
    log.info("NETCONF over SSH on [%s]:%d", mgmt.netconf_address, server.port)
    notifier = EventNotifier(service.ctx, server.services.hub.publish)
    service.closers.append(runtime.events.subscribe(notifier.on_event))
    service.closers.append(notifier.close)
    return server
