"""The data plane: one interface (`base`), a memory backend, and a Linux backend."""
from .base import (
    BindingSpec,
    DataPlane,
    DataPlaneError,
    Encapsulation,
    ReconcileReport,
    Route,
    RouteKind,
    SpecConflict,
    Tunnel,
    TunnelCounters,
)
from .memory import InjectedFailure, MemoryDataPlane

__all__ = [
    "BindingSpec", "DataPlane", "DataPlaneError", "Encapsulation", "InjectedFailure", "MemoryDataPlane",
    "ReconcileReport", "Route", "RouteKind", "SpecConflict", "Tunnel", "TunnelCounters",
]
