"""One running network function: the runtime with its NETCONF server and metrics endpoint.

`dmm-nf run` builds a `Service` and awaits `start()` / `stop()`. The runtime owns the loop;
the NETCONF server and the metrics endpoint run in their own threads and reach the runtime
only through `Runtime.call`, so a slow client never stalls signalling.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import libyang

from mgmt.netconf.datastore import boot_configuration
from nf.hostcheck import check_host
from nf.runtime import Runtime
from nf.settings import Settings, settings_from_tree

log = logging.getLogger(__name__)

NETCONF_STATE = "netconf"  # the NETCONF server's part of the state directory (datastores, host key)


@dataclass(frozen=True)
class ServiceOptions:
    config_path: Path
    netconf_port: int | None = None
    metrics_port: int | None = None
    state_dir: Path | None = None


class StartupError(Exception):
    """A part of the function cannot start on this host (a busy port, a missing privilege);
    ``str()`` is one line naming the part and its port or address."""


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


class Service:
    def __init__(self, tree: libyang.DNode, options: ServiceOptions,
                 default_state_dir: Callable[[str], Path]) -> None:
        self.ctx = tree.context  # one context for the datastores, the state tree and the RPCs
        self.initial_tree = tree  # the --config file: what the startup datastore starts as
        self.options = options
        self.state_dir = options.state_dir or default_state_dir(settings_from_tree(tree, self.ctx).node.name)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # the runtime runs what running holds at boot: the saved startup, not the file, once
        # there is one (RFC 6241 §8.7)
        booted, source = boot_configuration(self.ctx, self.state_dir / NETCONF_STATE)
        if booted is not None:
            log.info("booting from %s (saved by NETCONF), not %s", source, options.config_path)
        self.settings: Settings = settings_from_tree(booted if booted is not None else tree, self.ctx)
        check_host(self.settings)
        self.runtime = Runtime(self.settings, self.state_dir)
        self.metrics = None
        self.netconf = None
        self.closers: list[Callable[[], object]] = []  # run at stop, newest first

    async def start(self) -> None:
        from nf.transport import TransportError

        try:
            await self.runtime.start()
        except TransportError as e:  # the message names the socket: UDP [::1]:5436, raw IPv6 on [...]
            raise StartupError(f"signalling: {e}") from None
        self._start_metrics()
        self._start_netconf()

    async def stop(self) -> None:
        while self.closers:
            self.closers.pop()()
        if self.netconf is not None:
            self.netconf.close()
        if self.metrics is not None:
            self.metrics.stop()
        await self.runtime.stop()

    def _start_metrics(self) -> None:
        mgmt = self.settings.management
        if not mgmt.metrics_enabled:
            return
        from exporters.http import MetricsServer
        from exporters.runtime_source import RuntimeSource

        port = self.options.metrics_port if self.options.metrics_port is not None else mgmt.metrics_port
        metrics = MetricsServer(RuntimeSource(self.runtime, service=self), mgmt.metrics_address, port)
        try:
            metrics.start()
        except OSError as e:
            raise StartupError(f"metrics: cannot listen on TCP [{mgmt.metrics_address}]:{port}: {_reason(e)}") from None
        self.metrics = metrics
        log.info("metrics on %s", self.metrics.url)

    def _start_netconf(self) -> None:
        from mgmt.netconf_service import start_netconf

        mgmt = self.settings.management
        port = self.options.netconf_port if self.options.netconf_port is not None else mgmt.netconf_port
        try:
            self.netconf = start_netconf(self, port)
        except OSError as e:
            raise StartupError(f"NETCONF: cannot listen on TCP [{mgmt.netconf_address}]:{port}: {_reason(e)}") from None
