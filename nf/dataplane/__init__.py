"""The data plane: one interface (`base`), a memory backend, and a Linux backend."""
from .base import (
    AuditJob,
    AuditReport,
    BindingSpec,
    DataPlane,
    DataPlaneError,
    Encapsulation,
    Mismatch,
    MismatchKind,
    ReconcileReport,
    Route,
    RouteKind,
    SpecConflict,
    Tunnel,
    TunnelCounters,
)
from .memory import InjectedFailure, MemoryDataPlane

__all__ = [
    "AuditJob", "AuditReport", "Mismatch", "MismatchKind",
    "BindingSpec", "DataPlane", "DataPlaneError", "Encapsulation", "InjectedFailure", "MemoryDataPlane",
    "ReconcileReport", "Route", "RouteKind", "SpecConflict", "Tunnel", "TunnelCounters",
]
