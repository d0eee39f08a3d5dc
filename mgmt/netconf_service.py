"""Starts the NETCONF server for a running `Service` and connects it to the runtime.

The server's hooks are the runtime's: `<get>` state comes from `OperationalState`, product
RPCs from `ProductRpcs`, and a commit of running hands the new configuration to the runtime.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mgmt.netconf.server import CommitRejected, NetconfServer, ServerHooks
from mgmt.notify import EventNotifier
from mgmt.operational import OperationalState
from mgmt.rpcs import ProductRpcs
from nf.runtime import ReconfigureError
from nf.settings import settings_from_tree

if TYPE_CHECKING:
    from mgmt.service import Service

log = logging.getLogger(__name__)

CLEAR_TEXT = "$0$"  # RFC 7317 crypt-hash prefix for a clear-text password (lab use)


def netconf_users(service: "Service") -> dict[str, str]:
    """User -> password. Only the clear-text crypt-hash form is accepted so far; hashed
    passwords are skipped with a warning rather than silently never matching."""
    users = {}
    for user in service.settings.management.netconf_users:
        if user.password is None:
            continue
        if user.password.startswith(CLEAR_TEXT):
            users[user.name] = user.password[len(CLEAR_TEXT):]
        else:
            log.warning("NETCONF user %s: only $0$ (clear-text) passwords are supported; "
                        "use an authorized key for this user", user.name)
    return users


def start_netconf(service: "Service") -> NetconfServer:
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

    hooks = ServerHooks(commit_hook=commit, rpc_hook=ProductRpcs(service.ctx, runtime),
                        state_provider=lambda flt: state.build(flt.plan))
    mgmt = service.settings.management
    port = service.options.netconf_port if service.options.netconf_port is not None else mgmt.netconf_port
    server = NetconfServer(service.ctx, service.state_dir / "netconf", port=port, address=mgmt.netconf_address,
                           users=netconf_users(service), hooks=hooks, initial_config=service.initial_tree,
                           idle_timeout=float(mgmt.netconf_idle_timeout))
    log.info("NETCONF over SSH on [%s]:%d", mgmt.netconf_address, server.port)
    notifier = EventNotifier(service.ctx, server.services.hub.publish)
    service.closers.append(runtime.events.subscribe(notifier.on_event))
    service.closers.append(notifier.close)
    return server
