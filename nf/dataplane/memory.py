"""The memory data plane: records what would be installed, for tests and simulation.

It enforces the same rules a kernel backend meets (a route has one owner, a tunnel name
means one tunnel) and can be told to fail, so rollback paths can be tested.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from ipaddress import IPv6Network

from .base import (
    BindingSpec,
    DataPlane,
    DataPlaneError,
    Route,
    RouteKind,
    SpecConflict,
    Tunnel,
    TunnelCounters,
)


class InjectedFailure(DataPlaneError):
    """A failure requested by `MemoryDataPlane.fail_next`."""


class MemoryDataPlane(DataPlane):
    def __init__(self) -> None:
        self._specs: dict[str, BindingSpec] = {}
        self._routes: dict[tuple[RouteKind, IPv6Network], tuple[str, Route]] = {}
        self._tunnels: dict[str, Tunnel] = {}
        self._tunnel_users: Counter[str] = Counter()
        self._counters: dict[str, TunnelCounters] = {}
        self._failures: dict[str, int] = {}
        self.calls: Counter[str] = Counter()  # apply / remove calls seen, failed ones included

    # -- failure injection -----------------------------------------------------------------
    def fail_next(self, operation: str = "apply", count: int = 1) -> None:
        """Make the next `count` calls of `operation` ("apply" or "remove") raise."""
        if operation not in ("apply", "remove"):
            raise ValueError(f"unknown operation {operation!r}")
        self._failures[operation] = self._failures.get(operation, 0) + count

    def _maybe_fail(self, operation: str) -> None:
        if self._failures.get(operation, 0) > 0:
            self._failures[operation] -= 1
            raise InjectedFailure(f"injected {operation} failure")

    # -- DataPlane -------------------------------------------------------------------------
    def apply(self, spec: BindingSpec) -> bool:
        self.calls["apply"] += 1
        old = self._specs.get(spec.key)
        if old == spec:
            return False
        self._check(spec)
        self._maybe_fail("apply")  # after validation, before any change: nothing half-done
        if old is not None:
            self._uninstall(old)
        self._install(spec)
        return True

    def remove(self, spec: BindingSpec | str) -> bool:
        self.calls["remove"] += 1
        key = spec if isinstance(spec, str) else spec.key
        old = self._specs.get(key)
        if old is None:
            return False
        self._maybe_fail("remove")
        self._uninstall(old)
        return True

    def installed(self) -> dict[str, BindingSpec]:
        return dict(self._specs)

    def counters(self) -> dict[str, TunnelCounters]:
        return {name: self._counters.get(name, TunnelCounters()) for name in self._tunnels}

    # -- views for tests and the forwarding check ------------------------------------------
    @property
    def tunnels(self) -> dict[str, Tunnel]:
        return dict(self._tunnels)

    def route(self, kind: RouteKind, prefix: IPv6Network) -> Route | None:
        held = self._routes.get((kind, prefix))
        return held[1] if held is not None else None

    def routes(self) -> list[Route]:
        return [route for _, route in self._routes.values()]

    def record_traffic(self, tunnel: str, *, packets_in: int = 0, packets_out: int = 0,
                       bytes_in: int = 0, bytes_out: int = 0) -> None:
        """Count simulated traffic through a tunnel."""
        if tunnel not in self._tunnels:
            raise DataPlaneError(f"no tunnel named {tunnel!r}")
        c = self._counters.get(tunnel, TunnelCounters())
        self._counters[tunnel] = replace(c, packets_in=c.packets_in + packets_in, packets_out=c.packets_out + packets_out,
                                         bytes_in=c.bytes_in + bytes_in, bytes_out=c.bytes_out + bytes_out)

    # -- internals -------------------------------------------------------------------------
    def _check(self, spec: BindingSpec) -> None:
        for route in spec.routes:
            held = self._routes.get((route.kind, route.prefix))
            if held is not None and held[0] != spec.key:
                raise SpecConflict(f"{route.kind.value} route for {route.prefix} belongs to {held[0]!r}")
        tunnel = spec.tunnel
        if tunnel is not None:
            existing = self._tunnels.get(tunnel.name)
            old = self._specs.get(spec.key)
            only_user_is_old = (old is not None and old.tunnel is not None and old.tunnel.name == tunnel.name
                                and self._tunnel_users[tunnel.name] == 1)
            if existing is not None and existing != tunnel and not only_user_is_old:
                raise SpecConflict(f"tunnel {tunnel.name!r} exists with other parameters ({existing.remote})")

    def _install(self, spec: BindingSpec) -> None:
        self._specs[spec.key] = spec
        if spec.tunnel is not None:
            self._tunnels[spec.tunnel.name] = spec.tunnel
            self._tunnel_users[spec.tunnel.name] += 1
        for route in spec.routes:
            self._routes[(route.kind, route.prefix)] = (spec.key, route)

    def _uninstall(self, spec: BindingSpec) -> None:
        del self._specs[spec.key]
        for route in spec.routes:
            del self._routes[(route.kind, route.prefix)]
        if spec.tunnel is not None:
            name = spec.tunnel.name
            self._tunnel_users[name] -= 1
            if self._tunnel_users[name] <= 0:
                del self._tunnel_users[name]
                del self._tunnels[name]
                self._counters.pop(name, None)
