"""The liveness of the forwarding path itself (RFC 7429 REQ6), one service of the runtime:
the forwarding audit (nf/liveness/forwarding.py) and, where configured, BFD through the
tunnels and per-mobile-node path probes. See docs/liveness.md."""
from __future__ import annotations

import logging
from typing import Callable

from nf.liveness.forwarding import ForwardingAuditor, ForwardingOf
from nf.liveness.path_probe import PathProber
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
                 bindings_via: Callable[[object], int], forwarding_for_prefix: Callable) -> None:
        self.ctx = ctx
        settings = ctx.settings
        audit = settings.data_path.audit
        self.auditor = ForwardingAuditor(ctx.dataplane, forwarding_of, ctx.events, interval=audit.interval,
                                         repair=audit.repair, wall=ctx.clock.wall, monotonic=ctx.clock.monotonic)
        self.bfd = TunnelBfd(ctx, bindings_via)
        self.prober: PathProber | None = None
        probe = settings.data_path.probe_address
        if probe is not None and getattr(ctx.dataplane, "lookup", None) is not None:  # a kernel to probe
            self.prober = PathProber(own_probe=probe, port=settings.data_path.probe_port,
                                     node_name=settings.node.name, forwarding_of=forwarding_of,
                                     binding_for_prefix=forwarding_for_prefix, peer_probe=self._peer_probe,
                                     local_checks=self._checks, monotonic=ctx.clock.monotonic)

    async def start(self) -> None:
        await self.bfd.start()
        if self.prober is not None:
            await self.prober.start()
        self.auditor.start()

    async def stop(self) -> None:
        await self.auditor.stop()
        if self.prober is not None:
            await self.prober.stop()
        await self.bfd.stop()

    def _peer_probe(self, peer):
        configured = self.ctx.settings.peers.get(peer)
        return configured.bfd.probe_address if configured is not None else None

    def _checks(self, binding, prefix) -> list[dict]:
        """This node's kernel lookups for one prefix, as a path probe carries them."""
        node = self.ctx.settings.node.name
        return [{"node": node, "check": c.what, "ok": c.ok, "expected": c.expected, "actual": c.actual}
                for c in self.auditor.lookups_for(binding, prefix)]

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
