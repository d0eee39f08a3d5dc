"""The liveness of the forwarding path itself (RFC 7429 REQ6), one service of the runtime:
the forwarding audit (nf/liveness/forwarding.py) and, where configured, BFD through the
tunnels and per-mobile-node path probes. See docs/liveness.md."""
from __future__ import annotations

import logging
from typing import Callable

from nf.liveness.forwarding import ForwardingAuditor, ForwardingOf
from nf.liveness.tunnel_bfd import TunnelBfd
from nf.roles.base import RoleContext

log = logging.getLogger(__name__)

# data-path leaves that sockets or installed forwarding depend on: taken at start only
RESTART_LEAVES = {
    "probe_address": "data-path/probe-address",
    "probe_port": "data-path/probe-port",
}


class DataPathService:
    def __init__(self, ctx: RoleContext, forwarding_of: ForwardingOf,
                 bindings_via: Callable[[object], int]) -> None:
        self.ctx = ctx
        audit = ctx.settings.data_path.audit
        self.auditor = ForwardingAuditor(ctx.dataplane, forwarding_of, ctx.events, interval=audit.interval,
                                         repair=audit.repair, wall=ctx.clock.wall, monotonic=ctx.clock.monotonic)
        self.bfd = TunnelBfd(ctx, bindings_via)

    async def start(self) -> None:
        await self.bfd.start()
        self.auditor.start()

    async def stop(self) -> None:
        await self.auditor.stop()
        await self.bfd.stop()

    def prepare_reconfigure(self, settings) -> Callable[[], None]:
        old, new = self.ctx.settings.data_path, settings.data_path
        for attr, path in RESTART_LEAVES.items():
            if getattr(old, attr) != getattr(new, attr):
                raise ValueError(f"{path} cannot change on a running node; edit the startup datastore "
                                 "and restart it")

        bfd = self.bfd.prepare_reconfigure(settings)

        def apply() -> None:
            self.auditor.reconfigure(new.audit.interval, new.audit.repair)
            bfd()
        return apply
